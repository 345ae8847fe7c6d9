import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../adapters/clock/manual.js';
import { expungeScheduleProjection } from '../../projections/compute/expunge-schedule.js';
import { vmInstancesProjection } from '../../projections/compute/vm-instances.js';
import { expectReadModelsEqualRebuild } from '../support/read-models.js';
import type { TestStratus } from '../support/stratus.js';
import { startStratusWithVms, stopStratus } from '../support/stratus-with-vms.js';
import { GiB, type VmInventory } from '../support/vm-inventory.js';

// The whole story through the API: build an inventory, create VMs with each strategy, stop,
// start, reboot, pause, resume, rename, change offering, delete under each deletion policy,
// recover, expunge automatically once the period has passed (manual clock + the expunger's
// timer loop) and by hand; failures that roll back; the audit log; read models = a rebuild.

const clock = manualClock(Date.UTC(2026, 5, 1));
let stratus: TestStratus;
let auth: string;
let inventory: VmInventory;

beforeAll(async () => {
  ({ stratus, admin: auth, inventory } = await startStratusWithVms({
    clock, hosts: 2, hostCapacity: { cpuCount: 8, memoryBytes: 16 * GiB },
    ipRange: { startIp: '10.20.0.10', endIp: '10.20.0.40', gateway: '10.20.0.1', netmask: '255.255.255.0' },
  }));
});
afterAll(() => stopStratus(stratus));

const wait = { Prefer: 'wait=30' };
const post = (path: string, body: object = {}, headers: Record<string, string> = wait) =>
  request(stratus.app).post(path).set('Authorization', auth).set(headers).send(body);
const del = (path: string, headers: Record<string, string> = wait) => request(stratus.app).delete(path).set('Authorization', auth).set(headers);
const put = (path: string, body: object) => request(stratus.app).put(path).set('Authorization', auth).send(body);
const get = (path: string, position?: string) => {
  const separator = path.includes('?') ? '&' : '?';
  return request(stratus.app).get(position ? `${path}${separator}after=${position}` : path).set('Authorization', auth);
};
const positionOf = (response: request.Response) => response.headers['stratus-position'] as string;
const vmBody = (name: string, extra: object = {}) => ({ name, instanceOfferingId: inventory.offerings.small, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId], ...extra });

async function createRunning(name: string) {
  const created = await post('/v1/vm-instances', vmBody(name)).expect(201);
  expect(created.body.state).toBe('Running');
  return created;
}

/** What the hosts, the L3 network and the primary storage say is in use. */
async function usage(position?: string) {
  const hosts = await Promise.all(inventory.hostIds.map((id) => get(`/v1/hosts/${id}`, position).expect(200)));
  const l3 = await get(`/v1/l3-networks/${inventory.l3NetworkId}`, position).expect(200);
  const storage = await get(`/v1/primary-storages/${inventory.primaryStorageId}`, position).expect(200);
  return {
    cpuUsed: hosts.reduce((sum, host) => sum + (host.body.cpuUsed as number), 0),
    memoryUsed: hosts.reduce((sum, host) => sum + (host.body.memoryUsed as number), 0),
    ipUsed: l3.body.ipUsed as number,
    storageUsed: storage.body.usedBytes as number,
  };
}

async function setSetting(name: string, value: string | number) {
  await put(`/v1/settings/${name}`, { value }).expect(200);
}

describe('creating VMs', () => {
  it('InstantStart (default): placed, addressed, built and Running; detail with ETag, in the list', async () => {
    const before = await usage();
    const created = await createRunning('web-1');
    expect(created.body).toMatchObject({
      id: expect.any(String), name: 'web-1', state: 'Running', strategy: 'InstantStart', cpuCount: 1, memoryBytes: GiB,
      zoneId: inventory.zoneId, clusterId: inventory.clusterId, imageId: inventory.imageId, instanceOfferingId: inventory.offerings.small,
      nics: [{ l3NetworkId: inventory.l3NetworkId, ip: expect.stringMatching(/^10\.20\.0\.\d+$/), mac: expect.stringMatching(/^fa(:[0-9a-f]{2}){5}$/), gateway: '10.20.0.1' }],
      volumes: [{ type: 'Root', device: 'vda', primaryStorageId: inventory.primaryStorageId }],
      taskId: expect.any(String), error: null,
    });
    expect(inventory.hostIds).toContain(created.body.hostId);

    const detail = await get(`/v1/vm-instances/${created.body.id}`, positionOf(created)).expect(200);
    expect(detail.headers.etag).toMatch(/^"\d+"$/);
    expect(detail.body).toMatchObject({ id: created.body.id, state: 'Running', hostId: created.body.hostId, nics: created.body.nics });
    expect(detail.body).not.toHaveProperty('aggregate');
    const list = await get('/v1/vm-instances?q=name=web-1', positionOf(created)).expect(200);
    expect(list.body.items.map((item: { id: string }) => item.id)).toEqual([created.body.id]);

    const after = await usage(positionOf(created));
    expect(after).toMatchObject({ cpuUsed: before.cpuUsed + 1, memoryUsed: before.memoryUsed + GiB, ipUsed: before.ipUsed + 1 });
    expect(after.storageUsed).toBeGreaterThan(before.storageUsed);
    expect(stratus.effects.simulator.host(created.body.hostId)?.vms.find((vm) => vm.vmId === created.body.id)?.state).toBe('Running');
  });

  it('answers 202 with the task to follow when not asked to wait', async () => {
    const accepted = await post('/v1/vm-instances', vmBody('web-async'), {}).expect(202);
    expect(accepted.headers.location).toBe(`/v1/tasks/${accepted.body.id}`);
    expect(accepted.body).toMatchObject({ action: 'CreateVmInstance', state: 'running', resourceType: 'vm' });
    const task = await request(stratus.app).get(accepted.headers.location as string).set('Authorization', auth).set(wait).expect(200);
    expect(task.body).toMatchObject({ state: 'succeeded', result: { state: 'Running', name: 'web-async' } });
  });

  it('JustCreate records the VM only (Created, nothing reserved); its first start builds it', async () => {
    const before = await usage();
    const created = await post('/v1/vm-instances', vmBody('later', { strategy: 'JustCreate' })).expect(201);
    expect(created.body).toMatchObject({ state: 'Created', hostId: null, nics: [{ ip: null }] });
    expect(await usage(positionOf(created))).toMatchObject({ cpuUsed: before.cpuUsed, ipUsed: before.ipUsed });
    const started = await post(`/v1/vm-instances/${created.body.id}/start`).expect(200);
    expect(started.body).toMatchObject({ state: 'Running', nics: [{ ip: expect.any(String) }] });
  });

  it('CreateStopped builds the VM and leaves it Stopped', async () => {
    const created = await post('/v1/vm-instances', vmBody('cold-one', { strategy: 'CreateStopped' })).expect(201);
    expect(created.body).toMatchObject({ state: 'Stopped', hostId: expect.any(String) });
    expect(stratus.effects.simulator.host(created.body.hostId)?.vms.find((vm) => vm.vmId === created.body.id)?.state).toBe('Stopped');
  });

  it('refuses what does not exist before anything is recorded', async () => {
    const missing = await post('/v1/vm-instances', vmBody('x', { instanceOfferingId: 'nope' })).expect(400);
    expect(missing.body).toMatchObject({ code: 'INSTANCE_OFFERING_NOT_FOUND', errors: [{ field: 'instanceOfferingId' }] });
    expect((await post('/v1/vm-instances', vmBody('x', { imageId: 'nope' })).expect(400)).body.code).toBe('IMAGE_NOT_FOUND');
    expect((await post('/v1/vm-instances', vmBody('x', { l3NetworkIds: ['nope'] })).expect(400)).body.code).toBe('L3_NETWORK_NOT_FOUND');
    expect((await post('/v1/vm-instances', { name: 'x' }).expect(400)).body.code).toBe('VALIDATION_FAILED');
    await get('/v1/vm-instances/no-such-vm').expect(404);
  });
});

describe('a failed provisioning rolls back everything and leaves the VM in Error', () => {
  it('an image whose checksum does not match: the VM is Error, the image is Error, nothing stays reserved', async () => {
    const before = await usage();
    const failed = await post('/v1/vm-instances', vmBody('tampered', { imageId: inventory.badImageId })).expect(409);
    expect(failed.body.code).toBe('IMAGE_CHECKSUM_MISMATCH');
    const taskId = failed.headers['stratus-task-id'] as string;
    const task = await get(`/v1/tasks/${taskId}`).expect(200);
    const vmId = task.body.resourceIds[0] as string;
    const vm = await get(`/v1/vm-instances/${vmId}`, String(task.body.position)).expect(200);
    expect(vm.body).toMatchObject({ state: 'Error', hostId: null, error: { code: 'IMAGE_CHECKSUM_MISMATCH' }, nics: [{ ip: null }] });
    const image = await get(`/v1/images/${inventory.badImageId}`, String(task.body.position)).expect(200);
    expect(image.body).toMatchObject({ state: 'Error', reason: expect.stringContaining('sha256') });
    expect(await usage(String(task.body.position))).toEqual(before);
    // Nothing of it is left on the host either.
    for (const hostId of inventory.hostIds) {
      const host = stratus.effects.simulator.host(hostId);
      expect(host?.vms.some((record) => record.vmId === vmId)).toBe(false);
      expect(host?.volumes.some((volume) => volume.volumeId === vm.body.volumes[0].id)).toBe(false);
    }
    // An image in Error is refused up front.
    expect((await post('/v1/vm-instances', vmBody('again', { imageId: inventory.badImageId })).expect(409)).body.code).toBe('IMAGE_NOT_READY');
    // A VM in Error can only be deleted.
    expect((await post(`/v1/vm-instances/${vmId}/start`).expect(409)).body.code).toBe('VM_IN_ERROR');
  });

  it('no host with room: NO_HOST_AVAILABLE, nothing reserved', async () => {
    const before = await usage();
    const huge = await post('/v1/instance-offerings', { name: 'huge', cpuCount: 64, memoryBytes: 512 * GiB }).expect(201);
    const failed = await post('/v1/vm-instances', vmBody('too-big', { instanceOfferingId: huge.body.id })).expect(409);
    expect(failed.body.code).toBe('NO_HOST_AVAILABLE');
    expect(await usage(positionOf(failed))).toEqual(before);
  });

  it('a host that fails the start: rolled back, the next try succeeds', async () => {
    const before = await usage();
    stratus.effects.simulator.fail('*', { op: 'vm.start', count: 1 });
    const failed = await post('/v1/vm-instances', vmBody('unlucky')).expect(409);
    expect(failed.body.code).toBe('INJECTED_FAULT');
    expect(await usage(positionOf(failed))).toEqual(before);
    stratus.effects.simulator.clear('*');
    await createRunning('lucky');
  });
});

describe('a rollback the host refuses', () => {
  it('stalls (the task fails at once), and is retried by the periodic check until nothing is held', async () => {
    await setSetting('vm.expungeInterval', 2);
    const before = await usage();
    stratus.effects.simulator.fail('*', { op: 'vm.start', count: 1 });
    stratus.effects.simulator.fail('*', { op: 'vm.destroy', count: 1 });
    const failed = await post('/v1/vm-instances', vmBody('stuck-rollback')).expect(409);
    expect(failed.body.code).toBe('INJECTED_FAULT');
    stratus.effects.simulator.clear('*');
    const task = await get(`/v1/tasks/${failed.headers['stratus-task-id'] as string}`).expect(200);
    const vmId = task.body.resourceIds[0] as string;
    const stalled = await get(`/v1/vm-instances/${vmId}`, String(task.body.position)).expect(200);
    expect(stalled.body).toMatchObject({ state: 'Created', error: { code: 'INJECTED_FAULT' } });
    expect((await usage(String(task.body.position))).cpuUsed).toBe(before.cpuUsed + 1);

    clock.advance(3000);
    await stratus.runner.waitFor(await stratus.eventStore.headPosition(), 5000);
    await stratus.vmLifecycle.timer.tick();
    let detail = stalled;
    for (let attempt = 0; attempt < 200 && detail.body.state !== 'Error'; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      detail = await get(`/v1/vm-instances/${vmId}`, String(await stratus.eventStore.headPosition())).expect(200);
    }
    expect(detail.body).toMatchObject({ state: 'Error', hostId: null, error: { code: 'INJECTED_FAULT' } });
    expect(await usage(String(await stratus.eventStore.headPosition()))).toEqual(before);
    await setSetting('vm.expungeInterval', 3600);
  });
});

describe('operating a VM', () => {
  let vmId: string;
  let hostId: string;

  it('stops (grace, then cold), starts, reboots, pauses and resumes', async () => {
    const created = await createRunning('ops');
    vmId = created.body.id;
    hostId = created.body.hostId;
    expect((await post(`/v1/vm-instances/${vmId}/stop`, { type: 'grace' }).expect(200)).body.state).toBe('Stopped');
    expect((await post(`/v1/vm-instances/${vmId}/start`).expect(200)).body.state).toBe('Running');
    const cycles = stratus.effects.simulator.host(hostId)!.vms.find((vm) => vm.vmId === vmId)!.powerCycles;
    expect((await post(`/v1/vm-instances/${vmId}/reboot`).expect(200)).body.state).toBe('Running');
    expect(stratus.effects.simulator.host(hostId)!.vms.find((vm) => vm.vmId === vmId)!.powerCycles).toBe(cycles + 1);
    expect((await post(`/v1/vm-instances/${vmId}/pause`).expect(200)).body.state).toBe('Paused');
    expect((await post(`/v1/vm-instances/${vmId}/resume`).expect(200)).body.state).toBe('Running');
    const stopped = await post(`/v1/vm-instances/${vmId}/stop`, { type: 'cold' }).expect(200);
    expect(stopped.body.state).toBe('Stopped');
    expect(stratus.effects.simulator.host(hostId)!.vms.find((vm) => vm.vmId === vmId)!.state).toBe('Stopped');
  });

  it('an operation the host never answers times out: the VM is Unknown, and a cold stop brings it back', async () => {
    const victim = await createRunning('hangs');
    stratus.effects.simulator.hang(victim.body.hostId, { op: 'vm.stop', count: 1 });
    const accepted = await post(`/v1/vm-instances/${victim.body.id}/stop`, { type: 'grace' }, {}).expect(202);
    for (let attempt = 0; attempt < 200 && (await stratus.effects.simulator.faults(victim.body.hostId)).hanging === 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect((await stratus.effects.simulator.faults(victim.body.hostId)).hanging).toBe(1);
    clock.advance(301 * 1000); // past effect.operationTimeout (300 s)
    await stratus.effects.timer.tick();
    const task = await request(stratus.app).get(`/v1/tasks/${accepted.body.id}`).set('Authorization', auth).set(wait).expect(200);
    expect(task.body).toMatchObject({ state: 'failed', error: { code: 'OPERATION_TIMEOUT' } });
    const unknown = await get(`/v1/vm-instances/${victim.body.id}`, String(task.body.position)).expect(200);
    expect(unknown.body).toMatchObject({ state: 'Unknown', error: { code: 'OPERATION_TIMEOUT' } });
    expect((await post(`/v1/vm-instances/${victim.body.id}/stop`, { type: 'cold' }).expect(200)).body).toMatchObject({ state: 'Stopped', error: null });
  });

  it('refuses what the state does not allow, with its code', async () => {
    expect((await post(`/v1/vm-instances/${vmId}/stop`).expect(409)).body.code).toBe('VM_ALREADY_STOPPED');
    expect((await post(`/v1/vm-instances/${vmId}/reboot`).expect(409)).body.code).toBe('VM_NOT_RUNNING');
    expect((await post(`/v1/vm-instances/${vmId}/resume`).expect(409)).body.code).toBe('VM_NOT_PAUSED');
    expect((await post(`/v1/vm-instances/${vmId}/stop`, { type: 'hard' }).expect(400)).body.code).toBe('VALIDATION_FAILED');
    expect((await post('/v1/vm-instances/no-such-vm/start').expect(404)).body.code).toBe('VM_NOT_FOUND');
  });

  it('renames and describes; If-Match with a stale ETag is refused with 412', async () => {
    const detail = await get(`/v1/vm-instances/${vmId}`, String(await stratus.eventStore.headPosition())).expect(200);
    const etag = detail.headers.etag as string;
    const renamed = await request(stratus.app).patch(`/v1/vm-instances/${vmId}`).set('Authorization', auth).set('If-Match', etag)
      .send({ name: 'ops-renamed', description: 'the one we operate' }).expect(200);
    expect(renamed.body).toMatchObject({ name: 'ops-renamed', description: 'the one we operate' });
    const stale = await request(stratus.app).patch(`/v1/vm-instances/${vmId}`).set('Authorization', auth).set('If-Match', etag).send({ name: 'x' }).expect(412);
    expect(stale.body.code).toBe('PRECONDITION_FAILED');
  });

  it('changes the offering of a stopped VM, moving its reservation on the host; refused while running', async () => {
    const before = await usage();
    const changed = await post(`/v1/vm-instances/${vmId}/change-offering`, { instanceOfferingId: inventory.offerings.large }).expect(200);
    expect(changed.body).toMatchObject({ instanceOfferingId: inventory.offerings.large, cpuCount: 4, memoryBytes: 4 * GiB, state: 'Stopped' });
    expect(await usage(positionOf(changed))).toMatchObject({ cpuUsed: before.cpuUsed + 3, memoryUsed: before.memoryUsed + 3 * GiB });
    expect((await post(`/v1/vm-instances/${vmId}/start`).expect(200)).body.cpuCount).toBe(4);
    const refused = await post(`/v1/vm-instances/${vmId}/change-offering`, { instanceOfferingId: inventory.offerings.small }).expect(409);
    expect(refused.body.code).toBe('VM_NOT_STOPPED');
  });
});

describe('deleting under each deletion policy', () => {
  it('Delay (default): Destroyed, listed with q=state=Destroyed, compute and address given back, recoverable to Stopped with its address', async () => {
    const created = await createRunning('keep-me');
    const vmId = created.body.id as string;
    const before = await usage(positionOf(created));
    const deleted = await del(`/v1/vm-instances/${vmId}`).expect(200);
    expect(deleted.body).toMatchObject({ id: vmId, state: 'Destroyed', deletionPolicy: 'Delay', hostId: null });
    const destroyedAt = Date.parse(deleted.body.destroyedAt);
    expect(Date.parse(deleted.body.expungeAt) - destroyedAt).toBe(604_800 * 1000);

    const listed = await get('/v1/vm-instances?q=state=Destroyed', positionOf(deleted)).expect(200);
    expect(listed.body.items.map((item: { id: string }) => item.id)).toContain(vmId);
    const after = await usage(positionOf(deleted));
    expect(after).toMatchObject({ cpuUsed: before.cpuUsed - 1, memoryUsed: before.memoryUsed - GiB, ipUsed: before.ipUsed - 1 });
    expect(after.storageUsed).toBe(before.storageUsed); // the root volume is kept until expunged
    expect((await post(`/v1/vm-instances/${vmId}/start`).expect(409)).body.code).toBe('VM_DESTROYED');
    expect((await del(`/v1/vm-instances/${vmId}`).expect(409)).body.code).toBe('VM_ALREADY_DESTROYED');

    const recovered = await post(`/v1/vm-instances/${vmId}/recover`).expect(200);
    expect(recovered.body).toMatchObject({ state: 'Stopped', hostId: created.body.hostId, destroyedAt: null, expungeAt: null, nics: [{ ip: created.body.nics[0].ip }] });
    expect(await usage(positionOf(recovered))).toEqual(before);
    expect((await post(`/v1/vm-instances/${vmId}/start`).expect(200)).body.state).toBe('Running');
    expect((await post(`/v1/vm-instances/${vmId}/recover`).expect(409)).body.code).toBe('VM_NOT_DESTROYED');
  });

  it('Never: Destroyed with no expunge time, kept however long; expunged only by hand', async () => {
    await setSetting('vm.deletionPolicy', 'Never');
    const created = await createRunning('forever');
    const vmId = created.body.id as string;
    const deleted = await del(`/v1/vm-instances/${vmId}`).expect(200);
    expect(deleted.body).toMatchObject({ state: 'Destroyed', deletionPolicy: 'Never', expungeAt: null });
    clock.advance(3600 * 1000);
    await stratus.vmLifecycle.timer.tick();
    expect((await get(`/v1/vm-instances/${vmId}`, String(await stratus.eventStore.headPosition())).expect(200)).body.state).toBe('Destroyed');

    const before = await usage(String(await stratus.eventStore.headPosition()));
    const expunged = await post(`/v1/vm-instances/${vmId}/expunge`).expect(200);
    expect(expunged.body.id).toBe(vmId);
    await get(`/v1/vm-instances/${vmId}`, positionOf(expunged)).expect(404);
    expect((await usage(positionOf(expunged))).storageUsed).toBeLessThan(before.storageUsed);
    expect(stratus.effects.simulator.host(created.body.hostId)?.volumes.some((volume) => volume.volumeId === created.body.volumes[0].id)).toBe(false);
    expect((await post(`/v1/vm-instances/${vmId}/expunge`).expect(404)).body.code).toBe('VM_NOT_FOUND');
  });

  it('Direct: gone at once, everything given back', async () => {
    await setSetting('vm.deletionPolicy', 'Direct');
    const before = await usage();
    const created = await createRunning('gone');
    const deleted = await del(`/v1/vm-instances/${created.body.id}`).expect(200);
    await get(`/v1/vm-instances/${created.body.id}`, positionOf(deleted)).expect(404);
    expect(await usage(positionOf(deleted))).toEqual(before);
    await setSetting('vm.deletionPolicy', 'Delay');
  });

  it('Delay with a short period: the expunger removes the VM once the period, counted from the destroy, has passed', async () => {
    await setSetting('vm.expungePeriod', 60);
    await setSetting('vm.expungeInterval', 2);
    const before = await usage();
    const created = await createRunning('short-lived');
    const vmId = created.body.id as string;
    const deleted = await del(`/v1/vm-instances/${vmId}`).expect(200);
    expect(Date.parse(deleted.body.expungeAt) - Date.parse(deleted.body.destroyedAt)).toBe(60_000);
    // A rename in the recycle bin does not restart the clock (unlike ZStack's last-update rule).
    clock.advance(30_000);
    await request(stratus.app).patch(`/v1/vm-instances/${vmId}`).set('Authorization', auth).send({ name: 'renamed-in-bin' }).expect(200);
    await stratus.runner.waitFor(await stratus.eventStore.headPosition(), 5000);
    await stratus.vmLifecycle.timer.tick();
    expect((await get(`/v1/vm-instances/${vmId}`, String(await stratus.eventStore.headPosition())).expect(200)).body.state).toBe('Destroyed');

    clock.advance(31_000);
    await stratus.vmLifecycle.timer.tick();
    // The expunger started a system task: wait for it as any client would.
    await stratus.runner.waitFor(await stratus.eventStore.headPosition(), 5000);
    const tasks = await get(`/v1/tasks?q=action=ExpungeVmInstance&q=resourceIds=${vmId}`).expect(200);
    expect(tasks.body.items).toHaveLength(1);
    const task = await request(stratus.app).get(`/v1/tasks/${tasks.body.items[0].id}`).set('Authorization', auth).set(wait).expect(200);
    expect(task.body).toMatchObject({ state: 'succeeded', operator: { kind: 'system' } });
    const head = String(task.body.position);
    await get(`/v1/vm-instances/${vmId}`, head).expect(404);
    expect(await usage(head)).toEqual(before);
    const audit = await get(`/v1/audit-log?q=action=ExpungeVmInstance&q=resourceIds=${vmId}`, head).expect(200);
    expect(audit.body.items).toEqual([expect.objectContaining({ result: 'success', operator: expect.objectContaining({ kind: 'system' }) })]);
  });
});

describe('data volumes', () => {
  let dataVolumeId: string;
  /** Polls (no time assertion) until the VM's detail satisfies `check`. */
  async function vmUntil(vmId: string, check: (body: Record<string, any>) => boolean) {
    for (let attempt = 0; attempt < 200; attempt++) {
      const detail = await get(`/v1/vm-instances/${vmId}`, String(await stratus.eventStore.headPosition())).expect(200);
      if (check(detail.body)) return detail.body;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`VM ${vmId} never reached the expected state`);
  }

  it('a VM created with a data disk gets it attached; destroying the VM detaches the disk and keeps it', async () => {
    const disk = await post('/v1/disk-offerings', { name: '10G', sizeBytes: 10 * GiB }).expect(201);
    const created = await post('/v1/vm-instances', vmBody('with-disk', { dataDiskOfferingIds: [disk.body.id] })).expect(201);
    const attached = await vmUntil(created.body.id, (body) => body.volumes.some((volume: { type: string }) => volume.type === 'Data'));
    const dataVolume = attached.volumes.find((volume: { type: string }) => volume.type === 'Data');
    expect(dataVolume).toMatchObject({ id: expect.any(String), device: expect.stringMatching(/^vd[b-z]$/) });

    const deleted = await del(`/v1/vm-instances/${created.body.id}`).expect(200);
    expect(deleted.body.state).toBe('Destroyed');
    await vmUntil(created.body.id, (body) => body.volumes.every((volume: { type: string }) => volume.type === 'Root'));
    const volume = await get(`/v1/volumes/${dataVolume.id}`, String(await stratus.eventStore.headPosition())).expect(200);
    expect(volume.body).toMatchObject({ id: dataVolume.id, type: 'Data', vmInstanceId: null });
    expect(volume.body.state).not.toBe('Destroyed');
    dataVolumeId = dataVolume.id;
  });

  it('the same expunger removes deleted volumes and images once their own period has passed', async () => {
    for (const kind of ['volume', 'image']) {
      await setSetting(`${kind}.expungePeriod`, 120);
      await setSetting(`${kind}.expungeInterval`, 2);
    }
    const imageId = (await post('/v1/images', { name: 'old-image', url: '/srv/old.qcow2', format: 'qcow2', platform: 'Linux', sha256: 'c'.repeat(64), sizeBytes: GiB }).expect(201)).body.id as string;
    await del(`/v1/volumes/${dataVolumeId}`).expect(200);
    await del(`/v1/images/${imageId}`).expect(200);
    let head = String(await stratus.eventStore.headPosition());
    expect((await get(`/v1/volumes/${dataVolumeId}`, head).expect(200)).body.state).toBe('Destroyed');
    expect((await get(`/v1/images/${imageId}`, head).expect(200)).body.state).toBe('Destroyed');

    clock.advance(121_000);
    await stratus.runner.waitFor(await stratus.eventStore.headPosition(), 5000);
    await stratus.vmLifecycle.timer.tick();
    for (const [action, id] of [['ExpungeVolume', dataVolumeId], ['ExpungeImage', imageId]] as const) {
      await stratus.runner.waitFor(await stratus.eventStore.headPosition(), 5000);
      const tasks = await get(`/v1/tasks?q=action=${action}&q=resourceIds=${id}`).expect(200);
      expect(tasks.body.items, action).toHaveLength(1);
      await request(stratus.app).get(`/v1/tasks/${tasks.body.items[0].id}`).set('Authorization', auth).set(wait).expect(200);
    }
    for (let attempt = 0; attempt < 200; attempt++) {
      head = String(await stratus.eventStore.headPosition());
      if ((await get(`/v1/volumes/${dataVolumeId}`, head)).status === 404) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await get(`/v1/volumes/${dataVolumeId}`, head).expect(404);
    await get(`/v1/images/${imageId}`, head).expect(404);
  });
});

describe('audit and read models', () => {
  it('shows every VM operation in the audit log with its outcome, failures included', async () => {
    const head = String(await stratus.eventStore.headPosition());
    const created = await get('/v1/audit-log?q=action=CreateVmInstance&limit=100', head).expect(200);
    const results = created.body.items.map((item: { result: string }) => item.result);
    expect(results).toContain('success');
    expect(results).toContain('failure');
    const failure = created.body.items.find((item: { error?: { code: string } }) => item.error?.code === 'IMAGE_CHECKSUM_MISMATCH');
    expect(failure).toMatchObject({ result: 'failure', operator: { name: 'admin' } });
    for (const action of ['StopVmInstance', 'StartVmInstance', 'RebootVmInstance', 'PauseVmInstance', 'ResumeVmInstance', 'DestroyVmInstance', 'RecoverVmInstance', 'ChangeVmInstanceOffering', 'UpdateVmInstance']) {
      const entries = await get(`/v1/audit-log?q=action=${action}`, head).expect(200);
      expect(entries.body.items.length, action).toBeGreaterThan(0);
      expect(entries.body.items.every((entry: { result: string }) => entry.result !== 'running'), action).toBe(true);
    }
  });

  it('the VM and expunge-schedule read models equal a rebuild from the events', async () => {
    await stratus.vmLifecycle.process.drained();
    const head = await stratus.eventStore.headPosition();
    expect(await stratus.runner.waitFor(head, 10_000)).toBe(true);
    await expectReadModelsEqualRebuild(stratus, { scratchFile: join(stratus.dataDir, 'rebuild.db'), until: head, projections: [vmInstancesProjection, expungeScheduleProjection] });
  });
});
