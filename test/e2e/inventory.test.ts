import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../adapters/clock/manual.js';
import { join } from 'node:path';
import { expectReadModelsEqualRebuild } from '../support/read-models.js';
import { removeDir, startStratus, type TestStratus } from '../support/stratus.js';

// The operator's story: build a zone with a cluster of simulated hosts, storage, images,
// offerings and a flat network, through the API, and see each piece in the read models.

const GiB = 1024 ** 3;
const hostPassword = 'host-root-password-do-not-log';
const sha256 = 'ab'.repeat(32);
const clock = manualClock(Date.UTC(2026, 2, 1));
let stratus: TestStratus;
let auth: string;

beforeAll(async () => {
  stratus = await startStratus({ clock });
  auth = await stratus.login();
});
afterAll(async () => { await stratus.stop(); removeDir(stratus.dataDir); });

const post = (path: string, body?: object) => request(stratus.app).post(path).set('Authorization', auth).send(body ?? {});
const del = (path: string) => request(stratus.app).delete(path).set('Authorization', auth);
/** GET after the position the last write answered, so the read model includes it. */
const get = (path: string, position?: string) => {
  const separator = path.includes('?') ? '&' : '?';
  return request(stratus.app).get(position ? `${path}${separator}after=${position}` : path).set('Authorization', auth);
};
const positionOf = (response: request.Response) => response.headers['stratus-position'] as string;

const ids: Record<string, string> = {};

describe('building an inventory through the API', () => {
  it('creates a zone and a cluster in it', async () => {
    const zone = await post('/v1/zones', { name: 'zone-1', description: 'first data centre' }).expect(201);
    expect(zone.body).toMatchObject({ id: expect.any(String), taskId: expect.any(String) });
    ids.zone = zone.body.id;
    const detail = await get(`/v1/zones/${ids.zone}`, positionOf(zone)).expect(200);
    expect(detail.body).toMatchObject({ id: ids.zone, name: 'zone-1', description: 'first data centre', createdAt: '2026-03-01T00:00:00.000Z' });

    const cluster = await post('/v1/clusters', { zoneId: ids.zone, name: 'sim-cluster', hypervisorType: 'Simulator' }).expect(201);
    ids.cluster = cluster.body.id;
    const kvmCluster = await post('/v1/clusters', { zoneId: ids.zone, name: 'kvm-cluster', hypervisorType: 'KVM' }).expect(201);
    ids.kvmCluster = kvmCluster.body.id;
    const clusters = await get(`/v1/clusters?q=zoneId=${ids.zone}&sort=name`, positionOf(kvmCluster)).expect(200);
    expect(clusters.body.items.map((item: { name: string }) => item.name)).toEqual(['kvm-cluster', 'sim-cluster']);
  });

  it('refuses a cluster in a zone that does not exist, and invalid bodies', async () => {
    const missing = await post('/v1/clusters', { zoneId: 'no-such-zone', name: 'c', hypervisorType: 'Simulator' }).expect(404);
    expect(missing.body).toMatchObject({ code: 'ZONE_NOT_FOUND', errors: [{ field: 'zoneId' }] });
    const invalid = await post('/v1/clusters', { zoneId: ids.zone, name: '', hypervisorType: 'Xen' }).expect(400);
    expect(invalid.body.code).toBe('VALIDATION_FAILED');
    expect(invalid.body.errors.map((error: { field: string }) => error.field).sort()).toEqual(['hypervisorType', 'name']);
  });

  it('adds Simulator hosts: connected at once with their simulated capacity', async () => {
    const host = await post('/v1/hosts', {
      name: 'sim-1', clusterId: ids.cluster, hypervisorType: 'Simulator', managementIp: '192.0.2.11', username: 'root', password: hostPassword,
      simulatedCapacity: { cpuCount: 16, memoryBytes: 64 * GiB },
    }).expect(201);
    expect(host.body).toMatchObject({ id: expect.any(String), state: 'Connected', cpuTotal: 16, memoryTotal: 64 * GiB });
    ids.host = host.body.id;
    const defaulted = await post('/v1/hosts', {
      name: 'sim-2', clusterId: ids.cluster, hypervisorType: 'Simulator', managementIp: '192.0.2.12', username: 'root', password: hostPassword,
    }).expect(201);
    expect(defaulted.body).toMatchObject({ state: 'Connected', cpuTotal: 64, memoryTotal: 256 * GiB });
    ids.host2 = defaulted.body.id;

    const detail = await get(`/v1/hosts/${ids.host}`, positionOf(defaulted)).expect(200);
    expect(detail.body).toMatchObject({
      id: ids.host, name: 'sim-1', zoneId: ids.zone, clusterId: ids.cluster, hypervisorType: 'Simulator', managementIp: '192.0.2.11',
      state: 'Connected', enabled: true, maintenance: false, cpuTotal: 16, cpuUsed: 0, memoryTotal: 64 * GiB, memoryUsed: 0, vmCount: 0,
    });
    expect(detail.body).not.toHaveProperty('password');
    expect(detail.body).not.toHaveProperty('encryptedPassword');
  });

  it('adds a KVM host, which stays Disconnected until a hypervisor driver has probed it', async () => {
    const host = await post('/v1/hosts', {
      name: 'kvm-1', clusterId: ids.kvmCluster, hypervisorType: 'KVM', managementIp: '192.0.2.21', username: 'root', password: hostPassword,
      libvirtUri: 'qemu+ssh://root@192.0.2.21/system',
    }).expect(201);
    expect(host.body.state).toBe('Disconnected');
    ids.kvmHost = host.body.id;
  });

  it('refuses a host whose hypervisor is not its cluster\'s, a simulated capacity for KVM, a bad address', async () => {
    const mismatch = await post('/v1/hosts', {
      name: 'x', clusterId: ids.cluster, hypervisorType: 'KVM', managementIp: '192.0.2.30', username: 'root', password: 'p',
    }).expect(400);
    expect(mismatch.body.code).toBe('HYPERVISOR_TYPE_MISMATCH');
    const simulated = await post('/v1/hosts', {
      name: 'x', clusterId: ids.kvmCluster, hypervisorType: 'KVM', managementIp: '192.0.2.30', username: 'root', password: 'p', simulatedCapacity: { cpuCount: 1, memoryBytes: GiB },
    }).expect(400);
    expect(simulated.body.code).toBe('INVALID_SIMULATED_CAPACITY');
    const address = await post('/v1/hosts', {
      name: 'x', clusterId: ids.cluster, hypervisorType: 'Simulator', managementIp: '999.0.0.1', username: 'root', password: 'p',
    }).expect(400);
    expect(address.body).toMatchObject({ code: 'INVALID_HOST', errors: [{ field: 'managementIp' }] });
    await post('/v1/hosts', { name: 'x', clusterId: 'nope', hypervisorType: 'Simulator', managementIp: '192.0.2.30', username: 'root', password: 'p' }).expect(404);
  });

  it('never records the host password in plain text: events, read models, audit log', async () => {
    const head = await stratus.eventStore.headPosition();
    const events = await stratus.eventStore.readAll({ after: 0, limit: head });
    const added = events.filter((event) => event.type === 'HostAdded');
    expect(added.length).toBeGreaterThanOrEqual(3);
    for (const event of added) {
      const data = event.data as { encryptedPassword: string };
      expect(data.encryptedPassword).toMatch(/^v1\./);
      expect(stratus.secrets.open(data.encryptedPassword)).toBe(hostPassword);
    }
    expect(JSON.stringify(events)).not.toContain(hostPassword);
    const audit = await get('/v1/audit-log?q=action=AddHost', String(head)).expect(200);
    expect(audit.body.items.length).toBeGreaterThanOrEqual(3);
    expect(audit.body.items[0].request.password).toBe('***');
    expect(JSON.stringify(audit.body)).not.toContain(hostPassword);
    const hosts = await get('/v1/hosts').expect(200);
    expect(JSON.stringify(hosts.body)).not.toContain(hostPassword);
  });

  it('disables, enables, puts in maintenance and back, reconnects a host', async () => {
    await post(`/v1/hosts/${ids.host}/disable`).expect(200);
    const disabled = await post(`/v1/hosts/${ids.host}/enter-maintenance`).expect(200);
    const detail = await get(`/v1/hosts/${ids.host}`, positionOf(disabled)).expect(200);
    expect(detail.body).toMatchObject({ enabled: false, maintenance: true, state: 'Connected' });
    const available = await get(`/v1/hosts?q=enabled=true&q=maintenance=false&q=state=Connected&q=clusterId=${ids.cluster}`, positionOf(disabled)).expect(200);
    expect(available.body.items.map((item: { id: string }) => item.id)).toEqual([ids.host2]);

    await post(`/v1/hosts/${ids.host}/enable`).expect(200);
    const back = await post(`/v1/hosts/${ids.host}/exit-maintenance`).expect(200);
    const reconnected = await post(`/v1/hosts/${ids.host}/reconnect`).expect(200);
    expect(reconnected.body).toMatchObject({ id: ids.host, state: 'Connected', cpuTotal: 16 });
    expect((await get(`/v1/hosts/${ids.host}`, positionOf(back)).expect(200)).body).toMatchObject({ enabled: true, maintenance: false });
    await post('/v1/hosts/no-such-host/enable').expect(404);
  });

  it('adds a primary storage and an image store to the zone', async () => {
    const storage = await post('/v1/primary-storages', { zoneId: ids.zone, name: 'local', type: 'LocalStorage', url: '/var/lib/stratus/volumes', totalCapacityBytes: 2048 * GiB }).expect(201);
    ids.primaryStorage = storage.body.id;
    const detail = await get(`/v1/primary-storages/${ids.primaryStorage}`, positionOf(storage)).expect(200);
    expect(detail.body).toMatchObject({ name: 'local', type: 'LocalStorage', totalCapacityBytes: 2048 * GiB, usedBytes: 0, availableBytes: 2048 * GiB });
    await post('/v1/primary-storages', { zoneId: ids.zone, name: 'bad', type: 'Floppy', url: '/x', totalCapacityBytes: 1 }).expect(400);

    const store = await post('/v1/image-stores', { zoneId: ids.zone, name: 'images', url: 'sftp://192.0.2.5/srv/images' }).expect(201);
    ids.imageStore = store.body.id;
    expect((await get(`/v1/image-stores?q=zoneId=${ids.zone}`, positionOf(store)).expect(200)).body.items).toHaveLength(1);
  });

  it('registers images from a URL and from a path, with format, platform and checksum', async () => {
    const linux = await post('/v1/images', {
      name: 'ubuntu-24.04', url: 'https://images.example.org/ubuntu-24.04.qcow2', format: 'qcow2', platform: 'Linux', sha256, sizeBytes: 2 * GiB, imageStoreId: ids.imageStore,
    }).expect(201);
    ids.image = linux.body.id;
    const windows = await post('/v1/images', { name: 'win2022', url: '/srv/iso/win2022.iso', format: 'iso', platform: 'Windows', sha256: 'CD'.repeat(32), sizeBytes: 5 * GiB }).expect(201);
    ids.windowsImage = windows.body.id;
    const detail = await get(`/v1/images/${ids.image}`, positionOf(windows)).expect(200);
    expect(detail.body).toMatchObject({
      id: ids.image, name: 'ubuntu-24.04', format: 'qcow2', platform: 'Linux', sha256, sizeBytes: 2 * GiB, state: 'Ready', imageStoreId: ids.imageStore,
      createdAt: expect.any(String),
    });
    expect((await get(`/v1/images/${ids.windowsImage}`).expect(200)).body.sha256).toBe('cd'.repeat(32));
    const isos = await get('/v1/images?q=format=iso').expect(200);
    expect(isos.body.items.map((item: { id: string }) => item.id)).toEqual([ids.windowsImage]);
  });

  it('refuses an image with a bad checksum, format or location, or an unknown image store', async () => {
    const bad = await post('/v1/images', { name: 'x', url: 'https://x/y', format: 'vmdk', platform: 'Linux', sha256: 'abc', sizeBytes: 1 }).expect(400);
    expect(bad.body.errors.map((error: { field: string }) => error.field).sort()).toEqual(['format', 'sha256']);
    const location = await post('/v1/images', { name: 'x', url: 'relative.qcow2', format: 'qcow2', platform: 'Linux', sha256, sizeBytes: 1 }).expect(400);
    expect(location.body).toMatchObject({ code: 'INVALID_IMAGE', errors: [{ field: 'url' }] });
    const store = await post('/v1/images', { name: 'x', url: '/a.qcow2', format: 'qcow2', platform: 'Linux', sha256, sizeBytes: 1, imageStoreId: 'nope' }).expect(404);
    expect(store.body.code).toBe('IMAGE_STORE_NOT_FOUND');
  });

  it('creates instance and disk offerings, lists and deletes them', async () => {
    const small = await post('/v1/instance-offerings', { name: 'small', cpuCount: 1, memoryBytes: GiB }).expect(201);
    const large = await post('/v1/instance-offerings', { name: 'large', cpuCount: 8, memoryBytes: 32 * GiB }).expect(201);
    ids.offering = small.body.id;
    const list = await get('/v1/instance-offerings?q=cpuCount>=2', positionOf(large)).expect(200);
    expect(list.body.items).toEqual([expect.objectContaining({ id: large.body.id, name: 'large', cpuCount: 8, memoryBytes: 32 * GiB })]);
    const deleted = await del(`/v1/instance-offerings/${large.body.id}`).expect(200);
    await get(`/v1/instance-offerings/${large.body.id}`, positionOf(deleted)).expect(404);
    await post('/v1/instance-offerings', { name: 'zero', cpuCount: 0, memoryBytes: GiB }).expect(400);

    const disk = await post('/v1/disk-offerings', { name: '100G', sizeBytes: 100 * GiB }).expect(201);
    ids.diskOffering = disk.body.id;
    expect((await get(`/v1/disk-offerings/${ids.diskOffering}`, positionOf(disk)).expect(200)).body).toMatchObject({ name: '100G', sizeBytes: 100 * GiB });
  });

  it('creates a flat L2 network and an L3 network with IP ranges', async () => {
    const l2 = await post('/v1/l2-networks', { zoneId: ids.zone, name: 'flat', physicalInterface: 'eth0' }).expect(201);
    ids.l2 = l2.body.id;
    expect((await get(`/v1/l2-networks/${ids.l2}`, positionOf(l2)).expect(200)).body).toMatchObject({ type: 'Flat', physicalInterface: 'eth0', vlan: null, zoneId: ids.zone });
    const l3 = await post('/v1/l3-networks', { l2NetworkId: ids.l2, name: 'private' }).expect(201);
    ids.l3 = l3.body.id;
    const range = await post(`/v1/l3-networks/${ids.l3}/ip-ranges`, {
      startIp: '10.10.0.100', endIp: '10.10.0.199', gateway: '10.10.0.1', netmask: '255.255.255.0', dns: ['10.10.0.2', '1.1.1.1'],
    }).expect(201);
    expect(range.body).toMatchObject({ id: expect.any(String), l3NetworkId: ids.l3 });
    ids.range = range.body.id;
    const second = await post(`/v1/l3-networks/${ids.l3}/ip-ranges`, { name: 'extra', startIp: '10.10.0.200', endIp: '10.10.0.209', gateway: '10.10.0.1', netmask: '255.255.255.0' }).expect(201);

    const detail = await get(`/v1/l3-networks/${ids.l3}`, positionOf(second)).expect(200);
    expect(detail.body).toMatchObject({ name: 'private', l2NetworkId: ids.l2, zoneId: ids.zone, ipTotal: 110, ipUsed: 0 });
    const ranges = await get(`/v1/l3-networks/${ids.l3}/ip-ranges`).expect(200);
    expect(ranges.body.items).toEqual([
      expect.objectContaining({ id: ids.range, startIp: '10.10.0.100', endIp: '10.10.0.199', gateway: '10.10.0.1', netmask: '255.255.255.0', dns: ['10.10.0.2', '1.1.1.1'], size: 100 }),
      expect.objectContaining({ id: second.body.id, name: 'extra', size: 10 }),
    ]);
    const removed = await del(`/v1/l3-networks/${ids.l3}/ip-ranges/${second.body.id}`).expect(200);
    expect((await get(`/v1/l3-networks/${ids.l3}`, positionOf(removed)).expect(200)).body.ipTotal).toBe(100);
  });

  it('validates IP ranges: inside the netmask, start before end, no overlap', async () => {
    const outside = await post(`/v1/l3-networks/${ids.l3}/ip-ranges`, { startIp: '10.10.0.210', endIp: '10.10.1.20', gateway: '10.10.0.1', netmask: '255.255.255.0' }).expect(400);
    expect(outside.body).toMatchObject({ code: 'INVALID_IP_RANGE', errors: [{ field: 'endIp' }] });
    const reversed = await post(`/v1/l3-networks/${ids.l3}/ip-ranges`, { startIp: '10.10.0.250', endIp: '10.10.0.240', gateway: '10.10.0.1', netmask: '255.255.255.0' }).expect(400);
    expect(reversed.body.errors).toEqual([{ field: 'endIp', message: 'must not be lower than startIp' }]);
    const overlap = await post(`/v1/l3-networks/${ids.l3}/ip-ranges`, { startIp: '10.10.0.150', endIp: '10.10.0.220', gateway: '10.10.0.1', netmask: '255.255.255.0' }).expect(409);
    expect(overlap.body.code).toBe('IP_RANGE_OVERLAPS');
    await post('/v1/l3-networks', { l2NetworkId: 'nope', name: 'x' }).expect(404);
    await post('/v1/l3-networks/nope/ip-ranges', { startIp: '10.0.0.2', endIp: '10.0.0.3', gateway: '10.0.0.1', netmask: '255.255.255.0' }).expect(404);
  });

  it('lists with the query language and refuses unknown fields', async () => {
    const hosts = await get(`/v1/hosts?q=zoneId=${ids.zone}&sort=name&count=true`).expect(200);
    expect(hosts.body.items.map((item: { name: string }) => item.name)).toEqual(['kvm-1', 'sim-1', 'sim-2']);
    expect(hosts.body.total).toBe(3);
    const unknown = await get('/v1/hosts?q=password=x').expect(400);
    expect(unknown.body.code).toBe('INVALID_QUERY');
    const big = await get('/v1/hosts?q=cpuTotal>32').expect(200);
    expect(big.body.items.map((item: { id: string }) => item.id)).toEqual([ids.host2]);
  });

  it('removes a host without VMs', async () => {
    const removed = await del(`/v1/hosts/${ids.kvmHost}`).expect(200);
    await get(`/v1/hosts/${ids.kvmHost}`, positionOf(removed)).expect(404);
    await del(`/v1/hosts/${ids.kvmHost}`).expect(404);
  });
});

describe('image deletion policies', () => {
  const setPolicy = async (policy: string, period?: number) => {
    await request(stratus.app).put('/v1/settings/image.deletionPolicy').set('Authorization', auth).send({ value: policy }).expect(200);
    if (period !== undefined) await request(stratus.app).put('/v1/settings/image.expungePeriod').set('Authorization', auth).send({ value: period }).expect(200);
  };
  /** The server's own expunger (the one for VMs, volumes and images), once, and the tasks it started. */
  const runExpunger = async () => {
    await stratus.runner.waitFor(await stratus.eventStore.headPosition(), 5000);
    await stratus.vmLifecycle.timer.tick();
    await stratus.tasks.drain();
  };
  const register = async (name: string) => (await post('/v1/images', { name, url: `/srv/${name}.qcow2`, format: 'qcow2', platform: 'Linux', sha256, sizeBytes: GiB }).expect(201)).body.id as string;

  it('Delay (the default): Destroyed, still listed, recoverable, then expunged on demand', async () => {
    const imageId = await register('delayed');
    const deleted = await del(`/v1/images/${imageId}`).expect(200);
    expect(deleted.body).toMatchObject({ id: imageId, state: 'Destroyed', policy: 'Delay', expungeAt: new Date(clock.now() + 259_200_000).toISOString() });
    const destroyed = await get('/v1/images?q=state=Destroyed', positionOf(deleted)).expect(200);
    expect(destroyed.body.items).toEqual([expect.objectContaining({ id: imageId, state: 'Destroyed', deletedAt: new Date(clock.now()).toISOString() })]);

    const recovered = await post(`/v1/images/${imageId}/recover`).expect(200);
    expect(recovered.body).toMatchObject({ id: imageId, state: 'Ready' });
    const detail = await get(`/v1/images/${imageId}`, positionOf(recovered)).expect(200);
    expect(detail.body.state).toBe('Ready');
    expect(detail.body).not.toHaveProperty('deletedAt');
    const again = await post(`/v1/images/${imageId}/recover`).expect(409);
    expect(again.body.code).toBe('IMAGE_NOT_DESTROYED');

    const notDeleted = await post(`/v1/images/${imageId}/expunge`).expect(409);
    expect(notDeleted.body.code).toBe('IMAGE_NOT_DESTROYED');
    await del(`/v1/images/${imageId}`).expect(200);
    const expunged = await post(`/v1/images/${imageId}/expunge`).expect(200);
    expect(expunged.body).toMatchObject({ id: imageId, state: 'Expunged', expunged: true });
    await get(`/v1/images/${imageId}`, positionOf(expunged)).expect(404);
    await post(`/v1/images/${imageId}/expunge`).expect(200);
    await post(`/v1/images/${imageId}/recover`).expect(404);
  });

  it('Delay with a short period: the expunger expunges once the period has passed, counted from the deletion', async () => {
    await setPolicy('Delay', 60);
    await request(stratus.app).put('/v1/settings/image.expungeInterval').set('Authorization', auth).send({ value: 2 }).expect(200);
    const imageId = await register('short-lived');
    const keeper = await register('kept');
    const deleted = await del(`/v1/images/${imageId}`).expect(200);
    await stratus.runner.waitFor(Number(positionOf(deleted)), 5000);

    clock.advance(58_000);
    await runExpunger();
    expect((await get(`/v1/images/${imageId}`).expect(200)).body.state).toBe('Destroyed');

    clock.advance(2_000); // the expunger's next look (image.expungeInterval), 60 s after the deletion
    await runExpunger();
    await request(stratus.app).put('/v1/settings/image.expungeInterval').set('Authorization', auth).send({ value: 3600 }).expect(200);
    const head = await stratus.eventStore.headPosition();
    await get(`/v1/images/${imageId}`, String(head)).expect(404);
    expect((await get(`/v1/images/${keeper}`).expect(200)).body.state).toBe('Ready');
    const audit = await get(`/v1/audit-log?q=action=ExpungeImage&q=resourceIds=${imageId}`, String(head)).expect(200);
    expect(audit.body.items).toEqual([expect.objectContaining({ result: 'success', operator: expect.objectContaining({ kind: 'system' }) })]);
  });

  it('Never: Destroyed for ever, no expunge time; still expungeable by hand', async () => {
    await setPolicy('Never');
    const imageId = await register('never');
    const deleted = await del(`/v1/images/${imageId}`).expect(200);
    expect(deleted.body).toMatchObject({ state: 'Destroyed', policy: 'Never', expungeAt: null });
    clock.advance(365 * 86_400_000);
    auth = await stratus.login(); // a year later, the session has long expired
    await runExpunger();
    const detail = await get(`/v1/images/${imageId}`, positionOf(deleted)).expect(200);
    expect(detail.body).toMatchObject({ state: 'Destroyed', expungeAt: null });
    const expunged = await post(`/v1/images/${imageId}/expunge`).expect(200);
    await get(`/v1/images/${imageId}`, positionOf(expunged)).expect(404);
  });

  it('Direct: expunged at once', async () => {
    await setPolicy('Direct');
    const imageId = await register('direct');
    const deleted = await del(`/v1/images/${imageId}`).expect(200);
    expect(deleted.body).toMatchObject({ id: imageId, state: 'Expunged', policy: 'Direct' });
    await get(`/v1/images/${imageId}`, positionOf(deleted)).expect(404);
    await post(`/v1/images/${imageId}/recover`).expect(404);
    await setPolicy('Delay', 259200);
  });
});

describe('read models', () => {
  it('rebuild from the events equal to the live ones', async () => {
    const head = await stratus.eventStore.headPosition();
    await stratus.runner.waitFor(head, 10_000);
    await expectReadModelsEqualRebuild(stratus, {
      scratchFile: join(stratus.dataDir, 'rebuilt.db'), until: head,
      projections: ['zones', 'clusters', 'hosts', 'primary-storages', 'image-stores', 'images', 'offerings', 'l2-networks', 'l3-networks'],
    });
  });
});
