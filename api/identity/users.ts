import type { Request, Response } from 'express';
import { z } from 'zod';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import type { Principal } from '../../commands/identity/principal.js';
import {
  changeOwnPassword, changeUserRoles, createUserAs, deleteUser, loadLiveUser, resetPassword, setUserEnabled, unlockUser, userView,
} from '../../commands/identity/users.js';
import { assertAddressNotThrottled } from '../../commands/identity/sessions.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { userListFields, usersCollection } from '../../projections/identity/users.js';
import type { ProjectionRunner } from '../../projections/shared/runner.js';
import { authorizeRequest } from '../shared/authorize.js';
import { endpoint, localsOf, type Endpoint } from '../shared/endpoint.js';
import { etagOf, ifMatchVersion } from '../shared/etag.js';
import { resourceTask } from '../shared/resource-task.js';
import { sendList } from '../shared/list.js';
import { ProblemError } from '../shared/problem.js';
import { assertUserVisible, userVisibilityScope } from '../tenancy/organizations.js';
import { loginThrottleOf, rateLimitProblem } from './runtime.js';

export const usernameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, '1 to 64 letters, digits and . _ @ -, starting with a letter or digit');
const passwordSchema = z.string().min(1).max(1024);
const rolesSchema = z.array(z.string().min(1).max(128)).max(50).describe('System role names (admin, platform-admin, auditor, read-only) or custom role ids or names');
const zonesSchema = z.union([z.literal('all'), z.array(z.string().min(1).max(64)).max(1000)])
  .describe('Zones a zone-scoped role (platform-admin) applies in: "all" or zone ids');

const createBody = z.strictObject({ username: usernameSchema, password: passwordSchema, roles: rolesSchema.default([]), zones: zonesSchema.optional() });
const updateBody = z.strictObject({ roles: rolesSchema.optional(), zones: zonesSchema.optional() });
const passwordBody = z.strictObject({ oldPassword: passwordSchema.optional(), newPassword: passwordSchema });

export const userViewSchema = z.object({
  id: z.string(),
  username: z.string(),
  roles: z.array(z.string()),
  zones: z.union([z.literal('all'), z.array(z.string())]),
  state: z.enum(['enabled', 'disabled']),
  totp: z.enum(['off', 'pending', 'on']),
  lockedUntil: z.string().nullable(),
  version: z.number(),
});

/** `me` stands for the caller's own user id. */
export const targetUserId = (principal: Principal, id: string) => (id === 'me' ? principal.userId : id);


export function userEndpoints(deps: { eventStore: EventStore; readStore: ReadStore; runner: ProjectionRunner; clock: Clock; tasks: Tasks }): Endpoint[] {
  const userDeps = { store: deps.eventStore, clock: deps.clock };
  const demand = authorizeRequest(deps);

  async function sendUser(res: Response, userId: string) {
    const user = await loadLiveUser(deps.eventStore, userId);
    res.setHeader('ETag', etagOf(user.version));
    res.json(await userView(userDeps, user));
  }

  /** A task acting on one user, answered with the user as it stands after it. */
  function userAction(action: string, successStatus: 200 | 201, work: (input: { req: Request; principal: Principal; userId: string; body: any; metadata: Parameters<typeof createUserAs>[2] }) => Promise<unknown>) {
    return resourceTask(deps.tasks, { type: 'user', idField: 'userId', idOf: targetUserId }, action, successStatus,
      ({ req, principal, id, body, task }) => work({ req, principal, userId: id, body, metadata: task }));
  }

  const userAnswer = { description: 'The user', schema: userViewSchema };

  return [
    endpoint({
      method: 'get',
      path: '/v1/users/me',
      tag: 'identity',
      summary: 'The caller\'s own user',
      permission: 'profile:read',
      responses: { 200: userAnswer },
      async handle({ res }) {
        await sendUser(res, localsOf(res).principal!.userId);
      },
    }),
    endpoint({
      method: 'post',
      path: '/v1/users',
      tag: 'identity',
      summary: 'Create a local user. The password must meet the policy; only roles the caller holds can be given.',
      permission: 'user:create',
      body: createBody,
      responses: { 201: userAnswer },
      handle: userAction('CreateUser', 201, ({ principal, body, metadata }) => createUserAs(userDeps, principal, metadata, body)),
    }),
    endpoint({
      method: 'get',
      path: '/v1/users',
      tag: 'identity',
      summary: 'Users',
      permission: 'user:list',
      listQuery: true,
      responses: { 200: { description: 'Users' } },
      async handle({ req, res }) {
        // A platform member in a department sees the users of their organization tree only (issue 7).
        const scope = await userVisibilityScope(deps.readStore, localsOf(res).principal!);
        await sendList(req, res, deps, { collection: usersCollection, fields: userListFields, defaultSort: [['username', 1]], scope });
      },
    }),
    endpoint({
      method: 'get',
      path: '/v1/users/:id',
      tag: 'identity',
      summary: 'A user; its ETag guards PATCH with If-Match',
      permission: 'user:read',
      responses: { 200: userAnswer },
      async handle({ res, params }) {
        const principal = localsOf(res).principal!;
        const userId = targetUserId(principal, params.id!);
        await assertUserVisible(deps.readStore, principal, userId);
        await sendUser(res, userId);
      },
    }),
    endpoint({
      method: 'patch',
      path: '/v1/users/:id',
      tag: 'identity',
      summary: 'Change a user\'s roles and zones. Nobody grants what they do not hold, nor changes a user who holds more than they do.',
      permission: 'user:update',
      body: updateBody,
      responses: { 200: userAnswer },
      async handle(input) {
        // Read before the task: a malformed If-Match is the client's error (400), not the task's.
        const expectedVersion = ifMatchVersion(input.req.get('if-match'));
        await userAction('UpdateUser', 200, ({ principal, userId, body, metadata }) =>
          changeUserRoles(userDeps, principal, metadata, userId, body, expectedVersion))(input);
      },
    }),
    endpoint({
      method: 'post',
      path: '/v1/users/:id/disable',
      tag: 'identity',
      summary: 'Disable a user: their sessions and access keys stop working',
      permission: 'user:update',
      responses: { 200: userAnswer },
      handle: userAction('DisableUser', 200, ({ principal, userId, metadata }) => setUserEnabled(userDeps, principal, metadata, userId, false)),
    }),
    endpoint({
      method: 'post',
      path: '/v1/users/:id/enable',
      tag: 'identity',
      summary: 'Enable a disabled user',
      permission: 'user:update',
      responses: { 200: userAnswer },
      handle: userAction('EnableUser', 200, ({ principal, userId, metadata }) => setUserEnabled(userDeps, principal, metadata, userId, true)),
    }),
    endpoint({
      method: 'delete',
      path: '/v1/users/:id',
      tag: 'identity',
      summary: 'Delete a user: their sessions and access keys stop working, the name becomes free',
      permission: 'user:delete',
      responses: { 200: { description: 'Deleted' } },
      handle: userAction('DeleteUser', 200, async ({ principal, userId, metadata }) => {
        await deleteUser(userDeps, principal, metadata, userId);
        return { id: userId, deleted: true };
      }),
    }),
    endpoint({
      method: 'post',
      path: '/v1/users/:id/password',
      tag: 'identity',
      summary: 'Change a password. Your own: `oldPassword` is required and your other sessions are closed. '
        + 'Someone else\'s (needs user:reset-password): no old password, all their sessions are closed.',
      permission: 'profile:update',
      body: passwordBody,
      responses: { 200: userAnswer },
      async handle(input) {
        const principal = localsOf(input.res).principal!;
        const userId = targetUserId(principal, input.params.id!);
        const self = userId === principal.userId;
        if (self && input.body.oldPassword === undefined) {
          throw new ProblemError(400, 'VALIDATION_FAILED', 'changing your own password needs the current one', [{ field: 'oldPassword', message: 'required' }]);
        }
        if (!self) await demand(input.req, input.res, 'user:reset-password');
        const throttle = loginThrottleOf(deps);
        // A stolen session must not become a password oracle: wrong old passwords are throttled like failed logins.
        if (self) await assertAddressNotThrottled({ store: deps.eventStore, throttle }, input.req.ip).catch((error: unknown) => { throw rateLimitProblem(error); });
        await userAction(self ? 'ChangePassword' : 'ResetPassword', 200, ({ req, metadata }) => (self
          ? changeOwnPassword({ ...userDeps, throttle }, principal, metadata, {
            oldPassword: input.body.oldPassword!, newPassword: input.body.newPassword, ...(req.ip ? { clientIp: req.ip } : {}),
          })
          : resetPassword(userDeps, principal, metadata, userId, input.body.newPassword)))(input);
      },
    }),
    endpoint({
      method: 'post',
      path: '/v1/users/:id/unlock',
      tag: 'identity',
      summary: 'Unlock a user locked after repeated failed logins',
      permission: 'user:unlock',
      responses: { 200: userAnswer },
      handle: userAction('UnlockUser', 200, ({ principal, userId, metadata }) => unlockUser(userDeps, principal, metadata, userId)),
    }),
  ];
}
