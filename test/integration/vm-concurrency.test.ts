import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostAggregates } from '../../commands/compute/host-capacity.js';
import { primaryStorageAggregates } from '../../commands/compute/primary-storage-capacity.js';
import { l3Aggregates } from '../../commands/network/ipam.js';
import { hostStream } from '../../domain/compute/host.js';
import { primaryStorageStream } from '../../domain/compute/primary-storage.js';
import { l3NetworkStream } from '../../domain/network/l3-network.js';
import { expectReadModelsEqualRebuild } from '../support/read-models.js';
import type { TestStratus } from '../support/stratus.js';
import { startStratusWithVms, stopStratus } from '../support/stratus-with-vms.js';
import { GiB, type VmInventory } from '../support/vm-inventory.js';

// 100 VMs asked for at once against a pool too small for all of them (3 hosts of 12 vCPU,
// 2-vCPU VMs: 18 fit; 30 addresses), with a few host faults on top. Whatever succeeds must
// fit; whatever fails must have given everything back; the read models must tell the same
// story as the streams, and equal a rebuild.

let stratus: TestStratus;
let auth: string;
let inventory: VmInventory;
const capacity = { cpuCount: 12, memoryBytes: 24 * GiB };

beforeAll(async () => {
  ({ stratus, admin: auth, inventory } = await startStratusWithVms({
    hosts: 3, hostCapacity: capacity,
    ipRange: { startIp: '10.20.0.10', endIp: '10.20.0.39', gateway: '10.20.0.1', netmask: '255.255.255.0' },
  }));
});
afterAll(() => stopStratus(stratus));

describe('100 concurrent creates against a small pool', () => {
  it('never over-commits a host or hands out an address twice, and compensates every failure', async () => {
    const medium = await request(stratus.app).post('/v1/instance-offerings').set('Authorization', auth).send({ name: 'medium', cpuCount: 2, memoryBytes: 2 * GiB }).expect(201);
    // Some builds fail on the hosts too: their rollback must give back what allocation took.
    stratus.effects.simulator.fail('*', { op: 'vm.start', count: 2 });
    stratus.effects.simulator.fail(inventory.hostIds[0]!, { op: 'volume.create', count: 1 });

    const responses = await Promise.all(Array.from({ length: 100 }, (_, index) => request(stratus.app)
      .post('/v1/vm-instances').set('Authorization', auth).set('Prefer', 'wait=60')
      .send({ name: `burst-${index}`, instanceOfferingId: medium.body.id, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId] })));
    stratus.effects.simulator.clear('*');

    const succeeded = responses.filter((response) => response.status === 201);
    const failed = responses.filter((response) => response.status !== 201);
    expect(succeeded.every((response) => response.body.state === 'Running')).toBe(true);
    expect(succeeded.length).toBeGreaterThan(0);
    expect(succeeded.length).toBeLessThanOrEqual((capacity.cpuCount / 2) * 3);
    expect(failed.length).toBeGreaterThan(0);
    const codes = new Set(failed.map((response) => response.body.code as string));
    for (const code of codes) expect(['NO_HOST_AVAILABLE', 'IP_POOL_EXHAUSTED', 'INJECTED_FAULT']).toContain(code);
    expect(codes).toContain('NO_HOST_AVAILABLE');
    expect(codes).toContain('INJECTED_FAULT');
    expect(failed.every((response) => response.status === 409)).toBe(true);

    await stratus.vmLifecycle.process.drained();
    const head = await stratus.eventStore.headPosition();
    expect(await stratus.runner.waitFor(head, 30_000)).toBe(true);

    // The VMs as the read model shows them: Running ones hold, Error ones hold nothing.
    const vms = await stratus.readStore.find('vm_instances', { name: { $regex: '^burst-' } }, { limit: 1000 });
    expect(vms).toHaveLength(100);
    const running = vms.filter((vm) => vm.state === 'Running');
    const errored = vms.filter((vm) => vm.state === 'Error');
    expect(running.length + errored.length).toBe(100);
    expect(running.map((vm) => vm.id).sort()).toEqual(succeeded.map((response) => response.body.id).sort());
    for (const vm of errored) expect(vm).toMatchObject({ hostId: null, nics: [{ ip: null, mac: null }], error: { code: expect.any(String) } });

    // No duplicate address or MAC among the VMs, none outside the range.
    const ips = running.map((vm) => (vm.nics as Array<{ ip: string }>)[0]!.ip);
    const macs = running.map((vm) => (vm.nics as Array<{ mac: string }>)[0]!.mac);
    expect(new Set(ips).size).toBe(ips.length);
    expect(new Set(macs).size).toBe(macs.length);

    // The owners of the invariants (the streams) hold exactly what the Running VMs use.
    let reservedVms = 0;
    for (const hostId of inventory.hostIds) {
      const { state } = await hostAggregates.load(stratus.eventStore, hostStream(hostId));
      if (!state.exists) throw new Error('host missing');
      expect(state.cpuUsed).toBeLessThanOrEqual(state.cpuTotal);
      expect(state.memoryUsed).toBeLessThanOrEqual(state.memoryTotal);
      const burstOnHost = running.filter((vm) => vm.hostId === hostId);
      expect(state.cpuUsed).toBe(burstOnHost.length * 2);
      reservedVms += burstOnHost.length;
      const simulated = stratus.effects.simulator.host(hostId)!;
      const simulatedBurst = simulated.vms.filter((record) => record.name.startsWith('burst-'));
      expect(simulatedBurst.map((record) => record.vmId).sort()).toEqual(burstOnHost.map((vm) => vm.id).sort());
      expect(simulatedBurst.every((record) => record.state === 'Running')).toBe(true);
    }
    expect(reservedVms).toBe(running.length);

    const network = (await l3Aggregates.load(stratus.eventStore, l3NetworkStream(inventory.l3NetworkId))).state;
    if (!network.exists) throw new Error('network missing');
    const allocated = [...network.usedIps.keys()];
    expect(allocated.sort()).toEqual([...ips].sort());

    const storage = (await primaryStorageAggregates.load(stratus.eventStore, primaryStorageStream(inventory.primaryStorageId))).state;
    if (!storage.exists) throw new Error('storage missing');
    const rootVolumes = running.map((vm) => (vm.volumes as Array<{ id: string }>)[0]!.id).sort();
    expect([...storage.reservations.keys()].sort()).toEqual(rootVolumes);

    // The hosts and networks read models agree with their streams.
    for (const hostId of inventory.hostIds) {
      const host = await stratus.readStore.get('hosts', hostId);
      const { state } = await hostAggregates.load(stratus.eventStore, hostStream(hostId));
      expect(host).toMatchObject({ cpuUsed: state.exists ? state.cpuUsed : -1 });
    }
    expect(await stratus.readStore.get('l3_networks', inventory.l3NetworkId)).toMatchObject({ ipUsed: running.length });

    // Every task ended, none is left running.
    const tasks = await stratus.readStore.find('tasks', { action: 'CreateVmInstance', state: 'running' }, { limit: 10 });
    expect(tasks).toEqual([]);

    // Every read model equals a rebuild from the events.
    await expectReadModelsEqualRebuild(stratus, { scratchFile: join(stratus.dataDir, 'rebuild.db'), until: head });
  });
});
