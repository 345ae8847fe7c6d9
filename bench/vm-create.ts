// VM creation through the HTTP API over simulator hosts, against ZStack's published figures
// (one management node, simulated hosts: 1,000 VMs in 103 s, 10,000 in 23 min).
//
//   npx tsx bench/vm-create.ts
//   VMS=10000 CLIENTS=100 HOSTS=20 SINGLE=200 npx tsx bench/vm-create.ts
//
// A whole Stratus (embedded shape: SQLite event store and read models, in-process bus,
// simulator driver) listens on a local port; the inventory is built through the API; then a
// separate client process (bench/support/vm-create-clients.ts) creates SINGLE VMs one after
// the other (create-to-Running latency: POST with `Prefer: wait`, answered once the VM is
// Running), then VMS VMs by CLIENTS concurrent clients, each VM created and Running before
// its client asks for the next. The clients run in their own process, as real clients run
// on other machines: the CPU figure is the server's alone (the clients' is printed beside
// it). On a shared machine, read the CPU per VM and the load average beside the wall-clock
// figures. The clients speak HTTP/1.1 over keep-alive connections with node:http.

import { mkdtempSync, rmSync } from 'node:fs';
import { fork } from 'node:child_process';
import { Agent } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { composeStratus, listen } from '../bin/compose.js';
import { loadConfig } from '../bin/config.js';
import { buildVmInventory, GiB } from '../test/support/vm-inventory.js';
import { cpuTime } from './support/cpu-time.js';
import { jsonPost } from './support/json-post.js';
import type { ClientJob, ClientMessage } from './support/vm-create-clients.js';

const vms = Number(process.env.VMS ?? 10_000);
const clients = Number(process.env.CLIENTS ?? 100);
const hosts = Number(process.env.HOSTS ?? 20);
const singles = Number(process.env.SINGLE ?? 200);
const password = 'bench-admin-password';

const zstack = { thousand: 103, tenThousand: 23 * 60 };

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'stratus-bench-vm-'));
  const config = loadConfig({ STRATUS_DATA_DIR: dataDir, STRATUS_ADMIN_PASSWORD: password, STRATUS_LOG_LEVEL: 'silent', STRATUS_PROJECTION_THREAD: process.env.STRATUS_PROJECTION_THREAD });
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

    // Warm-up, not measured: the first VM on each host prepares the image in its cache.
    for (let index = 0; index < Math.min(hosts, 20); index++) {
      const response = await post('/v1/vm-instances', vmBody(`warm-${index}`), { prefer: 'wait=60' });
      if (response.status !== 201) throw new Error(`warm-up create: ${response.status} ${JSON.stringify(response.body)}`);
    }
    agent.destroy();

    const job: ClientJob = { base, token, body: vmBody('unnamed'), vms, clients, singles };
    const clientProcess = fork(new URL(`./support/vm-create-clients${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let latencies: number[] = [];
    let cpuBefore = cpuTime();
    let thousandAt = 0;
    const outcome = await new Promise<Extract<ClientMessage, { kind: 'concurrent-done' }>>((resolve, reject) => {
      clientProcess.on('message', (message: ClientMessage) => {
        if (message.kind === 'singles') latencies = message.latencies.sort((x, y) => x - y);
        else if (message.kind === 'concurrent-started') cpuBefore = cpuTime();
        else if (message.kind === 'progress') {
          if (message.done === 1000) thousandAt = message.seconds;
          process.stderr.write(`  ${message.done} VMs Running after ${message.seconds.toFixed(1)} s\n`);
        } else resolve(message);
      });
      clientProcess.on('exit', (code) => reject(new Error(`the client process exited with ${code} before finishing`)));
      clientProcess.send(job);
    });
    const cpu = cpuBefore && cpuTime(cpuBefore);
    const quantile = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
    const { seconds, failures } = outcome;
    for (const error of outcome.errors) process.stderr.write(`${error}\n`);
    // Every VM answered Running; the read models, once caught up, must say so too.
    await stratus.runner.waitFor(await stratus.eventStore.headPosition(), 30_000);
    const running = await stratus.readStore.count('vm_instances', { state: 'Running' });
    const notRunning = await stratus.readStore.find('vm_instances', { state: { $ne: 'Running' } }, { limit: 5 });
    for (const vm of notRunning) process.stderr.write(`  not Running in the read model: ${String(vm.name)} ${String(vm.state)}\n`);

    const rate = (vms - failures) / seconds;
    const lines = [
      `VM create through the HTTP API: ${vms} VMs, ${clients} concurrent clients, ${hosts} simulator hosts (${perHost} vCPU each)`,
      `  created and Running: ${vms - failures} (failed ${failures}); read model shows ${running} Running`,
      `  ${vms} VMs in ${seconds.toFixed(1)} s = ${rate.toFixed(0)} VMs/s` +
        `   | ZStack 10,000 in ${zstack.tenThousand} s (${(10_000 / zstack.tenThousand).toFixed(1)} VMs/s): ratio ${(zstack.tenThousand / (seconds * 10_000 / vms)).toFixed(1)}x faster`,
      vms >= 1000
        ? `  first 1,000 in ${thousandAt.toFixed(1)} s   | ZStack 1,000 in ${zstack.thousand} s: ratio ${(zstack.thousand / thousandAt).toFixed(1)}x faster`
        : `  first 1,000: not measured (VMS=${vms})`,
      `  CPU used by the Stratus process: ${cpu ? `${cpu.process.toFixed(1)} s = ${(cpu.process * 1000 / Math.max(1, vms)).toFixed(1)} ms per VM, main thread ${cpu.main.toFixed(1)} s = ${(cpu.main * 1000 / Math.max(1, vms)).toFixed(1)} ms per VM` : 'not measured (no /proc)'} (clients' process: ${outcome.clientCpuSeconds.toFixed(1)} s); load average at the end ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
      `  single VM create-to-Running (${singles} in a row): p50 ${quantile(0.5).toFixed(1)} ms, p90 ${quantile(0.9).toFixed(1)} ms, p99 ${quantile(0.99).toFixed(1)} ms` +
        `   | ZStack 1 VM in 510 ms: ratio ${(510 / quantile(0.5)).toFixed(1)}x`,
      `  targets: 10,000 VMs Running in <= 60 s: ${vms === 10_000 ? (seconds <= 60 ? 'met' : `NOT met (${seconds.toFixed(0)} s)`) : `not measured (VMS=${vms})`}; ` +
        `single-VM p50 <= 20 ms: ${quantile(0.5) <= 20 ? 'met' : `NOT met (${quantile(0.5).toFixed(0)} ms)`}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
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
