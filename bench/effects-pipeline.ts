// Throughput and latency of the effect pipeline on the embedded adapters: event → dispatcher
// (outbox commit) → local bus → agent → simulator → result → route.onResult, which appends
// an event as a VM route would. WRITERS concurrent writers each append one event per VM.
// Run: npx tsx bench/effects-pipeline.ts   (EFFECTS=10000 WRITERS=100 HOSTS=50)
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLocalBus } from '../adapters/bus/local.js';
import { systemClock } from '../adapters/clock/system.js';
import { openSqliteEventStore } from '../adapters/eventstore/sqlite.js';
import type { HostAccess } from '../adapters/hypervisor/port.js';
import { createSimulatorDriver } from '../adapters/hypervisor/simulator.js';
import { openSqliteReadStore } from '../adapters/readstore/sqlite.js';
import { createAgent } from '../commands/effects/agent.js';
import { createEffectDispatcher } from '../commands/effects/dispatcher.js';
import { operationIdFor, type EffectRoute } from '../commands/effects/effect.js';

const effects = Number(process.env['EFFECTS'] ?? 10_000);
const writers = Number(process.env['WRITERS'] ?? 100);
const hostCount = Number(process.env['HOSTS'] ?? 50);
const GiB = 1024 ** 3;
const silent = { info() {}, warn() {}, error() {} };

const dir = mkdtempSync(join(tmpdir(), 'stratus-bench-effects-'));
const eventStore = openSqliteEventStore({ file: join(dir, 'events.db'), clock: systemClock });
const readStore = openSqliteReadStore({ file: join(dir, 'read.db') });
const bus = createLocalBus();
const simulator = createSimulatorDriver({ journalFile: join(dir, 'simulator.jsonl') });
const hosts: HostAccess[] = Array.from({ length: hostCount }, (_, index) => ({
  hostId: randomUUID(), hypervisorType: 'Simulator', managementIp: `10.0.${index >> 8}.${index & 255}`, username: 'root',
  simulatedCapacity: { cpuCount: 100_000, memoryBytes: 100_000 * GiB },
}));
const hostById = new Map(hosts.map((host) => [host.hostId, host]));

const issuedAt = new Map<string, number>();
const latencies: number[] = [];
let finished = 0;
let allDone!: () => void;
const done = new Promise<void>((resolve) => { allDone = resolve; });

const route: EffectRoute = {
  name: 'bench-define',
  handles: ['BenchVmRequested'],
  effectsOf: (event) => {
    const data = event.data as { vmId: string; hostId: string };
    return [{
      operationId: operationIdFor(event, 'define'), hostId: data.hostId,
      operation: { op: 'vm.define', vmId: data.vmId, name: data.vmId, cpuCount: 1, memoryBytes: GiB, volumes: [], nics: [] },
      context: { vmId: data.vmId },
      resultKey: data.vmId,
    }];
  },
  async onResult(result) {
    const vmId = result.effect.context!.vmId as string;
    await eventStore.append(`benchvm-${vmId}`, [{ type: 'BenchVmDefined', data: { vmId, ok: result.outcome.ok }, metadata: result.metadata }], 'any');
    latencies.push(performance.now() - issuedAt.get(vmId)!);
    if (++finished === effects) allDone();
  },
};

const agent = createAgent({ bus, clock: systemClock, log: silent, drivers: { Simulator: simulator }, hostAccess: async (id) => hostById.get(id), openSecret: (s) => s, hosts: 'all' });
const dispatcher = createEffectDispatcher({ eventStore, readStore, bus, clock: systemClock, routes: [route], log: silent });
await agent.start();
await dispatcher.start();

// Single effect latency, alone in the system.
const single: number[] = [];
for (let i = 0; i < 200; i++) {
  const vmId = randomUUID();
  const started = performance.now();
  const written = await eventStore.append(`benchvm-${vmId}`, [{ type: 'BenchVmRequested', data: { vmId, hostId: hosts[i % hostCount]!.hostId } }], 'no_stream');
  issuedAt.set(vmId, started);
  await dispatcher.waitForDone(operationIdFor(written.events[0]!, 'define'), 10_000);
  single.push(performance.now() - started);
}
latencies.length = 0;
finished = 0;

const started = performance.now();
let next = 0;
await Promise.all(Array.from({ length: writers }, async () => {
  while (next < effects) {
    const index = next++;
    const vmId = randomUUID();
    issuedAt.set(vmId, performance.now());
    await eventStore.append(`benchvm-${vmId}`, [{ type: 'BenchVmRequested', data: { vmId, hostId: hosts[index % hostCount]!.hostId } }], 'no_stream');
  }
}));
await done;
const seconds = (performance.now() - started) / 1000;

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
console.log(`effect pipeline, ${hostCount} simulator hosts, ${writers} writers`);
console.log(`  one effect alone:  p50 ${percentile(single, 50).toFixed(2)} ms  p95 ${percentile(single, 95).toFixed(2)} ms`);
console.log(`  ${effects} effects:     ${seconds.toFixed(2)} s  = ${(effects / seconds).toFixed(0)} effects/s`);
console.log(`  under load:        p50 ${percentile(latencies, 50).toFixed(1)} ms  p95 ${percentile(latencies, 95).toFixed(1)} ms (event appended → onResult done)`);
console.log(`  simulator VMs:     ${simulator.vmCount()}`);

await dispatcher.stop();
await agent.stop();
await bus.close();
await eventStore.close();
await readStore.close();
await simulator.close?.();
rmSync(dir, { recursive: true, force: true });
