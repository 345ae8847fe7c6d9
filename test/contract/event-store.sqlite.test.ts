import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
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

describe('sqlite event store: the stream index across its memory and disk parts', () => {
  it('reads streams whose events span flushed and unflushed index entries, before and after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-eventstore-'));
    const file = join(dir, 'events.db');
    let store = openSqliteEventStore({ file, indexFlushEvents: 7 });
    for (let n = 0; n < 30; n++) {
      await Promise.all(['a', 'b', 'c'].map((s) => store.append(s, [{ type: 'N', data: { n } }], n === 0 ? 'no_stream' : n - 1)));
    }
    const check = async () => {
      for (const s of ['a', 'b', 'c']) {
        expect((await store.readStream(s)).map((e) => (e.data as { n: number }).n)).toEqual(Array.from({ length: 30 }, (_, n) => n));
        expect((await store.readStream(s, { fromVersion: 12, limit: 5 })).map((e) => e.version)).toEqual([12, 13, 14, 15, 16]);
        expect((await store.readStream(s, { fromVersion: 28 })).map((e) => e.version)).toEqual([28, 29]);
      }
      await expect(store.append('a', [{ type: 'N', data: {} }], 28)).rejects.toMatchObject({ actual: 29 });
    };
    await check();
    await store.close();
    store = openSqliteEventStore({ file, indexFlushEvents: 7 });
    await check();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sees appends made through another connection to the same file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-eventstore-'));
    const file = join(dir, 'events.db');
    const one = openSqliteEventStore({ file, indexFlushEvents: 5 });
    const two = openSqliteEventStore({ file, indexFlushEvents: 5 });
    await one.append('shared', [{ type: 'A', data: {} }], 'no_stream');
    await expect(two.append('shared', [{ type: 'B', data: {} }], 'no_stream')).rejects.toMatchObject({ actual: 0 });
    for (let v = 1; v < 12; v++) await (v % 2 ? two : one).append('shared', [{ type: 'N', data: { v } }], v - 1);
    expect((await one.readStream('shared')).map((e) => e.version)).toEqual(Array.from({ length: 12 }, (_, v) => v));
    expect((await two.readStream('shared')).map((e) => e.version)).toEqual(Array.from({ length: 12 }, (_, v) => v));
    await one.close();
    await two.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves what it just committed from memory, decoded once, shared and frozen, equal to what the file holds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-eventstore-'));
    const file = join(dir, 'events.db');
    const store = openSqliteEventStore({ file });
    const data = { nested: { list: [1, 2, { deep: true }] }, dropped: undefined, when: new Date(0) };
    await store.append('s', [{ type: 'A', data, metadata: { correlationId: 'c' } }, { type: 'B', data: {} }], 'no_stream');
    const first = await store.readAll({ after: 0, limit: 10 });
    const again = await store.readAll({ after: 0, limit: 10 });
    expect(again[0]).toBe(first[0]);
    expect(Object.isFrozen((first[0]!.data as typeof data).nested.list[2])).toBe(true);
    expect(() => { (first[0]!.data as { nested: { list: unknown[] } }).nested.list.push(3); }).toThrow(TypeError);
    expect((await store.readStream('s'))[1]).toBe(first[1]);
    // The caller's objects are not what readers get: the stored JSON is.
    expect(first[0]!.data).toEqual({ nested: { list: [1, 2, { deep: true }] }, when: '1970-01-01T00:00:00.000Z' });
    await store.close();
    const reopened = openSqliteEventStore({ file, tailEvents: 0 });
    expect(await reopened.readAll({ after: 0, limit: 10 })).toEqual(first);
    await reopened.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads past its memory what another connection committed, in order, from subscriptions too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-eventstore-'));
    const file = join(dir, 'events.db');
    const one = openSqliteEventStore({ file, pollIntervalMs: 10 });
    const two = openSqliteEventStore({ file, pollIntervalMs: 10 });
    const seen: number[] = [];
    const subscription = one.subscribeToAll({ after: 0, onEvents: (events) => { for (const e of events) seen.push(e.data as number); } });
    for (let i = 0; i < 30; i++) await (i % 3 === 0 ? two : one).append(`s-${i}`, [{ type: 'N', data: i }], 'no_stream');
    expect((await one.readAll({ after: 0, limit: 100 })).map((e) => e.data)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect((await two.readAll({ after: 0, limit: 100 })).map((e) => e.data)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    for (let attempt = 0; attempt < 200 && seen.length < 30; attempt++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i));
    await subscription.stop();
    await one.close();
    await two.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes room ahead in its WAL, and a copy of the files taken while open (a crash) holds every acknowledged event', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-eventstore-'));
    const file = join(dir, 'events.db');
    const store = openSqliteEventStore({ file, walRoomBytes: 1 << 20 });
    for (let i = 0; i < 50; i++) await store.append(`s-${i}`, [{ type: 'N', data: { i, text: 'x'.repeat(500) } }], 'no_stream');
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(1 << 20);
    const crashed = join(dir, 'crashed');
    mkdirSync(crashed);
    copyFileSync(file, join(crashed, 'events.db'));
    copyFileSync(`${file}-wal`, join(crashed, 'events.db-wal'));
    await store.close();
    const recovered = openSqliteEventStore({ file: join(crashed, 'events.db') });
    expect((await recovered.readAll({ after: 0, limit: 100 })).map((e) => (e.data as { i: number }).i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    await recovered.append('after-crash', [{ type: 'N', data: {} }], 'no_stream');
    expect(await recovered.headPosition()).toBe(51);
    await recovered.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
