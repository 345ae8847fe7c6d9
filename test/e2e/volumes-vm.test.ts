import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../adapters/clock/manual.js';
import { expectReadModelsEqualRebuild } from '../support/read-models.js';
import { removeDir, startStratus, type TestStratus } from '../support/stratus.js';
import { buildComputeInventory, eventually, GiB } from './volumes-fixture.js';

// The whole story of data volumes and snapshots with a VM, through the API: a data volume is
// created, attached to a running VM (created on the VM's host and primary storage),
// snapshotted with the VM's root volume, reverted once the VM is stopped, detached, and
// deleted under each deletion policy — recovered, expunged by the expunger after the period
// and by hand. A VM created with dataDiskOfferingIds gets its volumes, and keeps them
// detached when it is destroyed.

const day = 86_400_000;
const clock = manualClock(Date.UTC(2026, 3, 1));
const wait = { Prefer: 'wait=30' };
let stratus: TestStratus;
let auth: string;
let imageDir: string;

beforeAll(async () => {
  stratus = await startStratus({ clock });
  auth = await stratus.login();
  imageDir = mkdtempSync(join(tmpdir(), 'stratus-volumes-image-'));
});
afterAll(async () => { await stratus.stop(); removeDir(stratus.dataDir); removeDir(imageDir); });

const post = (path: string, body?: object) => request(stratus.app).post(path).set('Authorization', auth).set(wait).send(body ?? {});
const put = (path: string, body: object) => request(stratus.app).put(path).set('Authorization', auth).send(body);
const del = (path: string) => request(stratus.app).delete(path).set('Authorization', auth).set(wait);
const get = (path: string, position?: string) => {
  const separator = path.includes('?') ? '&' : '?';
  return request(stratus.app).get(position ? `${path}${separator}after=${position}` : path).set('Authorization', auth);
};
const positionOf = (response: request.Response) => response.headers['stratus-position'] as string;
const head = async () => String(await stratus.eventStore.headPosition());
const setPolicy = (policy: string) => put('/v1/settings/volume.deletionPolicy', { value: policy }).expect(200);

/** Moves time on; a session lasts session.timeout, so log in again. */
async function advance(ms: number) {
  clock.advance(ms);
  auth = await stratus.login();
}

const volume = async (id: string | undefined) => (await get(`/v1/volumes/${id}`, await head())).body as Record<string, unknown>;
const storageUsed = async () => (await get(`/v1/primary-storages/${ids.storage}`, await head()).expect(200)).body.usedBytes as number;

const ids: Record<string, string> = {};

describe('data volumes and snapshots with a VM', () => {
  it('builds a zone with a simulated host, storage, an image, offerings and a network', async () => {
    Object.assign(ids, await buildComputeInventory(stratus, auth, imageDir));

    const vm = await post('/v1/vm-instances', { name: 'web', instanceOfferingId: ids.offering, imageId: ids.image, l3NetworkIds: [ids.l3], rootDiskSize: 20 * GiB }).expect(201);
    expect(vm.body).toMatchObject({ state: 'Running', hostId: ids.host });
    ids.vm = vm.body.id;
    const other = await post('/v1/vm-instances', { name: 'db', instanceOfferingId: ids.offering, imageId: ids.image, l3NetworkIds: [ids.l3], rootDiskSize: 20 * GiB }).expect(201);
    ids.otherVm = other.body.id;
  });

  it('lists each VM\'s root volume, which lives with its VM', async () => {
    const roots = await get(`/v1/volumes?q=type=Root&q=vmInstanceId=${ids.vm}`, await head()).expect(200);
    expect(roots.body.items).toEqual([expect.objectContaining({
      type: 'Root', name: 'ROOT-for-web', state: 'Ready', sizeBytes: 20 * GiB, vmInstanceId: ids.vm, hostId: ids.host, primaryStorageId: ids.storage, device: 'vda',
    })]);
    ids.rootVolume = roots.body.items[0].id;
    const refused = await del(`/v1/volumes/${ids.rootVolume}`).expect(409);
    expect(refused.body.code).toBe('ROOT_VOLUME_FOLLOWS_VM');
  });

  it('attaches a new data volume to a running VM: created on its host and primary storage, then hot-plugged', async () => {
    const before = await storageUsed();
    ids.volume = (await post('/v1/volumes', { name: 'data', diskOfferingId: ids.diskOffering }).expect(201)).body.id;
    const attached = await post(`/v1/volumes/${ids.volume}/attach`, { vmInstanceId: ids.vm }).expect(200);
    expect(attached.body).toMatchObject({ volumeId: ids.volume, vmInstanceId: ids.vm, device: 'vdb', state: 'Attached', taskId: expect.any(String) });
    expect(await volume(ids.volume)).toMatchObject({
      state: 'Ready', attachState: 'Attached', vmInstanceId: ids.vm, device: 'vdb', hostId: ids.host, primaryStorageId: ids.storage,
    });
    expect(await storageUsed()).toBe(before + 10 * GiB);
    const vm = await get(`/v1/vm-instances/${ids.vm}`, await head()).expect(200);
    expect(vm.body.volumes).toEqual(expect.arrayContaining([expect.objectContaining({ id: ids.volume, type: 'Data', device: 'vdb' })]));
    // Attaching again to the same VM is done already.
    await post(`/v1/volumes/${ids.volume}/attach`, { vmInstanceId: ids.vm }).expect(200);
  });

  it('answers a long attach with 202 and the task to follow when the client does not wait', async () => {
    ids.second = (await post('/v1/volumes', { name: 'second', sizeBytes: GiB }).expect(201)).body.id;
    const accepted = await request(stratus.app).post(`/v1/volumes/${ids.second}/attach`).set('Authorization', auth).send({ vmInstanceId: ids.vm }).expect(202);
    expect(accepted.headers.location).toBe(`/v1/tasks/${accepted.body.id}`);
    expect(accepted.body).toMatchObject({ state: 'running', action: 'AttachVolume', resourceIds: [ids.second] });
    const task = await request(stratus.app).get(accepted.headers.location!).set('Authorization', auth).set(wait).expect(200);
    expect(task.body).toMatchObject({ state: 'succeeded', action: 'AttachVolume', result: expect.objectContaining({ device: 'vdc', state: 'Attached' }) });
  });

  it('refuses: attaching an attached volume elsewhere, deleting an attached volume', async () => {
    const elsewhere = await post(`/v1/volumes/${ids.volume}/attach`, { vmInstanceId: ids.otherVm }).expect(409);
    expect(elsewhere.body.code).toBe('VOLUME_ALREADY_ATTACHED');
    const attachedDelete = await del(`/v1/volumes/${ids.volume}`).expect(409);
    expect(attachedDelete.body.code).toBe('VOLUME_ATTACHED');
  });

  it('snapshots the data volume and the root volume (named by its VM) while the VM runs', async () => {
    const data = await post('/v1/volume-snapshots', { volumeId: ids.volume, name: 'before-upgrade' }).expect(200);
    expect(data.body).toMatchObject({ id: expect.any(String), volumeId: ids.volume, state: 'Ready', sizeBytes: 10 * GiB });
    ids.dataSnapshot = data.body.id;
    const root = await post('/v1/volume-snapshots', { vmInstanceId: ids.vm, name: 'root-before-upgrade' }).expect(200);
    expect(root.body).toMatchObject({ volumeId: ids.rootVolume, state: 'Ready' });
    ids.rootSnapshot = root.body.id;
    const byRootId = await post('/v1/volume-snapshots', { volumeId: ids.rootVolume, name: 'root-by-id' }).expect(200);
    ids.rootSnapshot2 = byRootId.body.id;

    const list = await get(`/v1/volume-snapshots?q=vmInstanceId=${ids.vm}&sort=name`, await head()).expect(200);
    expect(list.body.items.map((item: { name: string; volumeType: string; state: string }) => [item.name, item.volumeType, item.state])).toEqual([
      ['before-upgrade', 'Data', 'Ready'], ['root-before-upgrade', 'Root', 'Ready'], ['root-by-id', 'Root', 'Ready'],
    ]);
    const missing = await post('/v1/volume-snapshots', { volumeId: 'nope', name: 'x' }).expect(404);
    expect(missing.body.code).toBe('VOLUME_NOT_FOUND');
    const neither = await post('/v1/volume-snapshots', { name: 'x' }).expect(400);
    expect(neither.body.code).toBe('VALIDATION_FAILED');
  });

  it('refuses to revert while the VM runs (VM_NOT_STOPPED), reverts once it is stopped', async () => {
    const running = await post(`/v1/volume-snapshots/${ids.dataSnapshot}/revert`).expect(409);
    expect(running.body.code).toBe('VM_NOT_STOPPED');
    const rootRunning = await post(`/v1/volume-snapshots/${ids.rootSnapshot}/revert`).expect(409);
    expect(rootRunning.body.code).toBe('VM_NOT_STOPPED');

    const stopped = await post(`/v1/vm-instances/${ids.vm}/stop`, { type: 'grace' }).expect(200);
    expect(stopped.body.state).toBe('Stopped');
    const reverted = await post(`/v1/volume-snapshots/${ids.dataSnapshot}/revert`).expect(200);
    expect(reverted.body).toMatchObject({ id: ids.dataSnapshot, volumeId: ids.volume, state: 'Ready' });
    await post(`/v1/volume-snapshots/${ids.rootSnapshot}/revert`).expect(200);
    // The host did it.
    const onHost = stratus.effects.simulator.host(ids.host!)!.volumes;
    expect(onHost.find((item) => item.volumeId === ids.volume)).toMatchObject({ revertedTo: ids.dataSnapshot });
    expect(onHost.find((item) => item.volumeId === ids.rootVolume)).toMatchObject({ revertedTo: ids.rootSnapshot });
    const detail = await get(`/v1/volume-snapshots/${ids.dataSnapshot}`, await head()).expect(200);
    expect(detail.body).toMatchObject({ state: 'Ready', lastRevertedAt: '2026-04-01T00:00:00.000Z' });
  });

  it('deletes a snapshot', async () => {
    const deleted = await del(`/v1/volume-snapshots/${ids.rootSnapshot2}`).expect(200);
    expect(deleted.body).toMatchObject({ id: ids.rootSnapshot2, state: 'Deleted' });
    await get(`/v1/volume-snapshots/${ids.rootSnapshot2}`, await head()).expect(404);
    await del(`/v1/volume-snapshots/${ids.rootSnapshot2}`).expect(200);
    expect((await post(`/v1/volume-snapshots/${ids.rootSnapshot2}/revert`).expect(404)).body.code).toBe('SNAPSHOT_NOT_FOUND');
  });

  it('detaches the volume: kept, Ready, free; the VM no longer lists it', async () => {
    const detached = await post(`/v1/volumes/${ids.volume}/detach`).expect(200);
    expect(detached.body).toMatchObject({ volumeId: ids.volume, vmInstanceId: ids.vm, state: 'Detached' });
    expect(await volume(ids.volume)).toMatchObject({ state: 'Ready', attachState: null, vmInstanceId: null, device: null, hostId: ids.host });
    const vm = await get(`/v1/vm-instances/${ids.vm}`, await head()).expect(200);
    expect(vm.body.volumes.map((item: { id: string }) => item.id)).not.toContain(ids.volume);
    const again = await post(`/v1/volumes/${ids.volume}/detach`).expect(409);
    expect(again.body.code).toBe('VOLUME_NOT_ATTACHED');
    await post(`/v1/volumes/${ids.second}/detach`).expect(200);
  });

  it('Delay: Destroyed, recovered as it was, then expunged by the expunger once volume.expungePeriod has passed since the delete', async () => {
    const deleted = await del(`/v1/volumes/${ids.volume}`).expect(200);
    expect(deleted.body).toMatchObject({ state: 'Destroyed', policy: 'Delay', expungeAt: '2026-04-04T00:00:00.000Z' });
    const recovered = await post(`/v1/volumes/${ids.volume}/recover`).expect(200);
    expect(recovered.body.state).toBe('Ready');
    // Recovered with its file and its snapshots: it attaches again at once (the VM is stopped now).
    const reattached = await post(`/v1/volumes/${ids.volume}/attach`, { vmInstanceId: ids.vm }).expect(200);
    expect(reattached.body).toMatchObject({ device: 'vdb', state: 'Attached' });
    await post(`/v1/volumes/${ids.volume}/detach`).expect(200);

    const before = await storageUsed();
    await advance(day);
    await del(`/v1/volumes/${ids.volume}`).expect(200);
    expect(await volume(ids.volume)).toMatchObject({ state: 'Destroyed', expungeAt: '2026-04-05T00:00:00.000Z' });
    await advance(3 * day - 1000);
    await stratus.vmLifecycle.timer.tick();
    expect(await volume(ids.volume)).toMatchObject({ state: 'Destroyed' }); // one second early
    // The expunger looks every volume.expungeInterval (an hour): the next look expunges it.
    await advance(3600 * 1000);
    await stratus.vmLifecycle.timer.tick();
    const gone = await eventually(() => get(`/v1/volumes/${ids.volume}`, undefined), (response) => response.status === 404);
    expect(gone.status).toBe(404);
    // Its storage is given back, and its snapshot went with it.
    expect(await eventually(storageUsed, (used) => used === before - 10 * GiB)).toBe(before - 10 * GiB);
    await get(`/v1/volume-snapshots/${ids.dataSnapshot}`, await head()).expect(404);
    const audit = await get(`/v1/audit-log?q=action=ExpungeVolume&q=resourceIds=${ids.volume}`, await head()).expect(200);
    expect(audit.body.items).toEqual([expect.objectContaining({ result: 'success', operator: expect.objectContaining({ kind: 'system' }) })]);
  });

  it('Never: Destroyed with no expunge time, expunged only by hand', async () => {
    await setPolicy('Never');
    const created = await post('/v1/volumes', { name: 'kept', sizeBytes: GiB }).expect(201);
    await post(`/v1/volumes/${created.body.id}/attach`, { vmInstanceId: ids.vm }).expect(200);
    await post(`/v1/volumes/${created.body.id}/detach`).expect(200);
    const deleted = await del(`/v1/volumes/${created.body.id}`).expect(200);
    expect(deleted.body).toMatchObject({ state: 'Destroyed', policy: 'Never', expungeAt: null });
    await advance(365 * day);
    await stratus.vmLifecycle.timer.tick();
    expect(await volume(created.body.id)).toMatchObject({ state: 'Destroyed', expungeAt: null });
    const before = await storageUsed();
    const expunged = await post(`/v1/volumes/${created.body.id}/expunge`).expect(200);
    expect(expunged.body).toMatchObject({ id: created.body.id, state: 'Expunged' });
    await get(`/v1/volumes/${created.body.id}`, positionOf(expunged)).expect(404);
    expect(await storageUsed()).toBe(before - GiB);
  });

  it('Direct: the volume, its file and its storage are gone at once', async () => {
    await setPolicy('Direct');
    const created = await post('/v1/volumes', { name: 'scratch', sizeBytes: 2 * GiB }).expect(201);
    await post(`/v1/volumes/${created.body.id}/attach`, { vmInstanceId: ids.vm }).expect(200);
    await post(`/v1/volumes/${created.body.id}/detach`).expect(200);
    const before = await storageUsed();
    const deleted = await del(`/v1/volumes/${created.body.id}`).expect(200);
    expect(deleted.body).toMatchObject({ state: 'Expunged', policy: 'Direct' });
    await get(`/v1/volumes/${created.body.id}`, positionOf(deleted)).expect(404);
    expect(await storageUsed()).toBe(before - 2 * GiB);
    await post(`/v1/volumes/${created.body.id}/recover`).expect(404);
    await setPolicy('Delay');
  });

  it('gives a VM created with dataDiskOfferingIds its volumes, and keeps them detached when the VM is destroyed', async () => {
    const vm = await post('/v1/vm-instances', {
      name: 'app', instanceOfferingId: ids.offering, imageId: ids.image, l3NetworkIds: [ids.l3], dataDiskOfferingIds: [ids.diskOffering, ids.diskOffering],
    }).expect(201);
    const listVolumes = () => get(`/v1/volumes?q=type=Data&q=name~=%25-for-app&sort=name`, undefined).then((response) => response.body.items as Array<Record<string, unknown>>);
    const attached = await eventually(listVolumes, (items) => items.length === 2 && items.every((item) => item.attachState === 'Attached'));
    expect(attached.map((item) => [item.name, item.state, item.vmInstanceId, item.device, item.sizeBytes])).toEqual([
      ['DATA-1-for-app', 'Ready', vm.body.id, 'vdb', 10 * GiB], ['DATA-2-for-app', 'Ready', vm.body.id, 'vdc', 10 * GiB],
    ]);

    // The attaches the VM's creation asked for are audited, as system tasks, with their outcome.
    const audited = await eventually(
      async () => (await get(`/v1/audit-log?q=action=AttachVolume&q=operator.kind=system&q=resourceIds?=${attached.map((item) => item.id).join(',')}`, await head())).body.items as Array<{ result: string }>,
      (items) => items.length === 2 && items.every((item) => item.result === 'success'),
    );
    expect(audited.map((item) => item.result)).toEqual(['success', 'success']);

    const destroyed = await del(`/v1/vm-instances/${vm.body.id}`).expect(200);
    expect(destroyed.body.state).toBe('Destroyed');
    const kept = await eventually(listVolumes, (items) => items.every((item) => item.attachState === null));
    expect(kept.map((item) => [item.state, item.vmInstanceId])).toEqual([['Ready', null], ['Ready', null]]);
  });

  it('takes the root volume\'s snapshots away with its VM when the VM is expunged', async () => {
    await del(`/v1/vm-instances/${ids.vm}`).expect(200);
    // Destroyed (Delay): its root snapshot stays, but cannot be reverted.
    const refused = await post(`/v1/volume-snapshots/${ids.rootSnapshot}/revert`).expect(409);
    expect(refused.body.code).toBe('VOLUME_DESTROYED');
    await post(`/v1/vm-instances/${ids.vm}/expunge`).expect(200);
    await eventually(() => get(`/v1/volume-snapshots/${ids.rootSnapshot}`), (response) => response.status === 404);
    await get(`/v1/volume-snapshots/${ids.rootSnapshot}`, await head()).expect(404);
    await get(`/v1/volumes/${ids.rootVolume}`, await head()).expect(404);
  });

  it('keeps the volume and snapshot read models equal to a rebuild from the events', async () => {
    const position = Number(await head());
    expect(await stratus.runner.waitFor(position, 10_000)).toBe(true);
    await expectReadModelsEqualRebuild(stratus, { scratchFile: join(stratus.dataDir, 'rebuilt-volumes.db'), until: position, projections: ['volumes', 'volume-snapshots'] });
  });
});
