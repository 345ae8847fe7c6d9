import type { Response } from 'express';
import type { StartedTask, Tasks, TaskView } from '../../commands/tasks/tasks.js';
import { ProblemError, problemFromDomain } from '../shared/problem.js';

const quickTaskWaitMs = 30_000;

/**
 * Waits for a quick task whose answer carries something its recorded result must not (a
 * secret shown once, a QR code): the caller builds the answer from the finished task.
 * Answers 202 itself if the task is still running, throws the task's problem if it failed.
 */
export async function finishedTask(res: Response, tasks: Tasks, started: StartedTask): Promise<TaskView | undefined> {
  const view = await tasks.wait(started.taskId, quickTaskWaitMs);
  if (!view) throw new ProblemError(404, 'TASK_NOT_FOUND', 'task not found');
  res.setHeader('Stratus-Task-Id', view.id);
  if (view.position) res.setHeader('Stratus-Position', String(view.position));
  if (view.state === 'running') {
    res.status(202).location(`/v1/tasks/${view.id}`).json(view);
    return undefined;
  }
  if (view.state === 'failed') throw problemFromDomain(view.error ?? { code: 'INTERNAL_ERROR', message: 'task failed' });
  return view;
}
