// The hypervisor agent (DESIGN.md §6): takes effect commands from the topics of its hosts,
// runs them with the host's driver and publishes each outcome on the results topic. In the
// embedded shape one agent serves every host in-process; in the scale-out shape an
// `stratus agent --hosts …` process runs this same code beside its hypervisors.
//
// Order: the dispatcher keys every command by host, so the bus hands one host's operations
// over one at a time, in order, while different hosts run in parallel.
// Duplicates: recent outcomes are remembered by operation id, and a redelivered command is
// answered again without running twice; after a restart, operations are idempotent anyway.
// Deadlines: a command past its deadline is not run (the dispatcher has given up on it and
// the domain has moved on); a running one is aborted when its deadline passes
// (`expireJob`, driven by the clock), so a hung hypervisor call never blocks its host.
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
}

export interface Agent {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Aborts running operations whose deadline has passed. */
  expireJob: DueJob;
  /** Forgets the cached access to a host (its address or credentials changed). */
  forgetHost(hostId: string): void;
  running(): number;
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

  async function execute(command: EffectCommand): Promise<OperationOutcome> {
    if (clock.now() >= command.deadline) {
      return failed('OPERATION_TIMEOUT', `${command.operation.op} reached host ${command.hostId}'s agent after its deadline; not run`);
    }
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
      // Racing the abort keeps the host's queue moving even if a driver ignores the signal.
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
    await bus.publish([{ topic: command.replyTopic ?? resultsTopic, key: command.resultKey ?? command.hostId, value: result, headers: { operationId: command.operationId } }]);
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
      for (const entry of running.values()) entry.controller.abort();
      await Promise.all(active.map((subscription) => subscription.stop()));
    },

    expireJob: {
      name: 'agent-operation-deadlines',
      async run(now) {
        for (const entry of running.values()) if (entry.deadline <= now) entry.controller.abort();
      },
    },

    forgetHost(hostId) {
      accessCache.delete(hostId);
    },

    running: () => running.size,
  };
}

function failed(code: HypervisorError['code'], message: string): OperationOutcome {
  return { ok: false, error: { code, message } };
}
