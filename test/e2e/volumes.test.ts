import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../adapters/clock/manual.js';
import { removeDir, startStratus, type TestStratus } from '../support/stratus.js';

// A tenant's data volumes through the API: create, delete under each deletion policy,
// recover, expunge. (The story with VMs — attach, snapshot, revert, detach — is in
// volumes-vm.test.ts.)

const GiB = 1024 ** 3;
const clock = manualClock(Date.UTC(2026, 2, 1));
let stratus: TestStratus;
let auth: string;

beforeAll(async () => {
  stratus = await startStratus({ clock });
  auth = await stratus.login();
});
afterAll(async () => { await stratus.stop(); removeDir(stratus.dataDir); });

const post = (path: string, body?: object) => request(stratus.app).post(path).set('Authorization', auth).send(body ?? {});
const put = (path: string, body: object) => request(stratus.app).put(path).set('Authorization', auth).send(body);
const del = (path: string) => request(stratus.app).delete(path).set('Authorization', auth);
const get = (path: string, position?: string) => {
  const separator = path.includes('?') ? '&' : '?';
  return request(stratus.app).get(position ? `${path}${separator}after=${position}` : path).set('Authorization', auth);
};
const positionOf = (response: request.Response) => response.headers['stratus-position'] as string;
const setPolicy = (policy: string) => put('/v1/settings/volume.deletionPolicy', { value: policy }).expect(200);

const ids: Record<string, string> = {};

describe('data volumes without a VM', () => {
  it('creates a volume from a disk offering or a size; it is NotInstantiated until attached', async () => {
    const offering = await post('/v1/disk-offerings', { name: '20G', sizeBytes: 20 * GiB }).expect(201);
    ids.offering = offering.body.id;
    const fromOffering = await post('/v1/volumes', { name: 'data-1', diskOfferingId: ids.offering }).expect(201);
    expect(fromOffering.body).toMatchObject({ id: expect.any(String), taskId: expect.any(String) });
    ids.volume = fromOffering.body.id;
    const detail = await get(`/v1/volumes/${ids.volume}`, positionOf(fromOffering)).expect(200);
    expect(detail.body).toMatchObject({
      id: ids.volume, name: 'data-1', type: 'Data', state: 'NotInstantiated', sizeBytes: 20 * GiB, diskOfferingId: ids.offering,
      vmInstanceId: null, hostId: null, primaryStorageId: null, attachState: null, createdAt: '2026-03-01T00:00:00.000Z', destroyedAt: null, expungeAt: null,
    });

    const bySize = await post('/v1/volumes', { name: 'data-2', sizeBytes: 5 * GiB, description: 'scratch' }).expect(201);
    const list = await get('/v1/volumes?q=type=Data&sort=name&count=true', positionOf(bySize)).expect(200);
    expect(list.body.total).toBe(2);
    expect(list.body.items.map((item: { name: string; sizeBytes: number }) => [item.name, item.sizeBytes])).toEqual([['data-1', 20 * GiB], ['data-2', 5 * GiB]]);
  });

  it('refuses a volume with both or neither of offering and size, an unknown offering or primary storage', async () => {
    const both = await post('/v1/volumes', { name: 'x', diskOfferingId: ids.offering, sizeBytes: GiB }).expect(400);
    expect(both.body).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'diskOfferingId' }] });
    await post('/v1/volumes', { name: 'x' }).expect(400);
    await post('/v1/volumes', { name: 'x', sizeBytes: -1 }).expect(400);
    const offering = await post('/v1/volumes', { name: 'x', diskOfferingId: 'nope' }).expect(404);
    expect(offering.body.code).toBe('DISK_OFFERING_NOT_FOUND');
    const storage = await post('/v1/volumes', { name: 'x', sizeBytes: GiB, primaryStorageId: 'nope' }).expect(404);
    expect(storage.body.code).toBe('PRIMARY_STORAGE_NOT_FOUND');
    await get('/v1/volumes/nope').expect(404);
    const unknownField = await get('/v1/volumes?q=colour=red').expect(400);
    expect(unknownField.body.code).toBe('INVALID_QUERY');
  });

  it('refuses to detach a volume that is not attached, or to attach it to a VM that does not exist', async () => {
    const detach = await post(`/v1/volumes/${ids.volume}/detach`).set('Prefer', 'wait=10').expect(409);
    expect(detach.body.code).toBe('VOLUME_NOT_ATTACHED');
    const attach = await post(`/v1/volumes/${ids.volume}/attach`, { vmInstanceId: 'no-such-vm' }).set('Prefer', 'wait=10').expect(404);
    expect(attach.body.code).toBe('VM_NOT_FOUND');
  });

  it('Delay (the default): Destroyed, listed with q=state=Destroyed, due after volume.expungePeriod from the delete, recoverable', async () => {
    const deleted = await del(`/v1/volumes/${ids.volume}`).expect(200);
    expect(deleted.body).toMatchObject({ id: ids.volume, state: 'Destroyed', policy: 'Delay', expungeAt: '2026-03-04T00:00:00.000Z' });
    const destroyed = await get('/v1/volumes?q=state=Destroyed', positionOf(deleted)).expect(200);
    expect(destroyed.body.items).toEqual([expect.objectContaining({
      id: ids.volume, state: 'Destroyed', deletionPolicy: 'Delay', destroyedAt: '2026-03-01T00:00:00.000Z', expungeAt: '2026-03-04T00:00:00.000Z',
    })]);
    // DELETE again is the same deletion.
    const again = await del(`/v1/volumes/${ids.volume}`).expect(200);
    expect(again.body).toMatchObject({ state: 'Destroyed', expungeAt: '2026-03-04T00:00:00.000Z' });

    const recovered = await post(`/v1/volumes/${ids.volume}/recover`).expect(200);
    expect(recovered.body).toMatchObject({ id: ids.volume, state: 'NotInstantiated' });
    const detail = await get(`/v1/volumes/${ids.volume}`, positionOf(recovered)).expect(200);
    expect(detail.body).toMatchObject({ state: 'NotInstantiated', destroyedAt: null, expungeAt: null });
    const notDestroyed = await post(`/v1/volumes/${ids.volume}/recover`).expect(409);
    expect(notDestroyed.body.code).toBe('VOLUME_NOT_DESTROYED');
    const expungeLive = await post(`/v1/volumes/${ids.volume}/expunge`).set('Prefer', 'wait=10').expect(409);
    expect(expungeLive.body.code).toBe('VOLUME_NOT_DESTROYED');
  });

  it('expunges a Destroyed volume on request: gone from the list, then 404', async () => {
    await del(`/v1/volumes/${ids.volume}`).expect(200);
    const expunged = await post(`/v1/volumes/${ids.volume}/expunge`).set('Prefer', 'wait=10').expect(200);
    expect(expunged.body).toMatchObject({ id: ids.volume, state: 'Expunged' });
    await get(`/v1/volumes/${ids.volume}`, positionOf(expunged)).expect(404);
    expect((await post(`/v1/volumes/${ids.volume}/recover`).expect(404)).body.code).toBe('VOLUME_NOT_FOUND');
    expect((await del(`/v1/volumes/${ids.volume}`).expect(404)).body.code).toBe('VOLUME_NOT_FOUND');
    // Expunging what is expunged is done.
    await post(`/v1/volumes/${ids.volume}/expunge`).set('Prefer', 'wait=10').expect(200);
  });

  it('Never: Destroyed without an expunge time, still recoverable', async () => {
    await setPolicy('Never');
    const volume = await post('/v1/volumes', { name: 'kept', sizeBytes: GiB }).expect(201);
    const deleted = await del(`/v1/volumes/${volume.body.id}`).expect(200);
    expect(deleted.body).toMatchObject({ state: 'Destroyed', policy: 'Never', expungeAt: null });
    const detail = await get(`/v1/volumes/${volume.body.id}`, positionOf(deleted)).expect(200);
    expect(detail.body).toMatchObject({ state: 'Destroyed', deletionPolicy: 'Never', expungeAt: null });
    await post(`/v1/volumes/${volume.body.id}/recover`).expect(200);
  });

  it('Direct: expunged at once, not recoverable', async () => {
    await setPolicy('Direct');
    const volume = await post('/v1/volumes', { name: 'gone', sizeBytes: GiB }).expect(201);
    const deleted = await del(`/v1/volumes/${volume.body.id}`).expect(200);
    expect(deleted.body).toMatchObject({ id: volume.body.id, state: 'Expunged', policy: 'Direct' });
    await get(`/v1/volumes/${volume.body.id}`, positionOf(deleted)).expect(404);
    await post(`/v1/volumes/${volume.body.id}/recover`).expect(404);
    await setPolicy('Delay');
  });

  it('audits every volume operation with its outcome', async () => {
    const head = String(await stratus.eventStore.headPosition());
    const audit = await get('/v1/audit-log?q=resourceType=volume&count=true', head).expect(200);
    const actions = new Set(audit.body.items.map((item: { action: string }) => item.action));
    expect([...actions].sort()).toEqual(['AttachVolume', 'CreateVolume', 'DeleteVolume', 'DetachVolume', 'ExpungeVolume', 'RecoverVolume']);
    const failures = audit.body.items.filter((item: { result: string }) => item.result === 'failure').map((item: { error: { code: string } }) => item.error.code);
    expect(failures).toEqual(expect.arrayContaining(['VOLUME_NOT_ATTACHED', 'VM_NOT_FOUND', 'VOLUME_NOT_DESTROYED', 'VOLUME_NOT_FOUND']));
  });
});
