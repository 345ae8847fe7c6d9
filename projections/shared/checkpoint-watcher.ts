// Where the projections stand, for a process that does not run them (`stratus serve` in the
// scale-out shape, where `stratus project` workers apply them): the ProjectionRunner the
// API reads its writes through (`?after=`, `runner.waitFor`), answered from the
// checkpoints in the read store.
//
// A worker stores a projection's checkpoint only with a batch that changed it, so a
// projection whose events are rare lags behind in the store while it is in fact current.
// The watcher therefore also reads the events between a projection's stored checkpoint and
// the position waited for: if none of them is of a type the projection handles, it has
// reached that position as far as any reader can tell.
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import type { Projection } from './projection.js';
import type { ProjectionRunner, RunnerLogger } from './runner.js';

interface Waiter {
  position: number;
  projection: string | undefined;
  resolve: (reached: boolean) => void;
}

/** Most events read to show that a lagging checkpoint has nothing left to apply. */
const MAX_GAP = 20_000;

export function createCheckpointWatcher(deps: {
  eventStore: EventStore;
  readStore: ReadStore;
  projections: readonly Projection[];
  log: RunnerLogger;
  /** How often the store is asked while someone waits. */
  pollMs?: number;
  /** How often otherwise (positions for /metrics and /readyz). */
  idleMs?: number;
}): ProjectionRunner {
  const { eventStore, readStore, projections, log } = deps;
  const pollMs = deps.pollMs ?? 50;
  const idleMs = deps.idleMs ?? 5_000;
  const reached = new Map<string, number>(projections.map((projection) => [projection.name, 0]));
  let waiters: Waiter[] = [];
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  let polling: Promise<void> | undefined;

  const hasReached = (position: number, projection?: string) =>
    (projection ? [projection] : [...reached.keys()]).every((name) => (reached.get(name) ?? 0) >= position);

  async function poll() {
    const target = waiters.length > 0 ? Math.max(...waiters.map((waiter) => waiter.position)) : await eventStore.headPosition();
    const wanted = new Set(waiters.length > 0 && waiters.every((waiter) => waiter.projection) ? waiters.map((waiter) => waiter.projection!) : reached.keys());
    const lagging: Array<{ projection: Projection; position: number }> = [];
    for (const projection of projections) {
      if (!wanted.has(projection.name)) continue;
      const checkpoint = await readStore.checkpoint(projection.name);
      const position = checkpoint?.version === projection.version ? checkpoint.position : 0;
      reached.set(projection.name, position);
      if (position < target) lagging.push({ projection, position });
    }
    const from = Math.min(...lagging.map((entry) => entry.position));
    if (lagging.length > 0 && target - from <= MAX_GAP) {
      const events = (await eventStore.readAll({ after: from, limit: target - from })).filter((event) => event.position <= target);
      const complete = events.length > 0 && events[events.length - 1]!.position === target;
      for (const { projection, position } of lagging) {
        const handles = new Set(projection.handles);
        const next = events.find((event) => event.position > position && handles.has(event.type));
        if (next) reached.set(projection.name, Math.max(reached.get(projection.name) ?? 0, next.position - 1));
        else if (complete) reached.set(projection.name, Math.max(reached.get(projection.name) ?? 0, target));
      }
    }
    waiters = waiters.filter((waiter) => {
      if (!hasReached(waiter.position, waiter.projection)) return true;
      waiter.resolve(true);
      return false;
    });
  }

  function schedule(delay: number) {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      polling ??= poll()
        .catch((error: unknown) => log.error({ err: error }, 'could not read the projections\' checkpoints'))
        .finally(() => {
          polling = undefined;
          schedule(waiters.length > 0 ? pollMs : idleMs);
        });
    }, delay);
    timer.unref?.();
  }

  return {
    async start() {
      stopped = false;
      await poll().catch((error: unknown) => log.error({ err: error }, 'could not read the projections\' checkpoints'));
      schedule(idleMs);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await polling;
      for (const waiter of waiters) waiter.resolve(false);
      waiters = [];
    },
    waitFor(position, timeoutMs, projection) {
      if (hasReached(position, projection)) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const waiter: Waiter = { position, projection, resolve };
        waiters.push(waiter);
        if (!polling) schedule(0);
        setTimeout(() => {
          waiters = waiters.filter((w) => w !== waiter);
          resolve(hasReached(position, projection));
        }, timeoutMs).unref();
      });
    },
    positions: () => new Map(reached),
  };
}
