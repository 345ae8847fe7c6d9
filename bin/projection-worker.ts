// `stratus project`: a projection worker of the scale-out shape. Each projection runs on
// exactly one worker at a time, the one holding its lease `projection:<name>` in the read
// store (commands/shared/lease-keeper.ts). A worker takes every free lease of the
// projections it is given (all by default, or STRATUS_PROJECTIONS / --projections to split
// the load across workers); the others stand by and take a projection over when its
// holder dies and its lease runs out.
//
// The projections held run in one projection runner (one subscription for all of them),
// started again whenever the held set changes. Losing a lease stops that projection at
// once: the read store the runner writes through refuses every commit and reset of a
// projection whose lease is not held now (the runner then leaves it behind, logged), and
// the runner is restarted without it. A commit that started just before the loss may still
// land; a MongoDB read store makes that harmless (each document carries the position that
// last wrote it, so the new holder's replay of the same events changes nothing).
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../adapters/clock/port.js';
import type { EventStore } from '../adapters/eventstore/port.js';
import type { ReadStore } from '../adapters/readstore/port.js';
import { createLeaseKeeper, type LeaseKeeper, type LeaseKeeperLogger } from '../commands/shared/lease-keeper.js';
import type { Projection } from '../projections/shared/projection.js';
import { createProjectionRunner, type ProjectionRunner, type RunnerLogger } from '../projections/shared/runner.js';

export const projectionLease = (name: string) => `projection:${name}`;

export class LeaseNotHeldError extends Error {
  readonly code = 'LEASE_NOT_HELD';
  constructor(readonly projection: string) {
    super(`this worker does not hold the lease of projection ${projection} (any more): not written`);
    this.name = 'LeaseNotHeldError';
  }
}

/** The read store as a worker may write it: only projections whose lease it holds now. */
export function fencedReadStore(inner: ReadStore, holds: (projection: string) => boolean): ReadStore {
  return {
    get: (collection, id) => inner.get(collection, id),
    find: (collection, filter, options) => inner.find(collection, filter, options),
    count: (collection, filter) => inner.count(collection, filter),
    ensureIndex: (collection, spec) => inner.ensureIndex(collection, spec),
    checkpoint: (projection) => inner.checkpoint(projection),
    scan: (collection, batchSize) => inner.scan(collection, batchSize),
    acquireLease: (name, holder, now, expiresAt) => inner.acquireLease(name, holder, now, expiresAt),
    releaseLease: (name, holder) => inner.releaseLease(name, holder),
    lease: (name) => inner.lease(name),
    async commit(projection, position, work) {
      if (!holds(projection)) throw new LeaseNotHeldError(projection);
      return inner.commit(projection, position, work);
    },
    async reset(projection, collections, version) {
      if (!holds(projection)) throw new LeaseNotHeldError(projection);
      return inner.reset(projection, collections, version);
    },
    // The worker owns the store; the runner's stop never closes it.
    close: async () => undefined,
  };
}

export interface ProjectionWorker {
  start(): Promise<void>;
  /** Stops applying, then releases the leases (another worker takes them at once). */
  stop(): Promise<void>;
  leases: LeaseKeeper;
  /** Names of the projections this worker applies now. */
  running(): string[];
  /** The runner of the held projections (undefined while none is held). */
  runner(): ProjectionRunner | undefined;
}

export function createProjectionWorker(deps: {
  eventStore: EventStore;
  readStore: ReadStore;
  clock: Clock;
  projections: readonly Projection[];
  log: RunnerLogger & LeaseKeeperLogger;
  holder?: string;
  leaseMs?: number;
  renewEveryMs?: number;
}): ProjectionWorker {
  const { eventStore, clock, log } = deps;
  const holder = deps.holder ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  const byLease = new Map(deps.projections.map((projection) => [projectionLease(projection.name), projection]));
  let current: { runner: ProjectionRunner; names: string[] } | undefined;
  // Changes are applied one after the other: a runner is stopped before the next one starts.
  let changing: Promise<void> = Promise.resolve();

  const leases: LeaseKeeper = createLeaseKeeper({
    readStore: deps.readStore,
    clock,
    holder,
    names: [...byLease.keys()],
    ttlMs: deps.leaseMs ?? 15_000,
    ...(deps.renewEveryMs ? { renewEveryMs: deps.renewEveryMs } : {}),
    log,
    onChange: (held) => {
      // A failed switch (the store unreachable) is retried: the lease keeper reports again.
      changing = changing.catch(() => undefined).then(() => switchTo([...held]));
      return changing;
    },
  });
  const store = fencedReadStore(deps.readStore, (projection) => leases.holds(projectionLease(projection)));

  async function switchTo(held: string[]) {
    if (current) {
      await current.runner.stop();
      current = undefined;
    }
    const projections = held.map((name) => byLease.get(name)!).filter(Boolean);
    if (projections.length === 0) return;
    const runner = createProjectionRunner({ eventStore, readStore: store, projections, log });
    try {
      await runner.start();
    } catch (error) {
      await runner.stop().catch(() => undefined);
      throw error;
    }
    current = { runner, names: projections.map((projection) => projection.name) };
    log.info({ holder, projections: current.names }, 'applying projections');
  }

  return {
    leases,
    start: () => leases.start(),
    async stop() {
      await leases.stop();
      await changing.catch(() => undefined);
      if (current) await current.runner.stop();
      current = undefined;
    },
    running: () => current?.names ?? [],
    runner: () => current?.runner,
  };
}
