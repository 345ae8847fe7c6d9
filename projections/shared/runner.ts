import type { EventStore, RecordedEvent, Subscription } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { createPositionWaiters } from './position-waiters.js';
import { canRebuildInParallel, rebuildInParallel, type ParallelRebuildOptions } from './parallel-rebuild.js';
import type { Projection } from './projection.js';

export interface RunnerLogger {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface ProjectionRunner {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves true once every projection (or the named one) has applied `position`, false on timeout. */
  waitFor(position: number, timeoutMs: number, projection?: string): Promise<boolean>;
  /** Position each projection has reached. */
  positions(): Map<string, number>;
}

/**
 * Runs projections live: each one subscribes from its checkpoint, applies batches and
 * commits documents and checkpoint together. A projection whose version changed is rebuilt
 * from zero. Indexes are created once a projection has caught up: building them over the
 * finished table is much faster than maintaining them row by row during a rebuild.
 */
export function createProjectionRunner(deps: {
  eventStore: EventStore;
  readStore: ReadStore;
  projections: readonly Projection[];
  log: RunnerLogger;
  batchSize?: number;
  /** Told after each batch where every projection stands (the projection thread posts it on). */
  onApplied?: (positions: ReadonlyMap<string, number>) => void;
}): ProjectionRunner {
  const { eventStore, readStore, projections, log } = deps;
  const reached = createPositionWaiters(projections.map((projection) => projection.name));
  const subscriptions: Subscription[] = [];

  /** Where each projection stands; `failed` ones stay behind until the next start. */
  const states = new Map<string, { projection: Projection; position: number; indexed: boolean; failed: boolean; handles: Set<string> }>();

  async function prepare(projection: Projection, head: number) {
    const checkpoint = await readStore.checkpoint(projection.name);
    if (checkpoint && checkpoint.version !== projection.version) {
      log.info({ projection: projection.name, from: checkpoint.version, to: projection.version }, 'projection version changed: rebuilding');
    }
    if (!checkpoint || checkpoint.version !== projection.version) {
      await readStore.reset(projection.name, projection.collections, projection.version);
    }
    const position = checkpoint?.version === projection.version ? checkpoint.position : 0;
    reached.set(projection.name, position);
    const indexed = position >= head;
    if (indexed) await ensureIndexes(readStore, projection);
    states.set(projection.name, { projection, position, indexed, failed: false, handles: new Set(projection.handles) });
  }

  /**
   * One subscription feeds every projection: each batch is read and decoded once, however
   * many read models there are. A projection applies the events after its own position;
   * one that fails is logged and left behind without stopping the others.
   */
  async function applyBatch(events: RecordedEvent[], head: number) {
    const last = events[events.length - 1]!.position;
    for (const state of states.values()) {
      if (state.failed || state.position >= last) continue;
      const { projection } = state;
      const relevant = events.filter((event) => event.position > state.position && state.handles.has(event.type));
      try {
        if (relevant.length > 0) {
          await readStore.commit(projection.name, last, async (batch) => {
            for (const event of relevant) await projection.apply(event, batch);
          });
        }
        // A batch of nothing relevant only moves the position in memory; the next
        // relevant batch persists it (re-reading skipped events after a restart is harmless).
        state.position = last;
        reached.set(projection.name, last);
        if (!state.indexed && last >= head) {
          await ensureIndexes(readStore, projection);
          state.indexed = true;
        }
      } catch (error) {
        state.failed = true;
        log.error({ err: error, projection: projection.name }, 'projection stopped on an error');
      }
    }
    reached.notify();
    deps.onApplied?.(reached.positions());
  }

  return {
    async start() {
      const head = await eventStore.headPosition();
      for (const projection of projections) await prepare(projection, head);
      const from = Math.min(...[...states.values()].map((state) => state.position));
      subscriptions.push(eventStore.subscribeToAll({
        after: Number.isFinite(from) ? from : head,
        batchSize: deps.batchSize ?? 2000,
        onEvents: (events) => applyBatch(events, head),
        onError: (error) => log.error({ err: error }, 'projections stopped on an error of the event store'),
      }));
    },
    async stop() {
      await Promise.all(subscriptions.splice(0).map((subscription) => subscription.stop()));
      reached.releaseAll();
    },
    waitFor: reached.waitFor,
    positions: reached.positions,
  };
}

export async function ensureIndexes(readStore: ReadStore, projection: Projection) {
  for (const { collection, ...spec } of projection.indexes) await readStore.ensureIndex(collection, spec);
}

/**
 * Events per batch of a rebuild. Small enough that a batch's events and documents die young
 * (the scavenger copies whatever is live, and a batch of 5,000 kept ~10 MB live through many
 * scavenges), large enough that the per-batch costs (a transaction, a read ahead) are noise.
 */
const REBUILD_BATCH = 1000;

/**
 * Builds a projection from position zero into `target` up to `until`, reporting progress.
 * Used by `stratus replay` and by tests that compare a live model with a rebuild. With
 * `parallel`, a projection that declares `parallelRebuild` is applied by worker threads
 * (parallel-rebuild.ts) when the log is long enough; the result is the same.
 */
export async function rebuildProjection(deps: {
  eventStore: EventStore;
  target: ReadStore;
  projection: Projection;
  until: number;
  batchSize?: number;
  onProgress?: (position: number) => void;
  /**
   * Where worker threads can read the event store: with it, a projection that declares
   * `parallelRebuild` is rebuilt by several threads at once (parallel-rebuild.ts).
   */
  parallel?: ParallelRebuildOptions;
}): Promise<void> {
  const { eventStore, target, projection, until } = deps;
  const batchSize = deps.batchSize ?? REBUILD_BATCH;
  await target.reset(projection.name, projection.collections, projection.version);
  const handles = new Set(projection.handles);
  let after = 0;
  if (canRebuildInParallel(projection, until, deps.parallel)) {
    after = await rebuildInParallel({ target, projection, until, options: deps.parallel, onProgress: deps.onProgress });
  }
  while (after < until) {
    const events: RecordedEvent[] = (await eventStore.readAll({ after, limit: batchSize })).filter((event) => event.position <= until);
    if (events.length === 0) break;
    const last = events[events.length - 1]!.position;
    const relevant = events.filter((event) => handles.has(event.type));
    await target.commit(projection.name, last, async (batch) => {
      for (const event of relevant) await projection.apply(event, batch);
    });
    after = last;
    deps.onProgress?.(after);
  }
  // A scratch target may still be writing in the background: reading its checkpoint waits
  // for that and reports a failed write here rather than at the next use of the target.
  const reached = (await target.checkpoint(projection.name))?.position ?? 0;
  if (reached !== after) throw new Error(`rebuild of ${projection.name}: the target's checkpoint is ${reached}, expected ${after}`);
  await ensureIndexes(target, projection);
}
