// VM latencies on real QEMU (libvirt driver) beside the simulator's, through the HTTP API:
// create-to-Running, stop and start per VM (p50, p95), and VMS_CONCURRENT VMs created at once
// on one host. The same run is made twice, on a Simulator host and on a KVM host
// (qemu:///system on this machine), and the figures are printed side by side with the ratio
// libvirt / simulator — what a real hypervisor adds to Stratus's own cost.
//
// libvirtd must be running; start it the way the service tests do (installs libvirt and QEMU
// from Debian if missing, starts virtlogd and libvirtd without systemd, defines an isolated
// network), run the bench, stop it:
//
//   eval "$(bash test/services/servers/libvirt.sh start)"
//   npx tsx bench/libvirt-vm.ts            # or: npm run bench -- libvirt-vm
//   bash test/services/servers/libvirt.sh stop
//
//   SINGLE=10 VMS_CONCURRENT=20 STOP_TYPE=cold HOST_CONCURRENCY=10 npx tsx bench/libvirt-vm.ts
//
// Operations of different VMs on one host run at once, at most HOST_CONCURRENCY (the
// effect.hostConcurrency setting, default 10) at a time; one VM's operations run in order.
// Beside wall time, the CPU time of this process (Stratus: API, event store, projections,
// agent) is printed for the concurrent batch; QEMU's and libvirtd's are not in it.
//
// Without STRATUS_TEST_LIBVIRT_URI only the simulator half runs. Each VM boots a blank 64 MiB
// qcow2 image (firmware only, no OS), 1 vCPU and 128 MiB, with KVM when /dev/kvm is usable:
// the figures are the platform's and QEMU's start-up, not a guest OS's boot. A grace stop of
// a guest without an OS waits for its timeout, so stops are cold unless STOP_TYPE=grace.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { composeStratus, listen } from '../bin/compose.js';
import { loadConfig } from '../bin/config.js';

const singles = Number(process.env.SINGLE ?? 10);
const concurrent = Number(process.env.VMS_CONCURRENT ?? 20);
const stopType = process.env.STOP_TYPE === 'grace' ? 'grace' : 'cold';
const hostConcurrency = process.env.HOST_CONCURRENCY ? Number(process.env.HOST_CONCURRENCY) : undefined;
const libvirtUri = process.env.STRATUS_TEST_LIBVIRT_URI;
const libvirtNetwork = process.env.STRATUS_TEST_LIBVIRT_NETWORK;
const password = 'bench-admin-password';
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

interface Figures {
  create: number[];
  stop: number[];
  start: number[];
  concurrentSeconds: number;
  concurrentCreate: number[];
  /** CPU seconds (user + system) of this process during the concurrent batch. */
  concurrentCpuSeconds: number;
  failures: number;
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};

async function measure(kind: 'Simulator' | 'KVM', imageFile: string): Promise<Figures> {
  const dataDir = mkdtempSync(join(tmpdir(), `stratus-bench-${kind.toLowerCase()}-`));
  const storageDir = `/var/lib/stratus/libvirt-bench-${process.pid}`;
  if (kind === 'KVM') {
    process.env.STRATUS_LIBVIRT_STORAGE_DIR = storageDir;
    if (libvirtNetwork) process.env.STRATUS_LIBVIRT_NETWORK = libvirtNetwork;
    else process.env.STRATUS_LIBVIRT_USER_NETWORKING = 'true';
    process.env.STRATUS_LIBVIRT_GRACE_STOP_MS = process.env.STRATUS_LIBVIRT_GRACE_STOP_MS ?? '5000';
    // A 2-core machine must take VMS_CONCURRENT 1-vCPU VMs: vCPUs over-committed as on any KVM cloud.
    process.env.STRATUS_LIBVIRT_CPU_OVERCOMMIT = process.env.STRATUS_LIBVIRT_CPU_OVERCOMMIT ?? '16';
  }
  const config = loadConfig({ STRATUS_DATA_DIR: dataDir, STRATUS_ADMIN_PASSWORD: password, STRATUS_LOG_LEVEL: 'silent' });
  const stratus = await composeStratus(config, { log: pino({ level: process.env.LOG ?? 'silent' }) });
  const server = await listen(stratus.app, 0, '127.0.0.1');
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  let token = '';
  const call = async (method: string, path: string, body?: object) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', prefer: 'wait=60', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, body: await response.json() as any };
  };
  const created = async (path: string, body: object) => {
    const response = await call('POST', path, body);
    if (response.status !== 201) throw new Error(`POST ${path}: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body.id as string;
  };
  const vmIds: string[] = [];
  try {
    token = (await call('POST', '/v1/sessions', { username: 'admin', password })).body.token as string;
    const bytes = readFileSync(imageFile);
    const zoneId = await created('/v1/zones', { name: 'bench' });
    const clusterId = await created('/v1/clusters', { zoneId, name: 'bench', hypervisorType: kind });
    await created('/v1/hosts', {
      name: 'bench-host', clusterId, hypervisorType: kind, managementIp: '127.0.0.1', username: 'root', password: 'unused',
      ...(kind === 'KVM' ? { libvirtUri } : { simulatedCapacity: { cpuCount: 64, memoryBytes: 64 * GiB } }),
    });
    await created('/v1/primary-storages', { zoneId, name: 'local', type: 'LocalStorage', url: '/var/lib/stratus/volumes', totalCapacityBytes: 1000 * GiB });
    const imageId = await created('/v1/images', {
      name: 'blank', url: pathToFileURL(imageFile).href, format: 'qcow2', platform: 'Linux', sha256: createHash('sha256').update(bytes).digest('hex'), sizeBytes: bytes.length,
    });
    const offeringId = await created('/v1/instance-offerings', { name: 'tiny', cpuCount: 1, memoryBytes: 128 * MiB });
    const l2NetworkId = await created('/v1/l2-networks', { zoneId, name: 'flat', physicalInterface: 'eth0' });
    const l3NetworkId = await created('/v1/l3-networks', { l2NetworkId, name: 'private' });
    await created(`/v1/l3-networks/${l3NetworkId}/ip-ranges`, { startIp: '10.32.0.10', endIp: '10.32.0.250', gateway: '10.32.0.1', netmask: '255.255.255.0' });
    // DELETE expunges at once, so the clean-up leaves no domain and no file.
    await call('PUT', '/v1/settings/vm.deletionPolicy', { value: 'Direct' });
    if (hostConcurrency !== undefined) {
      const set = await call('PUT', '/v1/settings/effect.hostConcurrency', { value: hostConcurrency });
      if (set.status !== 200) throw new Error(`effect.hostConcurrency: ${set.status} ${JSON.stringify(set.body)}`);
    }

    /** Runs a task to its end: `Prefer: wait` holds at most 60 s, then the task is polled. */
    const timed = async (what: string, method: string, path: string, body: object | undefined, wanted: number) => {
      const started = performance.now();
      let response = await call(method, path, body);
      if (response.status === 202) {
        const vmId = (response.body.resourceIds as string[] | undefined)?.[0];
        if (method === 'POST' && path === '/v1/vm-instances' && vmId) vmIds.push(vmId);
        const taskId = response.body.id as string;
        for (;;) {
          const task = await call('GET', `/v1/tasks/${taskId}`);
          if (task.body.state !== 'running') {
            response = task.body.state === 'succeeded' ? { status: wanted, body: { ...task.body.result, taskId } } : { status: 409, body: task.body };
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
      if (response.status !== wanted) throw new Error(`${what}: ${response.status} ${JSON.stringify(response.body)}`);
      return { ms: performance.now() - started, body: response.body };
    };
    const createVm = (name: string) => timed(`create ${name}`, 'POST', '/v1/vm-instances', { name, instanceOfferingId: offeringId, imageId, l3NetworkIds: [l3NetworkId] }, 201);

    // Warm-up, not measured: the first VM prepares the image in the host's cache.
    const warm = await createVm('warm-up');
    if (!vmIds.includes(warm.body.id as string)) vmIds.push(warm.body.id as string);

    const figures: Figures = { create: [], stop: [], start: [], concurrentSeconds: 0, concurrentCreate: [], concurrentCpuSeconds: 0, failures: 0 };
    for (let index = 0; index < singles; index++) {
      const vm = await createVm(`single-${index}`);
      if (!vmIds.includes(vm.body.id as string)) vmIds.push(vm.body.id as string);
      figures.create.push(vm.ms);
      figures.stop.push((await timed('stop', 'POST', `/v1/vm-instances/${vm.body.id as string}/stop`, { type: stopType }, 200)).ms);
      figures.start.push((await timed('start', 'POST', `/v1/vm-instances/${vm.body.id as string}/start`, undefined, 200)).ms);
      process.stderr.write(`  ${kind}: VM ${index + 1}/${singles} create ${vm.ms.toFixed(0)} ms\n`);
    }
    // Back to one host's steady state: only the concurrent batch runs from here.
    for (const vmId of vmIds.splice(0)) await call('DELETE', `/v1/vm-instances/${vmId}`);

    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    await Promise.all(Array.from({ length: concurrent }, async (_, index) => {
      try {
        const vm = await createVm(`batch-${index}`);
        if (!vmIds.includes(vm.body.id as string)) vmIds.push(vm.body.id as string);
        figures.concurrentCreate.push(vm.ms);
      } catch (error) {
        figures.failures++;
        process.stderr.write(`  ${(error as Error).message}\n`);
      }
    }));
    figures.concurrentSeconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    figures.concurrentCpuSeconds = (cpu.user + cpu.system) / 1e6;
    return figures;
  } finally {
    for (const vmId of vmIds) await call('DELETE', `/v1/vm-instances/${vmId}`).catch(() => undefined);
    server.close();
    server.closeAllConnections?.();
    await stratus.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (kind === 'KVM') {
      // Whatever a failed run left behind on this machine's libvirt.
      for (const vmId of vmIds) {
        for (const step of [['destroy'], ['undefine', '--snapshots-metadata']]) {
          try { execFileSync('virsh', ['-q', '-c', libvirtUri!, step[0]!, `stratus-${vmId}`, ...step.slice(1)], { stdio: 'ignore' }); } catch { /* gone */ }
        }
      }
      for (const pool of ['stratus-images', 'stratus-volumes']) {
        for (const step of ['pool-destroy', 'pool-undefine']) {
          try { execFileSync('virsh', ['-q', '-c', libvirtUri!, step, pool], { stdio: 'ignore' }); } catch { /* not there */ }
        }
      }
      rmSync(storageDir, { recursive: true, force: true });
    }
  }
}

async function main() {
  const imageDir = mkdtempSync(join(tmpdir(), 'stratus-bench-image-'));
  mkdirSync(imageDir, { recursive: true });
  const imageFile = join(imageDir, 'blank.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', imageFile, '64M']);
  try {
    const simulator = await measure('Simulator', imageFile);
    const libvirt = libvirtUri ? await measure('KVM', imageFile) : undefined;
    const row = (label: string, pick: (figures: Figures) => number, unit: string) => {
      const sim = pick(simulator);
      const real = libvirt ? pick(libvirt) : NaN;
      const ratio = libvirt ? `${(real / sim).toFixed(0)}x` : '-';
      return `  ${label.padEnd(38)} ${libvirt ? `${real.toFixed(1)} ${unit}`.padStart(12) : 'not run'.padStart(12)} ${`${sim.toFixed(1)} ${unit}`.padStart(12)} ${ratio.padStart(8)}`;
    };
    const lines = [
      `VM latencies through the HTTP API, one host: libvirt (qemu:///system, ${libvirt ? 'QEMU' : 'not run: STRATUS_TEST_LIBVIRT_URI unset'}) beside the simulator`,
      `  ${singles} VMs one after the other (create, ${stopType} stop, start each), then ${concurrent} created at once; 1 vCPU, 128 MiB, blank 64 MiB qcow2`,
      `  operations at once per host: ${hostConcurrency ?? 'default (effect.hostConcurrency, 10)'}; one VM's operations in order`,
      `  ${''.padEnd(38)} ${'libvirt'.padStart(12)} ${'simulator'.padStart(12)} ${'ratio'.padStart(8)}`,
      row('create-to-Running p50', (f) => quantile(f.create, 0.5), 'ms'),
      row('create-to-Running p95', (f) => quantile(f.create, 0.95), 'ms'),
      row(`stop (${stopType}) p50`, (f) => quantile(f.stop, 0.5), 'ms'),
      row(`stop (${stopType}) p95`, (f) => quantile(f.stop, 0.95), 'ms'),
      row('start p50', (f) => quantile(f.start, 0.5), 'ms'),
      row('start p95', (f) => quantile(f.start, 0.95), 'ms'),
      row(`${concurrent} concurrent creates, all ended`, (f) => f.concurrentSeconds, 's'),
      row(`  Stratus CPU time meanwhile`, (f) => f.concurrentCpuSeconds, 's'),
      row(`  each, p50`, (f) => quantile(f.concurrentCreate, 0.5), 'ms'),
      row(`  each, p95`, (f) => quantile(f.concurrentCreate, 0.95), 'ms'),
      `  failures: libvirt ${libvirt?.failures ?? '-'}, simulator ${simulator.failures}; load average at the end ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    rmSync(imageDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
