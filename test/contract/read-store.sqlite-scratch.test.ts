import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteEventStore } from '../../adapters/eventstore/sqlite.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import { openSqliteReadStore } from '../../adapters/readstore/sqlite.js';
import { auditCollection, auditLogProjection } from '../../projections/audit/audit-log.js';
import { compareProjection } from '../../projections/shared/compare.js';
import { rebuildProjection } from '../../projections/shared/runner.js';
import { readStoreContract } from './read-store.contract.js';

// A scratch store (the target of a rebuild) writes most commits in a background thread:
// the whole contract must hold for it as for the live store.
readStoreContract('sqlite scratch store', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stratus-readstore-scratch-'));
  const store = openSqliteReadStore({ file: join(dir, 'read.db'), scratch: true });
  return { store, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

describe('sqlite scratch store', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stratus-readstore-scratch-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Logins, failed logins and tasks (two events, the second a patch) from a few operators. */
  async function auditHistory(events: EventStore, entries: number) {
    const at = Date.UTC(2026, 0, 1);
    let appends: Array<Promise<unknown>> = [];
    for (let i = 0; i < entries; i++) {
      if (appends.length === 100) {
        await Promise.all(appends); // group-committed
        appends = [];
      }
      const metadata = { actor: { kind: 'user' as const, id: `u${i % 5}`, name: `user${i % 5}` }, clientIp: `10.0.0.${i % 7}`, correlationId: `c${i}` };
      if (i % 3 === 0) {
        const taskId = `task-${i}`;
        appends.push(events.append(`task-${taskId}`, [
          { type: 'TaskStarted', data: { taskId, action: 'CreateVmInstance', resourceType: 'vm', resourceIds: [`vm-${i}`], request: { name: `vm ${i} "é"` }, startedAt: at + i * 1000 }, metadata },
          i % 2 === 0
            ? { type: 'TaskSucceeded', data: { taskId, resourceIds: [`vm-${i}`], finishedAt: at + i * 1000 + 7 }, metadata }
            : { type: 'TaskFailed', data: { taskId, error: { code: 'HOST_UNAVAILABLE', message: 'no host' }, finishedAt: at + i * 1000 + 7 }, metadata },
        ], 'no_stream'));
      } else {
        const type = i % 3 === 1 ? 'UserLoggedIn' : 'LoginFailed';
        appends.push(events.append(`session-${i}`, [{ type, data: { sessionId: `s${i}`, userId: `u${i % 5}`, username: `user${i % 5}`, reason: 'WRONG_PASSWORD' } }], 'any'));
      }
    }
    await Promise.all(appends);
  }

  it('rebuilds the same model, byte for byte, as a live-like store', async () => {
    const events = openSqliteEventStore({ file: join(dir, 'events.db') });
    await auditHistory(events, 1500);
    const head = await events.headPosition();
    const live = openSqliteReadStore({ file: join(dir, 'live.db') });
    const scratch = openSqliteReadStore({ file: join(dir, 'scratch.db'), scratch: true });
    try {
      // Odd batches split some tasks across two batches: their patch then meets a document
      // only the background writer has written.
      for (const [target, batchSize] of [[live, 5000], [scratch, 97]] as const) {
        await rebuildProjection({ eventStore: events, target, projection: auditLogProjection, until: head, batchSize });
      }
      expect(await scratch.checkpoint(auditLogProjection.name)).toEqual({ position: head, version: auditLogProjection.version });
      expect(await scratch.count(auditCollection, {})).toBe(1500);
      expect(await compareProjection(auditLogProjection, live, scratch)).toEqual([]);
    } finally {
      await live.close();
      await scratch.close();
      await events.close();
    }
    const rows = (file: string) => {
      const db = new Database(join(dir, file), { readonly: true });
      try {
        return db.prepare(`SELECT id, doc FROM c_${auditCollection} ORDER BY id`).raw().all();
      } finally {
        db.close();
      }
    };
    expect(rows('scratch.db')).toEqual(rows('live.db'));
  });

  it('reports a failed background write on the next call, and writes nothing after it', async () => {
    const file = join(dir, 'scratch.db');
    const store = openSqliteReadStore({ file, scratch: true });
    const put = (position: number, ...ids: string[]) =>
      store.commit('test', position, async (batch) => {
        for (const id of ids) batch.upsert('items', { id, position });
      });
    try {
      await put(1, 'a');
      expect(await store.get('items', 'a')).toEqual({ id: 'a', position: 1 });
      const other = new Database(file);
      other.exec(`CREATE TRIGGER refuse BEFORE INSERT ON c_items WHEN NEW.id = 'boom' BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END`);
      other.close();

      await put(2, 'b', 'boom'); // handed to the background writer: returns before the write
      await put(3, 'c').catch(() => undefined); // queued behind it (or refused, if it failed already)
      await expect(store.get('items', 'a')).rejects.toThrow(/refused by a trigger/);
      await expect(put(4, 'd')).rejects.toThrow(/refused by a trigger/);
    } finally {
      await store.close().catch(() => undefined);
    }
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('SELECT id FROM c_items ORDER BY id').pluck().all()).toEqual(['a']);
      expect(db.prepare("SELECT position FROM checkpoints WHERE projection = 'test'").pluck().get()).toBe(1);
    } finally {
      db.close();
    }
  });
});
