// Append throughput of the SQLite event store: group commit vs one transaction per event.
// Both runs are durable (WAL, synchronous=FULL). Run: npx tsx bench/event-store-append.ts
//   EVENTS=200000 BASELINE_EVENTS=5000 WRITERS=100 to change the workload.

import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openSqliteEventStore } from '../adapters/eventstore/sqlite.js';

const writers = Number(process.env['WRITERS'] ?? 100);
const groupEvents = Number(process.env['EVENTS'] ?? 200_000);
const baselineEvents = Number(process.env['BASELINE_EVENTS'] ?? 5_000);

const payload = (writer: number, n: number) => ({
  vmUuid: `vm-${writer}`,
  name: `instance ${n}`,
  cpuNum: 2,
  memorySize: 2147483648,
  state: 'Running',
});
const metadata = {
  commandId: 'cmd',
  correlationId: 'corr',
  actor: { kind: 'system' as const, id: 'bench', name: 'bench' },
  schemaVersion: 1,
};

async function groupCommit(dir: string): Promise<number> {
  const store = openSqliteEventStore({ file: join(dir, 'group', 'events.db') });
  const perWriter = Math.ceil(groupEvents / writers);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const stream = `vm-${w}`;
      for (let n = 0; n < perWriter; n++) {
        await store.append(
          stream,
          [{ type: 'VmInstanceUpdated', data: payload(w, n), metadata }],
          n === 0 ? 'no_stream' : n - 1,
        );
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const head = await store.headPosition();
  await store.close();
  if (head !== perWriter * writers) throw new Error(`expected ${perWriter * writers} events, found ${head}`);
  return head / seconds;
}

/** The same workload written the naive way: every event its own transaction, its own fsync. */
function transactionPerEvent(dir: string): number {
  const db = new Database(join(dir, 'baseline.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`
    CREATE TABLE events (position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stream TEXT NOT NULL,
      version INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL,
      recorded_at INTEGER NOT NULL);
    CREATE UNIQUE INDEX events_stream_version ON events (stream, version);
    CREATE TABLE streams (stream TEXT PRIMARY KEY, version INTEGER NOT NULL, position INTEGER NOT NULL) WITHOUT ROWID;
  `);
  const current = db.prepare('SELECT version FROM streams WHERE stream = ?').pluck();
  const insert = db.prepare(
    'INSERT INTO events (id, stream, version, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const upsert = db.prepare(
    'INSERT INTO streams (stream, version, position) VALUES (?, ?, ?) ' +
      'ON CONFLICT (stream) DO UPDATE SET version = excluded.version, position = excluded.position',
  );
  const append = db.transaction((stream: string, expected: number, data: unknown) => {
    const actual = (current.get(stream) as number | undefined) ?? -1;
    if (actual !== expected) throw new Error(`conflict on ${stream}`);
    const info = insert.run(
      crypto.randomUUID(),
      stream,
      expected + 1,
      'VmInstanceUpdated',
      JSON.stringify(data),
      JSON.stringify(metadata),
      Date.now(),
    );
    upsert.run(stream, expected + 1, info.lastInsertRowid);
  });
  const perWriter = Math.ceil(baselineEvents / writers);
  const started = performance.now();
  // Round-robin over the writers: the same streams and expected versions as the group run.
  for (let n = 0; n < perWriter; n++) {
    for (let w = 0; w < writers; w++) append(`vm-${w}`, n - 1, payload(w, n));
  }
  const seconds = (performance.now() - started) / 1000;
  db.close();
  return (perWriter * writers) / seconds;
}

const dir = mkdtempSync(join(tmpdir(), 'stratus-bench-es-'));
try {
  const grouped = await groupCommit(dir);
  console.log(`group-commit appends (${writers} writers, ${groupEvents} events): ${Math.round(grouped)} events/s`);
  const single = transactionPerEvent(dir);
  console.log(`one transaction per event (${baselineEvents} events): ${Math.round(single)} events/s`);
  console.log(`ratio group-commit / transaction-per-event: ${(grouped / single).toFixed(1)}x`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
