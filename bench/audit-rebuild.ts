// Benchmark: rebuild the audit log from 1,000,000 events (target ≥ 200,000 events/s).
// Run: npx tsx bench/audit-rebuild.ts [events] [--live-target] [--sequential] [--workers=N] [--range=events] [--no-indexes]
//
// The target is a scratch read store, as a rebuild's is (`stratus replay` rebuilds into a
// scratch file, compares it with the live model and copies it over): no journal, no syncs,
// rows written by a background thread. `--live-target` rebuilds into a store opened like
// the live one (WAL, synchronous=NORMAL) instead.
//
// The audit log declares `parallelRebuild`, so the rebuild runs in worker threads
// (projections/shared/parallel-rebuild.ts) unless `--sequential`.
//
// Besides the wall-clock rate it prints the CPU the process used (all threads) and the
// main thread's share, which vary much less than wall time on a shared machine, the CPU of
// each busy thread, and the load average before and after; then, separately (unless
// `--no-indexes`), the time to build the secondary indexes, which a rebuilt model needs
// before it is queried (the store builds them on the first query).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { openSqliteEventStore } from '../adapters/eventstore/sqlite.js';
import { openSqliteReadStore } from '../adapters/readstore/sqlite.js';
import { auditCollection, auditLogProjection } from '../projections/audit/audit-log.js';
import { rebuildProjection } from '../projections/shared/runner.js';
import { auditDataset } from './support/audit-dataset.js';
import { cpuTime } from './support/cpu-time.js';
import { sqliteParallelRebuild } from '../bin/rebuild-options.js';

const args = process.argv.slice(2);
const liveTarget = args.includes('--live-target');
const sequential = args.includes('--sequential');
const skipIndexes = args.includes('--no-indexes');
const option = (name: string) => Number(args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? 0) || undefined;
const workers = option('workers');
const rangeEvents = option('range');
const events = Number(args.find((arg) => !arg.startsWith('--')) ?? 1_000_000);
const { eventsFile, dir } = await auditDataset({ entries: Math.ceil(events / 1.1) + 1000 });
const eventStore = openSqliteEventStore({ file: eventsFile });
const head = await eventStore.headPosition();
const until = Math.min(events, head);
const readFile = join(dir, 'rebuild-bench.db');
const removeTarget = () => { for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(readFile + suffix, { force: true }); };
removeTarget();
const target = openSqliteReadStore({ file: readFile, scratch: !liveTarget });

// CPU per thread, sampled while the rebuild runs (a thread's figure is its last sample):
// shows how the work spreads over the workers, the writer and the main thread.
const threadTicks = new Map<string, number>();
const sampleThreads = () => {
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      threadTicks.set(tid, Number(fields[11]) + Number(fields[12]));
    }
  } catch { /* not Linux, or the thread exited meanwhile */ }
};
sampleThreads();
const ticksBefore = new Map(threadTicks);
const sampler = setInterval(sampleThreads, 200);
const load = loadavg().map((value) => value.toFixed(1)).join(' ');
const cpuBefore = cpuTime();
const started = process.hrtime.bigint();
await rebuildProjection({ eventStore, target, projection: auditLogProjection, until, parallel: sequential ? undefined : sqliteParallelRebuild({ eventsFile, workers, rangeEvents }) });
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const cpu = cpuBefore && cpuTime(cpuBefore);
clearInterval(sampler);
sampleThreads();
const perThread = [...threadTicks].map(([tid, ticks]) => (ticks - (ticksBefore.get(tid) ?? 0)) / 100).filter((seconds) => seconds >= 0.2).sort((a, b) => b - a);

const loadAfter = loadavg().map((value) => value.toFixed(1)).join(' ');
let entries: number;
let indexSeconds = 0;
if (skipIndexes) {
  const db = new Database(readFile, { readonly: true });
  entries = db.prepare(`SELECT count(*) FROM c_${auditCollection}`).pluck().get() as number;
  db.close();
} else {
  const indexStarted = process.hrtime.bigint();
  entries = await target.count(auditCollection, {}); // builds the pending indexes
  indexSeconds = Number(process.hrtime.bigint() - indexStarted) / 1e9;
}

const cpuText = cpu ? `; CPU ${cpu.process.toFixed(1)} s (main thread ${cpu.main.toFixed(1)} s)` : '';
console.log(`audit-log rebuild (${liveTarget ? 'live-like' : 'scratch'} target, ${sequential ? 'sequential' : `parallel${workers ? `, ${workers} workers` : ''}`}): ${until} events → ${entries} entries in ${seconds.toFixed(2)} s = ${Math.round(until / seconds)} events/s (target ≥ 200000)${cpuText}; load average ${load} → ${loadAfter}`);
console.log(`  CPU by thread (s, threads over 0.2 s): ${perThread.map((seconds) => seconds.toFixed(1)).join(' ')}`);
if (!skipIndexes) console.log(`  then its ${auditLogProjection.indexes.filter((index) => !index.multiValued).length} secondary indexes: ${indexSeconds.toFixed(2)} s (rebuild + indexes = ${Math.round(until / (seconds + indexSeconds))} events/s)`);
await target.close();
await eventStore.close();
removeTarget();
