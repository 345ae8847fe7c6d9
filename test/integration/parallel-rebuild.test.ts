import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventStore } from '../../adapters/eventstore/port.js';
import { openSqliteEventStore } from '../../adapters/eventstore/sqlite.js';
import { openSqliteReadStore } from '../../adapters/readstore/sqlite.js';
import { auditCollection, auditLogProjection } from '../../projections/audit/audit-log.js';
import type { Projection } from '../../projections/shared/projection.js';
import { createProjectionRunner, rebuildProjection } from '../../projections/shared/runner.js';
import { replay } from '../../bin/replay.js';
import { appendParallelTestHistory, parallelTestProjection } from '../support/parallel-rebuild-projection.js';
import { sqliteParallelRebuild } from '../../bin/rebuild-options.js';

// A projection that only writes by id may be rebuilt by worker threads, each applying a
// range of the log, merged in order (projections/shared/parallel-rebuild.ts). Whatever the
// ranges and the number of workers, the result must be the sequential rebuild's, byte for byte.

describe('parallel rebuild', () => {
  let dir: string;
  let events: EventStore;
  const eventsFile = () => join(dir, 'events.db');

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stratus-parallel-rebuild-'));
    events = openSqliteEventStore({ file: eventsFile() });
  });

  afterEach(async () => {
    await events.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every collection's rows (id, stored JSON) and the checkpoint, as a store file holds them. */
  function storedRows(file: string, projection: Projection) {
    const db = new Database(join(dir, file), { readonly: true });
    try {
      const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").pluck();
      const collections = Object.fromEntries(projection.collections.map((collection) => [
        collection,
        exists.get(`c_${collection}`) === undefined ? [] : db.prepare(`SELECT id, doc FROM c_${collection} ORDER BY id`).raw().all(),
      ]));
      const checkpoint = db.prepare('SELECT position, version FROM checkpoints WHERE projection = ?').get(projection.name);
      return { collections, checkpoint };
    } finally {
      db.close();
    }
  }

  async function rebuildInto(file: string, projection: Projection, until: number, parallel?: { workers: number; rangeEvents: number; maxDeferredPatches?: number }) {
    const target = openSqliteReadStore({ file: join(dir, file), scratch: true });
    const progress: number[] = [];
    try {
      await rebuildProjection({
        eventStore: events, target, projection, until,
        parallel: parallel && sqliteParallelRebuild({ eventsFile: eventsFile(), ...parallel }),
        onProgress: (position) => progress.push(position),
      });
    } finally {
      await target.close();
    }
    return progress;
  }

  it('gives the sequential rebuild byte for byte, across ranges that patch and delete each other\'s documents', async () => {
    await appendParallelTestHistory(events, 4000);
    const head = await events.headPosition();
    await rebuildInto('sequential.db', parallelTestProjection, head);
    const expected = storedRows('sequential.db', parallelTestProjection);
    expect(expected.checkpoint).toEqual({ position: head, version: 1 });
    expect(expected.collections.things!.length).toBeGreaterThan(50);
    expect(expected.collections.notes!.length).toBeGreaterThan(20);

    // Ranges of 97 events: most documents are touched in many ranges.
    // maxDeferredPatches 1: patches of older documents are committed with the next range.
    for (const [workers, rangeEvents, maxDeferredPatches] of [[2, 97, undefined], [3, 500, undefined], [1, 1000, undefined], [2, 200, 1]] as const) {
      const file = `parallel-${workers}-${rangeEvents}-${maxDeferredPatches}.db`;
      const progress = await rebuildInto(file, parallelTestProjection, head, { workers, rangeEvents, maxDeferredPatches });
      expect(storedRows(file, parallelTestProjection), `${workers} workers, ranges of ${rangeEvents}, ${maxDeferredPatches} deferred`).toEqual(expected);
      expect(progress.length).toBeGreaterThan(1);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      expect(progress[progress.length - 1]).toBe(head);
    }
  });

  it('stops at `until`, as a sequential rebuild does', async () => {
    await appendParallelTestHistory(events, 3000, 11);
    const until = (await events.headPosition()) - 777;
    await rebuildInto('sequential.db', parallelTestProjection, until);
    await rebuildInto('parallel.db', parallelTestProjection, until, { workers: 2, rangeEvents: 300 });
    const rows = storedRows('parallel.db', parallelTestProjection);
    expect(rows.checkpoint).toEqual({ position: until, version: 1 });
    expect(rows).toEqual(storedRows('sequential.db', parallelTestProjection));
  });

  it('rebuilds the audit log as the sequential rebuild does, tasks whose two events fall in two ranges included', async () => {
    const at = Date.UTC(2026, 0, 1);
    let appends: Array<Promise<unknown>> = [];
    for (let i = 0; i < 1200; i++) {
      const metadata = { actor: { kind: 'user' as const, id: `u${i % 5}`, name: `user${i % 5}` }, clientIp: `10.0.0.${i % 7}`, userAgent: 'test', correlationId: `c${i}` };
      if (i % 3 === 0) {
        const taskId = `task-${i}`;
        appends.push(events.append(`task-${taskId}`, [
          { type: 'TaskStarted', data: { taskId, action: 'CreateVmInstance', resourceType: 'vm', resourceIds: [`vm-${i}`], request: { name: `vm ${i}` }, startedAt: at + i * 1000 }, metadata },
          i % 2 === 0
            ? { type: 'TaskSucceeded', data: { taskId, resourceIds: [`vm-${i}`], finishedAt: at + i * 1000 + 7 }, metadata }
            : { type: 'TaskFailed', data: { taskId, error: { code: 'HOST_UNAVAILABLE', message: 'no host' }, finishedAt: at + i * 1000 + 7 }, metadata },
        ], 'no_stream'));
      } else {
        const type = i % 3 === 1 ? 'UserLoggedIn' : 'LoginFailed';
        appends.push(events.append(`session-${i}`, [{ type, data: { sessionId: `s${i}`, userId: `u${i % 5}`, username: `user${i % 5}`, reason: 'WRONG_PASSWORD' }, metadata }], 'any'));
      }
      if (appends.length === 100) {
        await Promise.all(appends);
        appends = [];
      }
    }
    await Promise.all(appends);
    const head = await events.headPosition();
    await rebuildInto('sequential.db', auditLogProjection, head);
    // Odd ranges: a task's start and end often fall in two ranges.
    await rebuildInto('parallel.db', auditLogProjection, head, { workers: 2, rangeEvents: 101 });
    const rows = storedRows('parallel.db', auditLogProjection);
    expect(rows.collections[auditCollection]!.length).toBe(1200);
    expect(rows).toEqual(storedRows('sequential.db', auditLogProjection));
  });

  it('lets `stratus replay` rebuild in parallel and find the result equal to the live model', async () => {
    await appendParallelTestHistory(events, 3000, 5);
    const head = await events.headPosition();
    const live = openSqliteReadStore({ file: join(dir, 'live.db') });
    const runner = createProjectionRunner({ eventStore: events, readStore: live, projections: [parallelTestProjection], log: { info: () => {}, error: () => {} }, batchSize: 50 });
    try {
      await runner.start();
      expect(await runner.waitFor(head, 30_000)).toBe(true);
      await runner.stop();
      const out = new PassThrough();
      let printed = '';
      out.on('data', (chunk: Buffer) => (printed += chunk.toString()));
      const [report] = await replay({
        eventStore: events, live, projections: [parallelTestProjection], scratchDir: dir, apply: false, out,
        parallel: sqliteParallelRebuild({ eventsFile: eventsFile(), workers: 2, rangeEvents: 200 }),
      });
      expect(report).toMatchObject({ projection: 'parallel-test', events: head, equal: true, differences: [] });
      expect(printed).toMatch(/100%/);
    } finally {
      await runner.stop();
      await live.close();
    }
  });

  it('fails, naming the projection, when a projection that declares parallelRebuild reads the batch', async () => {
    await appendParallelTestHistory(events, 600);
    const head = await events.headPosition();
    const reading: Projection = { ...parallelTestProjection, name: 'parallel-test-reading' };
    // The workers load the projection by name from its module: export one that reads.
    reading.parallelRebuild = { module: new URL('../support/parallel-rebuild-reading-projection.ts', import.meta.url).href };
    await expect(rebuildInto('parallel.db', reading, head, { workers: 2, rangeEvents: 100 })).rejects.toThrow(/parallel-test-reading read a document/);
  });
});
