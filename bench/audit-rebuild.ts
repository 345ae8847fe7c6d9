// Benchmark: rebuild the audit log from 1,000,000 events (target ≥ 200,000 events/s).
// Run: npx tsx bench/audit-rebuild.ts [events]
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteEventStore } from '../adapters/eventstore/sqlite.js';
import { openSqliteReadStore } from '../adapters/readstore/sqlite.js';
import { auditCollection, auditLogProjection } from '../projections/audit/audit-log.js';
import { rebuildProjection } from '../projections/shared/runner.js';
import { auditDataset } from './support/audit-dataset.js';

const events = Number(process.argv[2] ?? 1_000_000);
const { eventsFile, dir } = await auditDataset({ entries: Math.ceil(events / 1.1) + 1000 });
const eventStore = openSqliteEventStore({ file: eventsFile });
const head = await eventStore.headPosition();
const until = Math.min(events, head);
const readFile = join(dir, 'rebuild-bench.db');
for (const suffix of ['', '-wal', '-shm']) rmSync(readFile + suffix, { force: true });
const target = openSqliteReadStore({ file: readFile });

const started = process.hrtime.bigint();
await rebuildProjection({ eventStore, target, projection: auditLogProjection, until });
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const entries = await target.count(auditCollection, {});

console.log(`audit-log rebuild: ${until} events → ${entries} entries in ${seconds.toFixed(2)} s = ${Math.round(until / seconds)} events/s (target ≥ 200000)`);
await target.close();
await eventStore.close();
for (const suffix of ['', '-wal', '-shm']) rmSync(readFile + suffix, { force: true });
