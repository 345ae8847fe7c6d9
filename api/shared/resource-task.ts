import type { Request, Response } from 'express';
import type { Principal } from '../../commands/identity/principal.js';
import type { Tasks, TaskWorkContext } from '../../commands/tasks/tasks.js';
import { localsOf, requestContextOf } from './endpoint.js';
import { respondWithTask } from './task-response.js';

// The handler of an endpoint that writes one resource — the one `:id` names, or the one a
// create makes: a task whose resources and request name it, answered as respondWithTask does.

export interface ResourceWork {
  req: Request;
  principal: Principal;
  /** The resource `:id` names ('' for a create). */
  id: string;
  body: any;
  task: TaskWorkContext;
}

export function resourceTask(
  tasks: Tasks,
  resource: { type: string; idField: string; idOf?: (principal: Principal, id: string) => string },
  action: string,
  successStatus: 200 | 201,
  work: (input: ResourceWork) => Promise<unknown>,
) {
  return async ({ req, res, params, body }: { req: Request; res: Response; params: Record<string, string>; body: unknown }) => {
    const principal = localsOf(res).principal!;
    const id = params.id ? (resource.idOf ? resource.idOf(principal, params.id) : params.id) : '';
    const started = await tasks.start(
      requestContextOf(req, res),
      { action, resourceType: resource.type, resourceIds: id ? [id] : [], request: { ...(id ? { [resource.idField]: id } : {}), ...((body as object | undefined) ?? {}) } },
      async (task) => {
        const result = await work({ req, principal, id, body, task });
        // A create answers what it made: its id is the task's resource.
        const resultId = (result as { id?: string } | undefined)?.id ?? id;
        return { result, resourceIds: resultId ? [resultId] : [] };
      },
    );
    await respondWithTask(req, res, tasks, started, { successStatus });
  };
}
