import type { Request, Response } from 'express';
import { principalAllows } from '../../commands/identity/principal.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { departmentManagerAllows } from '../../commands/tickets/department-managers.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { localsOf, requestContextOf, type Authorizer } from './endpoint.js';
import { ProblemError } from './problem.js';

/**
 * Every command and query is authorized. A denial is answered 403 FORBIDDEN and recorded as
 * a refused task, so the audit log shows who tried what, from where.
 */
export function authorizeRequest(deps: { tasks: Tasks; readStore?: ReadStore }): Authorizer {
  return async (req: Request, res: Response, permission: string) => {
    const principal = localsOf(res).principal;
    if (!principal) {
      throw new ProblemError(401, 'UNAUTHENTICATED', 'authentication required', undefined, { 'WWW-Authenticate': 'Bearer' });
    }
    if (principalAllows(principal, permission)) return;
    // A department manager holds no role (the role is exclusive) yet approves their departments' tickets.
    if (deps.readStore && await departmentManagerAllows(deps.readStore, principal, permission)) return;
    const message = principal.restriction === 'totp-enrollment'
      ? `two-factor authentication is required: enrol (POST /v1/users/me/totp) and log in with a code before ${permission}`
      : `permission ${permission} is required`;
    await deps.tasks.refuse(
      { ...requestContextOf(req, res), idempotencyKey: undefined },
      { action: permission, resourceType: permission.split(':')[0] ?? 'unknown', request: { method: req.method, path: req.path } },
      { code: 'FORBIDDEN', message, kind: 'forbidden' },
    );
    throw new ProblemError(403, 'FORBIDDEN', message);
  };
}
