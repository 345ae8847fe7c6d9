import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteEventStore } from '../../adapters/eventstore/sqlite.js';
import { eventStoreContract } from './event-store.contract.js';

eventStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stratus-eventstore-'));
  const file = join(dir, 'events.db');
  let store = openSqliteEventStore({ file });
  return {
    store,
    async reopen() {
      await store.close();
      store = openSqliteEventStore({ file });
      return store;
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe('sqlite event store', () => {
  it('is a real file in WAL mode with synchronous=FULL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-eventstore-'));
    const file = join(dir, 'nested', 'events.db');
    const store = openSqliteEventStore({ file });
    await store.append('s', [{ type: 'A', data: {} }], 'no_stream');
    expect(statSync(file).isFile()).toBe(true);
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('group-commits appends in flight together, each with its own version check', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-eventstore-'));
    const store = openSqliteEventStore({ file: join(dir, 'events.db') });
    // Issued without awaiting, these land in one flush; the conflicting one fails alone.
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => store.append(`s${i % 100}`, [{ type: 'A', data: { i } }], 'no_stream')),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(100);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(100);
    expect(await store.headPosition()).toBe(100);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses an event id reused in another stream', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-eventstore-'));
    const store = openSqliteEventStore({ file: join(dir, 'events.db') });
    const id = crypto.randomUUID();
    await store.append('one', [{ id, type: 'A', data: {} }], 'any');
    await expect(store.append('two', [{ id, type: 'A', data: {} }], 'any')).rejects.toMatchObject({ code: 'DUPLICATE_EVENT_ID' });
    expect(await store.readStream('two')).toEqual([]);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a payload that is not JSON with a clear error, writing nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-eventstore-'));
    const store = openSqliteEventStore({ file: join(dir, 'events.db') });
    await expect(store.append('s', [{ type: 'A', data: undefined }], 'any')).rejects.toThrow(/not JSON-serializable/);
    await expect(store.append('s', [{ type: 'A', data: {} }], -1 as never)).rejects.toThrow(/invalid expected version/);
    expect(await store.headPosition()).toBe(0);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
