import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { taskDecider, taskStream } from '../../domain/tasks/task.js';
import { handleCommand } from '../shared/handle-command.js';
import { metadataFor, systemActor } from '../shared/request-context.js';
import { createTimerLoop, type TimerLoop } from '../shared/timer-loop.js';
import type { Tasks } from '../tasks/tasks.js';
import { createExpungerJob } from './expunger.js';
import { createVmProcess } from './provisioning.js';
import type { ProcessRunner } from './provisioning-runner.js';
import { loadVm } from './vm-store.js';

// The running parts of the VM lifecycle, for the composition root: the process manager
// (provisioning, teardown, task outcomes) and the timer loop of the deletion expunger.

export interface VmLifecycle {
  process: ProcessRunner;
  /** The expunger's timer loop; tests with a manual clock call `tick()`. */
  timer: TimerLoop;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * After a restart, once the process has caught up: a VM task whose work died before it
   * handed the task over (the VM never got the operation) gets its INTERRUPTED outcome.
   * Tasks the process carries on are left to it. Returns how many were failed.
   */
  failOrphanedTasks(startedAt: number): Promise<number>;
}

export interface VmLifecycleLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export function createVmLifecycle(deps: {
  eventStore: EventStore;
  readStore: ReadStore;
  clock: Clock;
  tasks: Tasks;
  log: VmLifecycleLogger;
  timerIntervalMs?: number;
}): VmLifecycle {
  const process = createVmProcess({ eventStore: deps.eventStore, readStore: deps.readStore, clock: deps.clock, tasks: deps.tasks, log: deps.log });
  const expunger = createExpungerJob({ store: deps.eventStore, readStore: deps.readStore, clock: deps.clock, tasks: deps.tasks, log: deps.log });
  const timer = createTimerLoop({ clock: deps.clock, jobs: [expunger], intervalMs: deps.timerIntervalMs ?? 1000, log: deps.log });

  async function failOrphanedTasks(startedAt: number): Promise<number> {
    if (!(await process.drained(3_600_000))) return 0; // stopped before it caught up
    const running = await deps.readStore.find('tasks', {
      state: 'running', resourceType: 'vm', startedAt: { $lt: new Date(startedAt).toISOString() },
    }, { limit: 10_000 });
    let failed = 0;
    for (const task of running) {
      const [started] = await deps.eventStore.readStream(taskStream(task.id), { limit: 1 });
      if ((started?.data as { completedBy?: string } | undefined)?.completedBy !== 'process') continue;
      const vmId = (task.resourceIds as string[] | undefined)?.[0];
      const vm = vmId ? (await loadVm(deps.eventStore, vmId)).state : undefined;
      if (vm?.exists && vm.process?.taskId === task.id) continue; // the process will end it
      const outcome = await handleCommand(deps.eventStore, taskDecider, taskStream(task.id), {
        type: 'FailTask',
        error: { code: 'INTERRUPTED', message: 'the server stopped before the operation reached the VM; check the VM and retry', kind: 'conflict' },
        now: deps.clock.now(),
      }, metadataFor({ actor: systemActor, correlationId: `recovery-${task.id}` }));
      failed += outcome.events.length;
    }
    return failed;
  }

  return {
    process,
    timer,
    async start() {
      await process.start();
      timer.start();
    },
    async stop() {
      await timer.stop();
      await process.stop();
    },
    failOrphanedTasks,
  };
}
