// Benchmark: audit-log queries over 1,000,000 entries (target p99 < 10 ms):
// by operator, and by action within a time range, newest first, a page of 100 —
// through the read-store port, and end to end through the HTTP API.
// Run: npx tsx bench/audit-query.ts [entries]
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { openSqliteEventStore } from '../adapters/eventstore/sqlite.js';
import { openSqliteReadStore } from '../adapters/readstore/sqlite.js';
import type { Filter } from '../adapters/readstore/port.js';
import { auditCollection, auditLogProjection } from '../projections/audit/audit-log.js';
import { rebuildProjection } from '../projections/shared/runner.js';
import { composeStratus, listen } from '../bin/compose.js';
import { loadConfig } from '../bin/config.js';
import { actions, auditDataset, operators, span, start } from './support/audit-dataset.js';

const entries = Number(process.argv[2] ?? 1_000_000);
const { eventsFile, dir } = await auditDataset({ entries });
const readFile = join(dir, 'read.db');
if (!existsSync(readFile)) {
  const eventStore = openSqliteEventStore({ file: eventsFile });
  const target = openSqliteReadStore({ file: readFile });
  await rebuildProjection({ eventStore, target, projection: auditLogProjection, until: await eventStore.headPosition() });
  await target.close();
  await eventStore.close();
}

const readStore = openSqliteReadStore({ file: readFile });
const total = await readStore.count(auditCollection, {});
const samples = 2000;
let seed = 7;
const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
const dayRange = () => {
  const from = start + Math.floor(next() * (span - 86_400_000));
  return { $gte: new Date(from).toISOString(), $lt: new Date(from + 86_400_000).toISOString() };
};

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
async function measure(label: string, query: () => Promise<unknown>) {
  for (let i = 0; i < 50; i++) await query();
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    await query();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(`${label.padEnd(48)} p50 ${percentile(times, 0.5).toFixed(2)} ms  p99 ${percentile(times, 0.99).toFixed(2)} ms  max ${times[times.length - 1]!.toFixed(2)} ms (target p99 < 10 ms)`);
}

console.log(`audit-log queries over ${total} entries, ${samples} queries each, page of 100, newest first`);
const byOperator = (): Filter => ({ 'operator.name': pick(operators).name });
const byActionAndTime = (): Filter => ({ action: pick(actions), time: dayRange() });
const newestFirst = { sort: [['time', -1]] as Array<[string, 1 | -1]>, limit: 100 };
await measure('port: by operator', () => readStore.find(auditCollection, byOperator(), newestFirst));
await measure('port: by action and time range (1 day)', () => readStore.find(auditCollection, byActionAndTime(), newestFirst));
await readStore.close();

// End to end: the same queries through the API of a Stratus serving this read model.
const stratus = await composeStratus(
  loadConfig({ STRATUS_DATA_DIR: dir, STRATUS_EVENTSTORE: `sqlite:${eventsFile}`, STRATUS_READSTORE: `sqlite:${readFile}`, STRATUS_ADMIN_PASSWORD: 'bench-password-1' }),
  { log: pino({ level: 'silent' }) },
);
// Let every projection catch up first (the task list is built on first start), so that
// the figures are of queries alone.
await stratus.runner.waitFor(await stratus.eventStore.headPosition(), 600_000);
const server = await listen(stratus.app, 0, '127.0.0.1');
const port = (server.address() as { port: number }).port;
const base = `http://127.0.0.1:${port}`;
const login = await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'bench-password-1' }) });
const auth = { authorization: `Bearer ${((await login.json()) as { token: string }).token}` };
const get = async (query: string) => {
  const response = await fetch(`${base}/v1/audit-log?${query}`, { headers: auth });
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  await response.arrayBuffer();
};
await measure('HTTP: by operator', () => get(`q=operator.name=${pick(operators).name}`));
await measure('HTTP: by action and time range (1 day)', () => {
  const range = dayRange();
  return get(`q=action=${pick(actions)}&q=time>=${range.$gte}&q=time<${range.$lt}`);
});
server.close();
await stratus.close();
