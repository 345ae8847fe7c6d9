// The agent between the bus and the drivers: de-duplication by operation id, deadlines,
// driver selection, host access reloads, and errors that are not the driver's own.
import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { createLocalBus } from '../../../adapters/bus/local.js';
import { manualClock } from '../../../adapters/clock/manual.js';
import type { HostAccess, HypervisorDriver, HypervisorOperation } from '../../../adapters/hypervisor/port.js';
import { HypervisorError } from '../../../adapters/hypervisor/port.js';
import { createAgent } from '../../../commands/effects/agent.js';
import { hostTopic, resultsTopic, type EffectCommand, type EffectResultMessage } from '../../../commands/effects/effect.js';

const silent = { info() {}, warn() {}, error() {} };
const eventually = (assertion: () => void) => vi.waitFor(assertion, { timeout: 10_000, interval: 2 });

function setup(options: { driver?: HypervisorDriver; hostAccess?: (hostId: string) => Promise<HostAccess | undefined>; hosts?: 'all' | string[]; hostConcurrency?: number } = {}) {
  const clock = manualClock();
  const bus = createLocalBus({ retryDelayMs: () => 1 });
  const calls: Array<{ host: HostAccess; operation: HypervisorOperation }> = [];
  const driver: HypervisorDriver = options.driver ?? {
    name: 'recording',
    async execute(host, operation) {
      calls.push({ host, operation });
      return { cpuCount: 1, memoryBytes: 1, freeMemoryBytes: 1, hypervisor: 'recording', version: '1', vms: [] } as never;
    },
  };
  const accessLoads: string[] = [];
  const agent = createAgent({
    bus, clock, log: silent,
    drivers: { Simulator: driver },
    hostAccess: options.hostAccess ?? (async (hostId) => {
      accessLoads.push(hostId);
      return { hostId, hypervisorType: 'Simulator', managementIp: '192.0.2.1', username: 'root' };
    }),
    openSecret: (sealed) => sealed,
    hosts: options.hosts ?? 'all',
    ...(options.hostConcurrency ? { hostConcurrency: options.hostConcurrency } : {}),
  });
  const results: EffectResultMessage[] = [];
  const ready = bus.subscribe<EffectResultMessage>({ topic: resultsTopic, group: 'test', handler: async (message) => { results.push(message.value); } });
  const send = (command: Partial<EffectCommand> & { hostId: string }, key = command.hostId) => bus.publish([{
    topic: hostTopic(command.hostId),
    key,
    value: { operationId: randomUUID(), route: 'r', operation: { op: 'host.probe' }, deadline: clock.now() + 300_000, ...command },
  }]);
  return { clock, bus, agent, calls, results, ready, send, accessLoads };
}

describe('hypervisor agent', () => {
  it('runs a command once and answers a redelivery with the remembered outcome', async () => {
    const t = setup();
    await t.ready;
    await t.agent.start();
    const hostId = randomUUID();
    const operationId = randomUUID();
    await t.send({ hostId, operationId });
    await t.send({ hostId, operationId });
    await eventually(() => expect(t.results).toHaveLength(2));
    expect(t.calls).toHaveLength(1);
    expect(t.results[0]).toEqual(t.results[1]);
    expect(t.results[0]).toMatchObject({ operationId, route: 'r', hostId, op: 'host.probe', outcome: { ok: true } });
  });

  it('does not run a command that arrives after its deadline', async () => {
    const t = setup();
    await t.ready;
    await t.agent.start();
    await t.send({ hostId: randomUUID(), deadline: t.clock.now() - 1 });
    await eventually(() => expect(t.results).toHaveLength(1));
    expect(t.calls).toHaveLength(0);
    expect(t.results[0]!.outcome).toMatchObject({ ok: false, error: { code: 'OPERATION_TIMEOUT' } });
  });

  it('reports an unknown host, a missing driver and an unexpected driver error with stable codes', async () => {
    const kvmHost = randomUUID();
    const brokenHost = randomUUID();
    const t = setup({
      hostAccess: async (hostId) => {
        if (hostId === kvmHost) return { hostId, hypervisorType: 'KVM', managementIp: '192.0.2.2', username: 'root' };
        if (hostId === brokenHost) return { hostId, hypervisorType: 'Simulator', managementIp: '192.0.2.3', username: 'root', password: 'never-logged' };
        return undefined;
      },
      driver: { name: 'broken', async execute() { throw new TypeError('undefined is not a function'); } },
    });
    await t.ready;
    await t.agent.start();
    await t.send({ hostId: randomUUID() });
    await t.send({ hostId: kvmHost });
    await t.send({ hostId: brokenHost });
    await eventually(() => expect(t.results).toHaveLength(3));
    const codes = Object.fromEntries(t.results.map((result) => [result.hostId, result.outcome.ok ? 'ok' : result.outcome.error.code]));
    expect(codes[kvmHost]).toBe('DRIVER_UNAVAILABLE');
    expect(codes[brokenHost]).toBe('DRIVER_ERROR');
    expect(Object.values(codes)).toContain('HOST_NOT_FOUND');
    expect(JSON.stringify(t.results)).not.toContain('never-logged');
  });

  it('caches host access, and reads it again for a probe and after the host was unreachable', async () => {
    let unreachable = false;
    const t = setup({
      driver: {
        name: 'flaky',
        async execute(_host, operation) {
          if (unreachable) throw new HypervisorError('HOST_UNREACHABLE', 'no route to host');
          return { vmId: (operation as { vmId: string }).vmId, state: 'Running' } as never;
        },
      },
    });
    await t.ready;
    await t.agent.start();
    const hostId = randomUUID();
    const state = (vmId: string) => ({ hostId, operation: { op: 'vm.state' as const, vmId } });
    await t.send(state('a'));
    await t.send(state('b'));
    await eventually(() => expect(t.results).toHaveLength(2));
    expect(t.accessLoads).toEqual([hostId]);
    await t.send({ hostId, operation: { op: 'host.probe' } });
    await eventually(() => expect(t.results).toHaveLength(3));
    expect(t.accessLoads).toEqual([hostId, hostId]);
    unreachable = true;
    await t.send(state('c'));
    await eventually(() => expect(t.results).toHaveLength(4));
    unreachable = false;
    await t.send(state('d'));
    await eventually(() => expect(t.results).toHaveLength(5));
    expect(t.accessLoads).toEqual([hostId, hostId, hostId]);
  });

  it('serves only its hosts when given a list', async () => {
    const mine = randomUUID();
    const t = setup({ hosts: [mine] });
    await t.ready;
    await t.agent.start();
    await t.send({ hostId: randomUUID() });
    await t.send({ hostId: mine });
    await eventually(() => expect(t.results).toHaveLength(1));
    await t.bus.idle();
    expect(t.results.map((result) => result.hostId)).toEqual([mine]);
  });

  it('gives up a hung operation at its deadline and moves on to the host\'s next one', async () => {
    const t = setup({
      driver: {
        name: 'hanging',
        execute(_host, operation) {
          if ((operation as { vmId?: string }).vmId === 'hang') return new Promise(() => undefined); // ignores the abort signal
          return Promise.resolve({ vmId: 'next', state: 'Running' } as never);
        },
      },
    });
    await t.ready;
    await t.agent.start();
    const hostId = randomUUID();
    await t.send({ hostId, operation: { op: 'vm.state', vmId: 'hang' }, deadline: t.clock.now() + 1000 });
    await t.send({ hostId, operation: { op: 'vm.state', vmId: 'next' }, deadline: t.clock.now() + 60_000 });
    await eventually(() => expect(t.agent.running()).toBe(1));
    t.clock.advance(1000);
    await t.agent.expireJob.run(t.clock.now());
    await eventually(() => expect(t.results).toHaveLength(2));
    expect(t.results.map((result) => (result.outcome.ok ? 'ok' : result.outcome.error.code))).toEqual(['OPERATION_TIMEOUT', 'ok']);
  });

  it('answers OPERATION_TIMEOUT, without running it, a command whose deadline passes while it waits for a slot of its host', async () => {
    let release!: () => void;
    const ran: string[] = [];
    const t = setup({
      hostConcurrency: 1,
      driver: {
        name: 'held',
        execute(_host, operation) {
          const { vmId } = operation as { vmId: string };
          ran.push(vmId);
          const result = { vmId, state: 'Running' } as never;
          return vmId === 'busy' ? new Promise((resolve) => { release = () => resolve(result); }) : Promise.resolve(result);
        },
      },
    });
    await t.ready;
    await t.agent.start();
    const hostId = randomUUID();
    await t.send({ hostId, operation: { op: 'vm.state', vmId: 'busy' }, deadline: t.clock.now() + 60_000 }, 'vm:busy');
    await t.send({ hostId, operation: { op: 'vm.state', vmId: 'late' }, deadline: t.clock.now() + 1000 }, 'vm:late');
    await eventually(() => expect(t.agent.waiting()).toBe(1));
    t.clock.advance(1000);
    await t.agent.expireJob.run(t.clock.now());
    await eventually(() => expect(t.results).toHaveLength(1));
    expect(t.results[0]!.outcome).toMatchObject({ ok: false, error: { code: 'OPERATION_TIMEOUT' } });
    release();
    await eventually(() => expect(t.results).toHaveLength(2));
    expect(ran).toEqual(['busy']);
    expect(t.results[1]!.outcome.ok).toBe(true);
  });

  it('leaves an operation cut off by its shutdown for redelivery instead of reporting it failed', async () => {
    let release!: () => void;
    const t = setup({
      driver: {
        name: 'slow',
        execute(_host, _operation, context) {
          return new Promise((resolve, reject) => {
            release = () => resolve({ vmId: 'x', state: 'Running' } as never);
            context.signal?.addEventListener('abort', () => reject(new HypervisorError('OPERATION_TIMEOUT', 'aborted')));
          });
        },
      },
    });
    await t.ready;
    await t.agent.start();
    await t.send({ hostId: randomUUID(), operation: { op: 'vm.state', vmId: 'x' } });
    await eventually(() => expect(t.agent.running()).toBe(1));
    await t.agent.stop();
    expect(t.results).toEqual([]);
    // A new agent (after a restart) picks the command up again and answers it.
    const second = createAgent({
      bus: t.bus, clock: t.clock, log: silent,
      drivers: { Simulator: { name: 'quick', execute: async () => ({ vmId: 'x', state: 'Running' }) as never } },
      hostAccess: async (hostId) => ({ hostId, hypervisorType: 'Simulator', managementIp: '192.0.2.1', username: 'root' }),
      openSecret: (sealed) => sealed,
      hosts: 'all',
    });
    await second.start();
    await eventually(() => expect(t.results).toHaveLength(1));
    expect(t.results[0]!.outcome.ok).toBe(true);
    release();
  });
});
