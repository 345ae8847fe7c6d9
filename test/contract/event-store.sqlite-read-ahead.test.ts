import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import { openSqliteEventStore } from '../../adapters/eventstore/sqlite.js';

// Bulk reads of $all are decoded from one JSON text per batch and read ahead by a worker
// thread (adapters/eventstore/sqlite-read-ahead.ts). What callers see must not change.

describe('sqlite event store: bulk reads of $all', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stratus-read-ahead-'));
    file = join(dir, 'events.db');
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** The events as stored, decoded without the adapter. */
  function stored(): RecordedEvent[] {
    const db = new Database(file, { readonly: true });
    try {
      const rows = db.prepare('SELECT position, id, stream, version, type, data, metadata, recorded_at FROM events ORDER BY position').raw().all() as Array<[number, string, string, number, string, string, string, number]>;
      return rows.map(([position, id, stream, version, type, data, metadata, recordedAt]) => ({
        id, stream, version, position, type, data: JSON.parse(data) as unknown, metadata: JSON.parse(metadata) as RecordedEvent['metadata'], recordedAt,
      }));
    } finally {
      db.close();
    }
  }

  async function readAllInBatches(store: ReturnType<typeof openSqliteEventStore>, batch: number, until: number) {
    const out: RecordedEvent[] = [];
    let after = 0;
    while (after < until) {
      const events = await store.readAll({ after, limit: batch });
      if (events.length === 0) break;
      out.push(...events);
      after = events[events.length - 1]!.position;
    }
    return out;
  }

  it('answers exactly what is stored, whatever the payloads hold', async () => {
    const store = openSqliteEventStore({ file });
    try {
      const odd = ['plain', 'quote " and backslash \\', 'new\nline\ttab', 'é ü 中文 🚀', '\u2028\u2029', '</script>', ''];
      const appends: Array<Promise<unknown>> = [];
      for (let i = 0; i < 3000; i++) {
        const text = odd[i % odd.length]!;
        appends.push(store.append(`stream "${text}" ${i % 13}`, [{
          type: `Type${i % 3}${text}`,
          data: { text, n: i, big: 2 ** 53 - i, small: -1.5e-7 * i, nested: { list: [text, null, true, { deep: [i] }] } },
          metadata: i % 4 === 0 ? {} : { actor: { kind: 'user', id: `u${i}`, name: text }, correlationId: `c${i}` },
        }], 'any'));
      }
      await Promise.all(appends); // group-committed
      const expected = stored();
      expect(await readAllInBatches(store, 1000, 3000)).toEqual(expected); // read ahead
      expect(await readAllInBatches(store, 7, 3000)).toEqual(expected); // small batches: no read-ahead
      expect(await store.readAll({ after: 2990, limit: 1000 })).toEqual(expected.slice(2990));
    } finally {
      await store.close();
    }
  });

  it('delivers every event once and in order while appends go on', async () => {
    const store = openSqliteEventStore({ file });
    try {
      const appendRange = (from: number, to: number) =>
        Promise.all(Array.from({ length: to - from }, (_, k) => store.append(`s-${(from + k) % 50}`, [{ type: 'E', data: { i: from + k } }], 'any')));
      await appendRange(0, 2000);
      let appending = true;
      const appender = (async () => {
        for (let i = 2000; i < 6000; i += 100) await appendRange(i, i + 100);
        appending = false;
      })();
      const seen: number[] = [];
      let after = 0;
      while (appending || after < (await store.headPosition())) {
        const events = await store.readAll({ after, limit: 500 });
        for (const event of events) seen.push(event.position);
        if (events.length > 0) after = events[events.length - 1]!.position;
        else await new Promise((resolve) => setImmediate(resolve));
      }
      await appender;
      expect(seen).toEqual(Array.from({ length: 6000 }, (_, i) => i + 1));
      expect((await store.readAll({ after: 0, limit: 6000 })).map((event) => (event.data as { i: number }).i)).toEqual(
        Array.from({ length: 6000 }, (_, i) => i),
      );
    } finally {
      await store.close();
    }
  });

  it('reports a stored payload that is not JSON, as a row-by-row read would', async () => {
    const store = openSqliteEventStore({ file });
    try {
      await Promise.all(Array.from({ length: 600 }, (_, i) => store.append('s', [{ type: 'E', data: { i } }], 'any')));
      const other = new Database(file);
      other.prepare('UPDATE events SET data = ? WHERE position = 550').run('{not json');
      other.close();
      expect(await store.readAll({ after: 0, limit: 300 })).toHaveLength(300); // reads 301..600 ahead
      await expect(store.readAll({ after: 300, limit: 300 })).rejects.toThrow(SyntaxError);
      expect(await store.readAll({ after: 550, limit: 300 })).toHaveLength(50);
    } finally {
      await store.close();
    }
  });
});
