import type { Request, Response } from 'express';
import type { StartedTask, Tasks, TaskView } from '../../commands/tasks/tasks.js';
import { ProblemError, problemFromDomain } from './problem.js';

// Every write is a task (DESIGN.md §5). Quick ones are awaited and answered 200/201 with the
// result and its taskId; long ones answer 202 + Location unless `Prefer: wait=<s>` lets
// them finish in time.

const quickTaskWaitMs = 30_000;
const maxPreferWaitSeconds = 60;

export function preferredWaitSeconds(req: Request): number | undefined {
  const prefer = req.get('prefer');
  const match = prefer ? /(?:^|[,;\s])wait=(\d+)/i.exec(prefer) : null;
  return match ? Math.min(Number(match[1]), maxPreferWaitSeconds) : undefined;
}

export async function respondWithTask(
  req: Request,
  res: Response,
  tasks: Tasks,
  started: StartedTask,
  options: { successStatus: 200 | 201; long?: boolean },
): Promise<void> {
  const preferred = preferredWaitSeconds(req);
  const waitMs = options.long ? (preferred ?? 0) * 1000 : Math.max(quickTaskWaitMs, (preferred ?? 0) * 1000);
  if (preferred !== undefined) res.setHeader('Preference-Applied', `wait=${preferred}`);
  const view = await tasks.wait(started.taskId, waitMs);
  if (!view) throw new ProblemError(404, 'TASK_NOT_FOUND', 'task not found');
  res.setHeader('Stratus-Task-Id', view.id);
  if (view.state === 'running') {
    res.status(202).location(`/v1/tasks/${view.id}`).json(view);
    return;
  }
  sendFinishedTask(res, view, options.successStatus);
}

export function sendFinishedTask(res: Response, view: TaskView, successStatus: number) {
  if (view.position) res.setHeader('Stratus-Position', String(view.position));
  if (view.state === 'failed') throw problemFromDomain(view.error ?? { code: 'INTERNAL_ERROR', message: 'task failed' });
  const result = view.result;
  const body = result !== null && typeof result === 'object' && !Array.isArray(result)
    ? { ...(result as object), taskId: view.id }
    : { result, taskId: view.id };
  res.status(successStatus).json(body);
}
