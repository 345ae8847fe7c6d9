// The order of hypervisor operations through the whole effect pipeline (dispatcher → bus →
// agent → driver → results → route), on any bus adapter: two operations on one VM never
// overlap or overtake each other, operations on different VMs of one host run at once, at
// most `hostConcurrency` of them per host, and a VM's results reach its route in order.
// Nothing is timed: the driver holds every operation until the test releases it, and the
// test waits (by polling) for what the driver and the route saw.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Bus } from '../../adapters/bus/port.js';
import { manualClock } from '../../adapters/clock/manual.js';
import { openSqliteEventStore } from '../../adapters/eventstore/sqlite.js';
import type { HypervisorDriver, HypervisorOperation } from '../../adapters/hypervisor/port.js';
import { openSqliteReadStore } from '../../adapters/readstore/sqlite.js';
import { createAgent, type Agent } from '../../commands/effects/agent.js';
import { createEffectDispatcher, type EffectDispatcher } from '../../commands/effects/dispatcher.js';
import { operationIdFor, resultsTopic, type EffectResultMessage, type EffectRoute } from '../../commands/effects/effect.js';

export interface OrderBusFixture {
  bus: Bus;
  close(): Promise<void>;
}

const silent = { info() {}, warn() {}, error() {} };

/** What a test asks of one VM: operations on its host, derived from one event, in this order. */
interface VmOpsRequested { vmId: string; hostId: string; ops: Array<'vm.define' | 'vm.start' | 'vm.stop'> }

/** Holds each operation of the test's own VMs until released; anything else (a broker's leftovers of earlier tests) answers at once. */
function gatedDriver() {
  const log: string[] = [];
  const mine = new Set<string>();
  const gates = new Map<string, { open: Promise<void>; release: () => void }>();
  const gate = (label: string) => {
    let entry = gates.get(label);
    if (!entry) {
      let release!: () => void;
      const open = new Promise<void>((resolve) => { release = resolve; });
      gates.set(label, (entry = { open, release }));
    }
    return entry;
  };
  const driver: HypervisorDriver = {
    name: 'gated',
    async execute(_host, operation) {
      const { vmId } = operation as { vmId: string };
      if (!mine.has(vmId)) return { vmId, state: 'Running' } as never;
      const label = `${vmId}:${operation.op}`;
      log.push(`start ${label}`);
      await gate(label).open;
      log.push(`end ${label}`);
      return { vmId, state: 'Running' } as never;
    },
  };
  return {
    driver,
    log,
    mine,
    release: (label: string) => gate(label).release(),
    started: (label: string) => log.includes(`start ${label}`),
  };
}

export function effectsOrderContract(name: string, openBus: () => Promise<OrderBusFixture>, options: { timeoutMs?: number } = {}) {
  const eventually = (assertion: () => void) => vi.waitFor(assertion, { timeout: options.timeoutMs ?? 20_000, interval: 5 });

  describe(`hypervisor operation order through the effect pipeline: ${name}`, () => {
    const closers: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close();
    });

    async function pipeline(hostConcurrency: number) {
      const clock = manualClock();
      const eventStore = openSqliteEventStore({ file: ':memory:', clock });
      const readStore = openSqliteReadStore({ file: ':memory:' });
      const fixture = await openBus();
      const gated = gatedDriver();
      const outcomes: string[] = [];
      const resultKeys = new Map<string, string>();
      const route: EffectRoute = {
        name: 'test-vm-ops',
        handles: ['VmOpsRequested'],
        effectsOf: (event) => {
          const data = event.data as VmOpsRequested;
          return data.ops.map((op, index) => ({
            operationId: operationIdFor(event, `${index}:${op}`),
            hostId: data.hostId,
            // vm.define names its VM; the others too: every one is keyed by the VM.
            operation: (op === 'vm.stop' ? { op, vmId: data.vmId, type: 'cold' } : op === 'vm.define'
              ? { op, vmId: data.vmId, name: data.vmId, cpuCount: 1, memoryBytes: 1, volumes: [], nics: [] }
              : { op, vmId: data.vmId }) as HypervisorOperation,
          }));
        },
        async onResult(result) {
          const { vmId } = result.effect.operation as { vmId: string };
          outcomes.push(`${vmId}:${result.effect.operation.op}:${result.outcome.ok ? 'ok' : result.outcome.error.code}`);
        },
      };
      const agent: Agent = createAgent({
        bus: fixture.bus, clock, log: silent,
        drivers: { Simulator: gated.driver },
        hostAccess: async (hostId) => ({ hostId, hypervisorType: 'Simulator', managementIp: '192.0.2.1', username: 'root' }),
        openSecret: (sealed) => sealed,
        hosts: 'all',
        hostConcurrency,
      });
      const dispatcher: EffectDispatcher = createEffectDispatcher({ eventStore, readStore, bus: fixture.bus, clock, routes: [route], log: silent });
      // A spy on the results topic, in a group of its own: which key each result travelled under.
      await fixture.bus.subscribe<EffectResultMessage>({
        topic: resultsTopic, group: `spy-${randomUUID().slice(0, 8)}`,
        handler: async (message) => { resultKeys.set(message.value.operationId, message.key); },
      });
      await agent.start();
      await dispatcher.start();
      closers.push(async () => {
        await dispatcher.stop();
        await agent.stop();
        await fixture.close();
        await eventStore.close();
        await readStore.close();
      });
      const request = async (data: VmOpsRequested) => {
        gated.mine.add(data.vmId);
        const written = await eventStore.append(`test-vm-${data.vmId}`, [{ type: 'VmOpsRequested', data: { ...data } }], 'any');
        return data.ops.map((op, index) => operationIdFor(written.events[0]!, `${index}:${op}`));
      };
      return { ...gated, agent, outcomes, resultKeys, request, dispatcher };
    }

    /** The driver's log of one VM: it must never have two of its operations in flight. */
    function assertSequential(log: string[], vmId: string) {
      let inFlight: string | undefined;
      for (const line of log.filter((entry) => entry.includes(` ${vmId}:`))) {
        const [what, label] = line.split(' ') as ['start' | 'end', string];
        if (what === 'start') {
          expect(inFlight, `${label} started while ${inFlight} ran`).toBeUndefined();
          inFlight = label;
        } else {
          expect(label).toBe(inFlight);
          inFlight = undefined;
        }
      }
    }

    it('runs different VMs of one host at once, and one VM\'s operations one after the other in issue order', async () => {
      const p = await pipeline(10);
      const host = randomUUID();
      const [a, b] = [randomUUID(), randomUUID()];
      await p.request({ vmId: a, hostId: host, ops: ['vm.define', 'vm.start'] });
      await p.request({ vmId: a, hostId: host, ops: ['vm.stop'] });
      const [bDefine] = await p.request({ vmId: b, hostId: host, ops: ['vm.define'] });

      // A's define is held; B's runs (and ends) meanwhile on the same host.
      await eventually(() => expect(p.started(`${a}:vm.define`)).toBe(true));
      await eventually(() => expect(p.started(`${b}:vm.define`)).toBe(true));
      p.release(`${b}:vm.define`);
      await eventually(() => expect(p.outcomes).toContain(`${b}:vm.define:ok`));
      expect(p.started(`${a}:vm.start`)).toBe(false);

      p.release(`${a}:vm.define`);
      await eventually(() => expect(p.started(`${a}:vm.start`)).toBe(true));
      expect(p.started(`${a}:vm.stop`)).toBe(false);
      p.release(`${a}:vm.start`);
      await eventually(() => expect(p.started(`${a}:vm.stop`)).toBe(true));
      p.release(`${a}:vm.stop`);
      await eventually(() => expect(p.outcomes.filter((outcome) => outcome.startsWith(a))).toHaveLength(3));

      assertSequential(p.log, a);
      expect(p.log.filter((line) => line.startsWith('start') && line.includes(a))).toEqual(
        [`start ${a}:vm.define`, `start ${a}:vm.start`, `start ${a}:vm.stop`]);
      expect(p.outcomes.filter((outcome) => outcome.startsWith(a))).toEqual([`${a}:vm.define:ok`, `${a}:vm.start:ok`, `${a}:vm.stop:ok`]);
      // Results travel under their VM's key, so they too stay in order per VM, not per host.
      await eventually(() => expect(p.resultKeys.get(bDefine!)).toBe(`vm:${b}`));
    });

    it('runs at most hostConcurrency operations at once on one host; the others wait their turn, other hosts do not', async () => {
      const p = await pipeline(2);
      const [host, other] = [randomUUID(), randomUUID()];
      // Both hosts' topics exist and are consumed before anything is held: a Kafka pattern
      // subscription that gains a topic restarts its consumer once running handlers finish.
      for (const hostId of [host, other]) {
        const vmId = randomUUID();
        p.release(`${vmId}:vm.start`);
        await p.request({ vmId, hostId, ops: ['vm.start'] });
        await eventually(() => expect(p.outcomes).toContain(`${vmId}:vm.start:ok`));
      }
      p.outcomes.splice(0);
      const vms = [randomUUID(), randomUUID(), randomUUID()];
      for (const vmId of vms) await p.request({ vmId, hostId: host, ops: ['vm.start'] });
      const elsewhere = randomUUID();
      await p.request({ vmId: elsewhere, hostId: other, ops: ['vm.start'] });

      await eventually(() => expect(p.agent.running()).toBe(3));
      expect(p.agent.waiting()).toBe(1);
      expect(p.started(`${elsewhere}:vm.start`)).toBe(true);
      const [first, second] = vms.filter((vmId) => p.started(`${vmId}:vm.start`));
      const third = vms.find((vmId) => !p.started(`${vmId}:vm.start`))!;
      expect([first, second, third].every(Boolean)).toBe(true);

      p.release(`${first}:vm.start`);
      await eventually(() => expect(p.started(`${third}:vm.start`)).toBe(true));
      expect(p.agent.waiting()).toBe(0);
      for (const vmId of [second!, third, elsewhere]) p.release(`${vmId}:vm.start`);
      await eventually(() => expect(p.outcomes).toHaveLength(4));
      expect(p.outcomes.every((outcome) => outcome.endsWith(':ok'))).toBe(true);
    });
  });
}
