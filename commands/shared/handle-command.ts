import type { Decider, DomainEvent } from '../../domain/shared/decider.js';
import { fold } from '../../domain/shared/decider.js';
import type { EventMetadata, EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import { WrongExpectedVersionError } from '../../adapters/eventstore/port.js';
import { DomainError } from '../../domain/shared/errors.js';

export interface CommandOutcome<S> {
  state: S;
  /** Events written by this command (empty when the decider decided nothing). */
  events: RecordedEvent[];
  /** Global position of the last event written, or 0 when nothing was written. */
  position: number;
  /** Stream version after the command (-1 when the stream still does not exist). */
  version: number;
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
}

const defaultRetry: RetryPolicy = { attempts: 8, baseDelayMs: 2 };

/** Folds a stream with a decider: the current state and its version (-1 if absent). */
export async function loadAggregate<S, E extends DomainEvent>(
  store: EventStore,
  decider: Pick<Decider<unknown, S, E>, 'initialState' | 'evolve'>,
  stream: string,
): Promise<{ state: S; version: number }> {
  const events = await store.readStream(stream);
  return { state: fold(decider, events as unknown as E[]), version: events.length - 1 };
}

/**
 * Load → decide → append with the expected version (DESIGN.md §3). On a concurrent write
 * to the same stream, reload and decide again, a bounded number of times with jittered
 * backoff, so that a command never overwrites what it did not see.
 * `command` may be a function of the current state, for commands that depend on it.
 */
export async function handleCommand<C, S, E extends DomainEvent>(
  store: EventStore,
  decider: Decider<C, S, E>,
  stream: string,
  command: C | ((state: S) => C),
  metadata: EventMetadata,
  options: { retry?: RetryPolicy; expectedVersion?: number } = {},
): Promise<CommandOutcome<S>> {
  const retry = options.retry ?? defaultRetry;
  for (let attempt = 1; ; attempt++) {
    const { state, version } = await loadAggregate(store, decider, stream);
    // With If-Match the client decided against a version it saw: never retry past it.
    if (options.expectedVersion !== undefined && options.expectedVersion !== version) throw preconditionFailed(stream, version);
    const resolved = typeof command === 'function' ? (command as (state: S) => C)(state) : command;
    const decided = decider.decide(resolved, state);
    if (decided.length === 0) return { state, events: [], position: 0, version };
    try {
      const written = await store.append(
        stream,
        decided.map((event) => ({ type: event.type, data: event.data, metadata })),
        version < 0 ? 'no_stream' : version,
      );
      const newState = decided.reduce((current, event) => decider.evolve(current, event), state);
      return { state: newState, events: written.events, position: written.position, version: written.version };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      if (options.expectedVersion !== undefined) throw preconditionFailed(stream, error.actual);
      if (attempt >= retry.attempts) {
        throw new DomainError('CONCURRENT_MODIFICATION', `${stream} kept changing while this command was decided; retry`, 'conflict');
      }
      await sleep(jitteredDelay(retry.baseDelayMs, attempt));
    }
  }
}

function preconditionFailed(stream: string, actual: number) {
  return new DomainError('PRECONDITION_FAILED', `${stream} has changed (version ${actual})`, 'precondition', { version: actual });
}

function jitteredDelay(baseMs: number, attempt: number): number {
  const ceiling = baseMs * 2 ** Math.min(attempt, 8);
  return Math.random() * ceiling;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
