import type { Request, Response } from 'express';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { DomainError } from '../../domain/shared/errors.js';
import { requestContextOf } from '../shared/endpoint.js';

/**
 * Runs a query or a non-task command whose refusal depends on the resource (acting on a user
 * who holds more than you, on someone else's enrolment): a refusal is audited like a denied
 * permission, as a refused task, and then answered 403.
 */
export async function auditRefusals<T>(
  deps: { tasks: Tasks },
  req: Request,
  res: Response,
  spec: { action: string; resourceType: string; resourceIds: string[] },
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof DomainError && error.kind === 'forbidden') {
      await deps.tasks.refuse(
        { ...requestContextOf(req, res), idempotencyKey: undefined },
        { ...spec, request: { method: req.method, path: req.path } },
        { code: error.code, message: error.message, kind: 'forbidden' },
      );
    }
    throw error;
  }
}
