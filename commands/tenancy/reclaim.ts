import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import { reclaimDeadline, reclaimDue, reminderDue } from '../../domain/tenancy/reclaim.js';
import { metadataFor, systemActor } from '../shared/request-context.js';
import type { DueJob } from '../shared/timer-loop.js';
import type { Tasks } from '../tasks/tasks.js';
import { loadProject, projectAggregates, runProjectCommand } from './projects.js';
import { stopProjectVms } from './stop-project-vms.js';
import { projectStream } from '../../domain/tenancy/project.js';

// Reclaim by time, driven by the timer loop (DESIGN.md §3: due times in a read model, polled).
// The projects read model holds each project's `reminderDueAt` (14 days before its deadline)
// and `reclaimDueAt` (the deadline); the project aggregate decides, so a lagging read model
// only delays or repeats a no-op.
//  - Reminder: `ProjectExpiryReminded` is recorded once per deadline; the notifier mails the
//    members from it (so a restart does not mail again), and logins show the notice meanwhile.
//  - Deadline: a system task (audited) runs the action. For the actions that stop resources
//    the project's VMs are stopped first, through the VM stop command the API uses; then the
//    project is marked reclaimed (LoginExpired or Deleted). A crash in between repeats the
//    stops (stopping a stopped VM is skipped) and then records the reclaim. A tick waits for
//    the task (it only records the first events of each stop), so ticks never overlap on it.
// Reclaim by cost is stored only: it fires once billing exists.

export interface ReclaimDeps {
  store: EventStore;
  readStore: ReadStore;
  clock: Clock;
  tasks: Pick<Tasks, 'start' | 'wait'>;
  log: { warn(details: object, message: string): void };
}

const batchLimit = 500;

export async function remindProject(deps: ReclaimDeps, projectId: string, now: number): Promise<boolean> {
  const { state } = await loadProject(deps.store, projectId);
  if (!state.exists || !reminderDue(state, now)) return false;
  const { deadline } = reclaimDeadline(state)!;
  const outcome = await projectAggregates.handle(deps.store, projectStream(projectId), { type: 'RemindExpiry', deadline, now },
    metadataFor({ actor: systemActor, correlationId: `reclaim-reminder-${projectId}-${deadline}` }));
  return outcome.events.length > 0;
}

export async function reclaimProject(deps: ReclaimDeps, projectId: string, now: number): Promise<boolean> {
  const { state } = await loadProject(deps.store, projectId);
  if (!state.exists || !reclaimDue(state, now)) return false;
  const { deadline, action } = reclaimDeadline(state)!;
  const context = { actor: systemActor, correlationId: `reclaim-${projectId}-${deadline}` };
  const started = await deps.tasks.start(context, {
    action: 'ReclaimProject', resourceType: 'project', resourceIds: [projectId],
    request: { projectId, deadline: new Date(deadline).toISOString(), action, reason: 'reclaim policy deadline reached' },
  }, async ({ metadata }) => {
    const stopped = action === 'DisableLogin'
      ? undefined
      : await stopProjectVms({ store: deps.store, readStore: deps.readStore, clock: deps.clock }, projectId, metadata);
    const outcome = await runProjectCommand({ store: deps.store, clock: deps.clock }, projectId, { type: 'Reclaim', deadline, now: deps.clock.now() }, metadata);
    return { result: { project: outcome.view, action, ...(stopped ? { vms: stopped } : {}) } };
  });
  const view = await deps.tasks.wait(started.taskId, 60_000);
  return view?.state === 'succeeded';
}

export function createReclaimJob(deps: ReclaimDeps): DueJob {
  return {
    name: 'project-reclaim',
    async run(now) {
      const reminders = await deps.readStore.find('projects', { reminderDueAt: { $lte: now } }, { sort: [['reminderDueAt', 1]], limit: batchLimit });
      for (const doc of reminders) {
        await remindProject(deps, doc.id as string, now).catch((error: unknown) => {
          if (!(error instanceof DomainError)) deps.log.warn({ err: error, projectId: doc.id }, 'could not record an expiry reminder; tried again at the next tick');
        });
      }
      const due = await deps.readStore.find('projects', { reclaimDueAt: { $lte: now } }, { sort: [['reclaimDueAt', 1]], limit: batchLimit });
      for (const doc of due) {
        await reclaimProject(deps, doc.id as string, now).catch((error: unknown) => {
          deps.log.warn({ err: error, projectId: doc.id }, 'could not start a project reclaim; tried again at the next tick');
        });
      }
    },
  };
}
