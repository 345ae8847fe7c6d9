// Effects (DESIGN.md §6): what a committed event asks a hypervisor to do, and what came
// back. A route derives effects from events; the dispatcher records them in its outbox,
// publishes them to the host's topic, and hands each result (or a synthetic
// OPERATION_TIMEOUT) back to the route's `onResult`, which turns it into commands.
import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import type {
  HypervisorOperation,
  OperationName,
  OperationOutcome,
  ResultOf,
} from '../../adapters/hypervisor/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { idFromName } from '../shared/ids.js';

/** Route-specific values echoed back with the result (task id, VM id …). JSON only, no secret. */
export type EffectContext = Record<string, string | number | boolean | null | string[]>;

/** One operation on one host, derived from one event. */
export interface Effect<O extends HypervisorOperation = HypervisorOperation> {
  /** Deterministic: derive it with `operationIdFor(event, …)`, so a replayed event gives the same id. */
  operationId: string;
  hostId: string;
  operation: O;
  context?: EffectContext;
  /**
   * Effects with the same order key on one host run one after the other, in issue order;
   * different keys run in parallel (up to the agent's per-host limit). Default: see
   * `orderKeyOf` — the VM the effect concerns, else its volume, else the host.
   */
  orderKey?: string;
  /**
   * Results with the same key are handed to `onResult` one at a time, in order; different
   * keys in parallel. Default: the order key, so that one VM's results stay ordered while
   * results for other VMs on the same host do not wait.
   */
  resultKey?: string;
}

/** An effect as the outbox keeps it. */
export interface RecordedEffect<O extends HypervisorOperation = HypervisorOperation> extends Effect<O> {
  route: string;
  /** The event that caused it. */
  causationId: string;
  causationStream: string;
  causationType: string;
  correlationId?: string;
  /** Issue order (causing event's position, then the effect's rank in it): pending effects are published again in this order. */
  sequence: number;
  /** Epoch ms (event time) it was issued, and after which it times out. */
  issuedAt: number;
  deadline: number;
}

/** What the dispatcher publishes on `hypervisor.<hostId>`. */
export interface EffectCommand {
  operationId: string;
  route: string;
  hostId: string;
  operation: HypervisorOperation;
  /** Epoch ms after which nobody waits for the answer any more. */
  deadline: number;
  correlationId?: string;
  /** Key of the result message (default: the key this command came with). */
  resultKey?: string;
  /** Where the agent answers (default: the results topic); for request/reply outside the outbox. */
  replyTopic?: string;
}

/** What an agent publishes on `hypervisor.results`. */
export interface EffectResultMessage {
  operationId: string;
  route: string;
  hostId: string;
  op: OperationName;
  outcome: OperationOutcome;
  completedAt: number;
}

/** What a route's `onResult` receives: the effect as issued, and its outcome. */
export interface EffectResult<O extends HypervisorOperation = HypervisorOperation> {
  effect: RecordedEffect<O>;
  outcome: OperationOutcome<ResultOf<O>>;
  /** Epoch ms the outcome was produced (agent time, or the timeout's time). */
  completedAt: number;
  /** Metadata for the events `onResult` appends: correlation of the causing event, system actor. */
  metadata: EventMetadata;
}

export interface EffectLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** What `onResult` may use. */
export interface EffectDeps {
  eventStore: EventStore;
  readStore: ReadStore;
  clock: Clock;
  log: EffectLogger;
}

export interface EffectRoute {
  /** Stable name: it is stored with each pending effect and routes its result back. */
  name: string;
  /** Event types `effectsOf` looks at. */
  handles: readonly string[];
  /** Pure: the effects an event asks for (often none). Called once per committed event. */
  effectsOf(event: RecordedEvent): Effect[];
  /**
   * Turns an outcome into commands. Called at least once per effect (again after a crash
   * before the outbox marked it done), so it must be idempotent: derive command ids from
   * `result.effect.operationId`, and accept a command that was already applied.
   * A rejection is logged and the result handled again later.
   */
  onResult(result: EffectResult, deps: EffectDeps): Promise<void>;
}

/** A deterministic operation id: the same event and purpose always give the same id. */
export function operationIdFor(event: Pick<RecordedEvent, 'id'>, purpose: string): string {
  return idFromName(`effect:${event.id}:${purpose}`);
}

/**
 * What orders an effect among its host's operations: the key of its command on the host's
 * topic (the bus keeps one key's messages in order and runs different keys in parallel, and
 * the agent finishes one command before it acks it). It names the hypervisor object the
 * operation acts on, so that two operations on one VM never overlap or overtake each other
 * while operations on different VMs of a host proceed at once:
 * - the route's own `orderKey`, if it gives one;
 * - the VM the operation names (vm.*, volume attach/detach, VNC password, guest access);
 * - else the VM the causing event concerns (`vmId`, or `vmInstanceId` for a VM's disk): so
 *   the steps one VM event asks for (image.prepare → volume.create → vm.define → vm.start)
 *   share their VM's key and run in the order they were listed;
 * - else the volume the operation names (a detached volume's create, delete, snapshots);
 * - else the host (host.probe), as every command was keyed before.
 */
export function orderKeyOf(effect: Pick<Effect, 'hostId' | 'operation' | 'orderKey'>, event?: Pick<RecordedEvent, 'data'>): string {
  if (effect.orderKey) return effect.orderKey;
  const operation = effect.operation as { vmId?: unknown; volumeId?: unknown };
  if (typeof operation.vmId === 'string' && operation.vmId !== '') return `vm:${operation.vmId}`;
  const data = (event?.data ?? {}) as { vmId?: unknown; vmInstanceId?: unknown };
  const eventVm = typeof data.vmId === 'string' && data.vmId !== '' ? data.vmId : data.vmInstanceId;
  if (typeof eventVm === 'string' && eventVm !== '') return `vm:${eventVm}`;
  if (typeof operation.volumeId === 'string' && operation.volumeId !== '') return `volume:${operation.volumeId}`;
  return effect.hostId;
}

export const hostTopic = (hostId: string) => `hypervisor.${hostId}`;
export const resultsTopic = 'hypervisor.results';
/** Every host topic (not the results topic): for an agent that serves all hosts. */
export const allHostTopicsPattern = '^hypervisor\\.(?!results$)[^.]+$';
export const hostIdOfTopic = (topic: string) => topic.slice('hypervisor.'.length);
