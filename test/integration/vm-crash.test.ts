import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteEventStore } from '../../adapters/eventstore/sqlite.js';
import { hostAggregates, reserveHostCapacity } from '../../commands/compute/host-capacity.js';
import { allocateIp, l3Aggregates } from '../../commands/network/ipam.js';
import { idFromName } from '../../commands/shared/ids.js';
import { hostStream } from '../../domain/compute/host.js';
import { nicIdName, rootVolumeIdName, vmDecider, vmStream, type VmInstance } from '../../domain/compute/vm.js';
import { l3NetworkStream } from '../../domain/network/l3-network.js';
import { fold } from '../../domain/shared/decider.js';
import { expectReadModelsEqualRebuild } from '../support/read-models.js';
import { startServerProcess } from '../support/server-process.js';
import { adminPassword, removeDir, startStratus } from '../support/stratus.js';
import { buildVmInventory, GiB, type Post, type VmInventory } from '../support/vm-inventory.js';

// Crashes in the middle of a VM's provisioning and of an expunge. After a restart both
// finish on their own — the task the client follows ends as it would have, not INTERRUPTED —
// and nothing is left half done: no reservation without its VM, no VM without its
// reservation, read models equal to a rebuild.

const dirs: string[] = [];
afterAll(() => { for (const dir of dirs) removeDir(dir); });

function client(base: string, token?: string) {
  const headers = (extra: Record<string, string> = {}) => ({ 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra });
  const call = async (method: string, path: string, body?: object, extra: Record<string, string> = {}) => {
    const response = await fetch(`${base}${path}`, { method, headers: headers(extra), ...(body ? { body: JSON.stringify(body) } : {}) });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  return {
    post: ((path: string, body: object, extra?: Record<string, string>) => call('POST', path, body, extra)) as Post & ((path: string, body: object, extra?: Record<string, string>) => ReturnType<typeof call>),
    get: (path: string, extra?: Record<string, string>) => call('GET', path, undefined, extra),
    del: (path: string, extra?: Record<string, string>) => call('DELETE', path, undefined, extra),
  };
}

async function login(base: string) {
  const response = await client(base).post('/v1/sessions', { username: 'admin', password: adminPassword });
  return client(base, response.body.token as string);
}

/** Polls (without any time assertion) until `check` holds. */
async function until(check: () => Promise<boolean>, what: string) {
  for (let attempt = 0; attempt < 600; attempt++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never happened: ${what}`);
}

async function expectRestartedReadModelsEqualRebuild(dataDir: string) {
  const stratus = await startStratus({ dataDir });
  try {
    await stratus.vmLifecycle.process.drained();
    const head = await stratus.eventStore.headPosition();
    expect(await stratus.runner.waitFor(head, 30_000)).toBe(true);
    await expectReadModelsEqualRebuild(stratus, { scratchFile: join(dataDir, 'rebuild.db'), until: head });
  } finally {
    await stratus.stop();
  }
}

describe('SIGKILL while a VM is being built and another expunged', () => {
  it('both finish after the restart, and their tasks end as they would have', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'stratus-vm-crash-'));
    dirs.push(dataDir);
    let server = await startServerProcess(dataDir);
    let api = await login(server.base);
    const inventory: VmInventory = await buildVmInventory(api.post, {
      dir: join(dataDir, 'images'), hosts: 2, hostCapacity: { cpuCount: 8, memoryBytes: 16 * GiB },
      ipRange: { startIp: '10.20.0.10', endIp: '10.20.0.40', gateway: '10.20.0.1', netmask: '255.255.255.0' },
    });
    const [hostA, hostB] = inventory.hostIds as [string, string];
    const body = (name: string, hostId: string) => ({ name, instanceOfferingId: inventory.offerings.small, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId], hostId });

    // A VM on host B, destroyed (Delay): the one whose expunge the crash cuts.
    const doomed = await api.post('/v1/vm-instances', body('doomed', hostB), { prefer: 'wait=30' });
    expect(doomed.body.state).toBe('Running');
    expect((await api.del(`/v1/vm-instances/${doomed.body.id}`, { prefer: 'wait=30' })).body.state).toBe('Destroyed');

    // Host A hangs on the start that ends the build, host B on the deletion of the root volume.
    await api.post(`/v1/simulator/hosts/${hostA}/faults`, { kind: 'hang', op: 'vm.start', count: 1 });
    await api.post(`/v1/simulator/hosts/${hostB}/faults`, { kind: 'hang', op: 'volume.delete', count: 1 });
    const creating = await api.post('/v1/vm-instances', body('survivor', hostA));
    expect(creating.status).toBe(202);
    const expunging = await api.post(`/v1/vm-instances/${doomed.body.id}/expunge`, {});
    expect(expunging.status).toBe(202);
    const hanging = async (hostId: string) => (await api.get(`/v1/simulator/hosts/${hostId}/faults`)).body.hanging === 1;
    await until(async () => (await hanging(hostA)) && (await hanging(hostB)), 'both operations hang on their hosts');
    const survivorId = creating.body.resourceIds[0] as string;

    server.child.kill('SIGKILL');
    await new Promise((resolve) => server.child.once('exit', resolve));

    server = await startServerProcess(dataDir);
    api = await login(server.base);
    const created = await api.get(`/v1/tasks/${creating.body.id}`, { prefer: 'wait=30' });
    expect(created.body).toMatchObject({ state: 'succeeded', result: { id: survivorId, state: 'Running', hostId: hostA } });
    const expunged = await api.get(`/v1/tasks/${expunging.body.id}`, { prefer: 'wait=30' });
    expect(expunged.body).toMatchObject({ state: 'succeeded' });
    expect((await api.get(`/v1/vm-instances/${doomed.body.id}?after=${expunged.body.position}`)).status).toBe(404);
    const survivor = await api.get(`/v1/vm-instances/${survivorId}?after=${created.body.position}`);
    expect(survivor.body).toMatchObject({ state: 'Running', hostId: hostA, nics: [{ ip: expect.any(String) }] });
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));

    // In the stores: the survivor is held once, the expunged VM nowhere.
    const stratus = await startStratus({ dataDir });
    try {
      const a = (await hostAggregates.load(stratus.eventStore, hostStream(hostA))).state;
      const b = (await hostAggregates.load(stratus.eventStore, hostStream(hostB))).state;
      if (!a.exists || !b.exists) throw new Error('hosts missing');
      expect([...a.reservations.keys()]).toEqual([survivorId]);
      expect([...b.reservations.keys()]).toEqual([]);
      const network = (await l3Aggregates.load(stratus.eventStore, l3NetworkStream(inventory.l3NetworkId))).state;
      if (!network.exists) throw new Error('network missing');
      expect(network.usedIps.size).toBe(1);
      const simulatorA = stratus.effects.simulator.host(hostA)!;
      const simulatorB = stratus.effects.simulator.host(hostB)!;
      expect(simulatorA.vms.map((vm) => [vm.vmId, vm.state])).toEqual([[survivorId, 'Running']]);
      expect(simulatorB.vms).toEqual([]);
      expect(simulatorB.volumes).toEqual([]);
      const taskEvents = await stratus.eventStore.readStream(`task-${creating.body.id}`);
      expect(taskEvents.map((event) => event.type)).toEqual(['TaskStarted', 'TaskSucceeded']);
    } finally {
      await stratus.stop();
    }
    await expectRestartedReadModelsEqualRebuild(dataDir);
  }, 300_000); // two child processes and restarts: slow on a loaded 2-core machine, not a timed assertion
});

describe('a crash right after the allocation reserved a host (stores closed and reopened at that step)', () => {
  it('the provisioning resumes on the host already reserved, with the address already allocated', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'stratus-vm-reopen-'));
    dirs.push(dataDir);
    let stratus = await startStratus({ dataDir });
    const auth = await stratus.login();
    const { default: request } = await import('supertest');
    const post: Post = async (path, body) => {
      const response = await request(stratus.app).post(path).set('Authorization', auth).send(body);
      return { status: response.status, body: response.body };
    };
    const inventory = await buildVmInventory(post, {
      dir: join(dataDir, 'images'), hosts: 2, hostCapacity: { cpuCount: 8, memoryBytes: 16 * GiB },
      ipRange: { startIp: '10.20.0.10', endIp: '10.20.0.40', gateway: '10.20.0.1', netmask: '255.255.255.0' },
    });
    const [hostA, hostB] = inventory.hostIds as [string, string];
    // Host B is busier: a fresh placement would choose A.
    const busy = await request(stratus.app).post('/v1/vm-instances').set('Authorization', auth).set('Prefer', 'wait=30')
      .send({ name: 'busy', instanceOfferingId: inventory.offerings.large, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId], hostId: hostB });
    expect(busy.body.state).toBe('Running');
    await stratus.stop();

    // What the process had done when it died: the VM asked for its resources, host B and an
    // address were reserved for it, and nothing more was recorded.
    const vmId = 'c0ffee00-0000-4000-8000-000000000001';
    const taskId = 'c0ffee00-0000-4000-8000-0000000000aa';
    const eventStore = openSqliteEventStore({ file: join(dataDir, 'events.db') });
    const metadata = { correlationId: 'crash-test', actor: { kind: 'user' as const, id: 'admin', name: 'admin' }, schemaVersion: 1 };
    await eventStore.append(`task-${taskId}`, [{
      type: 'TaskStarted',
      data: { taskId, action: 'CreateVmInstance', resourceType: 'vm', resourceIds: [vmId], request: { name: 'resumed' }, startedAt: Date.now(), completedBy: 'process' },
      metadata,
    }], 'no_stream');
    // And a create whose work died before it recorded its VM: nobody will carry it on.
    const orphanTaskId = 'c0ffee00-0000-4000-8000-0000000000bb';
    await eventStore.append(`task-${orphanTaskId}`, [{
      type: 'TaskStarted',
      data: { taskId: orphanTaskId, action: 'CreateVmInstance', resourceType: 'vm', resourceIds: ['c0ffee00-0000-4000-8000-000000000002'], request: { name: 'lost' }, startedAt: Date.now() - 1000, completedBy: 'process' },
      metadata,
    }], 'no_stream');
    const nicId = idFromName(nicIdName(vmId, 0));
    const created = vmDecider.decide({
      type: 'CreateVm', vmId, name: 'resumed', instanceOfferingId: inventory.offerings.small, cpuCount: 1, memoryBytes: GiB, imageId: inventory.imageId,
      l3NetworkIds: [inventory.l3NetworkId], rootDiskSizeBytes: 4096, strategy: 'InstantStart', rootVolumeId: idFromName(rootVolumeIdName(vmId)),
      nicIds: [nicId], taskId, now: Date.now(),
    }, vmDecider.initialState);
    await eventStore.append(vmStream(vmId), created.map((event) => ({ ...event, metadata })), 'no_stream');
    await reserveHostCapacity(eventStore, hostB, { vmId, cpuCount: 1, memoryBytes: GiB }, metadata);
    const address = await allocateIp(eventStore, inventory.l3NetworkId, { nicId }, metadata);
    await eventStore.close();

    stratus = await startStratus({ dataDir });
    try {
      const task = await stratus.tasks.wait(taskId, 30_000);
      expect(task).toMatchObject({ state: 'succeeded', result: { id: vmId, state: 'Running', hostId: hostB, nics: [{ ip: address.ip, mac: address.mac }] } });
      const vm = fold(vmDecider, (await stratus.eventStore.readStream(vmStream(vmId))) as never) as VmInstance;
      expect(vm).toMatchObject({ state: 'Running', hostId: hostB, hostReserved: true });
      const a = (await hostAggregates.load(stratus.eventStore, hostStream(hostA))).state;
      const b = (await hostAggregates.load(stratus.eventStore, hostStream(hostB))).state;
      if (!a.exists || !b.exists) throw new Error('hosts missing');
      expect(a.reservations.has(vmId)).toBe(false);
      expect(b.reservations.get(vmId)).toEqual({ cpuCount: 1, memoryBytes: GiB });
      const network = (await l3Aggregates.load(stratus.eventStore, l3NetworkStream(inventory.l3NetworkId))).state;
      if (!network.exists) throw new Error('network missing');
      expect(network.usedIps.size).toBe(2);
      const orphan = await stratus.tasks.wait(orphanTaskId, 30_000);
      expect(orphan).toMatchObject({ state: 'failed', error: { code: 'INTERRUPTED' } });
    } finally {
      await stratus.stop();
    }
    await expectRestartedReadModelsEqualRebuild(dataDir);
  });
});
