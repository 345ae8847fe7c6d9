import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../adapters/clock/manual.js';
import { loadConfig } from '../../bin/config.js';
import { openStores } from '../../bin/compose.js';
import { volumeDecider, volumeStream } from '../../domain/compute/volume.js';
import { handleCommand } from '../../commands/shared/handle-command.js';
import { systemActor } from '../../commands/shared/request-context.js';
import { adminPassword, removeDir, startStratus, type TestStratus } from '../support/stratus.js';
import { buildComputeInventory, eventually, GiB, type ComputeInventory } from './volumes-fixture.js';

// When hosts fail: an attach whose volume cannot be created, a primary storage that is full,
// an expunge the host refuses, and a crash in the middle of an expunge. Every failure is
// reported on the task and leaves nothing half done: no storage held, no device held, the
// volume back where it was — and the expunge finishes after the restart.

const clock = manualClock(Date.UTC(2026, 4, 1));
const wait = { Prefer: 'wait=30' };
let stratus: TestStratus;
let auth: string;
let dataDir: string;
let imageDir: string;
let inventory: ComputeInventory;
let vmId: string;

async function start() {
  stratus = await startStratus({ clock, dataDir });
  auth = await stratus.login();
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'stratus-volume-faults-'));
  imageDir = mkdtempSync(join(tmpdir(), 'stratus-volume-faults-image-'));
  await start();
  // 100 GiB of storage: a 20 GiB root volume leaves 80 GiB for data.
  inventory = await buildComputeInventory(stratus, auth, imageDir, 100 * GiB);
  const vm = await post('/v1/vm-instances', { name: 'vm', instanceOfferingId: inventory.offering, imageId: inventory.image, l3NetworkIds: [inventory.l3], rootDiskSize: 20 * GiB });
  vmId = vm.body.id;
});
afterAll(async () => { await stratus.stop(); removeDir(dataDir); removeDir(imageDir); });

const post = (path: string, body?: object) => request(stratus.app).post(path).set('Authorization', auth).set(wait).send(body ?? {});
const put = (path: string, body: object) => request(stratus.app).put(path).set('Authorization', auth).send(body);
const del = (path: string) => request(stratus.app).delete(path).set('Authorization', auth).set(wait);
const get = async (path: string) => request(stratus.app).get(`${path}${path.includes('?') ? '&' : '?'}after=${await stratus.eventStore.headPosition()}`).set('Authorization', auth);
const storageUsed = async () => (await get(`/v1/primary-storages/${inventory.storage}`)).body.usedBytes as number;
const createVolume = async (name: string, sizeBytes: number) => (await post('/v1/volumes', { name, sizeBytes }).expect(201)).body.id as string;

describe('data volumes when hosts fail', () => {
  it('an attach whose volume the host cannot create fails, and gives back storage and device', async () => {
    const before = await storageUsed();
    const volumeId = await createVolume('unlucky', 5 * GiB);
    stratus.effects.simulator.fail(inventory.host, { op: 'volume.create', count: 1 });
    const failed = await post(`/v1/volumes/${volumeId}/attach`, { vmInstanceId: vmId }).expect(409);
    expect(failed.body.code).toBe('INJECTED_FAULT');
    const detail = await get(`/v1/volumes/${volumeId}`);
    expect(detail.body).toMatchObject({ state: 'NotInstantiated', attachState: null, vmInstanceId: null, hostId: null, primaryStorageId: null });
    expect(await storageUsed()).toBe(before);
    // The next attach works, on the first free device again.
    const attached = await post(`/v1/volumes/${volumeId}/attach`, { vmInstanceId: vmId }).expect(200);
    expect(attached.body).toMatchObject({ device: 'vdb', state: 'Attached' });
    expect(await storageUsed()).toBe(before + 5 * GiB);
    await post(`/v1/volumes/${volumeId}/detach`).expect(200);
  });

  it('an attach the host refuses leaves the volume created but free', async () => {
    const volumeId = await createVolume('refused', GiB);
    stratus.effects.simulator.fail(inventory.host, { op: 'volume.attach', count: 1 });
    const failed = await post(`/v1/volumes/${volumeId}/attach`, { vmInstanceId: vmId }).expect(409);
    expect(failed.body.code).toBe('INJECTED_FAULT');
    expect((await get(`/v1/volumes/${volumeId}`)).body).toMatchObject({ state: 'Ready', attachState: null, vmInstanceId: null, hostId: inventory.host });
    await post(`/v1/volumes/${volumeId}/attach`, { vmInstanceId: vmId }).expect(200);
    await post(`/v1/volumes/${volumeId}/detach`).expect(200);
  });

  it('a volume larger than what the primary storage has left is refused', async () => {
    const before = await storageUsed();
    const volumeId = await createVolume('huge', 500 * GiB);
    const refused = await post(`/v1/volumes/${volumeId}/attach`, { vmInstanceId: vmId }).expect(409);
    expect(refused.body.code).toBe('PRIMARY_STORAGE_CAPACITY_EXCEEDED');
    expect((await get(`/v1/volumes/${volumeId}`)).body).toMatchObject({ state: 'NotInstantiated', attachState: null });
    expect(await storageUsed()).toBe(before);
  });

  it('an expunge the host refuses leaves the volume Destroyed; the next one finishes it', async () => {
    const volumeId = await createVolume('stubborn', GiB);
    await post(`/v1/volumes/${volumeId}/attach`, { vmInstanceId: vmId }).expect(200);
    await post(`/v1/volumes/${volumeId}/detach`).expect(200);
    await del(`/v1/volumes/${volumeId}`).expect(200);
    const before = await storageUsed();
    stratus.effects.simulator.fail(inventory.host, { op: 'volume.delete', count: 1 });
    const failed = await post(`/v1/volumes/${volumeId}/expunge`).expect(409);
    expect(failed.body.code).toBe('INJECTED_FAULT');
    expect((await get(`/v1/volumes/${volumeId}`)).body.state).toBe('Destroyed');
    expect(await storageUsed()).toBe(before);
    await post(`/v1/volumes/${volumeId}/expunge`).expect(200);
    expect(await storageUsed()).toBe(before - GiB);
  });

  it('a VM whose creation fails takes the data volumes made for it away, and their storage', async () => {
    const before = await storageUsed();
    // The VM is built and defined (its volumes are created and attached then), and fails to start.
    stratus.effects.simulator.fail(inventory.host, { op: 'vm.start', count: 1 });
    const failed = await post('/v1/vm-instances', {
      name: 'doomed', instanceOfferingId: inventory.offering, imageId: inventory.image, l3NetworkIds: [inventory.l3], rootDiskSize: 20 * GiB,
      dataDiskOfferingIds: [inventory.diskOffering, inventory.diskOffering],
    });
    expect(failed.status).toBeGreaterThanOrEqual(400);
    const listed = () => get('/v1/volumes?q=type=Data&q=name~=%25-for-doomed').then((response) => response.body.items as unknown[]);
    expect(await eventually(listed, (items) => items.length === 0)).toEqual([]);
    expect(await eventually(storageUsed, (used) => used === before)).toBe(before);
    const events = await stratus.eventStore.readAll({ after: 0, limit: 100_000 });
    const expunged = events.filter((event) => event.type === 'VolumeExpunged').map((event) => (event.data as { volumeId: string }).volumeId);
    const created = events.filter((event) => event.type === 'VolumeCreated' && (event.data as { name: string }).name.endsWith('-for-doomed'));
    expect(created).toHaveLength(2);
    for (const event of created) expect(expunged).toContain((event.data as { volumeId: string }).volumeId);
  });

  it('an expunge cut off by a crash right after it began finishes after the restart', async () => {
    await put('/v1/settings/volume.deletionPolicy', { value: 'Never' }).expect(200);
    const volumeId = await createVolume('interrupted', 3 * GiB);
    await post(`/v1/volumes/${volumeId}/attach`, { vmInstanceId: vmId }).expect(200);
    await post(`/v1/volumes/${volumeId}/detach`).expect(200);
    await del(`/v1/volumes/${volumeId}`).expect(200);
    const before = await storageUsed();
    expect(stratus.effects.simulator.host(inventory.host)?.volumes.map((volume) => volume.volumeId)).toContain(volumeId);
    await stratus.stop();

    // The process died right after recording the start of the expunge: nothing else happened.
    const stores = openStores(loadConfig({ STRATUS_DATA_DIR: dataDir, STRATUS_ADMIN_PASSWORD: adminPassword }), clock);
    const started = await handleCommand(stores.eventStore, volumeDecider, volumeStream(volumeId), { type: 'StartExpunge', operationId: 'cut-short', now: clock.now() }, {
      actor: systemActor, correlationId: 'crash-test',
    });
    expect(started.events.map((event) => event.type)).toEqual(['VolumeExpungeStarted']);
    await stores.eventStore.close();
    await stores.readStore.close();

    await start();
    const gone = await eventually(() => get(`/v1/volumes/${volumeId}`), (response) => response.status === 404);
    expect(gone.status).toBe(404);
    expect(await eventually(storageUsed, (used) => used === before - 3 * GiB)).toBe(before - 3 * GiB);
    expect(stratus.effects.simulator.host(inventory.host)?.volumes.map((volume) => volume.volumeId)).not.toContain(volumeId);
    // And expunging it again is done, not an error.
    await post(`/v1/volumes/${volumeId}/expunge`).expect(200);
  });
});
