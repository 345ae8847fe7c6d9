// The main thread's side of the projection thread (bin/projection-thread.ts): a
// ProjectionRunner whose projections are applied in a worker thread. `waitFor` and
// `positions` answer from the positions the thread posts after each batch; `committed()`
// is called after every commit of the main thread's event store to wake the thread.
//
// If the thread dies, its projections stop moving (/readyz shows the lag): it is started
// again after a pause and resumes from the checkpoints it committed.
import { Worker } from 'node:worker_threads';
import type { Projection } from '../projections/shared/projection.js';
import { threadEntry } from '../projections/shared/thread-entry.js';
import { createPositionWaiters } from '../projections/shared/position-waiters.js';
import type { ProjectionRunner, RunnerLogger } from '../projections/shared/runner.js';
import type { FromProjectionThread, ProjectionThreadData, ToProjectionThread } from './projection-thread.js';

const RESTART_DELAY_MS = 1000;

export interface ProjectionThreadRunner extends ProjectionRunner {
  /** Tells the thread that the event store committed (wakes its subscription at once). */
  committed(): void;
}

export function createProjectionThreadRunner(deps: {
  eventStoreFile: string;
  readStoreFile: string;
  projections: readonly Projection[];
  log: RunnerLogger;
}): ProjectionThreadRunner {
  const { log } = deps;
  const reached = createPositionWaiters(deps.projections.map((projection) => projection.name));
  let worker: Worker | undefined;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;

  const send = (message: ToProjectionThread) => worker?.postMessage(message);

  function record(positions: Array<[string, number]>) {
    for (const [name, position] of positions) reached.set(name, position);
    reached.notify();
  }

  function spawn(): Promise<void> {
    const data: ProjectionThreadData = { eventStoreFile: deps.eventStoreFile, readStoreFile: deps.readStoreFile };
    const thread = new Worker(threadEntry(import.meta.url, 'projection-thread'), { workerData: data, execArgv: [] });
    worker = thread;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      thread.on('message', (message: FromProjectionThread) => {
        switch (message.kind) {
          case 'positions':
            record(message.positions);
            return;
          case 'ready':
            record(message.positions);
            ready = true;
            resolve();
            return;
          case 'log':
            log[message.level](message.details, `projection thread: ${message.message}`);
            return;
          case 'stopped':
            return;
        }
      });
      thread.on('error', (error) => log.error({ err: error }, 'projection thread failed'));
      thread.on('exit', (code) => {
        if (worker === thread) worker = undefined;
        if (!ready) reject(new Error(`the projection thread exited with code ${code} before it was ready`));
        else if (!stopping) {
          log.error({ code }, 'projection thread exited: starting it again');
          restartTimer = setTimeout(() => {
            restartTimer = undefined;
            if (!stopping) spawn().catch((error: unknown) => log.error({ err: error }, 'projection thread could not start again'));
          }, RESTART_DELAY_MS);
        }
      });
    });
  }

  return {
    start: () => spawn(),
    async stop() {
      stopping = true;
      if (restartTimer) clearTimeout(restartTimer);
      const thread = worker;
      if (thread) {
        const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
        send({ kind: 'stop' });
        await exited;
      }
      reached.releaseAll();
    },
    committed: () => send({ kind: 'committed' }),
    waitFor: reached.waitFor,
    positions: reached.positions,
  };
}
