// VM creation through the HTTP API over simulator hosts, against ZStack's published figures
// (one management node, simulated hosts: 1,000 VMs in 103 s, 10,000 in 23 min).
//
//   npx tsx bench/vm-create.ts
//   VMS=10000 CLIENTS=100 HOSTS=20 SINGLE=200 npx tsx bench/vm-create.ts
//
// A whole Stratus (embedded shape: SQLite event store and read models, in-process bus,
// simulator driver) listens on a local port; the inventory is built through the API; then
// SINGLE VMs are created one after the other (create-to-Running latency: POST with
// `Prefer: wait`, answered once the VM is Running), then VMS VMs by CLIENTS concurrent
// clients, each VM created and Running before its client asks for the next. The clients run
// in the same process (their CPU is in the CPU figure); on a shared machine, read the CPU
// per VM and the load average beside the wall-clock figures. They speak HTTP/1.1 over
// keep-alive connections with node:http: fetch (undici) cost the process about twice as
// much CPU per request, which is the client's cost, not the server's.

import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { composeStratus, listen } from '../bin/compose.js';
import { loadConfig } from '../bin/config.js';
import { buildVmInventory, GiB } from '../test/support/vm-inventory.js';
import { jsonPost } from './support/json-post.js';

const vms = Number(process.env.VMS ?? 10_000);
const clients = Number(process.env.CLIENTS ?? 100);
const hosts = Number(process.env.HOSTS ?? 20);
const singles = Number(process.env.SINGLE ?? 200);
const password = 'bench-admin-password';

const zstack = { thousand: 103, tenThousand: 23 * 60 };

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'stratus-bench-vm-'));
  const config = loadConfig({ STRATUS_DATA_DIR: dataDir, STRATUS_ADMIN_PASSWORD: password, STRATUS_LOG_LEVEL: 'silent' });
  const stratus = await composeStratus(config, { log: pino({ level: process.env.LOG ?? 'silent' }) });
  const server = await listen(stratus.app, 0, '127.0.0.1');
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  try {
    const agent = new Agent({ keepAlive: true, maxSockets: clients + 1 });
    const send = jsonPost(base, agent);
    const login = await send('/v1/sessions', { username: 'admin', password }, {});
    const token = (login.body as { token: string }).token;
    const post = (path: string, body: object, extra: Record<string, string> = {}) => send(path, body, { authorization: `Bearer ${token}`, ...extra });

    const perHost = Math.ceil((vms + singles) / hosts) + 8;
    const inventory = await buildVmInventory(post, {
      dir: join(dataDir, 'images'),
      hosts,
      hostCapacity: { cpuCount: perHost, memoryBytes: perHost * GiB },
      ipRange: { startIp: '10.20.0.10', endIp: '10.20.255.250', gateway: '10.20.0.1', netmask: '255.255.0.0' },
    });
    const vmBody = (name: string) => ({ name, instanceOfferingId: inventory.offerings.small, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId] });
    const create = async (name: string) => {
      const response = await post('/v1/vm-instances', vmBody(name), { prefer: 'wait=60' });
      if (response.status !== 201 || response.body.state !== 'Running') throw new Error(`create ${name}: ${response.status} ${JSON.stringify(response.body)}`);
    };

    // Warm-up, not measured: the first VM on each host prepares the image in its cache.
    for (let index = 0; index < Math.min(hosts, 20); index++) await create(`warm-${index}`);

    const latencies: number[] = [];
    for (let index = 0; index < singles; index++) {
      const started = performance.now();
      await create(`single-${index}`);
      latencies.push(performance.now() - started);
    }
    latencies.sort((a, b) => a - b);
    const quantile = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;

    let next = 0;
    let failures = 0;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    let thousandAt = 0;
    let done = 0;
    await Promise.all(Array.from({ length: clients }, async () => {
      for (;;) {
        const index = next++;
        if (index >= vms) return;
        try {
          await create(`vm-${index}`);
        } catch (error) {
          failures++;
          if (failures <= 5) process.stderr.write(`${(error as Error).message}\n`);
        }
        done++;
        if (done === 1000) thousandAt = (performance.now() - started) / 1000;
        if (done % 1000 === 0) process.stderr.write(`  ${done} VMs Running after ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const running = await stratus.readStore.count('vm_instances', { state: 'Running' });

    const rate = (vms - failures) / seconds;
    const lines = [
      `VM create through the HTTP API: ${vms} VMs, ${clients} concurrent clients, ${hosts} simulator hosts (${perHost} vCPU each)`,
      `  created and Running: ${vms - failures} (failed ${failures}); read model shows ${running} Running`,
      `  ${vms} VMs in ${seconds.toFixed(1)} s = ${rate.toFixed(0)} VMs/s` +
        `   | ZStack 10,000 in ${zstack.tenThousand} s (${(10_000 / zstack.tenThousand).toFixed(1)} VMs/s): ratio ${(zstack.tenThousand / (seconds * 10_000 / vms)).toFixed(1)}x faster`,
      vms >= 1000
        ? `  first 1,000 in ${thousandAt.toFixed(1)} s   | ZStack 1,000 in ${zstack.thousand} s: ratio ${(zstack.thousand / thousandAt).toFixed(1)}x faster`
        : `  first 1,000: not measured (VMS=${vms})`,
      `  CPU used by the Stratus process (all threads): ${cpuSeconds.toFixed(1)} s = ${(cpuSeconds * 1000 / Math.max(1, vms)).toFixed(1)} ms per VM; load average at the end ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
      `  single VM create-to-Running (${singles} in a row): p50 ${quantile(0.5).toFixed(1)} ms, p90 ${quantile(0.9).toFixed(1)} ms, p99 ${quantile(0.99).toFixed(1)} ms` +
        `   | ZStack 1 VM in 510 ms: ratio ${(510 / quantile(0.5)).toFixed(1)}x`,
      `  targets: 10,000 VMs Running in <= 60 s: ${vms === 10_000 ? (seconds <= 60 ? 'met' : `NOT met (${seconds.toFixed(0)} s)`) : `not measured (VMS=${vms})`}; ` +
        `single-VM p50 <= 20 ms: ${quantile(0.5) <= 20 ? 'met' : `NOT met (${quantile(0.5).toFixed(0)} ms)`}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    agent.destroy();
  } finally {
    server.close();
    server.closeAllConnections?.();
    await stratus.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
