import type { Actor, EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { WrongExpectedVersionError } from '../../adapters/eventstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import { fold } from '../../domain/shared/decider.js';
import { DomainError } from '../../domain/shared/errors.js';
import { taskDecider, taskStream, type TaskError, type TaskEvent, type TaskState } from '../../domain/tasks/task.js';
import { handleCommand } from '../shared/handle-command.js';
import { idFromName, newId, sha256Hex } from '../shared/ids.js';
import { redactSecrets } from '../shared/redact.js';
import { metadataFor, type RequestContext } from '../shared/request-context.js';

export interface TaskSpec {
  /** What is done, PascalCase, e.g. `ChangeSetting`; the audit log's action. */
  action: string;
  resourceType: string;
  resourceIds?: string[];
  /** The request as the client sent it; secrets are redacted before it is recorded. */
  request: unknown;
  /**
   * 'process': the work only hands the task over to a process manager (VM create, start,
   * expunge …), which records the outcome with `finish` when the resource reaches it, even
   * after a restart. Such a task is not failed as INTERRUPTED by a crash; if its work fails
   * before the hand-over, the task fails as usual.
   */
  completedBy?: 'process';
}

export interface TaskWorkContext {
  taskId: string;
  /** Metadata for the events the work appends: correlation, causation, actor, client. */
  metadata: EventMetadata;
}

export type TaskWork<R> = (context: TaskWorkContext) => Promise<{ result: R; resourceIds?: string[] }>;

export interface TaskView {
  id: string;
  action: string;
  state: 'running' | 'succeeded' | 'failed';
  resourceType: string;
  resourceIds: string[];
  operator: Actor;
  startedAt: string;
  finishedAt?: string;
  result?: unknown;
  error?: TaskError;
  /** Global position of the task's last event: pass it as `?after=` to read your writes. */
  position: number;
}

export interface StartedTask {
  taskId: string;
  /** True when an earlier request with the same Idempotency-Key started this task. */
  repeated: boolean;
}

export interface Tasks {
  /** Records the task, runs `work` in the background, records its outcome. */
  start<R>(context: RequestContext, spec: TaskSpec, work: TaskWork<R>): Promise<StartedTask>;
  /** Records the outcome of a task completed by a process manager (idempotent: a task ends once). */
  finish(taskId: string, outcome: TaskOutcome, metadata: EventMetadata): Promise<void>;
  /** Records a task refused before it ran (authorization), so that the denial is audited. */
  refuse(context: RequestContext, spec: TaskSpec, error: TaskError): Promise<string>;
  get(taskId: string): Promise<TaskView | undefined>;
  /** The task once finished, or as it stands when `timeoutMs` has passed. */
  wait(taskId: string, timeoutMs: number): Promise<TaskView | undefined>;
  /** Resolves when every task started by this process has finished. */
  drain(): Promise<void>;
}

export type TaskOutcome =
  | { ok: true; result: unknown; resourceIds?: string[] }
  | { ok: false; error: TaskError };

export interface TaskLogger {
  error(details: object, message: string): void;
}

/** Polls only find outcomes recorded by another process: this process's wake waiters at once. */
const pollIntervalMs = 250;
const maxPollIntervalMs = 2000;

export function createTasks(deps: { store: EventStore; clock: Clock; log: TaskLogger }): Tasks {
  const { store, clock, log } = deps;
  const running = new Map<string, Promise<void>>();
  /** Waiters woken when this process records a task's outcome (others' are polled). */
  const outcomeWaiters = new Map<string, Set<() => void>>();

  function notifyOutcome(taskId: string) {
    const waiters = outcomeWaiters.get(taskId);
    if (!waiters) return;
    outcomeWaiters.delete(taskId);
    for (const wake of waiters) wake();
  }

  async function start<R>(context: RequestContext, spec: TaskSpec, work: TaskWork<R>): Promise<StartedTask> {
    const request = redactSecrets(spec.request);
    const requestHash = sha256Hex(JSON.stringify({ action: spec.action, request }));
    // With an Idempotency-Key the task id is derived from it: the task stream itself is the
    // claim, so a repeat finds the first task and appends nothing.
    const taskId = context.idempotencyKey
      ? idFromName(`idempotency:${context.actor.kind}:${context.actor.id}:${context.idempotencyKey}`)
      : newId();
    const stream = taskStream(taskId);
    let startedEventId: string;
    try {
      const written = await store.append(stream, [{
        type: 'TaskStarted',
        data: {
          taskId,
          action: spec.action,
          resourceType: spec.resourceType,
          resourceIds: spec.resourceIds ?? [],
          request,
          startedAt: clock.now(),
          requestHash,
          ...(spec.completedBy ? { completedBy: spec.completedBy } : {}),
        },
        metadata: metadataFor(context, { commandId: taskId }),
      }], 'no_stream');
      startedEventId = written.events[0]!.id;
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError) || !context.idempotencyKey) throw error;
      const [first] = await store.readStream(stream, { limit: 1 });
      const firstHash = (first?.data as { requestHash?: string } | undefined)?.requestHash;
      if (firstHash !== requestHash) {
        throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was already used for a different request', 'invalid', {
          fields: [{ field: 'Idempotency-Key', message: 'already used for a different request' }],
        });
      }
      return { taskId, repeated: true };
    }

    const metadata = metadataFor(context, { commandId: taskId, causationId: startedEventId });
    const execution = runWork(taskId, work, metadata, spec.completedBy === 'process').finally(() => running.delete(taskId));
    running.set(taskId, execution);
    return { taskId, repeated: false };
  }

  async function runWork<R>(taskId: string, work: TaskWork<R>, metadata: EventMetadata, handedOver: boolean): Promise<void> {
    let outcome: { type: 'SucceedTask'; result: unknown; resourceIds?: string[]; now: number } | { type: 'FailTask'; error: TaskError; now: number };
    try {
      const done = await work({ taskId, metadata });
      if (handedOver) return; // the process manager records the outcome
      outcome = { type: 'SucceedTask', result: done.result, now: clock.now() };
      if (done.resourceIds) outcome.resourceIds = done.resourceIds;
    } catch (error) {
      outcome = { type: 'FailTask', error: taskErrorOf(error, taskId, log), now: clock.now() };
    }
    try {
      await handleCommand(store, taskDecider, taskStream(taskId), outcome, metadata);
    } catch (error) {
      log.error({ err: error, taskId }, 'could not record the outcome of a task');
    }
    notifyOutcome(taskId);
  }

  async function finish(taskId: string, outcome: TaskOutcome, metadata: EventMetadata): Promise<void> {
    const command = outcome.ok
      ? { type: 'SucceedTask' as const, result: outcome.result, now: clock.now(), ...(outcome.resourceIds ? { resourceIds: outcome.resourceIds } : {}) }
      : { type: 'FailTask' as const, error: outcome.error, now: clock.now() };
    await handleCommand(store, taskDecider, taskStream(taskId), command, metadata);
    notifyOutcome(taskId);
  }

  async function refuse(context: RequestContext, spec: TaskSpec, error: TaskError): Promise<string> {
    const taskId = newId();
    const now = clock.now();
    const metadata = metadataFor(context, { commandId: taskId });
    await store.append(taskStream(taskId), [
      {
        type: 'TaskStarted',
        data: { taskId, action: spec.action, resourceType: spec.resourceType, resourceIds: spec.resourceIds ?? [], request: redactSecrets(spec.request), startedAt: now },
        metadata,
      },
      { type: 'TaskFailed', data: { taskId, error, finishedAt: now }, metadata },
    ], 'no_stream');
    return taskId;
  }

  async function get(taskId: string): Promise<TaskView | undefined> {
    const events = await store.readStream(taskStream(taskId));
    const operator = events[0]?.metadata.actor ?? { kind: 'system', id: 'system', name: 'system' };
    return toView(fold(taskDecider, events as unknown as TaskEvent[]), operator, events[events.length - 1]?.position ?? 0);
  }

  async function wait(taskId: string, timeoutMs: number): Promise<TaskView | undefined> {
    const deadline = Date.now() + timeoutMs;
    // Polling only catches outcomes recorded by another process, so it backs off.
    let pollMs = pollIntervalMs;
    for (;;) {
      // Registered before reading, so that an outcome recorded in between is not missed:
      // this process's outcomes (its own work, a process manager's `finish`) wake it at once;
      // one recorded by another process is found by polling.
      let wake!: () => void;
      const woken = new Promise<void>((resolve) => { wake = resolve; });
      let waiters = outcomeWaiters.get(taskId);
      if (!waiters) outcomeWaiters.set(taskId, (waiters = new Set()));
      waiters.add(wake);
      try {
        const view = await get(taskId);
        if (!view || view.state !== 'running' || Date.now() >= deadline) return view;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([woken, new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.min(pollMs, Math.max(1, deadline - Date.now()))); })]);
        clearTimeout(timer);
        pollMs = Math.min(maxPollIntervalMs, pollMs * 2);
      } finally {
        waiters.delete(wake);
        if (waiters.size === 0 && outcomeWaiters.get(taskId) === waiters) outcomeWaiters.delete(taskId);
      }
    }
  }

  async function drain(): Promise<void> {
    while (running.size > 0) await Promise.allSettled([...running.values()]);
  }

  return { start, finish, refuse, get, wait, drain };
}

function taskErrorOf(error: unknown, taskId: string, log: TaskLogger): TaskError {
  if (error instanceof DomainError) {
    const taskError: TaskError = { code: error.code, message: error.message, kind: error.kind };
    if (error.details) taskError.details = error.details;
    return taskError;
  }
  log.error({ err: error, taskId }, 'task failed unexpectedly');
  return { code: 'INTERNAL_ERROR', message: 'the task failed unexpectedly; see the server log with its task id', kind: 'internal' };
}

function toView(state: TaskState, operator: Actor, position: number): TaskView | undefined {
  if (state.state === 'none') return undefined;
  const view: TaskView = {
    id: state.taskId,
    action: state.action,
    state: state.state,
    resourceType: state.resourceType,
    resourceIds: state.resourceIds,
    operator,
    startedAt: new Date(state.startedAt).toISOString(),
    position,
  };
  if (state.finishedAt !== undefined) view.finishedAt = new Date(state.finishedAt).toISOString();
  if (state.state === 'succeeded') view.result = state.result;
  if (state.error) view.error = state.error;
  return view;
}
