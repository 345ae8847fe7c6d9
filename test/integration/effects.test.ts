// The effect pipeline end to end on the embedded adapters: SQLite event and read stores,
// the local bus, the in-process agent and the simulator, with a manual clock. A test route
// asks to start a VM for each `TestStartRequested` event and records what comes back.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Bus } from '../../adapters/bus/port.js';
import { createLocalBus } from '../../adapters/bus/local.js';
import { manualClock, type ManualClock } from '../../adapters/clock/manual.js';
import type { EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import { openSqliteEventStore } from '../../adapters/eventstore/sqlite.js';
import type { HostAccess, HypervisorDriver } from '../../adapters/hypervisor/port.js';
import { createSimulatorDriver } from '../../adapters/hypervisor/simulator.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { openSqliteReadStore } from '../../adapters/readstore/sqlite.js';
import { createKeyRing } from '../../adapters/secrets/keyring.js';
import { createAgent, type Agent } from '../../commands/effects/agent.js';
import { createEffectDispatcher, type EffectDispatcher } from '../../commands/effects/dispatcher.js';
import { operationIdFor, type EffectResult, type EffectRoute } from '../../commands/effects/effect.js';
import { hostAccessFromStore, type HostAccessLoader } from '../../commands/effects/host-access.js';
import { outboxCollection, type OutboxDoc } from '../../commands/effects/outbox.js';
import { changeSetting } from '../../commands/settings/settings.js';
import { handleCommand } from '../../commands/shared/handle-command.js';
import { createTimerLoop, type TimerLoop } from '../../commands/shared/timer-loop.js';
import { systemActor } from '../../commands/shared/request-context.js';
import { hostDecider, hostStream } from '../../domain/compute/host.js';

const GiB = 1024 ** 3;
const silent = { info() {}, warn() {}, error() {} };
const ring = createKeyRing([randomBytes(32)]);

interface Recorded { operationId: string; ok: boolean; code?: string; result?: unknown; context: unknown }

/** A route that starts (or stops) the VM named in the event and records every outcome. */
function testRoute(seen: Recorded[], options: { failResults?: () => boolean } = {}): EffectRoute {
  return {
    name: 'test-vm-power',
    handles: ['TestStartRequested', 'TestStopRequested'],
    effectsOf(event) {
      const data = event.data as { vmId: string; hostId: string };
      const operation = event.type === 'TestStartRequested'
        ? { op: 'vm.start' as const, vmId: data.vmId }
        : { op: 'vm.stop' as const, vmId: data.vmId, type: 'cold' as const };
      return [{ operationId: operationIdFor(event, 'power'), hostId: data.hostId, operation, context: { vmId: data.vmId, eventType: event.type } }];
    },
    async onResult(result: EffectResult) {
      if (options.failResults?.()) throw new Error('the route cannot take results right now');
      const entry: Recorded = { operationId: result.effect.operationId, ok: result.outcome.ok, context: result.effect.context };
      if (result.outcome.ok) entry.result = result.outcome.result;
      else entry.code = result.outcome.error.code;
      seen.push(entry);
    },
  };
}

interface Pipeline {
  eventStore: EventStore;
  readStore: ReadStore;
  bus: Bus;
  agent: Agent;
  dispatcher: EffectDispatcher;
  timer: TimerLoop;
  close(): Promise<void>;
}

async function openPipeline(options: {
  dir: string;
  clock: ManualClock;
  driver: HypervisorDriver;
  routes: EffectRoute[];
  hostAccess?: (eventStore: EventStore) => HostAccessLoader;
  startAgent?: boolean;
}): Promise<Pipeline> {
  const { clock } = options;
  const eventStore = openSqliteEventStore({ file: join(options.dir, 'events.db'), clock });
  const readStore = openSqliteReadStore({ file: join(options.dir, 'read.db') });
  const bus = createLocalBus({ retryDelayMs: () => 1 });
  const agent = createAgent({
    bus, clock, log: silent,
    drivers: { Simulator: options.driver },
    hostAccess: options.hostAccess ? options.hostAccess(eventStore) : hostAccessFromStore({ eventStore, secrets: ring }),
    openSecret: (sealed) => ring.open(sealed),
    hosts: 'all',
  });
  const dispatcher = createEffectDispatcher({ eventStore, readStore, bus, clock, routes: options.routes, log: silent });
  const timer = createTimerLoop({ clock, jobs: [dispatcher.timeoutJob, agent.expireJob, dispatcher.pruneJob], intervalMs: 3_600_000, log: silent });
  if (options.startAgent !== false) await agent.start();
  await dispatcher.start();
  return {
    eventStore, readStore, bus, agent, dispatcher, timer,
    async close() {
      await timer.stop();
      await dispatcher.stop();
      await agent.stop();
      await bus.close();
      await eventStore.close();
      await readStore.close();
    },
  };
}

async function addSimulatorHost(eventStore: EventStore, clock: ManualClock, options: { managementIp?: string; password?: string; cpuCount?: number; memoryBytes?: number } = {}) {
  const hostId = randomUUID();
  await handleCommand(eventStore, hostDecider, hostStream(hostId), {
    type: 'AddHost', hostId, name: `sim-${hostId.slice(0, 4)}`, zoneId: randomUUID(), clusterId: randomUUID(), hypervisorType: 'Simulator',
    managementIp: options.managementIp ?? '192.0.2.20', username: 'root', encryptedPassword: ring.seal(options.password ?? 'host-password'),
    simulatedCapacity: { cpuCount: options.cpuCount ?? 8, memoryBytes: options.memoryBytes ?? 16 * GiB }, now: clock.now(),
  }, { actor: systemActor, correlationId: 'test' });
  return hostId;
}

async function defineVm(driver: HypervisorDriver, hostId: string, vmId = randomUUID(), cpuCount = 1) {
  const host: HostAccess = { hostId, hypervisorType: 'Simulator', managementIp: '192.0.2.20', username: 'root', simulatedCapacity: { cpuCount: 8, memoryBytes: 16 * GiB } };
  const context = { operationId: randomUUID(), openSecret: (s: string) => ring.open(s) };
  const volumeId = randomUUID();
  await driver.execute(host, { op: 'volume.create', volumeId, sizeBytes: GiB, format: 'qcow2' }, context);
  await driver.execute(host, { op: 'vm.define', vmId, name: 'vm', cpuCount, memoryBytes: GiB, volumes: [{ volumeId, device: 'vda' }], nics: [] }, context);
  return vmId;
}

async function request(eventStore: EventStore, type: 'TestStartRequested' | 'TestStopRequested', hostId: string, vmId: string): Promise<RecordedEvent> {
  const written = await eventStore.append(`testvm-${vmId}`, [{ type, data: { vmId, hostId }, metadata: { correlationId: `corr-${vmId}` } }], 'any');
  return written.events[0]!;
}

const eventually = (assertion: () => void | Promise<void>) => vi.waitFor(assertion, { timeout: 20_000, interval: 5 });

describe('effect pipeline', () => {
  const open: Pipeline[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((pipeline) => pipeline.close()));
  });

  async function pipeline(options: Omit<Parameters<typeof openPipeline>[0], 'dir'> & { dir?: string }) {
    const opened = await openPipeline({ dir: options.dir ?? mkdtempSync(join(tmpdir(), 'stratus-effects-')), ...options });
    open.push(opened);
    return opened;
  }

  it('publishes one effect per event, runs it on the host, and hands the result to the route once', async () => {
    const clock = manualClock();
    const simulator = createSimulatorDriver();
    const seen: Recorded[] = [];
    const p = await pipeline({ clock, driver: simulator, routes: [testRoute(seen)] });
    const hostId = await addSimulatorHost(p.eventStore, clock);
    const vmId = await defineVm(simulator, hostId);
    await p.eventStore.append('unrelated-1', [{ type: 'SomethingElseHappened', data: {} }], 'any');
    const event = await request(p.eventStore, 'TestStartRequested', hostId, vmId);
    const operationId = operationIdFor(event, 'power');

    expect(await p.dispatcher.waitForDone(operationId, 20_000)).toBe(true);
    expect(seen).toEqual([{ operationId, ok: true, result: { vmId, state: 'Running' }, context: { vmId, eventType: 'TestStartRequested' } }]);
    expect(simulator.host(hostId)!.vms[0]).toMatchObject({ vmId, state: 'Running', powerCycles: 1 });
    const outbox = await p.readStore.find(outboxCollection, {}) as OutboxDoc[];
    expect(outbox).toHaveLength(1);
    expect(outbox[0]).toMatchObject({ id: operationId, state: 'done', ok: true, route: 'test-vm-power', causationId: event.id, correlationId: `corr-${vmId}` });

    // Done effects are kept three hours for inspection, then pruned.
    clock.advance(10_799_000);
    await p.timer.tick();
    expect(await p.readStore.count(outboxCollection, {})).toBe(1);
    clock.advance(2_000);
    await p.timer.tick();
    expect(await p.readStore.count(outboxCollection, {})).toBe(0);
  });

  it('keeps each VM\'s operations in order and runs many effects, each once', async () => {
    const clock = manualClock();
    const simulator = createSimulatorDriver();
    const seen: Recorded[] = [];
    const p = await pipeline({ clock, driver: simulator, routes: [testRoute(seen)] });
    // Different VMs of a host start at once (only each VM's start and stop keep their order): room for all 20.
    const room = { cpuCount: 20, memoryBytes: 20 * GiB };
    const hosts = [await addSimulatorHost(p.eventStore, clock, room), await addSimulatorHost(p.eventStore, clock, room)];
    const vms = await Promise.all(Array.from({ length: 40 }, (_, index) => defineVm(simulator, hosts[index % 2]!, randomUUID(), 0 + 1)));
    // One append of 80 events: start then stop for every VM.
    const written = await p.eventStore.append('batch', vms.flatMap((vmId, index) => [
      { type: 'TestStartRequested', data: { vmId, hostId: hosts[index % 2] } },
      { type: 'TestStopRequested', data: { vmId, hostId: hosts[index % 2] } },
    ]), 'any');
    for (const event of written.events) expect(await p.dispatcher.waitForDone(operationIdFor(event, 'power'), 20_000)).toBe(true);
    expect(seen).toHaveLength(80);
    expect(seen.filter((entry) => !entry.ok).map((entry) => entry.code)).toEqual([]);
    for (const host of hosts) {
      const view = simulator.host(host)!;
      expect(view.vms.every((vm) => vm.state === 'Stopped' && vm.powerCycles === 1)).toBe(true);
      expect(view.executed).toMatchObject({ 'vm.start': 20, 'vm.stop': 20 });
    }
    expect(await p.readStore.count(outboxCollection, { state: 'done' })).toBe(80);
  });

  it('opens the host password inside the agent only', async () => {
    const clock = manualClock();
    const simulator = createSimulatorDriver();
    const passwords: Array<string | undefined> = [];
    const spy: HypervisorDriver = {
      name: 'spy',
      execute(host, operation, context) {
        passwords.push(host.password);
        return simulator.execute(host, operation, context);
      },
    };
    const seen: Recorded[] = [];
    const p = await pipeline({ clock, driver: spy, routes: [testRoute(seen)] });
    const hostId = await addSimulatorHost(p.eventStore, clock, { password: 'the-real-password' });
    const vmId = await defineVm(simulator, hostId);
    const event = await request(p.eventStore, 'TestStartRequested', hostId, vmId);
    expect(await p.dispatcher.waitForDone(operationIdFor(event, 'power'), 20_000)).toBe(true);
    expect(passwords).toEqual(['the-real-password']);
    const outbox = JSON.stringify(await p.readStore.find(outboxCollection, {}));
    const events = JSON.stringify(await p.eventStore.readAll({ after: 0, limit: 1000 }));
    expect(outbox).not.toContain('the-real-password');
    expect(events).not.toContain('the-real-password');
  });

  it('reports failures with their codes: injected fault, host down, unknown host', async () => {
    const clock = manualClock();
    const simulator = createSimulatorDriver();
    const seen: Recorded[] = [];
    const p = await pipeline({ clock, driver: simulator, routes: [testRoute(seen)] });
    const hostId = await addSimulatorHost(p.eventStore, clock);
    const vmId = await defineVm(simulator, hostId);

    simulator.fail(hostId, { op: 'vm.start' });
    const failed = await request(p.eventStore, 'TestStartRequested', hostId, vmId);
    expect(await p.dispatcher.waitForDone(operationIdFor(failed, 'power'), 20_000)).toBe(true);

    simulator.down(hostId);
    const unreachable = await request(p.eventStore, 'TestStartRequested', hostId, vmId);
    expect(await p.dispatcher.waitForDone(operationIdFor(unreachable, 'power'), 20_000)).toBe(true);
    simulator.up(hostId);

    const unknown = await request(p.eventStore, 'TestStartRequested', randomUUID(), vmId);
    expect(await p.dispatcher.waitForDone(operationIdFor(unknown, 'power'), 20_000)).toBe(true);

    const started = await request(p.eventStore, 'TestStartRequested', hostId, vmId);
    expect(await p.dispatcher.waitForDone(operationIdFor(started, 'power'), 20_000)).toBe(true);

    expect(seen.map((entry) => entry.code ?? 'ok')).toEqual(['INJECTED_FAULT', 'HOST_UNREACHABLE', 'HOST_NOT_FOUND', 'ok']);
    const failedDoc = await p.readStore.get(outboxCollection, operationIdFor(failed, 'power')) as OutboxDoc;
    expect(failedDoc).toMatchObject({ state: 'done', ok: false, error: { code: 'INJECTED_FAULT' } });
  });

  it('times a hung operation out with OPERATION_TIMEOUT on the clock, and the host goes on', async () => {
    const clock = manualClock();
    const simulator = createSimulatorDriver();
    const seen: Recorded[] = [];
    const p = await pipeline({ clock, driver: simulator, routes: [testRoute(seen)] });
    const hostId = await addSimulatorHost(p.eventStore, clock);
    const vmId = await defineVm(simulator, hostId);
    simulator.hang(hostId);
    const hung = await request(p.eventStore, 'TestStartRequested', hostId, vmId);
    const next = await request(p.eventStore, 'TestStopRequested', hostId, vmId);
    await eventually(async () => expect((await simulator.faults(hostId)).hanging).toBe(1));

    // Not yet due: nothing happens.
    clock.advance(299_000);
    await p.timer.tick();
    expect(seen).toEqual([]);

    clock.advance(2_000);
    await p.timer.tick();
    // Both were due (the second waited behind the hung one): each got exactly one outcome.
    expect(await p.dispatcher.waitForDone(operationIdFor(hung, 'power'), 20_000)).toBe(true);
    expect(await p.dispatcher.waitForDone(operationIdFor(next, 'power'), 20_000)).toBe(true);
    expect(seen.map((entry) => [entry.operationId, entry.code]).sort()).toEqual([
      [operationIdFor(hung, 'power'), 'OPERATION_TIMEOUT'],
      [operationIdFor(next, 'power'), 'OPERATION_TIMEOUT'],
    ].sort());
    // The agent abandoned the hung call and did not run the stale one; the host takes new work.
    await eventually(() => expect(p.agent.running()).toBe(0));
    expect(simulator.host(hostId)!.vms[0]!.state).toBe('Stopped');
    const later = await request(p.eventStore, 'TestStartRequested', hostId, vmId);
    expect(await p.dispatcher.waitForDone(operationIdFor(later, 'power'), 20_000)).toBe(true);
    expect(seen[2]).toMatchObject({ operationId: operationIdFor(later, 'power'), ok: true, result: { vmId, state: 'Running' } });
    await p.bus.idle?.();
    expect(seen).toHaveLength(3); // the agent's own late OPERATION_TIMEOUT answers were ignored
  });

  it('follows the effect.operationTimeout setting', async () => {
    const clock = manualClock();
    const simulator = createSimulatorDriver();
    const seen: Recorded[] = [];
    const p = await pipeline({ clock, driver: simulator, routes: [testRoute(seen)] });
    await changeSetting(p.eventStore, { taskId: 't', metadata: { actor: systemActor } }, 'effect.operationTimeout', 10);
    const hostId = await addSimulatorHost(p.eventStore, clock);
    const vmId = await defineVm(simulator, hostId);
    simulator.hang(hostId);
    const hung = await request(p.eventStore, 'TestStartRequested', hostId, vmId);
    await eventually(async () => expect((await simulator.faults(hostId)).hanging).toBe(1));
    clock.advance(10_000);
    await p.timer.tick();
    expect(await p.dispatcher.waitForDone(operationIdFor(hung, 'power'), 20_000)).toBe(true);
    expect(seen.map((entry) => entry.code)).toEqual(['OPERATION_TIMEOUT']);
  });

  it('does not run an effect whose event is older than the operation timeout when first seen; the route hears OPERATION_TIMEOUT', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-effects-late-'));
    const clock = manualClock();
    const simulator = createSimulatorDriver();
    const seen: Recorded[] = [];
    // The event is committed while no dispatcher runs, which then starts 10 minutes later.
    const before = openSqliteEventStore({ file: join(dir, 'events.db'), clock });
    const hostId = await addSimulatorHost(before, clock);
    const vmId = await defineVm(simulator, hostId);
    const event = await request(before, 'TestStartRequested', hostId, vmId);
    await before.close();
    clock.advance(600_000);

    const p = await pipeline({ dir, clock, driver: simulator, routes: [testRoute(seen)] });
    expect(await p.dispatcher.waitForPosition(event.position, 20_000)).toBe(true);
    await p.timer.tick();
    expect(await p.dispatcher.waitForDone(operationIdFor(event, 'power'), 20_000)).toBe(true);
    expect(seen).toEqual([expect.objectContaining({ ok: false, code: 'OPERATION_TIMEOUT' })]);
    expect(simulator.host(hostId)!.executed['vm.start']).toBeUndefined();
  });

  it('publishes pending effects again after a crash before any agent ran them, and derives none twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-effects-crash-'));
    const clock = manualClock();
    const simulator = createSimulatorDriver({ journalFile: join(dir, 'simulator.jsonl') });
    const seen: Recorded[] = [];
    // First life: no agent listens, so effects are recorded and published into the void.
    const first = await openPipeline({ dir, clock, driver: simulator, routes: [testRoute(seen)], startAgent: false });
    const hostId = await addSimulatorHost(first.eventStore, clock);
    const vmId = await defineVm(simulator, hostId);
    const event = await request(first.eventStore, 'TestStartRequested', hostId, vmId);
    expect(await first.dispatcher.waitForPosition(event.position, 20_000)).toBe(true);
    expect(await first.readStore.count(outboxCollection, { state: 'pending' })).toBe(1);
    await first.close();

    // Second life on the same files.
    const second = await pipeline({ dir, clock, driver: simulator, routes: [testRoute(seen)] });
    expect(await second.dispatcher.waitForDone(operationIdFor(event, 'power'), 20_000)).toBe(true);
    expect(seen).toEqual([expect.objectContaining({ ok: true, result: { vmId, state: 'Running' } })]);
    expect(await second.readStore.count(outboxCollection, {})).toBe(1);
    expect(simulator.host(hostId)!.executed['vm.start']).toBe(1);
  });

  it('publishes pending effects again in their original order, so a host\'s dependent operations still succeed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-effects-order-'));
    const clock = manualClock();
    const simulator = createSimulatorDriver({ journalFile: join(dir, 'simulator.jsonl') });
    const outcomes: Array<{ op: string; ok: boolean }> = [];
    const build: EffectRoute = {
      name: 'test-build',
      handles: ['TestBuildRequested'],
      effectsOf(event) {
        const { vmId, hostId } = event.data as { vmId: string; hostId: string };
        const volumeId = `root-${vmId}`;
        return [
          { op: 'volume.create' as const, volumeId, sizeBytes: GiB, format: 'qcow2' as const },
          { op: 'vm.define' as const, vmId, name: vmId, cpuCount: 1, memoryBytes: GiB / 4, volumes: [{ volumeId, device: 'vda' }], nics: [] },
          { op: 'vm.start' as const, vmId },
        ].map((operation, index) => ({ operationId: operationIdFor(event, `${index}`), hostId, operation }));
      },
      async onResult(result) { outcomes.push({ op: result.effect.operation.op, ok: result.outcome.ok }); },
    };
    const first = await openPipeline({ dir, clock, driver: simulator, routes: [build], startAgent: false });
    const hostId = await addSimulatorHost(first.eventStore, clock, { cpuCount: 32 });
    const written = await first.eventStore.append('builds', Array.from({ length: 20 }, () => ({ type: 'TestBuildRequested', data: { vmId: randomUUID(), hostId } })), 'any');
    expect(await first.dispatcher.waitForPosition(written.position, 20_000)).toBe(true);
    await first.close();

    const second = await pipeline({ dir, clock, driver: simulator, routes: [build] });
    for (const event of written.events) {
      for (const index of [0, 1, 2]) expect(await second.dispatcher.waitForDone(operationIdFor(event, `${index}`), 20_000)).toBe(true);
    }
    expect(outcomes).toHaveLength(60);
    expect(outcomes.filter((outcome) => !outcome.ok)).toEqual([]);
    expect(simulator.host(hostId)!.vms.filter((vm) => vm.state === 'Running')).toHaveLength(20);
  });

  it('hands a result to its route again after a crash before it was handled; the operation is idempotent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-effects-crash-'));
    const clock = manualClock();
    const simulator = createSimulatorDriver({ journalFile: join(dir, 'simulator.jsonl') });
    const seen: Recorded[] = [];
    let routeBroken = true;
    const first = await openPipeline({ dir, clock, driver: simulator, routes: [testRoute(seen, { failResults: () => routeBroken })] });
    const hostId = await addSimulatorHost(first.eventStore, clock);
    const vmId = await defineVm(simulator, hostId);
    const event = await request(first.eventStore, 'TestStartRequested', hostId, vmId);
    await eventually(() => expect(simulator.host(hostId)!.vms[0]!.state).toBe('Running'));
    await first.bus.idle?.(); // the result was retried and dead-lettered: the effect stays pending
    expect(await first.readStore.count(outboxCollection, { state: 'pending' })).toBe(1);
    await first.close();

    routeBroken = false;
    const restarted = createSimulatorDriver({ journalFile: join(dir, 'simulator.jsonl') });
    const second = await pipeline({ dir, clock, driver: restarted, routes: [testRoute(seen, { failResults: () => routeBroken })] });
    expect(await second.dispatcher.waitForDone(operationIdFor(event, 'power'), 20_000)).toBe(true);
    expect(seen).toEqual([expect.objectContaining({ ok: true, result: { vmId, state: 'Running' } })]);
    expect(restarted.host(hostId)!.vms[0]).toMatchObject({ state: 'Running', powerCycles: 1 });
  });
});

