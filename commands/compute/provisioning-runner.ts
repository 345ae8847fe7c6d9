import type { EventStore, RecordedEvent, Subscription } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';

// A process manager's engine (DESIGN.md §3): a checkpointed subscription that hands each
// event it handles to `handle`, which turns it into commands. Events of different streams
// are handled concurrently (thousands of VMs are provisioned at once); events of one stream
// in order. The checkpoint is the low-water mark: the position before the oldest event not
// yet handled, so after a crash every event that might not have been handled is handled
// again — handlers are idempotent (their commands are derived from the event, results are
// de-duplicated by the deciders). A failing handler is retried with backoff, never skipped.

export interface ProcessContext {
  /**
   * True when the event may already have been (partly) handled: it is redelivered after a
   * restart, or retried after a failure. A handler whose effects are not keyed by the event
   * (a placement choosing among hosts) looks for what an earlier attempt left behind.
   */
  suspect: boolean;
}

export interface ProcessLogger {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface ProcessRunner {
  start(): Promise<void>;
  /** Stops taking events; handlers under way finish (or are left for the next start). */
  stop(): Promise<void>;
  /** Resolves once every event up to the store's head at call time has been handled. */
  drained(timeoutMs?: number): Promise<boolean>;
  /** Events being handled now. */
  inFlight(): number;
}

export function createProcessRunner(deps: {
  name: string;
  eventStore: EventStore;
  readStore: ReadStore;
  log: ProcessLogger;
  handles: readonly string[];
  handle(event: RecordedEvent, context: ProcessContext): Promise<void>;
  /** Events handled at once at most (backpressure on the subscription). */
  maxInFlight?: number;
  batchSize?: number;
  /** A stretch of events none of which is handled still moves the stored checkpoint past this many. */
  checkpointEvery?: number;
}): ProcessRunner {
  const { eventStore, readStore, log } = deps;
  const checkpointName = `process:${deps.name}`;
  const handles = new Set(deps.handles);
  const maxInFlight = deps.maxInFlight ?? 20_000;
  const checkpointEvery = deps.checkpointEvery ?? 10_000;

  let subscription: Subscription | undefined;
  let stopped = false;
  /** Events up to this position were delivered (relevant or not). */
  let seen = 0;
  /** Positions at or below this were (re)delivered by a previous run: suspect. */
  let headAtStart = 0;
  /** Positions being handled, in delivery (= position) order; `head` is the oldest not done. */
  let pending: number[] = [];
  let head = 0;
  const done = new Set<number>();
  const chains = new Map<string, Promise<void>>();
  let slotWaiters: Array<() => void> = [];
  let drainWaiters: Array<{ position: number; resolve: (ok: boolean) => void }> = [];

  let stored = 0;
  let storing: Promise<void> | undefined;
  let storeAgain = false;

  const inFlight = () => pending.length - head;
  const lowWaterMark = () => (inFlight() > 0 ? pending[head]! - 1 : seen);

  function persist() {
    if (storing) {
      storeAgain = true;
      return;
    }
    const target = lowWaterMark();
    if (target <= stored) return;
    storing = readStore.commit(checkpointName, target, async () => {})
      .then(() => { stored = Math.max(stored, target); })
      .catch((error: unknown) => log.error({ err: error, process: deps.name }, 'could not store the process checkpoint'))
      .finally(() => {
        storing = undefined;
        if (storeAgain) {
          storeAgain = false;
          persist();
        }
      });
  }

  function settleWaiters() {
    const mark = lowWaterMark();
    if (drainWaiters.length > 0) {
      drainWaiters = drainWaiters.filter((waiter) => {
        if (mark < waiter.position) return true;
        waiter.resolve(true);
        return false;
      });
    }
    if (inFlight() < maxInFlight && slotWaiters.length > 0) {
      const waiters = slotWaiters;
      slotWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  function finished(position: number) {
    done.add(position);
    while (head < pending.length && done.has(pending[head]!)) {
      done.delete(pending[head]!);
      head++;
    }
    if (head > 4096 && head * 2 > pending.length) {
      pending = pending.slice(head);
      head = 0;
    }
    if (!stopped) persist();
    settleWaiters();
  }

  async function handleWithRetry(event: RecordedEvent) {
    for (let attempt = 1; ; attempt++) {
      if (stopped) return false;
      try {
        await deps.handle(event, { suspect: attempt > 1 || event.position <= headAtStart });
        return true;
      } catch (error) {
        if (stopped) return false;
        const delay = Math.min(5000, 20 * 2 ** Math.min(attempt, 8));
        const details = { err: error, process: deps.name, eventType: event.type, stream: event.stream, position: event.position, attempt };
        if (attempt >= 5) log.error(details, 'process handler keeps failing; retrying');
        else log.warn(details, 'process handler failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  function schedule(event: RecordedEvent) {
    pending.push(event.position);
    const previous = chains.get(event.stream) ?? Promise.resolve();
    const run = previous.then(() => handleWithRetry(event)).then((handled) => {
      // An event abandoned by a stop stays pending: the checkpoint never passes it.
      if (handled) finished(event.position);
    });
    chains.set(event.stream, run);
    void run.then(() => { if (chains.get(event.stream) === run) chains.delete(event.stream); });
  }

  async function onEvents(events: RecordedEvent[]) {
    for (const event of events) {
      if (stopped) return;
      if (handles.has(event.type)) {
        while (inFlight() >= maxInFlight && !stopped) await new Promise<void>((resolve) => slotWaiters.push(resolve));
        schedule(event);
      }
      seen = event.position;
    }
    // Events this process does not handle only move the checkpoint in memory (a read-store
    // commit per batch, for each of several processes, was most of the commits of a VM
    // create); a handled event's completion or a long irrelevant stretch stores it. After a
    // crash the irrelevant events since the stored checkpoint are read again: harmless.
    if (inFlight() === 0 && seen - stored >= checkpointEvery) persist();
    settleWaiters();
  }

  return {
    async start() {
      stopped = false;
      const checkpoint = await readStore.checkpoint(checkpointName);
      stored = checkpoint?.position ?? 0;
      seen = stored;
      headAtStart = await eventStore.headPosition();
      subscription = eventStore.subscribeToAll({
        after: stored,
        batchSize: deps.batchSize ?? 1000,
        onEvents,
        onError: (error) => log.error({ err: error, process: deps.name }, 'process subscription stopped on an error'),
      });
    },

    async stop() {
      stopped = true;
      for (const wake of slotWaiters) wake();
      slotWaiters = [];
      await subscription?.stop();
      subscription = undefined;
      await Promise.allSettled([...chains.values()]);
      while (storing) await storing;
      // What was seen but not stored (an irrelevant stretch) is stored on a clean stop.
      persist();
      while (storing) await storing;
      for (const waiter of drainWaiters) waiter.resolve(false);
      drainWaiters = [];
    },

    async drained(timeoutMs = 30_000) {
      if (stopped || !subscription) return false;
      const target = await eventStore.headPosition();
      if (lowWaterMark() >= target) return true;
      // stop() may have run during the await: it resolves only the waiters it saw.
      if (stopped) return false;
      return new Promise<boolean>((resolve) => {
        const waiter = { position: target, resolve };
        drainWaiters.push(waiter);
        setTimeout(() => {
          drainWaiters = drainWaiters.filter((other) => other !== waiter);
          resolve(lowWaterMark() >= target);
        }, timeoutMs).unref();
      });
    },

    inFlight,
  };
}
