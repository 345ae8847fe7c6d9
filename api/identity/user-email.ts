import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import { assertMayManage, principalAllows, type Principal } from '../../commands/identity/principal.js';
import { DomainError } from '../../domain/shared/errors.js';
import { loadLiveUser } from '../../commands/identity/users.js';
import { emailOfUser, setUserEmail } from '../../commands/notifications/user-email.js';
import { REDACTED } from '../../commands/shared/redact.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { endpoint, localsOf, requestContextOf, type Endpoint } from '../shared/endpoint.js';
import { assertUserVisible } from '../tenancy/organizations.js';
import { finishedTask } from './task-answer.js';
import { targetUserId } from './users.js';

// A user's e-mail address (where ticket and project-expiry notifications go). Personal data:
// sealed in the user's stream, left out of the task's recorded request and result (the audit
// log shows that it changed, not what to), shown only here to whoever may manage the user.

const emailAnswer = z.object({ userId: z.string(), email: z.string().nullable() });

/** Your own address is yours (profile); another user's needs `permission` and may be managed by you. */
async function assertMayTouch(store: EventStore, principal: Principal, user: Parameters<typeof assertMayManage>[2], permission: string) {
  if (user.userId === principal.userId) return;
  if (!principalAllows(principal, permission)) throw new DomainError('FORBIDDEN', `${permission} is needed for another user's e-mail address`, 'forbidden');
  await assertMayManage(store, principal, user);
}

export function userEmailEndpoints(deps: { eventStore: EventStore; readStore: ReadStore; clock: Clock; secrets: SecretBox; tasks: Tasks }): Endpoint[] {
  const commandDeps = { store: deps.eventStore, clock: deps.clock, secrets: deps.secrets };
  return [
    endpoint({
      method: 'get', path: '/v1/users/:id/email', tag: 'identity', summary: 'A user\'s e-mail address (null: none); `me` for your own', permission: 'profile:read',
      responses: { 200: { description: 'The address', schema: emailAnswer } },
      async handle({ res, params }) {
        const principal = localsOf(res).principal!;
        const userId = targetUserId(principal, params.id!);
        await assertUserVisible(deps.readStore, principal, userId);
        const user = await loadLiveUser(deps.eventStore, userId);
        await assertMayTouch(deps.eventStore, principal, user, 'user:read');
        res.setHeader('Cache-Control', 'no-store');
        res.json({ userId, email: emailOfUser(user, deps.secrets) ?? null });
      },
    }),
    endpoint({
      method: 'put', path: '/v1/users/:id/email', tag: 'identity', summary: 'Set (or with null remove) a user\'s e-mail address for notifications; `me` for your own', permission: 'profile:update',
      body: z.strictObject({ email: z.string().min(3).max(254).nullable() }),
      responses: { 200: { description: 'Set', schema: emailAnswer } },
      async handle({ req, res, params, body }) {
        const principal = localsOf(res).principal!;
        const userId = targetUserId(principal, params.id!);
        await assertUserVisible(deps.readStore, principal, userId);
        const started = await deps.tasks.start(
          requestContextOf(req, res),
          { action: 'ChangeUserEmail', resourceType: 'user', resourceIds: [userId], request: { userId, email: body.email === null ? null : REDACTED } },
          async ({ metadata }) => {
            const user = await loadLiveUser(deps.eventStore, userId);
            await assertMayTouch(deps.eventStore, principal, user, 'user:update');
            const changed = await setUserEmail(commandDeps, user, body.email, metadata);
            return { result: { userId, emailSet: changed.email !== null } };
          },
        );
        const view = await finishedTask(res, deps.tasks, started);
        if (!view) return;
        res.setHeader('Cache-Control', 'no-store');
        res.json({ userId, email: body.email === null ? null : body.email.trim(), taskId: view.id });
      },
    }),
  ];
}
