import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../adapters/clock/manual.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { openSqliteEventStore } from '../../adapters/eventstore/sqlite.js';
import { openSqliteReadStore } from '../../adapters/readstore/sqlite.js';
import { hostAggregates, releaseHostCapacity, reserveHostCapacity } from '../../commands/compute/host-capacity.js';
import { placeVm } from '../../commands/compute/placement.js';
import { releasePrimaryStorage, reservePrimaryStorage } from '../../commands/compute/primary-storage-capacity.js';
import { allocateIp, macCandidate, releaseIp } from '../../commands/network/ipam.js';
import { handleCommand, loadAggregate } from '../../commands/shared/handle-command.js';
import { hostDecider, hostStream } from '../../domain/compute/host.js';
import { primaryStorageDecider, primaryStorageStream } from '../../domain/compute/primary-storage.js';
import { l3NetworkDecider, l3NetworkStream } from '../../domain/network/l3-network.js';
import { macDecider, macStream } from '../../domain/network/mac.js';
import { DomainError } from '../../domain/shared/errors.js';
import { hostsProjection } from '../../projections/compute/hosts.js';
import { createProjectionRunner } from '../../projections/shared/runner.js';

// Invariants that span aggregates under concurrency (DESIGN.md §3): many concurrent
// allocations against small pools never hand out an address, a MAC or capacity twice.
// Two EventStore objects over one database play two Stratus processes: their in-process
// queues do not see each other, so only the expected-version checks keep them apart.

const GiB = 1024 ** 3;
const metadata: EventMetadata = { correlationId: 'concurrency-test', actor: { kind: 'system', id: 'test', name: 'test' } };
const clock = manualClock();
let dir: string;
let first: EventStore;
let second: EventStore;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stratus-ipam-'));
  first = openSqliteEventStore({ file: join(dir, 'events.db'), clock });
  second = openSqliteEventStore({ file: join(dir, 'events.db'), clock });
});
afterAll(async () => {
  await first.close();
  await second.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Alternates between the two "processes". */
const storeFor = (index: number) => (index % 2 === 0 ? first : second);

async function settle<T>(work: Array<Promise<T>>) {
  const outcomes = await Promise.allSettled(work);
  const fulfilled = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  const codes = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [(outcome.reason as DomainError).code ?? String(outcome.reason)] : []));
  return { fulfilled, codes };
}

async function createNetwork(l3NetworkId: string, startIp: string, endIp: string) {
  await handleCommand(first, l3NetworkDecider, l3NetworkStream(l3NetworkId), { type: 'CreateL3Network', l3NetworkId, name: l3NetworkId, l2NetworkId: 'l2', zoneId: 'z1', now: clock.now() }, metadata);
  await handleCommand(first, l3NetworkDecider, l3NetworkStream(l3NetworkId), {
    type: 'AddIpRange', ipRangeId: `${l3NetworkId}-r1`, startIp, endIp, gateway: '10.9.0.1', netmask: '255.255.255.0',
  }, metadata);
}

async function addHost(hostId: string, cpuCount: number, memoryBytes: number, clusterId = 'c1') {
  await handleCommand(first, hostDecider, hostStream(hostId), {
    type: 'AddHost', hostId, name: hostId, zoneId: 'z1', clusterId, hypervisorType: 'Simulator', managementIp: '192.0.2.1', username: 'root',
    encryptedPassword: 'sealed', simulatedCapacity: { cpuCount, memoryBytes }, now: clock.now(),
  }, metadata);
  await handleCommand(first, hostDecider, hostStream(hostId), { type: 'RecordHostProbe', connected: true, cpuCount, memoryBytes, now: clock.now() }, metadata);
}

describe('IP and MAC allocation under concurrency', () => {
  it('hands out each address of a small pool once, and refuses the rest', async () => {
    await createNetwork('small', '10.9.0.10', '10.9.0.29');
    const { fulfilled, codes } = await settle(Array.from({ length: 60 }, (_, index) => allocateIp(storeFor(index), 'small', { nicId: `small-nic-${index}` }, metadata)));

    expect(fulfilled).toHaveLength(20);
    expect(codes).toEqual(Array(40).fill('IP_POOL_EXHAUSTED'));
    expect(new Set(fulfilled.map((assignment) => assignment.ip)).size).toBe(20);
    expect(new Set(fulfilled.map((assignment) => assignment.mac)).size).toBe(20);
    for (const assignment of fulfilled) expect(assignment).toMatchObject({ gateway: '10.9.0.1', netmask: '255.255.255.0', mac: expect.stringMatching(/^fa(:[0-9a-f]{2}){5}$/) });

    const { state } = await loadAggregate(first, l3NetworkDecider, l3NetworkStream('small'));
    if (!state.exists) throw new Error('no network');
    expect(state.allocations.size).toBe(20);
    // Refused allocations gave their MAC back: only the 20 winners hold one.
    for (let index = 0; index < 60; index++) {
      const nicId = `small-nic-${index}`;
      const allocation = state.allocations.get(nicId);
      if (allocation) {
        expect((await loadAggregate(first, macDecider, macStream(allocation.mac))).state.heldBy).toBe(nicId);
      }
    }
  });

  it('is idempotent by NIC under concurrency: repeated calls for one NIC get one address and one MAC', async () => {
    await createNetwork('repeat', '10.9.0.10', '10.9.0.20');
    const { fulfilled, codes } = await settle(Array.from({ length: 20 }, (_, index) => allocateIp(storeFor(index), 'repeat', { nicId: 'the-nic' }, metadata)));
    expect(codes).toEqual([]);
    expect(new Set(fulfilled.map((assignment) => `${assignment.ip} ${assignment.mac}`)).size).toBe(1);
    const { state } = await loadAggregate(first, l3NetworkDecider, l3NetworkStream('repeat'));
    expect(state.exists && [...state.allocations.keys()]).toEqual(['the-nic']);
  });

  it('gives a requested address to exactly one of the NICs asking for it', async () => {
    await createNetwork('wanted', '10.9.0.10', '10.9.0.20');
    const { fulfilled, codes } = await settle(Array.from({ length: 10 }, (_, index) => allocateIp(storeFor(index), 'wanted', { nicId: `wanted-${index}`, ip: '10.9.0.15' }, metadata)));
    expect(fulfilled.map((assignment) => assignment.ip)).toEqual(['10.9.0.15']);
    expect(codes).toEqual(Array(9).fill('IP_NOT_AVAILABLE'));
  });

  it('keeps MACs unique across networks, and reuses released addresses without duplicates', async () => {
    await createNetwork('left', '10.9.0.10', '10.9.0.49');
    await createNetwork('right', '10.9.0.10', '10.9.0.49');
    const round1 = await settle(Array.from({ length: 80 }, (_, index) =>
      allocateIp(storeFor(index), index % 4 < 2 ? 'left' : 'right', { nicId: `lr-${index}` }, metadata)));
    expect(round1.codes).toEqual([]);
    expect(new Set(round1.fulfilled.map((assignment) => assignment.mac)).size).toBe(80);

    // Release half while new NICs allocate: an address is never held by two NICs at once.
    const churn = await settle<unknown>([
      ...Array.from({ length: 40 }, (_, index) => releaseIp(storeFor(index), index % 4 < 2 ? 'left' : 'right', `lr-${index}`, metadata)),
      ...Array.from({ length: 40 }, (_, index) => allocateIp(storeFor(index + 1), index % 2 === 0 ? 'left' : 'right', { nicId: `new-${index}` }, metadata)),
    ]);
    const exhausted = churn.codes.filter((code) => code === 'IP_POOL_EXHAUSTED').length;
    expect(churn.codes.length).toBe(exhausted);
    for (const network of ['left', 'right']) {
      const { state } = await loadAggregate(first, l3NetworkDecider, l3NetworkStream(network));
      if (!state.exists) throw new Error('no network');
      const ips = [...state.allocations.values()].map((allocation) => allocation.ip);
      expect(new Set(ips).size).toBe(ips.length);
      expect(ips.length).toBeLessThanOrEqual(40);
    }
    const left = await loadAggregate(first, l3NetworkDecider, l3NetworkStream('left'));
    const right = await loadAggregate(first, l3NetworkDecider, l3NetworkStream('right'));
    if (!left.state.exists || !right.state.exists) throw new Error('no network');
    const macs = [...left.state.allocations.values(), ...right.state.allocations.values()].map((allocation) => allocation.mac);
    expect(new Set(macs).size).toBe(macs.length);
  });
});

describe('allocations cut short by a crash', () => {
  it('repairs an address allocated without its MAC reservation', async () => {
    await createNetwork('repair', '10.9.0.10', '10.9.0.20');
    const mac = macCandidate('crashed-nic', 0);
    await handleCommand(first, l3NetworkDecider, l3NetworkStream('repair'), { type: 'AllocateIp', nicId: 'crashed-nic', mac }, metadata);
    const resumed = await allocateIp(first, 'repair', { nicId: 'crashed-nic' }, metadata);
    expect(resumed).toMatchObject({ ip: '10.9.0.10', mac });
    expect((await loadAggregate(first, macDecider, macStream(mac))).state.heldBy).toBe('crashed-nic');
  });

  it('gives a new MAC when the unreserved one was taken meanwhile', async () => {
    await createNetwork('stolen', '10.9.0.10', '10.9.0.20');
    const mac = macCandidate('unlucky-nic', 0);
    await handleCommand(first, l3NetworkDecider, l3NetworkStream('stolen'), { type: 'AllocateIp', nicId: 'unlucky-nic', mac }, metadata);
    await handleCommand(first, macDecider, macStream(mac), { type: 'ReserveMac', mac, nicId: 'someone-else', l3NetworkId: 'elsewhere' }, metadata);
    const resumed = await allocateIp(first, 'stolen', { nicId: 'unlucky-nic' }, metadata);
    expect(resumed.mac).toBe(macCandidate('unlucky-nic', 1));
    expect((await loadAggregate(first, macDecider, macStream(mac))).state.heldBy).toBe('someone-else');
    expect((await loadAggregate(first, macDecider, macStream(resumed.mac))).state.heldBy).toBe('unlucky-nic');
  });

  it('releases a MAC reserved by an allocation that never got its address', async () => {
    await createNetwork('orphan', '10.9.0.10', '10.9.0.20');
    const mac = macCandidate('orphan-nic', 0);
    await handleCommand(first, macDecider, macStream(mac), { type: 'ReserveMac', mac, nicId: 'orphan-nic', l3NetworkId: 'orphan' }, metadata);
    expect(await releaseIp(first, 'orphan', 'orphan-nic', metadata)).toEqual({ released: false });
    expect((await loadAggregate(first, macDecider, macStream(mac))).state.heldBy).toBeNull();
  });
});

describe('host capacity under concurrency', () => {
  it('never reserves beyond a host\'s capacity', async () => {
    await addHost('h-small', 8, 16 * GiB);
    const { fulfilled, codes } = await settle(Array.from({ length: 30 }, (_, index) =>
      reserveHostCapacity(storeFor(index), 'h-small', { vmId: `vm-${index}`, cpuCount: 1, memoryBytes: GiB }, metadata)));
    expect(fulfilled).toHaveLength(8);
    expect(codes).toEqual(Array(22).fill('HOST_CAPACITY_EXCEEDED'));
    const { state } = await loadAggregate(first, hostDecider, hostStream('h-small'));
    expect(state).toMatchObject({ cpuUsed: 8, memoryUsed: 8 * GiB });
  });

  it('stays within capacity while VMs come and go, and repeated reservations count once', async () => {
    await addHost('h-churn', 4, 64 * GiB);
    await Promise.all([0, 1, 2, 3].map((index) => reserveHostCapacity(first, 'h-churn', { vmId: `old-${index}`, cpuCount: 1, memoryBytes: GiB }, metadata)));
    const { codes } = await settle([
      ...[0, 1, 2, 3].map((index) => releaseHostCapacity(storeFor(index), 'h-churn', `old-${index}`, metadata)),
      ...[0, 1, 2, 3].map((index) => releaseHostCapacity(storeFor(index + 1), 'h-churn', `old-${index}`, metadata)),
      ...Array.from({ length: 12 }, (_, index) => reserveHostCapacity(storeFor(index), 'h-churn', { vmId: `new-${index % 6}`, cpuCount: 1, memoryBytes: GiB }, metadata)),
    ]);
    expect(codes.every((code) => code === 'HOST_CAPACITY_EXCEEDED')).toBe(true);
    const { state } = await loadAggregate(first, hostDecider, hostStream('h-churn'));
    if (!state.exists) throw new Error('no host');
    expect(state.cpuUsed).toBeLessThanOrEqual(4);
    expect(state.cpuUsed).toBe(state.reservations.size);
    expect([...state.reservations.keys()].every((vmId) => vmId.startsWith('new-'))).toBe(true);
  });

  it('reads what another process wrote: its cache is a memo, never the truth', async () => {
    await addHost('h-shared', 2, 4 * GiB);
    await reserveHostCapacity(first, 'h-shared', { vmId: 'a', cpuCount: 1, memoryBytes: GiB }, metadata);
    await reserveHostCapacity(second, 'h-shared', { vmId: 'b', cpuCount: 1, memoryBytes: GiB }, metadata);
    await expect(reserveHostCapacity(first, 'h-shared', { vmId: 'c', cpuCount: 1, memoryBytes: GiB }, metadata)).rejects.toMatchObject({ code: 'HOST_CAPACITY_EXCEEDED' });
    expect((await hostAggregates.load(first, hostStream('h-shared'))).state).toMatchObject({ cpuUsed: 2 });
  });
});

describe('primary storage capacity under concurrency', () => {
  it('never reserves beyond its capacity', async () => {
    await handleCommand(first, primaryStorageDecider, primaryStorageStream('ps'), {
      type: 'AddPrimaryStorage', primaryStorageId: 'ps', zoneId: 'z1', name: 'ps', storageType: 'LocalStorage', url: '/data', totalCapacityBytes: 10 * GiB, now: clock.now(),
    }, metadata);
    const { fulfilled, codes } = await settle(Array.from({ length: 25 }, (_, index) =>
      reservePrimaryStorage(storeFor(index), 'ps', { volumeId: `vol-${index}`, sizeBytes: GiB }, metadata)));
    expect(fulfilled).toHaveLength(10);
    expect(codes).toEqual(Array(15).fill('PRIMARY_STORAGE_CAPACITY_EXCEEDED'));
    await Promise.all(Array.from({ length: 25 }, (_, index) => releasePrimaryStorage(storeFor(index), 'ps', `vol-${index}`, metadata)));
    const { state } = await loadAggregate(first, primaryStorageDecider, primaryStorageStream('ps'));
    expect(state.exists && [state.usedBytes, state.reservations.size]).toEqual([0, 0]);
  });
});

describe('placement under concurrency', () => {
  it('places as many VMs as the hosts hold, none over capacity, and refuses the rest', async () => {
    const readStore = openSqliteReadStore({ file: join(dir, 'read.db') });
    const runner = createProjectionRunner({ eventStore: first, readStore, projections: [hostsProjection], log: pino({ level: 'silent' }) });
    try {
      await runner.start();
      for (const hostId of ['p1', 'p2', 'p3']) await addHost(hostId, 4, 8 * GiB, 'c-place');
      // Another zone's host must never be chosen.
      await handleCommand(first, hostDecider, hostStream('p-other'), {
        type: 'AddHost', hostId: 'p-other', name: 'p-other', zoneId: 'z2', clusterId: 'c2', hypervisorType: 'Simulator', managementIp: '192.0.2.9', username: 'root',
        encryptedPassword: 'sealed', now: clock.now(),
      }, metadata);
      await handleCommand(first, hostDecider, hostStream('p-other'), { type: 'RecordHostProbe', connected: true, cpuCount: 64, memoryBytes: 64 * GiB, now: clock.now() }, metadata);
      expect(await runner.waitFor(await first.headPosition(), 10_000)).toBe(true);

      const { fulfilled, codes } = await settle(Array.from({ length: 20 }, (_, index) =>
        placeVm({ store: storeFor(index), readStore }, { vmId: `placed-${index}`, cpuCount: 1, memoryBytes: GiB, zoneId: 'z1', clusterId: 'c-place' }, metadata)));
      expect(fulfilled).toHaveLength(12);
      expect(codes).toEqual(Array(8).fill('NO_HOST_AVAILABLE'));
      const perHost = new Map<string, number>();
      for (const placed of fulfilled) perHost.set(placed.hostId, (perHost.get(placed.hostId) ?? 0) + 1);
      expect([...perHost.entries()].sort()).toEqual([['p1', 4], ['p2', 4], ['p3', 4]]);
      for (const hostId of ['p1', 'p2', 'p3']) {
        expect((await loadAggregate(first, hostDecider, hostStream(hostId))).state).toMatchObject({ cpuUsed: 4 });
      }

      await expect(placeVm({ store: first, readStore }, { vmId: 'too-big', cpuCount: 5, memoryBytes: GiB, zoneId: 'z1' }, metadata))
        .rejects.toMatchObject({ code: 'NO_HOST_AVAILABLE' });
      const onOther = await placeVm({ store: first, readStore }, { vmId: 'elsewhere', cpuCount: 8, memoryBytes: GiB, zoneId: 'z2' }, metadata);
      expect(onOther.hostId).toBe('p-other');
    } finally {
      await runner.stop();
      await readStore.close();
    }
  });
});
