import type { AppendResult, EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { WrongExpectedVersionError } from '../../adapters/eventstore/port.js';
import type { Decider, DomainEvent } from '../../domain/shared/decider.js';
import { DomainError } from '../../domain/shared/errors.js';
import type { CommandOutcome, RetryPolicy } from './handle-command.js';

// handleCommand (load → decide → append with the expected version, retry on conflict) for
// hot streams: a host's capacity, an L3 network's IP pool, a primary storage. Three things
// make it fit for thousands of concurrent creates:
//
// - The folded state is memoized per stream: a command reads only the events written since
//   the state it holds, not the whole (ever-growing) stream. Memoization never decides
//   anything by itself: every decision is still appended at the version it saw, so a write
//   by another process is detected and the command re-decided.
// - Commands on one stream queue in this process instead of racing: N concurrent
//   reservations on one host cost N decisions, not N² conflicting attempts.
// - The commands waiting in a stream's queue are decided one after the other on the state
//   each leaves, and their events appended together, at the version the first saw: one
//   append (one disk flush) for the batch. A command refused by the decider fails alone;
//   a conflict with another process re-decides the whole batch.
//
// The cache is keyed by the EventStore object, so a restarted Stratus (a new store) or a
// test with its own store never sees another's states.

interface Entry<S> {
  state: S;
  version: number;
}

export interface AggregateCache<C, S, E extends DomainEvent> {
  /** The current state and version of a stream (-1 when it does not exist). */
  load(store: EventStore, stream: string): Promise<Entry<S>>;
  /** The state this process last saw, without reading the store (may be stale). */
  peek(store: EventStore, stream: string): Entry<S> | undefined;
  handle(
    store: EventStore,
    stream: string,
    command: C | ((state: S) => C),
    metadata: EventMetadata,
    options?: { retry?: RetryPolicy; expectedVersion?: number },
  ): Promise<CommandOutcome<S>>;
}

const defaultRetry: RetryPolicy = { attempts: 8, baseDelayMs: 2 };

export function createAggregateCache<C, S, E extends DomainEvent>(
  decider: Decider<C, S, E>,
  options: { maxStreams?: number; maxBatch?: number } = {},
): AggregateCache<C, S, E> {
  const maxStreams = options.maxStreams ?? 20_000;
  const maxBatch = options.maxBatch ?? 500;
  const states = new WeakMap<EventStore, Map<string, Entry<S>>>();
  function cacheOf(store: EventStore) {
    let cache = states.get(store);
    if (!cache) states.set(store, (cache = new Map()));
    return cache;
  }

  function remember(store: EventStore, stream: string, entry: Entry<S>) {
    const cache = cacheOf(store);
    // A load that started before a later append may finish after it: keep the newer state.
    if ((cache.get(stream)?.version ?? -1) > entry.version) return;
    // A Map iterates in insertion order: re-inserting keeps recently used streams last.
    cache.delete(stream);
    cache.set(stream, entry);
    if (cache.size > maxStreams) cache.delete(cache.keys().next().value as string);
  }

  async function load(store: EventStore, stream: string): Promise<Entry<S>> {
    const known = cacheOf(store).get(stream);
    const from = known ? known.version + 1 : 0;
    const events = await store.readStream(stream, { fromVersion: from });
    if (known && events.length === 0) return known;
    let state = known ? known.state : decider.initialState;
    for (const event of events) state = decider.evolve(state, event as unknown as E);
    const entry = { state, version: from + events.length - 1 };
    if (entry.version >= 0) remember(store, stream, entry);
    return entry;
  }

  interface Pending {
    command: C | ((state: S) => C);
    metadata: EventMetadata;
    options: { retry?: RetryPolicy; expectedVersion?: number };
    resolve: (outcome: CommandOutcome<S>) => void;
    reject: (error: unknown) => void;
  }
  const queues = new WeakMap<EventStore, Map<string, Pending[]>>();

  function enqueue(store: EventStore, stream: string, pending: Pending) {
    let byStream = queues.get(store);
    if (!byStream) queues.set(store, (byStream = new Map()));
    const queue = byStream.get(stream);
    if (queue) {
      queue.push(pending);
      return;
    }
    const fresh = [pending];
    byStream.set(stream, fresh);
    void drain(store, stream, fresh, byStream);
  }

  async function drain(store: EventStore, stream: string, queue: Pending[], byStream: Map<string, Pending[]>) {
    // Let the commands that arrive in the same turn join the first batch.
    await Promise.resolve();
    while (queue.length > 0) {
      // A command with If-Match must be decided at exactly the version its client saw: alone.
      const guarded = queue[0]!.options.expectedVersion !== undefined;
      const end = guarded ? 1 : Math.min(queue.length, maxBatch, firstGuarded(queue));
      const batch = queue.splice(0, end);
      try {
        await decideBatch(store, stream, batch);
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
    }
    byStream.delete(stream);
  }

  function firstGuarded(queue: Pending[]): number {
    const index = queue.findIndex((pending) => pending.options.expectedVersion !== undefined);
    return index < 0 ? queue.length : index;
  }

  async function decideBatch(store: EventStore, stream: string, batch: Pending[]) {
    const retry = batch[0]!.options.retry ?? defaultRetry;
    const expectedVersion = batch[0]!.options.expectedVersion;
    for (let attempt = 1; ; attempt++) {
      const { state, version } = await load(store, stream);
      if (expectedVersion !== undefined && expectedVersion !== version) throw preconditionFailed(stream, version);
      let current = state;
      const decisions: Array<{ pending: Pending; error?: unknown; from: number; count: number; state: S }> = [];
      const events: Array<{ type: string; data: unknown; metadata: EventMetadata }> = [];
      for (const pending of batch) {
        try {
          const resolved = typeof pending.command === 'function' ? (pending.command as (state: S) => C)(current) : pending.command;
          const decided = decider.decide(resolved, current);
          current = decided.reduce((folded, event) => decider.evolve(folded, event), current);
          decisions.push({ pending, from: events.length, count: decided.length, state: current });
          for (const event of decided) events.push({ type: event.type, data: event.data, metadata: pending.metadata });
        } catch (error) {
          decisions.push({ pending, error, from: events.length, count: 0, state: current });
        }
      }
      let written: AppendResult | undefined;
      if (events.length > 0) {
        try {
          written = await store.append(stream, events, version < 0 ? 'no_stream' : version);
        } catch (error) {
          if (!(error instanceof WrongExpectedVersionError)) throw error;
          if (expectedVersion !== undefined) throw preconditionFailed(stream, error.actual);
          if (attempt >= retry.attempts) {
            throw new DomainError('CONCURRENT_MODIFICATION', `${stream} kept changing while this command was decided; retry`, 'conflict');
          }
          await sleep(Math.random() * retry.baseDelayMs * 2 ** Math.min(attempt, 8));
          continue;
        }
        remember(store, stream, { state: current, version: written.version });
      }
      for (const decision of decisions) {
        if (decision.error !== undefined) {
          decision.pending.reject(decision.error);
          continue;
        }
        const own = written ? written.events.slice(decision.from, decision.from + decision.count) : [];
        decision.pending.resolve({
          state: decision.state,
          events: own,
          position: own.length > 0 ? own[own.length - 1]!.position : 0,
          version: version + decision.from + decision.count,
        });
      }
      return;
    }
  }

  return {
    load,
    peek: (store, stream) => states.get(store)?.get(stream),
    handle: (store, stream, command, metadata, handleOptions = {}) =>
      new Promise<CommandOutcome<S>>((resolve, reject) => enqueue(store, stream, { command, metadata, options: handleOptions, resolve, reject })),
  };
}

function preconditionFailed(stream: string, actual: number) {
  return new DomainError('PRECONDITION_FAILED', `${stream} has changed (version ${actual})`, 'precondition', { version: actual });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
