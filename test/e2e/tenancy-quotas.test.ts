import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caughtUp as caughtUpOf, type TestStratus } from '../support/stratus.js';
import { eventually } from '../support/eventually.js';
import { startStratusWithVms, stopStratus } from '../support/stratus-with-vms.js';
import { loginToProject, memberPassword as password } from '../support/tenancy.js';
import { GiB, type VmInventory } from '../support/vm-inventory.js';

// Project quotas beyond the VM count, project scoping of volumes, snapshots, images and L3
// networks, custom project roles and "disable all resources", end to end over HTTP.

let stratus: TestStratus;
let admin: string;
let inventory: VmInventory;
let l2NetworkId: string;
const http = () => request(stratus.app);

beforeAll(async () => {
  ({ stratus, admin, inventory } = await startStratusWithVms({
    hosts: 4, hostCapacity: { cpuCount: 64, memoryBytes: 256 * GiB },
    ipRange: { startIp: '10.52.0.10', endIp: '10.52.0.200', gateway: '10.52.0.1', netmask: '255.255.255.0' },
  }));
  await caughtUp();
  l2NetworkId = (await http().get(`/v1/l3-networks/${inventory.l3NetworkId}`).set('Authorization', admin).expect(200)).body.l2NetworkId;
});
afterAll(() => stopStratus(stratus));

const caughtUp = () => caughtUpOf(stratus);
const ids = (items: Array<{ id: string }>) => items.map((item) => item.id).sort();

async function used(projectId: string, name: string): Promise<number> {
  const response = await http().get(`/v1/projects/${projectId}/quotas`).set('Authorization', admin).expect(200);
  return (response.body.items as Array<{ name: string; used: number }>).find((item) => item.name === name)!.used;
}
const usedBecomes = (projectId: string, name: string, value: number) => eventually(() => used(projectId, name), (now) => now === value);

let userCount = 0;
/** A new user, made a member of the project with `role`, logged in to it. */
async function memberOf(projectId: string, role: 'member' | 'project-manager' | 'project-admin') {
  const username = `user-${++userCount}`;
  const userId = (await http().post('/v1/users').set('Authorization', admin).send({ username, password }).expect(201)).body.id as string;
  await http().post(`/v1/projects/${projectId}/members`).set('Authorization', admin).send({ userId, role }).expect(200);
  return { userId, auth: await loginToProject(stratus, username, projectId) };
}

async function createProject(name: string, quotas: Record<string, number>) {
  return (await http().post('/v1/projects').set('Authorization', admin).send({ name, quotas, zoneId: inventory.zoneId }).expect(201)).body.id as string;
}

const vmBody = (name: string, extra: Record<string, unknown> = {}) =>
  ({ name, instanceOfferingId: inventory.offerings.small, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId], ...extra });

describe('running VM quota', () => {
  it('lets exactly 5 of 20 concurrent starts through a running-VM quota of 5; a stop gives a slot back', async () => {
    const projectId = await createProject('runners', { 'vm.num': 20, 'vm.runningNum': 5 });
    const created = await Promise.all(Array.from({ length: 20 }, (_, index) => http().post('/v1/vm-instances').set('Authorization', admin)
      .set('Prefer', 'wait=60').send(vmBody(`r-${index}`, { projectId, strategy: 'CreateStopped' }))));
    expect(created.map((response) => `${response.status} ${response.body.state as string}`)).toEqual(Array.from({ length: 20 }, () => '201 Stopped'));
    expect(await used(projectId, 'vm.runningNum')).toBe(0);

    const starts = await Promise.all(created.map((vm) => http().post(`/v1/vm-instances/${vm.body.id as string}/start`).set('Authorization', admin).set('Prefer', 'wait=60')));
    const started = starts.filter((response) => response.status === 200);
    const refused = starts.filter((response) => response.status !== 200);
    expect(started).toHaveLength(5);
    expect(started.every((response) => response.body.state === 'Running')).toBe(true);
    expect(new Set(refused.map((response) => `${response.status} ${response.body.code as string}`))).toEqual(new Set(['409 QUOTA_EXCEEDED']));
    expect(await used(projectId, 'vm.runningNum')).toBe(5);
    await caughtUp();
    const running = await http().get('/v1/vm-instances').query({ q: 'state=Running', count: 'true' }).set('Authorization', admin).expect(200);
    expect((running.body.items as Array<{ projectId?: string }>).filter((vm) => vm.projectId === projectId)).toHaveLength(5);

    // A stop gives its slot back; the VM that was refused starts now.
    const runningId = started[0]!.body.id as string;
    const refusedId = created[starts.indexOf(refused[0]!)]!.body.id as string;
    await http().post(`/v1/vm-instances/${runningId}/stop`).set('Authorization', admin).set('Prefer', 'wait=60').send({ type: 'cold' }).expect(200);
    expect(await stratus.quotaRelease.drained()).toBe(true);
    expect(await used(projectId, 'vm.runningNum')).toBe(4);
    await http().post(`/v1/vm-instances/${refusedId}/start`).set('Authorization', admin).set('Prefer', 'wait=60').expect(200);
    expect(await used(projectId, 'vm.runningNum')).toBe(5);
    // Stopped and started again at once: the late release of the first period never frees the second.
    await http().post(`/v1/vm-instances/${refusedId}/stop`).set('Authorization', admin).set('Prefer', 'wait=60').send({ type: 'cold' }).expect(200);
    await http().post(`/v1/vm-instances/${refusedId}/start`).set('Authorization', admin).set('Prefer', 'wait=60').expect(200);
    expect(await stratus.quotaRelease.drained()).toBe(true);
    expect(await used(projectId, 'vm.runningNum')).toBe(5);
    // A destroyed VM holds no running slot, but still counts as a VM until it is expunged.
    await http().delete(`/v1/vm-instances/${refusedId}`).set('Authorization', admin).set('Prefer', 'wait=60').expect(200);
    expect(await usedBecomes(projectId, 'vm.runningNum', 4)).toBe(4);
    expect(await used(projectId, 'vm.num')).toBe(20);
  });

  it('counts a VM created running, and moves its vCPU reservation with a change of offering (refused over the quota)', async () => {
    const projectId = await createProject('resize', { 'vm.cpuNum': 2, 'vm.runningNum': 1 });
    const vm = await http().post('/v1/vm-instances').set('Authorization', admin).set('Prefer', 'wait=60').send(vmBody('resized', { projectId })).expect(201);
    expect(await used(projectId, 'vm.runningNum')).toBe(1);
    await http().post('/v1/vm-instances').set('Authorization', admin).set('Prefer', 'wait=60').send(vmBody('second', { projectId }))
      .expect(409).expect((response) => expect(response.body.code).toBe('QUOTA_EXCEEDED'));
    await http().post(`/v1/vm-instances/${vm.body.id as string}/stop`).set('Authorization', admin).set('Prefer', 'wait=60').send({ type: 'cold' }).expect(200);
    expect(await usedBecomes(projectId, 'vm.runningNum', 0)).toBe(0);

    await http().post(`/v1/vm-instances/${vm.body.id as string}/change-offering`).set('Authorization', admin).send({ instanceOfferingId: inventory.offerings.large })
      .expect(409).expect((response) => expect(response.body.code).toBe('QUOTA_EXCEEDED'));
    expect(await used(projectId, 'vm.cpuNum')).toBe(1);
    const two = await http().post('/v1/instance-offerings').set('Authorization', admin).send({ name: 'two', cpuCount: 2, memoryBytes: 2 * GiB }).expect(201);
    await http().post(`/v1/vm-instances/${vm.body.id as string}/change-offering`).set('Authorization', admin).send({ instanceOfferingId: two.body.id }).expect(200);
    expect(await used(projectId, 'vm.cpuNum')).toBe(2);
    expect(await used(projectId, 'vm.memorySize')).toBe(2 * GiB);

    // Lowering a quota under the usage is allowed: the view shows more used than the limit, nothing more is created.
    await http().put(`/v1/projects/${projectId}/quotas`).set('Authorization', admin).send({ quotas: { 'vm.cpuNum': 1 } }).expect(200);
    const view = await http().get(`/v1/projects/${projectId}/quotas`).set('Authorization', admin).expect(200);
    expect(view.body.items).toContainEqual({ name: 'vm.cpuNum', limit: 1, used: 2, available: 0 });
    await http().post('/v1/vm-instances').set('Authorization', admin).set('Prefer', 'wait=60').send(vmBody('third', { projectId, strategy: 'CreateStopped' }))
      .expect(409).expect((response) => expect(response.body.code).toBe('QUOTA_EXCEEDED'));
  });
});

describe('project scoping and storage quotas', () => {
  it('reserves data volumes by count and capacity, snapshots, images and L3 networks; members see the project\'s only', async () => {
    const projectId = await createProject('storage', {
      'volume.data.num': 2, 'volume.capacity': 10 * GiB, 'snapshot.volume.num': 1, 'image.num': 1, 'l3.num': 1,
    });
    const otherId = await createProject('elsewhere', {});
    const { auth: manager } = await memberOf(projectId, 'project-manager');
    const { auth: member } = await memberOf(projectId, 'member');
    const { auth: stranger } = await memberOf(otherId, 'project-admin');

    // Volumes: two fit, a third is refused; deleted (recoverable) still counts; expunged is given back.
    const volume = (auth: string, name: string, sizeBytes: number) => http().post('/v1/volumes').set('Authorization', auth).send({ name, sizeBytes });
    const v1 = (await volume(manager, 'v1', 4 * GiB).expect(201)).body.id as string;
    const v2 = (await volume(manager, 'v2', 4 * GiB).expect(201)).body.id as string;
    await volume(manager, 'v3', GiB).expect(409).expect((response) => expect(response.body.code).toBe('QUOTA_EXCEEDED'));
    await volume(member, 'v4', GiB).expect(403);
    const foreign = (await volume(stranger, 'theirs', GiB).expect(201)).body.id as string;
    const adminVolume = (await volume(admin, 'platform', GiB).expect(201)).body.id as string;
    await http().delete(`/v1/volumes/${v1}`).set('Authorization', manager).expect(200);
    await volume(manager, 'v3', GiB).expect(409);
    await http().post(`/v1/volumes/${v1}/expunge`).set('Authorization', manager).set('Prefer', 'wait=60').expect(200);
    expect(await usedBecomes(projectId, 'volume.data.num', 1)).toBe(1);
    await volume(manager, 'too-big', 7 * GiB).expect(409).expect((response) => {
      expect(response.body.code).toBe('QUOTA_EXCEEDED');
      expect(response.body.detail).toContain('volume.capacity');
    });
    const v3 = (await volume(manager, 'v3', 6 * GiB).expect(201)).body.id as string;
    expect(await used(projectId, 'volume.capacity')).toBe(10 * GiB);

    // Another project's volume and the platform's are not there for the project's people.
    await http().get(`/v1/volumes/${foreign}`).set('Authorization', member).expect(404);
    await http().get(`/v1/volumes/${adminVolume}`).set('Authorization', member).expect(404);
    await http().delete(`/v1/volumes/${foreign}`).set('Authorization', manager).expect(404);
    await caughtUp();
    const listed = await http().get('/v1/volumes').query({ q: 'type=Data' }).set('Authorization', member).expect(200);
    expect(ids(listed.body.items)).toEqual([v2, v3].sort());
    expect((await http().get('/v1/volumes').query({ q: 'type=Data' }).set('Authorization', admin).expect(200)).body.items.length).toBeGreaterThanOrEqual(4);

    // A VM of the project, on the shared image and network; one snapshot fits, a second does not.
    const vm = await http().post('/v1/vm-instances').set('Authorization', manager).set('Prefer', 'wait=60').send(vmBody('worker')).expect(201);
    expect(vm.body.projectId).toBe(projectId);
    const snapshot = await http().post('/v1/volume-snapshots').set('Authorization', manager).set('Prefer', 'wait=60').send({ name: 's1', vmInstanceId: vm.body.id }).expect(200);
    await http().post('/v1/volume-snapshots').set('Authorization', manager).set('Prefer', 'wait=60').send({ name: 's2', vmInstanceId: vm.body.id })
      .expect(409).expect((response) => expect(response.body.code).toBe('QUOTA_EXCEEDED'));
    await http().post('/v1/volume-snapshots').set('Authorization', stranger).set('Prefer', 'wait=60').send({ name: 'peek', vmInstanceId: vm.body.id }).expect(404);
    await caughtUp();
    expect(ids((await http().get('/v1/volume-snapshots').set('Authorization', member).expect(200)).body.items)).toEqual([snapshot.body.id]);
    expect((await http().get('/v1/volume-snapshots').set('Authorization', stranger).expect(200)).body.items).toEqual([]);
    await http().delete(`/v1/volume-snapshots/${snapshot.body.id as string}`).set('Authorization', manager).set('Prefer', 'wait=60').expect(200);
    expect(await usedBecomes(projectId, 'snapshot.volume.num', 0)).toBe(0);

    // Images: the project's own and the shared ones; not another project's.
    const image = (auth: string, name: string) => http().post('/v1/images').set('Authorization', auth)
      .send({ name, url: 'file:///tmp/none.qcow2', format: 'qcow2', platform: 'Linux', sha256: 'a'.repeat(64), sizeBytes: 1024 });
    const own = (await image(manager, 'ours').expect(201)).body.id as string;
    await image(manager, 'ours-2').expect(409).expect((response) => expect(response.body.code).toBe('QUOTA_EXCEEDED'));
    const theirs = (await image(stranger, 'theirs').expect(201)).body.id as string;
    await caughtUp();
    const images = ids((await http().get('/v1/images').set('Authorization', member).expect(200)).body.items);
    expect(images).toContain(own);
    expect(images).toContain(inventory.imageId);
    expect(images).not.toContain(theirs);
    await http().get(`/v1/images/${theirs}`).set('Authorization', member).expect(404);
    await http().delete(`/v1/images/${inventory.imageId}`).set('Authorization', manager).expect(404); // shared: read-only here
    await http().post('/v1/vm-instances').set('Authorization', manager).set('Prefer', 'wait=60').send(vmBody('on-theirs', { imageId: theirs, strategy: 'JustCreate' })).expect(404);

    // L3 networks: one of the project's own fits; shared ones are readable, not changeable.
    const network = await http().post('/v1/l3-networks').set('Authorization', manager).send({ l2NetworkId, name: 'project-net' }).expect(201);
    await http().post('/v1/l3-networks').set('Authorization', manager).send({ l2NetworkId, name: 'project-net-2' })
      .expect(409).expect((response) => expect(response.body.code).toBe('QUOTA_EXCEEDED'));
    await caughtUp();
    const networks = ids((await http().get('/v1/l3-networks').set('Authorization', member).expect(200)).body.items);
    expect(networks).toEqual([inventory.l3NetworkId, network.body.id].sort());
    expect(ids((await http().get('/v1/l3-networks').set('Authorization', stranger).expect(200)).body.items)).toEqual([inventory.l3NetworkId]);
    await http().delete(`/v1/l3-networks/${inventory.l3NetworkId}`).set('Authorization', manager).expect(404);
    await http().delete(`/v1/l3-networks/${network.body.id as string}`).set('Authorization', manager).expect(200);
    expect(await usedBecomes(projectId, 'l3.num', 0)).toBe(0);

    // The usage view lists every quota with its limit.
    const view = await http().get(`/v1/projects/${projectId}/quotas`).set('Authorization', member).expect(200);
    expect(view.body.items).toContainEqual({ name: 'volume.data.num', limit: 2, used: 2, available: 0 });
    await http().get(`/v1/projects/${otherId}/quotas`).set('Authorization', member).expect(404);
  });
});

describe('custom project roles and disabling a project\'s resources', () => {
  it('a project admin defines a role within its own permissions; a member given it may do what it allows, and loses it with the role', async () => {
    const projectId = await createProject('roles', {});
    const { auth: projectAdmin } = await memberOf(projectId, 'project-admin');
    const { userId: memberId, auth: member } = await memberOf(projectId, 'member');
    const vm = await http().post('/v1/vm-instances').set('Authorization', projectAdmin).set('Prefer', 'wait=60').send(vmBody('ops')).expect(201);
    const vmId = vm.body.id as string;

    await http().post(`/v1/projects/${projectId}/roles`).set('Authorization', projectAdmin).send({ name: 'root', permissions: ['host:create'] })
      .expect((response) => { expect([400, 422]).toContain(response.status); expect(response.body.code).toBe('INVALID_PROJECT_ROLE'); });
    await http().post(`/v1/projects/${projectId}/roles`).set('Authorization', member).send({ name: 'self-made', permissions: ['vm:stop'] }).expect(403);
    const role = await http().post(`/v1/projects/${projectId}/roles`).set('Authorization', projectAdmin)
      .send({ name: 'operator', description: 'starts and stops VMs', permissions: ['vm:start', 'vm:stop'] }).expect(201);
    expect(role.body).toMatchObject({ name: 'operator', rootRole: 'project-admin', permissions: ['vm:start', 'vm:stop'] });
    const listed = await http().get(`/v1/projects/${projectId}/roles`).set('Authorization', member).expect(200);
    expect(listed.body.items.map((item: { name: string }) => item.name)).toEqual(['operator']);

    await http().post(`/v1/vm-instances/${vmId}/stop`).set('Authorization', member).set('Prefer', 'wait=60').send({ type: 'cold' }).expect(403);
    await http().put(`/v1/projects/${projectId}/members/${memberId}/roles`).set('Authorization', projectAdmin).send({ roleIds: [role.body.id] })
      .expect(200).expect((response) => expect(response.body).toMatchObject({ userId: memberId, roleIds: [role.body.id] }));
    await http().post(`/v1/vm-instances/${vmId}/stop`).set('Authorization', member).set('Prefer', 'wait=60').send({ type: 'cold' }).expect(200);
    await http().delete(`/v1/vm-instances/${vmId}`).set('Authorization', member).expect(403);
    await http().post(`/v1/vm-instances/${vmId}/start`).set('Authorization', member).set('Prefer', 'wait=60').expect(200);

    await http().delete(`/v1/projects/${projectId}/roles/${role.body.id as string}`).set('Authorization', projectAdmin).expect(200);
    await http().post(`/v1/vm-instances/${vmId}/stop`).set('Authorization', member).set('Prefer', 'wait=60').send({ type: 'cold' }).expect(403);
  });

  it('disables all resources of a project: its running VMs are stopped in one audited task, others are left alone', async () => {
    const projectId = await createProject('shutdown', {});
    const running = await Promise.all(['a', 'b'].map((name) => http().post('/v1/vm-instances').set('Authorization', admin).set('Prefer', 'wait=60')
      .send(vmBody(`d-${name}`, { projectId })).expect(201)));
    const stopped = await http().post('/v1/vm-instances').set('Authorization', admin).set('Prefer', 'wait=60').send(vmBody('d-c', { projectId, strategy: 'CreateStopped' })).expect(201);
    const outside = await http().post('/v1/vm-instances').set('Authorization', admin).set('Prefer', 'wait=60').send(vmBody('d-outside')).expect(201);

    const disabled = await http().post(`/v1/projects/${projectId}/disable-resources`).set('Authorization', admin).send({ stopType: 'cold' }).expect(200);
    expect(disabled.body.stopping.sort()).toEqual(ids(running.map((response) => response.body)));
    expect(disabled.body.skipped).toEqual([stopped.body.id]);
    for (const vm of running) {
      const after = await eventually(async () => (await http().get(`/v1/vm-instances/${vm.body.id as string}`).set('Authorization', admin).expect(200)).body.state, (state) => state === 'Stopped');
      expect(after).toBe('Stopped');
    }
    expect(await usedBecomes(projectId, 'vm.runningNum', 0)).toBe(0);
    await caughtUp();
    expect((await http().get(`/v1/vm-instances/${outside.body.id as string}`).set('Authorization', admin).expect(200)).body.state).toBe('Running');
    const audit = await http().get('/v1/audit-log').query({ q: 'action=DisableProjectResources' }).set('Authorization', admin).expect(200);
    expect(audit.body.items).toHaveLength(1);
  });
});

describe('data volumes asked with a VM', () => {
  it('are reserved with the VM (refused together when they do not fit) and belong to its project', async () => {
    const projectId = await createProject('with-disks', { 'volume.data.num': 1, 'volume.capacity': 100 * GiB });
    const disk = await http().post('/v1/disk-offerings').set('Authorization', admin).send({ name: 'ten', sizeBytes: 10 * GiB }).expect(201);
    await http().post('/v1/vm-instances').set('Authorization', admin).set('Prefer', 'wait=60')
      .send(vmBody('two-disks', { projectId, dataDiskOfferingIds: [disk.body.id, disk.body.id] }))
      .expect(409).expect((response) => expect(response.body.code).toBe('QUOTA_EXCEEDED'));
    expect(await used(projectId, 'vm.num')).toBe(0);
    const vm = await http().post('/v1/vm-instances').set('Authorization', admin).set('Prefer', 'wait=60')
      .send(vmBody('one-disk', { projectId, dataDiskOfferingIds: [disk.body.id] })).expect(201);
    expect(await used(projectId, 'volume.data.num')).toBe(1);
    expect(await used(projectId, 'volume.capacity')).toBe(10 * GiB);
    const { auth: member } = await memberOf(projectId, 'member');
    const volumes = await eventually(async () => (await http().get('/v1/volumes').query({ q: 'type=Data' }).set('Authorization', member).expect(200)).body.items as Array<{ createdForVmInstanceId?: string }>,
      (items) => items.length === 1);
    expect(volumes.map((item) => item.createdForVmInstanceId)).toEqual([vm.body.id]);
  });
});
