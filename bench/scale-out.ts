// The scale-out shape on this machine, beside the embedded default:
//   1. events projected per second during a rebuild of the audit log, into the MongoDB-wire
//      read store (STRATUS_TEST_MONGODB: FerretDB here) vs the embedded SQLite read store;
//   2. VM creates per second end to end (HTTP POST with `Prefer: wait` until Running), with
//      Stratus composed over Kafka + the MongoDB-wire store (STRATUS_TEST_KAFKA) — serve,
//      its in-process agent and projections in this process — vs the embedded default.
// Figures are printed, with the ratio scale-out / embedded; nothing is asserted.
//
//   npm run bench:scale-out          (starts Kafka and FerretDB through test/services/run.sh)
//   EVENTS=20000 VMS=200 CLIENTS=20 npm run bench:scale-out
//
// The VM figure keeps projections and the agent in the API process (STRATUS_TOPOLOGY
// embedded, adapters scale-out): it measures the engines, not process hops. One machine
// runs everything (broker, FerretDB, Stratus, clients): read the ratios, not the absolutes.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MongoClient } from 'mongodb';
import { pino } from 'pino';
import { openSqliteEventStore } from '../adapters/eventstore/sqlite.js';
import { openMongoReadStore } from '../adapters/readstore/mongodb.js';
import type { ReadStore } from '../adapters/readstore/port.js';
import { openSqliteReadStore } from '../adapters/readstore/sqlite.js';
import { composeStratus, listen } from '../bin/compose.js';
import { loadConfig } from '../bin/config.js';
import { auditLogProjection } from '../projections/audit/audit-log.js';
import { rebuildProjection } from '../projections/shared/runner.js';
import { buildVmInventory, GiB } from '../test/support/vm-inventory.js';
import { auditDataset } from './support/audit-dataset.js';
import { jsonPost } from './support/json-post.js';

const kafka = process.env.STRATUS_TEST_KAFKA;
const mongoUrl = process.env.STRATUS_TEST_MONGODB;
const events = Number(process.env.EVENTS ?? 20_000);
const vms = Number(process.env.VMS ?? 200);
const clients = Number(process.env.CLIENTS ?? 20);
const password = 'bench-admin-password';

if (!kafka || !mongoUrl) {
  // Skipped, not failed, so that `npm run bench` (every benchmark) runs without servers.
  console.log('skipped: bench/scale-out needs STRATUS_TEST_KAFKA and STRATUS_TEST_MONGODB; run it with `npm run bench:scale-out`');
  process.exit(0);
}

const database = (what: string) => `stratus_bench_${what}_${Date.now().toString(36)}`;
const mongoFor = (db: string) => `${mongoUrl!.replace(/\/?$/, '/')}${db}`;

async function dropDatabase(db: string) {
  const client = new MongoClient(mongoUrl!);
  try {
    await client.db(db).dropDatabase();
  } finally {
    await client.close();
  }
}

async function rebuildRate(target: () => ReadStore, until: number, eventsFile: string): Promise<number> {
  const eventStore = openSqliteEventStore({ file: eventsFile });
  const store = target();
  try {
    const started = performance.now();
    await rebuildProjection({ eventStore, target: store, projection: auditLogProjection, until });
    return until / ((performance.now() - started) / 1000);
  } finally {
    await store.close();
    await eventStore.close();
  }
}

async function vmCreateRate(env: Record<string, string>): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'stratus-bench-scale-out-'));
  const config = loadConfig({ STRATUS_DATA_DIR: dataDir, STRATUS_ADMIN_PASSWORD: password, STRATUS_LOG_LEVEL: 'silent', ...env });
  const stratus = await composeStratus(config, { log: pino({ level: process.env.LOG ?? 'silent' }) });
  const server = await listen(stratus.app, 0, '127.0.0.1');
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const agent = new Agent({ keepAlive: true, maxSockets: clients + 1 });
  const send = jsonPost(base, agent);
  try {
    const session = await send('/v1/sessions', { username: 'admin', password }, {});
    const auth = { authorization: `Bearer ${session.body.token as string}` };
    const inventory = await buildVmInventory((path, body) => send(path, body, auth), {
      dir: join(dataDir, 'images'),
      hosts: 4,
      hostCapacity: { cpuCount: 4096, memoryBytes: 8192 * GiB },
      ipRange: { startIp: '10.40.0.10', endIp: '10.40.250.250', gateway: '10.40.0.1', netmask: '255.255.0.0' },
    });
    const body = (name: string) => ({ name, instanceOfferingId: inventory.offerings.small, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId] });
    let next = 0;
    let failed = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: clients }, async () => {
      for (let index = next++; index < vms; index = next++) {
        const created = await send('/v1/vm-instances', body(`vm-${index}`), { ...auth, prefer: 'wait=300' });
        if (created.status !== 201 || created.body.state !== 'Running') failed++;
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    if (failed > 0) console.log(`  (${failed} of ${vms} creates did not end Running)`);
    return (vms - failed) / seconds;
  } finally {
    agent.destroy();
    await new Promise((resolve) => server.close(resolve));
    await stratus.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const format = (rate: number) => rate.toLocaleString('en-US', { maximumFractionDigits: 1 });
const ratio = (scaleOut: number, embedded: number) => `${(scaleOut / embedded).toFixed(3)}×`;

console.log(`scale-out benchmark: Kafka ${kafka}, MongoDB-wire ${mongoUrl}; load average ${loadavg().map((load) => load.toFixed(2)).join(' ')}`);

const { eventsFile, dir } = await auditDataset({ entries: Math.ceil(events / 1.1) + 100 });
const head = await (async () => { const store = openSqliteEventStore({ file: eventsFile }); try { return Math.min(events, await store.headPosition()); } finally { await store.close(); } })();
const scratchFile = join(dir, `scale-out-bench-${process.pid}.db`);
const embeddedRebuild = await rebuildRate(() => openSqliteReadStore({ file: scratchFile }), head, eventsFile);
for (const suffix of ['', '-wal', '-shm']) rmSync(scratchFile + suffix, { force: true });
const rebuildDb = database('rebuild');
const mongoRebuild = await rebuildRate(() => openMongoReadStore({ url: mongoFor(rebuildDb) }), head, eventsFile);
await dropDatabase(rebuildDb);
console.log(`audit-log rebuild of ${head.toLocaleString('en-US')} events, events projected per second:`);
console.log(`  embedded (SQLite read store, live-like)  ${format(embeddedRebuild)}`);
console.log(`  scale-out (MongoDB-wire read store)       ${format(mongoRebuild)}   ratio ${ratio(mongoRebuild, embeddedRebuild)}`);

const embeddedVms = await vmCreateRate({});
const vmDb = database('vms');
const scaleOutVms = await vmCreateRate({ STRATUS_BUS: `kafka://${kafka}`, STRATUS_READSTORE: mongoFor(vmDb), STRATUS_INTEGRATION_EVENTS: 'off' });
await dropDatabase(vmDb);
console.log(`VM creates end to end (${vms} VMs, ${clients} clients, create → Running), per second:`);
console.log(`  embedded (SQLite, in-process bus)         ${format(embeddedVms)}`);
console.log(`  scale-out (Kafka + MongoDB-wire store)    ${format(scaleOutVms)}   ratio ${ratio(scaleOutVms, embeddedVms)}`);
process.exit(0);
