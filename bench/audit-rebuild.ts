// Benchmark: rebuild the audit log from 1,000,000 events (target ≥ 200,000 events/s).
// Run: npx tsx bench/audit-rebuild.ts [events] [--live-target]
//
// The target is a scratch read store, as a rebuild's is (`stratus replay` rebuilds into a
// scratch file, compares it with the live model and copies it over): no journal, no syncs,
// rows written by a background thread. `--live-target` rebuilds into a store opened like
// the live one (WAL, synchronous=NORMAL) instead.
//
// Besides the wall-clock rate it prints the CPU the process used (all threads) and the
// main thread's share, which vary much less than wall time on a shared machine, and the
// load average; then, separately, the time to build the secondary indexes, which a
// rebuilt model needs before it is queried (the store builds them on the first query).
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { openSqliteEventStore } from '../adapters/eventstore/sqlite.js';
import { openSqliteReadStore } from '../adapters/readstore/sqlite.js';
import { auditCollection, auditLogProjection } from '../projections/audit/audit-log.js';
import { rebuildProjection } from '../projections/shared/runner.js';
import { auditDataset } from './support/audit-dataset.js';
import { cpuTime } from './support/cpu-time.js';

const args = process.argv.slice(2);
const liveTarget = args.includes('--live-target');
const events = Number(args.find((arg) => !arg.startsWith('--')) ?? 1_000_000);
const { eventsFile, dir } = await auditDataset({ entries: Math.ceil(events / 1.1) + 1000 });
const eventStore = openSqliteEventStore({ file: eventsFile });
const head = await eventStore.headPosition();
const until = Math.min(events, head);
const readFile = join(dir, 'rebuild-bench.db');
const removeTarget = () => { for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(readFile + suffix, { force: true }); };
removeTarget();
const target = openSqliteReadStore({ file: readFile, scratch: !liveTarget });

const load = loadavg().map((value) => value.toFixed(1)).join(' ');
const cpuBefore = cpuTime();
const started = process.hrtime.bigint();
await rebuildProjection({ eventStore, target, projection: auditLogProjection, until });
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const cpu = cpuBefore && cpuTime(cpuBefore);

const indexStarted = process.hrtime.bigint();
const entries = await target.count(auditCollection, {}); // builds the pending indexes
const indexSeconds = Number(process.hrtime.bigint() - indexStarted) / 1e9;

const cpuText = cpu ? `; CPU ${cpu.process.toFixed(1)} s (main thread ${cpu.main.toFixed(1)} s)` : '';
console.log(`audit-log rebuild (${liveTarget ? 'live-like' : 'scratch'} target): ${until} events → ${entries} entries in ${seconds.toFixed(2)} s = ${Math.round(until / seconds)} events/s (target ≥ 200000)${cpuText}; load average ${load}`);
console.log(`  then its ${auditLogProjection.indexes.filter((index) => !index.multiValued).length} secondary indexes: ${indexSeconds.toFixed(2)} s (rebuild + indexes = ${Math.round(until / (seconds + indexSeconds))} events/s)`);
await target.close();
await eventStore.close();
removeTarget();
