import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import { taskDecider, taskStream } from '../../domain/tasks/task.js';
import { handleCommand } from '../shared/handle-command.js';
import { metadataFor, systemActor } from '../shared/request-context.js';

/**
 * A task run inside a request dies with its process. On start of the (single) embedded
 * server, tasks the task list still shows running are failed as INTERRUPTED, so that the
 * client polling them and the audit log get an outcome instead of "running" for ever.
 * Tasks completed by a process manager (`completedBy: 'process'`) are left to it.
 * Checked against each task's stream, which is authoritative.
 */
export async function failInterruptedTasks(deps: { store: EventStore; readStore: ReadStore; clock: Clock; startedAt: number }): Promise<number> {
  const running = await deps.readStore.find('tasks', { state: 'running', startedAt: { $lt: new Date(deps.startedAt).toISOString() } }, { limit: 10_000 });
  let failed = 0;
  for (const task of running) {
    // A task a process manager completes survives a restart: the process resumes and ends it.
    const [started] = await deps.store.readStream(taskStream(task.id), { limit: 1 });
    if ((started?.data as { completedBy?: string } | undefined)?.completedBy === 'process') continue;
    const outcome = await handleCommand(deps.store, taskDecider, taskStream(task.id), {
      type: 'FailTask',
      error: { code: 'INTERRUPTED', message: 'the server stopped before the task finished; check the resource and retry', kind: 'conflict' },
      now: deps.clock.now(),
    }, metadataFor({ actor: systemActor, correlationId: `recovery-${task.id}` }));
    failed += outcome.events.length;
  }
  return failed;
}
