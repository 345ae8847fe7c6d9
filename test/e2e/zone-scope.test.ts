import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { removeDir, startStratus, type TestStratus } from '../support/stratus.js';
import { auditEntries, bearerOf, createUserVia, headPosition } from '../support/identity.js';
import { buildComputeInventory, GiB, type ComputeInventory } from './volumes-fixture.js';

// A platform admin assigned zone A manages zone A only (reference/002): it lists zone A's
// resources, does not see zone B's, is refused (403, audited) acting on them or creating in
// zone B, and a VM it creates without a zone lands in zone A.

let s: TestStratus;
let admin: string;
let paula: string;
let paulaId: string;
let a: ComputeInventory;
const b: Record<string, string> = {};
let imageDir: string;

const wait = { Prefer: 'wait=30' };
const post = (auth: string, path: string, body: object = {}) => request(s.app).post(path).set('Authorization', auth).send(body);
const get = (auth: string, path: string) => request(s.app).get(path).set('Authorization', auth);
async function created(path: string, body: object) {
  const response = await post(admin, path, body);
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body.id as string;
}
const ids = (response: request.Response) => (response.body.items as Array<{ id: string }>).map((item) => item.id).sort();

beforeAll(async () => {
  s = await startStratus();
  admin = await s.login();
  imageDir = mkdtempSync(join(tmpdir(), 'stratus-zone-scope-'));
  a = await buildComputeInventory(s, admin, imageDir);
  b.zone = await created('/v1/zones', { name: 'zone b' });
  b.cluster = await created('/v1/clusters', { zoneId: b.zone, name: 'sim b', hypervisorType: 'Simulator' });
  b.host = await created('/v1/hosts', {
    name: 'sim-b-1', clusterId: b.cluster, hypervisorType: 'Simulator', managementIp: '192.0.2.81', username: 'root', password: 'secret',
    simulatedCapacity: { cpuCount: 32, memoryBytes: 128 * GiB },
  });
  b.storage = await created('/v1/primary-storages', { zoneId: b.zone, name: 'local b', type: 'LocalStorage', url: '/var/lib/stratus-b', totalCapacityBytes: 1024 * GiB });
  b.l2 = await created('/v1/l2-networks', { zoneId: b.zone, name: 'flat b', physicalInterface: 'eth0' });
  b.l3 = await created('/v1/l3-networks', { l2NetworkId: b.l2, name: 'private b' });
  await post(admin, `/v1/l3-networks/${b.l3}/ip-ranges`, { startIp: '10.30.0.10', endIp: '10.30.0.50', gateway: '10.30.0.1', netmask: '255.255.255.0' }).expect(201);
  const vmB = await post(admin, '/v1/vm-instances', { name: 'vm-b', instanceOfferingId: a.offering, imageId: a.image, l3NetworkIds: [b.l3] }).set(wait);
  expect(vmB.status, JSON.stringify(vmB.body)).toBe(201);
  b.vm = vmB.body.id;
  const vmA = await post(admin, '/v1/vm-instances', { name: 'vm-a', instanceOfferingId: a.offering, imageId: a.image, l3NetworkIds: [a.l3] }).set(wait);
  expect(vmA.status, JSON.stringify(vmA.body)).toBe(201);
  b.vmA = vmA.body.id;
  paulaId = await createUserVia(s, admin, { username: 'paula', roles: ['platform-admin'], zones: [a.zone] });
  paula = await bearerOf(s, 'paula');
});
afterAll(async () => { await s.stop(); removeDir(s.dataDir); removeDir(imageDir); });

describe('a platform admin assigned to zone A', () => {
  it('lists only zone A\'s resources; the admin still sees both zones', async () => {
    const after = `?after=${await headPosition(s)}`;
    expect(ids(await get(paula, `/v1/zones${after}`).expect(200))).toEqual([a.zone]);
    expect(ids(await get(paula, `/v1/clusters${after}`).expect(200))).toEqual([a.cluster]);
    expect(ids(await get(paula, `/v1/hosts${after}`).expect(200))).toEqual([a.host]);
    expect(ids(await get(paula, `/v1/primary-storages${after}`).expect(200))).toEqual([a.storage]);
    expect(ids(await get(paula, `/v1/l3-networks${after}`).expect(200))).toEqual([a.l3]);
    expect((await get(paula, `/v1/l2-networks${after}`).expect(200)).body.items.map((item: { zoneId: string }) => item.zoneId)).toEqual([a.zone]);
    expect(ids(await get(paula, `/v1/vm-instances${after}`).expect(200))).toEqual([b.vmA]);
    const volumes = (await get(paula, `/v1/volumes${after}`).expect(200)).body.items as Array<{ vmInstanceId: string }>;
    expect(volumes.map((volume) => volume.vmInstanceId)).toEqual([b.vmA]);
    expect((await get(paula, `/v1/vm-instances${after}&count=true`).expect(200)).body.total).toBe(1);
    expect(ids(await get(admin, `/v1/zones${after}`).expect(200))).toEqual([a.zone, b.zone].sort());
    expect(ids(await get(admin, `/v1/vm-instances${after}`).expect(200))).toEqual([b.vm, b.vmA].sort());
  });

  it('does not see a zone B resource\'s detail: 404, as if it did not exist', async () => {
    const vm = await get(paula, `/v1/vm-instances/${b.vm}`);
    expect([vm.status, vm.body.code]).toEqual([404, 'VM_NOT_FOUND']);
    expect((await get(paula, `/v1/hosts/${b.host}`)).status).toBe(404);
    expect((await get(paula, `/v1/zones/${b.zone}`)).status).toBe(404);
    expect((await get(paula, `/v1/l3-networks/${b.l3}/ip-ranges`)).status).toBe(404);
    await get(paula, `/v1/vm-instances/${b.vmA}`).expect(200);
    await get(admin, `/v1/vm-instances/${b.vm}`).expect(200);
  });

  it('is refused stopping a zone B VM, and the refusal is audited', async () => {
    const stop = await post(paula, `/v1/vm-instances/${b.vm}/stop`).set(wait);
    expect([stop.status, stop.body.code], JSON.stringify(stop.body)).toEqual([403, 'FORBIDDEN']);
    expect(stop.headers['content-type']).toMatch(/application\/problem\+json/);
    const denials = await auditEntries(s, admin, await headPosition(s), `operator.id=${paulaId}`, 'error.code=FORBIDDEN');
    expect(denials.map((entry) => entry.action)).toContain('StopVmInstance');
    const vm = await get(admin, `/v1/vm-instances/${b.vm}`).expect(200);
    expect(vm.body.state).toBe('Running');
  });

  it('is refused creating a host, a cluster or a network in zone B', async () => {
    const host = await post(paula, '/v1/hosts', {
      name: 'sneaky', clusterId: b.cluster, hypervisorType: 'Simulator', managementIp: '192.0.2.82', username: 'root', password: 'secret',
    });
    expect([host.status, host.body.code]).toEqual([403, 'FORBIDDEN']);
    expect((await post(paula, '/v1/clusters', { zoneId: b.zone, name: 'sneaky', hypervisorType: 'Simulator' })).status).toBe(403);
    expect((await post(paula, '/v1/l2-networks', { zoneId: b.zone, name: 'sneaky', physicalInterface: 'eth1' })).status).toBe(403);
    expect((await post(paula, '/v1/l3-networks', { l2NetworkId: b.l2, name: 'sneaky' })).status).toBe(403);
    const vm = await post(paula, '/v1/vm-instances', { name: 'sneaky', instanceOfferingId: a.offering, imageId: a.image, l3NetworkIds: [b.l3] });
    expect([vm.status, vm.body.code]).toEqual([403, 'FORBIDDEN']);
    const denials = await auditEntries(s, admin, await headPosition(s), `operator.id=${paulaId}`, 'error.code=FORBIDDEN');
    expect(denials.map((entry) => entry.action)).toEqual(expect.arrayContaining(['AddHost', 'CreateCluster', 'CreateL2Network', 'CreateL3Network', 'CreateVmInstance']));
    const hosts = await get(admin, `/v1/hosts?after=${await headPosition(s)}`).expect(200);
    expect(hosts.body.items.map((item: { name: string }) => item.name)).not.toContain('sneaky');
    // In zone A, she is an admin.
    await post(paula, '/v1/clusters', { zoneId: a.zone, name: 'more of a', hypervisorType: 'Simulator' }).expect(201);
  });

  it('creates a VM without a zone: it lands in zone A, and she can operate it', async () => {
    const vm = await post(paula, '/v1/vm-instances', { name: 'paulas', instanceOfferingId: a.offering, imageId: a.image, l3NetworkIds: [a.l3] }).set(wait);
    expect(vm.status, JSON.stringify(vm.body)).toBe(201);
    expect(vm.body).toMatchObject({ zoneId: a.zone, hostId: a.host, state: 'Running' });
    const stopped = await post(paula, `/v1/vm-instances/${vm.body.id}/stop`, { type: 'cold' }).set(wait);
    expect([stopped.status, stopped.body.state], JSON.stringify(stopped.body)).toEqual([200, 'Stopped']);
  });
});
