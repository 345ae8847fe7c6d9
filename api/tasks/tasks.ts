import { z } from 'zod';
import type { ReadStore } from '../../adapters/readstore/port.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { isAdmin } from '../../domain/identity/permissions.js';
import type { ProjectionRunner } from '../../projections/shared/runner.js';
import { taskListFields, tasksCollection } from '../../projections/tasks/tasks.js';
import { endpoint, localsOf, type Endpoint } from '../shared/endpoint.js';
import { sendList } from '../shared/list.js';
import { ProblemError } from '../shared/problem.js';
import { preferredWaitSeconds } from '../shared/task-response.js';

const taskView = z.object({
  id: z.string(),
  action: z.string(),
  state: z.enum(['running', 'succeeded', 'failed']),
  resourceType: z.string(),
  resourceIds: z.array(z.string()),
  operator: z.object({ kind: z.string(), id: z.string(), name: z.string() }),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  result: z.unknown().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  position: z.number(),
});

export function taskEndpoints(deps: { tasks: Tasks; readStore: ReadStore; runner: ProjectionRunner }): Endpoint[] {
  return [
    endpoint({
      method: 'get',
      path: '/v1/tasks/:id',
      tag: 'tasks',
      summary: 'A task: its state, and its result or error once finished. `Prefer: wait=<s>` waits for it to finish.',
      permission: 'task:read',
      responses: { 200: { description: 'The task', schema: taskView } },
      async handle({ req, res, params }) {
        const principal = localsOf(res).principal!;
        const waitSeconds = preferredWaitSeconds(req) ?? 0;
        const view = await deps.tasks.wait(params.id!, waitSeconds * 1000);
        // Someone else's task is "not found" rather than "forbidden": ids are not disclosed.
        if (!view || (!isAdmin(principal.roles) && view.operator.id !== principal.actor.id)) {
          throw new ProblemError(404, 'TASK_NOT_FOUND', `no task ${params.id}`);
        }
        res.json(view);
      },
    }),
    endpoint({
      method: 'get',
      path: '/v1/tasks',
      tag: 'tasks',
      summary: 'Tasks, newest first (an administrator sees everyone\'s, others their own)',
      permission: 'task:list',
      listQuery: true,
      responses: { 200: { description: 'Tasks' } },
      async handle({ req, res }) {
        const principal = localsOf(res).principal!;
        await sendList(req, res, deps, {
          collection: tasksCollection,
          fields: taskListFields,
          defaultSort: [['startedAt', -1]],
          scope: isAdmin(principal.roles) ? {} : { 'operator.id': principal.actor.id },
        });
      },
    }),
  ];
}
