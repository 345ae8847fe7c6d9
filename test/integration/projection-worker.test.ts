// Projection workers (`stratus project`) sharing one read store: each projection is applied
// by the worker holding its lease; a worker that dies (stops renewing) loses it once its time
// has passed, stops writing at once, and the other worker takes over — the read model ends
// equal to a rebuild. Time is a manual clock; the workers' rounds are driven by hand.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { manualClock, type ManualClock } from '../../adapters/clock/manual.js';
import type { EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import { openSqliteEventStore } from '../../adapters/eventstore/sqlite.js';
import type { ReadStore, WriteBatch } from '../../adapters/readstore/port.js';
import { openSqliteReadStore } from '../../adapters/readstore/sqlite.js';
import { createProjectionWorker, projectionLease, type ProjectionWorker } from '../../bin/projection-worker.js';
import { compareProjection } from '../../projections/shared/compare.js';
import type { Projection } from '../../projections/shared/projection.js';
import { rebuildProjection } from '../../projections/shared/runner.js';

const quiet = { info() {}, warn() {}, error() {} };

// Read-modify-write per stream: applying an event twice would show in the counts.
const counting = (name: string): Projection => ({
  name,
  version: 1,
  collections: [`${name}_counts`],
  indexes: [],
  handles: ['Ticked'],
  async apply(event: RecordedEvent, batch: WriteBatch) {
    const doc = await batch.get(`${name}_counts`, event.stream);
    batch.upsert(`${name}_counts`, { id: event.stream, n: ((doc?.n as number | undefined) ?? 0) + 1, last: event.position });
  },
});

describe('projection workers with leases', () => {
  let dir: string;
  let eventStore: EventStore;
  let clock: ManualClock;
  const stores: ReadStore[] = [];
  const workers: ProjectionWorker[] = [];
  const projections = [counting('alpha'), counting('beta')];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stratus-workers-'));
    eventStore = openSqliteEventStore({ file: join(dir, 'events.db') });
    clock = manualClock();
  });

  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.stop().catch(() => undefined);
    for (const store of stores.splice(0)) await store.close();
    await eventStore.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // Each worker has its own connection to the read store, as a process would.
  function startWorker(holder: string) {
    const readStore = openSqliteReadStore({ file: join(dir, 'read.db') });
    stores.push(readStore);
    // Renewals are driven by hand (tick), never by the background loop.
    const worker = createProjectionWorker({ eventStore, readStore, clock, projections, log: quiet, holder, leaseMs: 10_000, renewEveryMs: 3_600_000 });
    workers.push(worker);
    return { worker, readStore };
  }

  const tick = async (count: number) => {
    for (let i = 0; i < count; i++) await eventStore.append(`s-${i % 7}`, [{ type: 'Ticked', data: {} }, { type: 'Other', data: {} }], 'any');
  };

  // Through a fresh connection: the SQLite adapter learns of tables another connection
  // created only when it opens (MongoDB has no such limit; SQLite is the embedded store).
  const count = async (_store: ReadStore, name: string) => {
    const reader = openSqliteReadStore({ file: join(dir, 'read.db') });
    try {
      let total = 0;
      for await (const doc of reader.scan(`${name}_counts`)) total += doc.n as number;
      return total;
    } finally {
      await reader.close();
    }
  };

  it('one worker applies each projection; when it dies the other takes over and the model equals a rebuild', async () => {
    const a = startWorker('worker-a');
    await a.worker.start();
    const b = startWorker('worker-b');
    await b.worker.start();
    expect(a.worker.running().sort()).toEqual(['alpha', 'beta']);
    expect(b.worker.running()).toEqual([]);
    expect((await b.readStore.lease(projectionLease('alpha')))?.holder).toBe('worker-a');

    await tick(40);
    await vi.waitFor(async () => expect(await count(b.readStore, 'alpha')).toBe(40), { timeout: 20_000, interval: 20 });

    // Worker a dies: it renews no more. Before its lease runs out, b cannot take over.
    clock.advance(5_000);
    await b.worker.leases.tick();
    expect(b.worker.running()).toEqual([]);

    // Its time passes: a (still running, unaware) refuses to write from now on, b takes over.
    clock.advance(5_001);
    await tick(25);
    await b.worker.leases.tick();
    expect(b.worker.running().sort()).toEqual(['alpha', 'beta']);
    expect(a.worker.leases.held()).toEqual([]);
    await vi.waitFor(async () => {
      expect(await count(b.readStore, 'alpha')).toBe(65);
      expect(await count(b.readStore, 'beta')).toBe(65);
    }, { timeout: 20_000, interval: 20 });

    // The dead worker comes back: it cannot renew what b holds.
    await a.worker.leases.tick();
    expect(a.worker.running()).toEqual([]);

    const head = await eventStore.headPosition();
    for (const projection of projections) {
      await vi.waitFor(async () => expect((await b.readStore.checkpoint(projection.name))?.position).toBe(head), { timeout: 20_000, interval: 20 });
      const scratch = openSqliteReadStore({ file: join(dir, `rebuild-${projection.name}.db`) });
      const live = openSqliteReadStore({ file: join(dir, 'read.db') });
      stores.push(scratch, live);
      await rebuildProjection({ eventStore, target: scratch, projection, until: head });
      expect(await compareProjection(projection, live, scratch)).toEqual([]);
    }
  });

  it('a worker stopped gracefully releases its leases: another takes them at once', async () => {
    const a = startWorker('worker-a');
    await a.worker.start();
    const b = startWorker('worker-b');
    await b.worker.start();
    await tick(10);
    await vi.waitFor(async () => expect(await count(b.readStore, 'beta')).toBe(10), { timeout: 20_000, interval: 20 });
    await a.worker.stop();
    await b.worker.leases.tick();
    expect(b.worker.running().sort()).toEqual(['alpha', 'beta']);
    await tick(5);
    await vi.waitFor(async () => expect(await count(b.readStore, 'beta')).toBe(15), { timeout: 20_000, interval: 20 });
  });

  it('workers given different projections split them', async () => {
    const readStore = openSqliteReadStore({ file: join(dir, 'read.db') });
    stores.push(readStore);
    const onlyAlpha = createProjectionWorker({ eventStore, readStore, clock, projections: [projections[0]!], log: quiet, holder: 'a', leaseMs: 10_000, renewEveryMs: 3_600_000 });
    const onlyBeta = createProjectionWorker({ eventStore, readStore, clock, projections: [projections[1]!], log: quiet, holder: 'b', leaseMs: 10_000, renewEveryMs: 3_600_000 });
    workers.push(onlyAlpha, onlyBeta);
    await onlyAlpha.start();
    await onlyBeta.start();
    expect(onlyAlpha.running()).toEqual(['alpha']);
    expect(onlyBeta.running()).toEqual(['beta']);
  });
});
