// The hypervisor agent (DESIGN.md §6): takes effect commands from the topics of its hosts,
// runs them with the host's driver and publishes each outcome on the results topic. In the
// embedded shape one agent serves every host in-process; in the scale-out shape an
// `stratus agent --hosts …` process runs this same code beside its hypervisors.
//
// Order: the dispatcher keys every command by its order key (the VM it concerns, else its
// volume, else the host: `orderKeyOf`), so the bus hands one VM's operations over one at a
// time, in order — the next only once this agent has finished the previous — while
// different VMs, of one host or of many, run in parallel. At most `hostConcurrency`
// operations run at once on one host (host-slots.ts); the others wait their turn in order
// of arrival, still holding their key, so a VM's order survives the wait. Each outcome is
// published under the key its command came with, so one VM's results stay in order too.
// Duplicates: recent outcomes are remembered by operation id, and a redelivered command is
// answered again without running twice; after a restart, operations are idempotent anyway.
// Deadlines: a command past its deadline is not run (the dispatcher has given up on it and
// the domain has moved on); a running one is aborted when its deadline passes
// (`expireJob`, driven by the clock), so a hung hypervisor call never blocks its VM or a
// slot of its host for longer than its deadline. The deadline counts from the event that
// asked for the operation, so time spent waiting for a slot counts too: the dispatcher gives
// up at that deadline whatever this agent does (it cannot see this queue, nor tell a long
// queue from a dead agent), and the task that waits for the operation waits end to end. A
// command whose deadline passes while it waits for a slot is answered OPERATION_TIMEOUT
// without being run. What keeps queues short is the per-VM keying and the per-host limit.
import type { Clock } from '../../adapters/clock/port.js';
import type { Bus, BusSubscription, DeliveredMessage } from '../../adapters/bus/port.js';
import {
  HypervisorError,
  type HostAccess,
  type HypervisorDriver,
  type HypervisorType,
  type OperationOutcome,
} from '../../adapters/hypervisor/port.js';
import type { DueJob } from '../shared/timer-loop.js';
import { createHostSlots, defaultHostConcurrency } from './host-slots.js';
import {
  allHostTopicsPattern,
  hostTopic,
  resultsTopic,
  type EffectCommand,
  type EffectLogger,
  type EffectResultMessage,
} from './effect.js';
import type { HostAccessLoader } from './host-access.js';

export const agentGroup = 'hypervisor-agent';
/** The setting that limits the operations running at once on one host. */
export const hostConcurrencySetting = 'effect.hostConcurrency';

const HOST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The consumer group(s) and subscriptions of an agent for its host selection. */
export function agentSubscriptions(hosts: 'all' | readonly string[], group?: string): Array<{ topic: string | { pattern: string }; group: string; filtered: boolean }> {
  if (hosts === 'all') return [{ topic: { pattern: allHostTopicsPattern }, group: agentGroup, filtered: false }];
  if (hosts.length === 0) throw new Error('an agent needs hosts: all, or host ids or management addresses');
  if (hosts.every((host) => HOST_ID.test(host))) return hosts.map((hostId) => ({ topic: hostTopic(hostId), group: `${agentGroup}.${hostId}`, filtered: false }));
  return [{ topic: { pattern: allHostTopicsPattern }, group: `${agentGroup}.${group ?? [...hosts].sort().join(',')}`, filtered: true }];
}

export interface AgentDeps {
  bus: Bus;
  clock: Clock;
  log: EffectLogger;
  drivers: Partial<Record<HypervisorType, HypervisorDriver>>;
  hostAccess: HostAccessLoader;
  /** Opens passwords sealed inside operations (the key ring's `open`). */
  openSecret(sealed: string): string;
  /**
   * Hosts served: `all` (the embedded default), or a list of host ids and/or management
   * addresses. Host ids alone: the agent consumes those hosts' topics (group
   * `hypervisor-agent.<host id>`). With addresses (an agent set up beside its hypervisors
   * before they are added, so before their ids exist): it consumes every host topic in a
   * group of its own (`hypervisor-agent.<group>`) and runs only the commands for its hosts,
   * acknowledging the others. Agents given the same list share the group (standbys).
   */
  hosts: 'all' | readonly string[];
  /** Names the consumer group of an agent selecting hosts by address (default: the sorted list). */
  group?: string;
  /** Outcomes remembered for de-duplication. */
  rememberOutcomes?: number;
  /**
   * Operations run at once on one host (default 10, ZStack's kvm host.syncLevel): a number,
   * or a reader of the current value (the `effect.hostConcurrency` setting), asked again at
   * most every `hostConcurrencyRefreshMs` (default 5 s), so a change applies without a restart.
   */
  hostConcurrency?: number | (() => number | Promise<number>);
  hostConcurrencyRefreshMs?: number;
}

export interface Agent {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Aborts running operations whose deadline has passed. */
  expireJob: DueJob;
  /** Forgets the cached access to a host (its address or credentials changed). */
  forgetHost(hostId: string): void;
  /** Operations running now. */
  running(): number;
  /** Operations waiting for a free slot on their host. */
  waiting(): number;
}

interface Running {
  hostId: string;
  deadline: number;
  controller: AbortController;
}

/** Errors after which the cached host access is reloaded: the host may have been changed. */
const reloadAccessAfter = new Set(['HOST_UNREACHABLE', 'AUTHENTICATION_FAILED', 'HOST_NOT_FOUND']);

export function createAgent(deps: AgentDeps): Agent {
  const { bus, clock, log } = deps;
  const limit = deps.rememberOutcomes ?? 20_000;
  const outcomes = new Map<string, EffectResultMessage>();
  const accessCache = new Map<string, HostAccess>();
  const running = new Map<string, Running>();
  /** Commands waiting for a slot on their host; aborted at their deadline or on stop. */
  const queued = new Map<string, Running>();
  const slots = createHostSlots(typeof deps.hostConcurrency === 'number' ? deps.hostConcurrency : defaultHostConcurrency);
  const readLimit = typeof deps.hostConcurrency === 'function' ? deps.hostConcurrency : undefined;
  const refreshMs = deps.hostConcurrencyRefreshMs ?? 5000;
  let limitReadAt = Number.NEGATIVE_INFINITY;
  let subscriptions: BusSubscription[] = [];
  let stopping = false;

  function remember(result: EffectResultMessage) {
    outcomes.set(result.operationId, result);
    if (outcomes.size > limit) outcomes.delete(outcomes.keys().next().value!);
  }

  async function accessTo(hostId: string, fresh: boolean): Promise<HostAccess | undefined> {
    if (!fresh) {
      const cached = accessCache.get(hostId);
      if (cached) return cached;
    }
    const access = await deps.hostAccess(hostId);
    if (access) accessCache.set(hostId, access);
    else accessCache.delete(hostId);
    return access;
  }

  /** Follows the setting (at most every `refreshMs`); a failed read keeps the current limit. */
  async function refreshLimit() {
    if (!readLimit || clock.now() - limitReadAt < refreshMs) return;
    limitReadAt = clock.now();
    try {
      const limit = Number(await readLimit());
      if (limit !== slots.limit()) slots.setLimit(limit);
    } catch (error) {
      log.warn({ err: error, limit: slots.limit() }, 'could not read the per-host concurrency limit; keeping the current one');
    }
  }

  /** Runs a command once a slot of its host is free (answers OPERATION_TIMEOUT if its deadline passes first). */
  async function execute(command: EffectCommand): Promise<OperationOutcome> {
    if (clock.now() >= command.deadline) {
      return failed('OPERATION_TIMEOUT', `${command.operation.op} reached host ${command.hostId}'s agent after its deadline; not run`);
    }
    await refreshLimit();
    const wait: Running = { hostId: command.hostId, deadline: command.deadline, controller: new AbortController() };
    queued.set(command.operationId, wait);
    let release: () => void;
    try {
      release = await slots.acquire(command.hostId, wait.controller.signal);
    } catch {
      return failed('OPERATION_TIMEOUT', `${command.operation.op} waited for a free slot on host ${command.hostId} until its deadline; not run`);
    } finally {
      queued.delete(command.operationId);
    }
    try {
      if (clock.now() >= command.deadline) {
        return failed('OPERATION_TIMEOUT', `${command.operation.op} waited for a free slot on host ${command.hostId} until its deadline; not run`);
      }
      return await run(command);
    } finally {
      release();
    }
  }

  async function run(command: EffectCommand): Promise<OperationOutcome> {
    // A probe (connect, reconnect) always reads the host afresh: that is how changed credentials are picked up.
    const access = await accessTo(command.hostId, command.operation.op === 'host.probe');
    if (!access) return failed('HOST_NOT_FOUND', `host ${command.hostId} is unknown to the agent`);
    const driver = deps.drivers[access.hypervisorType];
    if (!driver) return failed('DRIVER_UNAVAILABLE', `this agent has no driver for ${access.hypervisorType} hosts`);

    const controller = new AbortController();
    const entry: Running = { hostId: command.hostId, deadline: command.deadline, controller };
    running.set(command.operationId, entry);
    const abandoned = new Promise<never>((_resolve, reject) => {
      controller.signal.addEventListener('abort', () => reject(new HypervisorError('OPERATION_TIMEOUT',
        `${command.operation.op} on host ${command.hostId} passed its deadline and was given up`)), { once: true });
    });
    try {
      // Racing the abort frees the VM's key and the host's slot even if a driver ignores the signal.
      const result = await Promise.race([
        driver.execute(access, command.operation, { operationId: command.operationId, openSecret: deps.openSecret, signal: controller.signal }),
        abandoned,
      ]);
      return { ok: true, result };
    } catch (error) {
      if (error instanceof HypervisorError) {
        if (reloadAccessAfter.has(error.code)) accessCache.delete(command.hostId);
        return { ok: false, error: error.toInfo() };
      }
      log.error({ err: error, operationId: command.operationId, op: command.operation.op, hostId: command.hostId }, 'driver failed unexpectedly');
      return failed('DRIVER_ERROR', `the ${driver.name} driver failed unexpectedly on ${command.operation.op}; see the agent log`);
    } finally {
      running.delete(command.operationId);
      abandoned.catch(() => undefined);
    }
  }

  /** Whether a command on a host topic is for this agent (only asked with an address list). */
  async function isMine(hostId: string): Promise<boolean> {
    if (deps.hosts === 'all' || deps.hosts.includes(hostId)) return true;
    const access = await accessTo(hostId, false);
    return access !== undefined && deps.hosts.includes(access.managementIp);
  }

  async function handle(message: DeliveredMessage<EffectCommand>) {
    const command = message.value;
    let result = outcomes.get(command.operationId);
    if (!result) {
      const outcome = await execute(command);
      // Cut off by a shutdown, not by its deadline: leave it unacknowledged so that it is
      // delivered again (here after a restart, or to another agent) rather than reported failed.
      if (stopping) throw new Error(`agent stopping: ${command.operation.op} ${command.operationId} left for redelivery`);
      result = {
        operationId: command.operationId,
        route: command.route,
        hostId: command.hostId,
        op: command.operation.op,
        outcome,
        completedAt: clock.now(),
      };
      remember(result);
    }
    // If publishing fails the bus redelivers the command, and the remembered outcome is sent.
    await bus.publish([{ topic: command.replyTopic ?? resultsTopic, key: command.resultKey ?? message.key, value: result, headers: { operationId: command.operationId } }]);
  }

  return {
    async start() {
      stopping = false;
      subscriptions = await Promise.all(agentSubscriptions(deps.hosts, deps.group).map(({ topic, group, filtered }) =>
        bus.subscribe<EffectCommand>({
          topic,
          group,
          handler: filtered ? async (message) => { if (await isMine(message.value.hostId)) await handle(message); } : handle,
        })));
    },

    async stop() {
      const active = subscriptions;
      subscriptions = [];
      stopping = true;
      for (const entry of [...queued.values(), ...running.values()]) entry.controller.abort();
      await Promise.all(active.map((subscription) => subscription.stop()));
    },

    expireJob: {
      name: 'agent-operation-deadlines',
      async run(now) {
        for (const entry of [...queued.values(), ...running.values()]) if (entry.deadline <= now) entry.controller.abort();
      },
    },

    forgetHost(hostId) {
      accessCache.delete(hostId);
    },

    running: () => running.size,
    waiting: () => queued.size,
  };
}

function failed(code: HypervisorError['code'], message: string): OperationOutcome {
  return { ok: false, error: { code, message } };
}
