// The scale-out shape end to end, with real processes: `stratus serve` (API and command
// handling, STRATUS_TOPOLOGY=scale-out), two `stratus project` workers and two `stratus
// agent` processes (one per simulated host, selected by management address), over Kafka
// (STRATUS_TEST_KAFKA) and a MongoDB-wire server (STRATUS_TEST_MONGODB: the read models,
// the effect outbox, the checkpoints and the projection leases).
//
// Event store: the SQLite file, shared. serve appends to it; the workers and agents open the
// same file and read it (the SQLite adapter sees other processes' commits by polling). That
// is what this machine allows — no KurrentDB server can be installed here — and it keeps
// the scenario about the processes, the bus and the read store; with KurrentDB only
// STRATUS_EVENTSTORE changes.
//
// Faults: an agent killed (SIGKILL) while an operation of its host hangs, then restarted:
// the operation completes exactly once; the broker restarted while VMs are being created:
// every VM gets built (no effect lost); the projection worker holding the leases killed: the
// other takes them over and every read model ends equal to a rebuild from the events.
// Nothing is timed: conditions are polled, with a generous overall limit.
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteEventStore } from '../../adapters/eventstore/sqlite.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import { openMongoReadStore } from '../../adapters/readstore/mongodb.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { openSqliteReadStore } from '../../adapters/readstore/sqlite.js';
import { projectionLease } from '../../bin/projection-worker.js';
import { allProjections } from '../../projections/index.js';
import { compareProjection } from '../../projections/shared/compare.js';
import { rebuildProjection } from '../../projections/shared/runner.js';
import { buildVmInventory, GiB, type VmInventory } from '../support/vm-inventory.js';
import { adminPassword, removeDir } from '../support/stratus.js';
import { eventually, freePort, startProcess, type StratusProcess } from './processes.js';

const brokers = process.env.STRATUS_TEST_KAFKA;
const mongoUrl = process.env.STRATUS_TEST_MONGODB;
const root = resolve(import.meta.dirname, '../..');

describe.skipIf(!brokers || !mongoUrl)('scale-out processes over Kafka and a MongoDB-wire server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stratus-scale-out-'));
  const database = `stratus_e2e_${Date.now().toString(36)}`;
  // Addresses unique to this run: an agent's consumer group is named after its hosts.
  const run = randomBytes(1)[0]! % 200 + 20;
  const hostIps = [`198.51.100.${run}`, `198.51.100.${run + 1}`];
  const common: Record<string, string> = {
    STRATUS_TOPOLOGY: 'scale-out',
    STRATUS_BUS: `kafka://${brokers}`,
    STRATUS_EVENTSTORE: `sqlite:${join(dir, 'events.db')}`,
    // (this block is built even when the suite is skipped: no MongoDB URL, no read store)
    STRATUS_READSTORE: `${(mongoUrl ?? '').replace(/\/?$/, '/')}${database}`,
    STRATUS_MASTER_KEY: randomBytes(32).toString('hex'),
    STRATUS_LEASE_SECONDS: '20',
    STRATUS_KAFKA_SESSION_TIMEOUT_MS: '6000',
    STRATUS_LOG_LEVEL: process.env.TEST_LOG ?? 'warn',
  };
  const processes: StratusProcess[] = [];
  let base: string;
  let auth: string;
  let inventory: VmInventory;
  let eventStore: EventStore;
  let readStore: ReadStore;

  const start = (name: string, args: string[], env: Record<string, string> = {}) => {
    const dataDir = join(dir, name.replace(/#\d+$/, ''));
    mkdirSync(dataDir, { recursive: true });
    const child = startProcess(name, args, { ...common, STRATUS_DATA_DIR: dataDir, ...env }, dir);
    processes.push(child);
    return child;
  };
  const agentEnv = (index: number, extra: Record<string, string> = {}) => ({ STRATUS_DATA_DIR: join(dir, `agent-${index}`), ...extra });
  const startAgent = (index: number, extra: Record<string, string> = {}) =>
    start(`agent-${index}#${processes.length}`, ['agent', '--hosts', hostIps[index]!], agentEnv(index, extra));

  // A connection per request (no keep-alive): the broker restart blocks this process for a
  // while, and a kept-alive socket closed meanwhile by serve would fail the next request.
  function call(method: string, path: string, body?: object, headers: Record<string, string> = {}) {
    return new Promise<{ status: number; body: any }>((resolvePromise, reject) => {
      const payload = body ? JSON.stringify(body) : undefined;
      const request = httpRequest(`${base}${path}`, {
        method,
        agent: false,
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}), ...headers, ...(payload ? { 'content-length': Buffer.byteLength(payload) } : {}) },
      }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolvePromise({ status: response.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
        });
        response.on('error', reject);
      });
      request.on('error', reject);
      request.end(payload);
    });
  }
  const post = (path: string, body: object = {}, headers: Record<string, string> = {}) => call('POST', path, body, headers);

  const vmBody = (name: string, hostId: string) => ({
    name, hostId, instanceOfferingId: inventory.offerings.small, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId],
  });

  async function vmState(vmId: string): Promise<string | undefined> {
    const head = await eventStore.headPosition();
    const detail = await call('GET', `/v1/vm-instances/${vmId}?after=${head}`);
    return detail.status === 200 ? detail.body.state as string : undefined;
  }

  async function taskOf(taskId: string) {
    const task = await call('GET', `/v1/tasks/${taskId}`);
    return task.status === 200 ? task.body as { state: string; result?: { id?: string }; resourceIds: string[]; error?: unknown } : undefined;
  }

  /** The simulator's journal of an agent: the last record of each VM on its hosts. */
  function simulatedVms(index: number): Map<string, { state: string; powerCycles: number }> {
    const file = join(dir, `agent-${index}`, 'simulator', 'hosts.jsonl');
    const vms = new Map<string, { state: string; powerCycles: number }>();
    if (!existsSync(file)) return vms;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let entry: { kind?: string; id?: string; value?: { state: string; powerCycles: number } | null };
      try { entry = JSON.parse(line); } catch { continue; }
      if (entry.kind !== 'vm' || !entry.id) continue;
      if (entry.value) vms.set(entry.id, entry.value);
      else vms.delete(entry.id);
    }
    return vms;
  }

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    start('serve', ['serve'], { STRATUS_PORT: String(port), STRATUS_HOST: '127.0.0.1', STRATUS_ADMIN_PASSWORD: adminPassword });
    start('project-1', ['project']);
    start('project-2', ['project']);
    // Agent 0's first vm.start hangs, so that it can be killed in the middle of an operation.
    startAgent(0, { STRATUS_SIMULATOR_FAULTS: JSON.stringify([{ host: '*', kind: 'hang', op: 'vm.start', count: 1 }]) });
    startAgent(1);

    await eventually('serve to answer', async () => (await call('GET', '/healthz').catch(() => undefined))?.status === 200);
    const session = await eventually('the admin to log in', async () => {
      const response = await post('/v1/sessions', { username: 'admin', password: adminPassword });
      return response.status === 201 ? response.body as { token: string } : undefined;
    });
    auth = `Bearer ${session.token}`;
    eventStore = openSqliteEventStore({ file: join(dir, 'events.db') });
    readStore = openMongoReadStore({ url: common.STRATUS_READSTORE! });

    // Hosts are added by address; each agent picks its host's commands up by that address.
    inventory = await buildVmInventory(async (path, body) => {
      const patched = path === '/v1/hosts' ? { ...body, managementIp: hostIps[Number(String((body as { name: string }).name).slice(4)) - 1] } : body;
      const response = await post(path, patched);
      return { status: response.status, body: response.body };
    }, {
      dir: join(dir, 'images'),
      hosts: 2,
      hostCapacity: { cpuCount: 64, memoryBytes: 256 * GiB },
      ipRange: { startIp: '10.30.0.10', endIp: '10.30.0.250', gateway: '10.30.0.1', netmask: '255.255.255.0' },
    });
    // The first probe of a host may come before its agent has joined the new host topic
    // (address-selected agents find new topics by polling the topic list): reconnect then.
    for (const hostId of inventory.hostIds) {
      await eventually(`host ${hostId} to be connected`, async () => {
        const host = await call('GET', `/v1/hosts/${hostId}`);
        if (host.body?.state === 'Connected') return true;
        await post(`/v1/hosts/${hostId}/reconnect`, {}, { Prefer: 'wait=60' });
        return false;
      });
    }
  });

  afterAll(async () => {
    for (const child of processes) await child.stop().catch(() => undefined);
    await eventStore?.close();
    await readStore?.close();
    if (mongoUrl) {
      const client = new MongoClient(mongoUrl);
      await client.db(database).dropDatabase().catch(() => undefined);
      await client.close();
    }
    if (failed) process.stderr.write(`scale-out scenario failed: processes' logs kept in ${dir}\n`);
    else removeDir(dir);
  });

  let failed = false;
  afterEach((context) => { if (context.task.result?.state === 'fail') failed = true; });

  const logsOf = () => processes.map((child) => `--- ${child.name} (${child.running() ? 'running' : 'exited'})\n${child.tail()}`).join('\n');

  it('adds both hosts through their agents (probes over Kafka)', async () => {
    const hosts = await Promise.all(inventory.hostIds.map((id) => call('GET', `/v1/hosts/${id}`)));
    for (const host of hosts) expect(host.body, logsOf()).toMatchObject({ state: 'Connected' });
  });

  it('creates VMs on both hosts and deletes them, through serve, the workers and the agents', async () => {
    const created = await post('/v1/vm-instances', vmBody('web-b', inventory.hostIds[1]!), { Prefer: 'wait=120' });
    expect(created.status, JSON.stringify(created.body) + logsOf()).toBe(201);
    expect(created.body).toMatchObject({ state: 'Running', hostId: inventory.hostIds[1] });
    expect(simulatedVms(1).get(created.body.id)).toMatchObject({ state: 'Running', powerCycles: 1 });

    const deleted = await call('DELETE', `/v1/vm-instances/${created.body.id}`, undefined, { Prefer: 'wait=120' });
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(200);
    expect(deleted.body).toMatchObject({ id: created.body.id, state: 'Destroyed' });
    expect(simulatedVms(1).get(created.body.id)?.state).not.toBe('Running');
  });

  it('an agent killed in the middle of an operation: after its restart the operation completes, exactly once', async () => {
    const accepted = await post('/v1/vm-instances', vmBody('hung', inventory.hostIds[0]!));
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const taskId = accepted.body.id as string;
    const vmId = await eventually('the VM id', async () => {
      const task = await taskOf(taskId);
      if (task && task.state !== 'running') throw new Error(`the create ended: ${JSON.stringify(task)}`);
      const listed = await call('GET', '/v1/vm-instances?q=name=hung');
      return (listed.body?.items as Array<{ id: string }> | undefined)?.[0]?.id;
    });
    // The host has the VM defined and its start hanging: the operation is under way.
    await eventually('the agent to be in the middle of the build', async () => simulatedVms(0).has(vmId));
    const agent = processes.find((child) => child.name.startsWith('agent-0') && child.running())!;
    expect(await agent.kill()).toBe('SIGKILL');
    expect((await taskOf(taskId))?.state).toBe('running');

    startAgent(0);
    const done = await eventually('the create task to end', async () => {
      const task = await taskOf(taskId);
      return task && task.state !== 'running' ? task : undefined;
    });
    expect(done.state, JSON.stringify(done) + logsOf()).toBe('succeeded');
    expect(await vmState(vmId)).toBe('Running');
    // Exactly once: one start on the host, one of each outcome in the VM's history.
    expect(simulatedVms(0).get(vmId)).toMatchObject({ state: 'Running', powerCycles: 1 });
    const history = (await eventStore.readStream(`vm-${vmId}`)).map((event) => event.type);
    expect(history.filter((type) => type === 'VmDefined')).toHaveLength(1);
    expect(history.filter((type) => type === 'VmStarted')).toHaveLength(1);
    expect(history).not.toContain('VmProvisioningFailed');
  });

  it('the broker restarted while VMs are being created: no effect is lost', async () => {
    const accepted = await Promise.all(Array.from({ length: 8 }, (_, i) => post('/v1/vm-instances', vmBody(`burst-${i}`, inventory.hostIds[i % 2]!))));
    for (const response of accepted) expect([201, 202], JSON.stringify(response.body)).toContain(response.status);
    await promisify(execFile)('bash', [join(root, 'test/services/servers/kafka.sh'), 'restart'], { env: process.env });
    const more = await Promise.all(Array.from({ length: 4 }, (_, i) => post('/v1/vm-instances', vmBody(`after-${i}`, inventory.hostIds[i % 2]!))));
    // 202 answers the task itself; 201 (it ended within the request) the VM with its taskId.
    const tasks = [...accepted, ...more].map((response) => (response.status === 202 ? response.body.id : response.body.taskId) as string);
    const outcomes = await eventually('every create to end', async () => {
      const all = await Promise.all(tasks.map(taskOf));
      return all.every((task) => task && task.state !== 'running') ? all : undefined;
    }, 300_000, 500);
    for (const task of outcomes) expect(task!.state, JSON.stringify(task) + logsOf()).toBe('succeeded');
    const onHosts = [...simulatedVms(0).values(), ...simulatedVms(1).values()].filter((vm) => vm.state === 'Running');
    expect(onHosts.length).toBeGreaterThanOrEqual(tasks.length);
  });

  it('the worker holding the projections killed: the other takes them over, and every read model equals a rebuild', async () => {
    const lease = await readStore.lease(projectionLease('vm-instances'));
    const holderPid = Number(lease!.holder.split('/')[1]);
    const holder = processes.find((child) => child.pid === holderPid)!;
    expect(holder, `lease held by ${lease?.holder}`).toBeDefined();
    expect(await holder.kill()).toBe('SIGKILL');

    // Work goes on while nobody applies the projections: serve still takes commands.
    const created = await post('/v1/vm-instances', vmBody('after-worker-death', inventory.hostIds[1]!));
    const vmTask = created.body.id as string;
    await eventually('every projection lease to move to the other worker', async () => {
      for (const projection of allProjections) {
        const now = await readStore.lease(projectionLease(projection.name));
        if (!now || now.holder === lease!.holder || now.holder === '') return false;
      }
      return true;
    });
    expect((await eventually('the create to end', async () => {
      const task = await taskOf(vmTask);
      return task && task.state !== 'running' ? task : undefined;
    })).state).toBe('succeeded');
    // The list shows it once the worker that took over has applied it.
    const vm = await eventually('the VM in the list', async () =>
      ((await call('GET', '/v1/vm-instances?q=name=after-worker-death')).body?.items as Array<{ id: string }> | undefined)?.[0]);
    const deleted = await call('DELETE', `/v1/vm-instances/${vm.id}`, undefined, { Prefer: 'wait=120' });
    expect(deleted.status).toBe(200);

    // Every read model ends equal to a rebuild from the events (up to the same position).
    const scratchDir = join(dir, 'rebuild');
    mkdirSync(scratchDir, { recursive: true });
    await eventually('the read models to equal a rebuild', async () => {
      const head = await eventStore.headPosition();
      if (!(await call('GET', `/v1/vm-instances?after=${head}`)).status.toString().startsWith('2')) return false;
      for (const projection of allProjections) {
        const scratch = openSqliteReadStore({ file: join(scratchDir, `${projection.name}-${head}.db`), scratch: true });
        try {
          await rebuildProjection({ eventStore, target: scratch, projection, until: head });
          const differences = await compareProjection(projection, readStore, scratch);
          if (differences.length > 0) return false;
        } finally {
          await scratch.close();
        }
      }
      return head === await eventStore.headPosition();
    }, 240_000, 1000);
  });
});
