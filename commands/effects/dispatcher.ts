// The effect dispatcher (DESIGN.md §6): an outbox fed by a checkpointed subscription to the
// event store. For each committed event, the routes that handle its type derive effects;
// the effects are recorded `pending` in the outbox in the SAME read-store commit as the
// dispatcher's checkpoint, then published to their host's topic, keyed by their order key
// (`orderKeyOf`: the VM they concern, else their volume, else the host), so that one VM's
// operations run in order while different VMs of a host proceed at once. Results come back on the
// results topic (or as a synthetic OPERATION_TIMEOUT from the timeout job) and are handed
// to the route's `onResult`; the effect is marked `done` once that succeeded.
//
// Guarantees: an effect is derived once per event (the checkpoint moves with it), published
// at least once (pending effects are published again on start; agents de-duplicate by
// operation id and operations are idempotent), and its route hears of its outcome at least
// once (onResult is idempotent) — exactly one outcome per effect is ever accepted: the
// first of result and timeout.
//
// Cost on the hot path: the subscription wakes on commit; one read-store commit per batch
// of events (not per effect); results are marked done in batches, one commit per flush.
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import type { Bus, BusSubscription, DeliveredMessage } from '../../adapters/bus/port.js';
import type { OperationOutcome } from '../../adapters/hypervisor/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { readSetting } from '../settings/settings.js';
import { createCheckpointedSubscriber } from '../shared/checkpointed-subscriber.js';
import { systemActor } from '../shared/request-context.js';
import type { DueJob } from '../shared/timer-loop.js';
import {
  hostTopic,
  orderKeyOf,
  resultsTopic,
  type EffectCommand,
  type EffectDeps,
  type EffectLogger,
  type EffectResult,
  type EffectResultMessage,
  type EffectRoute,
  type RecordedEffect,
} from './effect.js';
import {
  dispatcherCheckpoint,
  doneRetentionMs,
  maxEffectsPerEvent,
  effectOf,
  outboxCollection,
  outboxDoc,
  outboxIndexes,
  resultsCheckpoint,
  type OutboxDoc,
} from './outbox.js';

export const dispatcherGroup = 'effect-dispatcher';
export const operationTimeoutSetting = 'effect.operationTimeout';

export interface EffectDispatcher {
  /** Publishes what is pending, then follows the event store from its checkpoint. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Gives every pending effect past its deadline a failed OPERATION_TIMEOUT outcome. */
  timeoutJob: DueJob;
  /** Removes effects done longer than the retention ago. */
  pruneJob: DueJob;
  /** Resolves once the effect is done (its outcome handled), or false after `timeoutMs`. */
  waitForDone(operationId: string, timeoutMs: number): Promise<boolean>;
  /** Resolves once the dispatcher has derived the effects of every event up to `position`. */
  waitForPosition(position: number, timeoutMs: number): Promise<boolean>;
  /** Effects published and not yet done, as this process knows them. */
  inFlight(): number;
}

export interface DispatcherDeps {
  eventStore: EventStore;
  readStore: ReadStore;
  bus: Bus;
  clock: Clock;
  routes: readonly EffectRoute[];
  log: EffectLogger;
  batchSize?: number;
  /** An irrelevant stretch of events longer than this still moves the stored checkpoint. */
  checkpointEvery?: number;
}

export function createEffectDispatcher(deps: DispatcherDeps): EffectDispatcher {
  const { eventStore, readStore, bus, clock, log } = deps;
  const routesByType = new Map<string, EffectRoute[]>();
  const routesByName = new Map<string, EffectRoute>();
  for (const route of deps.routes) {
    if (routesByName.has(route.name)) throw new Error(`two effect routes are named ${route.name}`);
    routesByName.set(route.name, route);
    for (const type of route.handles) routesByType.set(type, [...(routesByType.get(type) ?? []), route]);
  }
  const effectDeps: EffectDeps = { eventStore, readStore, clock, log };
  const checkpointEvery = deps.checkpointEvery ?? 10_000;

  let results: BusSubscription | undefined;
  let storedPosition = 0;
  /** Effects whose outcome is being handled here, so that result and timeout never both run. */
  const settling = new Map<string, Promise<void>>();
  let published = 0;
  let doneWaiters = new Map<string, Array<(done: boolean) => void>>();
  const doneBatch = createDoneBatcher(readStore, log, (ids) => {
    published = Math.max(0, published - ids.length);
    for (const id of ids) {
      const waiters = doneWaiters.get(id);
      if (!waiters) continue;
      doneWaiters.delete(id);
      for (const resolve of waiters) resolve(true);
    }
  });

  // --- deriving and publishing ----------------------------------------------------------

  async function operationTimeoutMs(): Promise<number> {
    return Number(await readSetting(eventStore, operationTimeoutSetting)) * 1000;
  }

  /**
   * The effects of one event. Their deadline counts from the event, not from now: an event
   * seen late (after a long stop, or when the read store was lost and the dispatcher starts
   * over from position 0) gives effects that are already overdue. Those are never published;
   * the timeout job hands their routes OPERATION_TIMEOUT, which a route ignores when its
   * aggregate has moved on, or uses to compensate when it is still waiting. The deadline
   * includes any wait for a free slot on the host (agent.ts says why).
   */
  function derive(event: RecordedEvent, timeoutMs: number): RecordedEffect[] {
    const issuedAt = event.recordedAt;
    const routes = routesByType.get(event.type);
    if (!routes) return [];
    const effects: RecordedEffect[] = [];
    let rank = 0;
    for (const route of routes) {
      let derived;
      try {
        derived = route.effectsOf(event);
      } catch (error) {
        // A bug in one route must not stop every other effect: skip this event for it, loudly.
        log.error({ err: error, route: route.name, eventId: event.id, eventType: event.type }, 'effect route failed to derive effects; event skipped for this route');
        continue;
      }
      if (rank + derived.length > maxEffectsPerEvent) {
        log.error({ route: route.name, eventId: event.id, count: derived.length }, `an event may ask for at most ${maxEffectsPerEvent} effects; event skipped for this route`);
        continue;
      }
      for (const effect of derived) {
        const recorded: RecordedEffect = {
          ...effect,
          route: route.name,
          causationId: event.id,
          causationStream: event.stream,
          causationType: event.type,
          orderKey: orderKeyOf(effect, event),
          sequence: event.position * maxEffectsPerEvent + rank++,
          issuedAt,
          deadline: issuedAt + timeoutMs,
        };
        if (event.metadata.correlationId) recorded.correlationId = event.metadata.correlationId;
        effects.push(recorded);
      }
    }
    return effects;
  }

  function commandOf(effect: RecordedEffect): EffectCommand {
    const command: EffectCommand = {
      operationId: effect.operationId,
      route: effect.route,
      hostId: effect.hostId,
      operation: effect.operation,
      deadline: effect.deadline,
    };
    if (effect.correlationId) command.correlationId = effect.correlationId;
    if (effect.resultKey) command.resultKey = effect.resultKey;
    return command;
  }

  async function publish(all: readonly RecordedEffect[]) {
    const now = clock.now();
    const effects = all.filter((effect) => effect.deadline > now);
    if (effects.length < all.length) log.warn({ count: all.length - effects.length }, 'effects already past their deadline are not published; they time out');
    if (effects.length === 0) return;
    const messages = effects.map((effect) => ({
      topic: hostTopic(effect.hostId),
      // An effect recorded before order keys existed keeps the host's key (its old order).
      key: effect.orderKey ?? effect.hostId,
      value: commandOf(effect),
      headers: { operationId: effect.operationId },
    }));
    // The effects are safe in the outbox: if the bus refuses, keep trying (backpressure on
    // the subscription) rather than leave them to time out.
    for (let attempt = 1; ; attempt++) {
      try {
        await bus.publish(messages);
        published += effects.length;
        return;
      } catch (error) {
        if (subscriber.stopped()) return;
        log.error({ err: error, attempt, count: effects.length }, 'could not publish effects; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 50 * 2 ** Math.min(attempt, 7))));
      }
    }
  }

  async function onEvents(events: RecordedEvent[]) {
    const last = events[events.length - 1]!.position;
    const relevant = events.filter((event) => routesByType.has(event.type));
    let effects: RecordedEffect[] = [];
    if (relevant.length > 0) {
      const timeoutMs = await operationTimeoutMs();
      for (const event of relevant) effects.push(...derive(event, timeoutMs));
    }
    if (effects.length > 0 || last - storedPosition >= checkpointEvery) {
      const fresh: RecordedEffect[] = [];
      await readStore.commit(dispatcherCheckpoint, last, async (batch) => {
        for (const effect of effects) {
          // Two events deriving the same operation id is a route bug; never reset a done effect.
          if (await batch.get(outboxCollection, effect.operationId)) continue;
          batch.upsert(outboxCollection, outboxDoc(effect));
          fresh.push(effect);
        }
      });
      storedPosition = last;
      effects = fresh;
    }
    await publish(effects);
  }

  const subscriber = createCheckpointedSubscriber({
    eventStore,
    readStore,
    checkpoint: dispatcherCheckpoint,
    onEvents,
    name: 'effect dispatcher',
    log,
    batchSize: deps.batchSize ?? 1000,
  });

  /** Publishes every pending effect again, in issue order (each order key keeps its order). */
  async function republishPending() {
    let after = -1;
    for (;;) {
      const page = await readStore.find(outboxCollection, { state: 'pending', sequence: { $gt: after } }, { sort: [['sequence', 1]], limit: 1000 }) as OutboxDoc[];
      if (page.length === 0) return;
      await publish(page.map(effectOf));
      after = page[page.length - 1]!.sequence;
      if (page.length < 1000) return;
    }
  }

  // --- outcomes -------------------------------------------------------------------------

  /**
   * Hands an outcome to its route once; later outcomes of the same effect are ignored.
   * Resolves once the route has handled it; the `done` mark is committed after that, in a
   * batch, without holding up the next result. Until it is committed this process still
   * knows the effect is being settled; after a crash the effect is simply still pending:
   * published again, answered again by the idempotent operation, handled again idempotently.
   */
  async function settle(operationId: string, outcome: OperationOutcome, completedAt: number): Promise<void> {
    for (;;) {
      const running = settling.get(operationId);
      if (!running) break;
      await running.catch(() => undefined);
    }
    let routeHandled!: () => void;
    let routeFailed!: (error: unknown) => void;
    const handled = new Promise<void>((resolve, reject) => { routeHandled = resolve; routeFailed = reject; });
    const work = (async () => {
      const doc = await readStore.get(outboxCollection, operationId) as OutboxDoc | undefined;
      if (!doc || doc.state !== 'pending') return;
      const effect = effectOf(doc);
      const route = routesByName.get(effect.route);
      if (route) {
        await route.onResult({
          effect,
          outcome: outcome as EffectResult['outcome'],
          completedAt,
          metadata: {
            causationId: effect.operationId,
            correlationId: effect.correlationId ?? effect.operationId,
            actor: systemActor,
            schemaVersion: 1,
          },
        }, effectDeps);
      } else {
        log.error({ route: effect.route, operationId }, 'no effect route of this name any more; outcome dropped');
      }
      if (!outcome.ok) log.warn({ operationId, route: effect.route, hostId: effect.hostId, op: effect.operation.op, code: outcome.error.code }, 'hypervisor operation failed');
      routeHandled();
      await doneBatch.add({ id: operationId, outcome, completedAt });
    })();
    settling.set(operationId, work);
    work.then(routeHandled, routeFailed).finally(() => settling.delete(operationId));
    await handled;
  }

  async function onResultMessage(message: DeliveredMessage<EffectResultMessage>) {
    const result = message.value;
    await settle(result.operationId, result.outcome, result.completedAt);
  }

  const timeoutJob: DueJob = {
    name: 'effect-timeouts',
    async run(now) {
      for (;;) {
        const overdue = await readStore.find(outboxCollection, { state: 'pending', deadline: { $lte: now } }, { sort: [['deadline', 1]], limit: 500 }) as OutboxDoc[];
        let settled = 0;
        for (const doc of overdue) {
          if (settling.has(doc.id)) continue;
          const seconds = Math.round((doc.deadline - doc.issuedAt) / 1000);
          await settle(doc.id, {
            ok: false,
            error: { code: 'OPERATION_TIMEOUT', message: `${doc.operation.op} on host ${doc.hostId} got no answer within ${seconds} s` },
          }, now).then(() => { settled++; }, (error: unknown) => {
            log.error({ err: error, operationId: doc.id }, 'could not hand a timed-out effect to its route; tried again on the next tick');
          });
        }
        if (overdue.length < 500 || settled === 0) return;
      }
    },
  };

  const pruneJob: DueJob = {
    name: 'effect-outbox-prune',
    async run(now) {
      for (;;) {
        const old = await readStore.find(outboxCollection, { state: 'done', completedAt: { $lt: now - doneRetentionMs } }, { limit: 1000 });
        if (old.length === 0) return;
        await readStore.commit(resultsCheckpoint, 0, async (batch) => {
          for (const doc of old) batch.delete(outboxCollection, doc.id);
        });
        if (old.length < 1000) return;
      }
    },
  };

  return {
    async start() {
      for (const { fields, multiValued } of outboxIndexes) {
        await readStore.ensureIndex(outboxCollection, multiValued ? { fields, multiValued } : { fields });
      }
      // A route that fails on a result (a conflict under load, a store hiccup) gets it again,
      // for a good while: a dead-lettered result leaves its effect to time out.
      results = await bus.subscribe<EffectResultMessage>({ topic: resultsTopic, group: dispatcherGroup, handler: onResultMessage, maxAttempts: 20 });
      await republishPending();
      storedPosition = await subscriber.start();
    },

    async stop() {
      await subscriber.stop();
      await results?.stop();
      results = undefined;
      await Promise.allSettled([...settling.values()]);
      await doneBatch.flush();
      doneBatch.close();
      for (const waiters of doneWaiters.values()) for (const resolve of waiters) resolve(false);
      doneWaiters = new Map();
    },

    timeoutJob,
    pruneJob,

    waitForDone(operationId, timeoutMs) {
      // Listen first, then look: a commit landing in between is not missed.
      let settle!: (done: boolean) => void;
      const done = new Promise<boolean>((resolve) => { settle = resolve; });
      const forget = () => {
        const waiters = doneWaiters.get(operationId)?.filter((waiter) => waiter !== settle);
        if (waiters && waiters.length > 0) doneWaiters.set(operationId, waiters);
        else doneWaiters.delete(operationId);
      };
      doneWaiters.set(operationId, [...(doneWaiters.get(operationId) ?? []), settle]);
      const timer = setTimeout(() => { forget(); settle(false); }, timeoutMs);
      timer.unref();
      void readStore.get(outboxCollection, operationId).then((doc) => {
        if ((doc as OutboxDoc | undefined)?.state === 'done') settle(true);
      }, () => undefined);
      return done.finally(() => { clearTimeout(timer); forget(); });
    },

    waitForPosition: (target, timeoutMs) => subscriber.waitForPosition(target, timeoutMs),

    inFlight: () => published,
  };
}

interface DoneEntry {
  id: string;
  outcome: OperationOutcome;
  completedAt: number;
}

/**
 * Marks effects done in batches: everything added while a commit runs goes into the next
 * one. `add` resolves once its entry is committed, so a result is acknowledged to the bus
 * only when it can no longer be lost.
 */
function createDoneBatcher(readStore: ReadStore, log: EffectLogger, onCommitted: (ids: string[]) => void) {
  let queue: Array<DoneEntry & { resolve: () => void }> = [];
  let running: Promise<void> | undefined;
  let closed = false;

  async function drain() {
    while (queue.length > 0) {
      const entries = queue;
      queue = [];
      try {
        await readStore.commit(resultsCheckpoint, 0, async (batch) => {
          for (const entry of entries) {
            const fields: Record<string, unknown> = { state: 'done', completedAt: entry.completedAt, ok: entry.outcome.ok };
            if (!entry.outcome.ok) fields.error = entry.outcome.error;
            batch.patch(outboxCollection, entry.id, fields);
          }
        });
      } catch (error) {
        if (closed) return;
        // The routes have handled these outcomes: they must be marked, or a timeout would
        // hand them a second one. Keep them and try again shortly.
        log.error({ err: error, count: entries.length }, 'could not mark effects done; retrying');
        queue = [...entries, ...queue];
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      onCommitted(entries.map((entry) => entry.id));
      for (const entry of entries) entry.resolve();
    }
  }

  function kick() {
    if (running) return;
    running = new Promise<void>((resolve) => setImmediate(resolve)).then(drain).finally(() => {
      running = undefined;
      if (queue.length > 0 && !closed) kick();
    });
  }

  return {
    /** Resolves once the entry is committed. */
    add(entry: DoneEntry): Promise<void> {
      return new Promise<void>((resolve) => {
        queue.push({ ...entry, resolve });
        kick();
      });
    },
    async flush() {
      while ((running || queue.length > 0) && !closed) {
        kick();
        await running;
      }
    },
    close() {
      closed = true;
    },
  };
}
