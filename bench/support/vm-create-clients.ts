// The clients of bench/vm-create.ts, in a process of their own as real clients would be:
// their HTTP work (request building, response parsing) no longer shares the server's main
// thread. Forked by the benchmark with an IPC channel; it reports each phase back.
//
// Phases: SINGLE creates one after the other (create-to-Running latency), then VMS creates
// by CLIENTS concurrent clients, each VM Running before its client asks for the next.
import { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { jsonPost } from './json-post.js';

export interface ClientJob {
  base: string;
  token: string;
  body: Record<string, unknown>;
  vms: number;
  clients: number;
  singles: number;
}

export type ClientMessage =
  | { kind: 'singles'; latencies: number[] }
  | { kind: 'concurrent-started' }
  | { kind: 'progress'; done: number; seconds: number }
  | { kind: 'concurrent-done'; seconds: number; failures: number; errors: string[]; clientCpuSeconds: number };

function report(message: ClientMessage) {
  process.send!(message);
}

async function run(job: ClientJob) {
  const agent = new Agent({ keepAlive: true, maxSockets: job.clients + 1 });
  const send = jsonPost(job.base, agent);
  const create = async (name: string) => {
    const response = await send('/v1/vm-instances', { ...job.body, name }, { authorization: `Bearer ${job.token}`, prefer: 'wait=60' });
    if (response.status !== 201 || response.body.state !== 'Running') throw new Error(`create ${name}: ${response.status} ${JSON.stringify(response.body)}`);
  };

  const latencies: number[] = [];
  for (let index = 0; index < job.singles; index++) {
    const started = performance.now();
    await create(`single-${index}`);
    latencies.push(performance.now() - started);
  }
  report({ kind: 'singles', latencies });

  let next = 0;
  let done = 0;
  const errors: string[] = [];
  const cpuBefore = process.cpuUsage();
  report({ kind: 'concurrent-started' });
  const started = performance.now();
  await Promise.all(Array.from({ length: job.clients }, async () => {
    for (;;) {
      const index = next++;
      if (index >= job.vms) return;
      try {
        await create(`vm-${index}`);
      } catch (error) {
        errors.push((error as Error).message);
      }
      done++;
      if (done % 1000 === 0) report({ kind: 'progress', done, seconds: (performance.now() - started) / 1000 });
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  report({ kind: 'concurrent-done', seconds, failures: errors.length, errors: errors.slice(0, 5), clientCpuSeconds: (cpu.user + cpu.system) / 1e6 });
  agent.destroy();
}

process.once('message', (job: ClientJob) => {
  run(job).then(
    () => process.disconnect(),
    (error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
});
