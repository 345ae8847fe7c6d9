import { z } from 'zod';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { assertMayManage } from '../../commands/identity/principal.js';
import { loadSession, login, logout, revokeSession } from '../../commands/identity/sessions.js';
import { loadUser } from '../../commands/identity/user-lookup.js';
import { isLiveUser } from '../../domain/identity/user.js';
import { sessionListFields, sessionsCollection } from '../../projections/identity/sessions.js';
import type { ProjectionRunner } from '../../projections/shared/runner.js';
import { endpoint, localsOf, requestContextOf, type Endpoint } from '../shared/endpoint.js';
import { sendList } from '../shared/list.js';
import { ProblemError } from '../shared/problem.js';
import { auditRefusals } from './refusal.js';
import { loginThrottleOf, rateLimitProblem } from './runtime.js';

const loginBody = z.strictObject({
  username: z.string().min(1).max(128),
  password: z.string().min(1).max(1024),
  totp: z.string().regex(/^\d{6}$/, 'must be the 6-digit code of the authenticator app').optional(),
  projectId: z.string().min(1).max(64).optional().describe('Log in to this project: the session acts as a member of it, on its resources only'),
});

const loginAnswer = z.object({
  token: z.string(),
  expiresAt: z.string(),
  user: z.object({ id: z.string(), username: z.string() }),
  restriction: z.literal('totp-enrollment').optional().describe('The session may only enrol in two-factor authentication'),
  notices: z.array(z.object({
    code: z.literal('PROJECT_EXPIRING'), projectId: z.string(), deadline: z.string(), action: z.string(), daysLeft: z.number(), message: z.string(),
  })).optional().describe('A project login within 14 days of the project\'s reclaim deadline: the expiry reminder'),
});

const activeParameter = z.enum(['true', 'false']).optional();

export function sessionEndpoints(deps: { eventStore: EventStore; readStore: ReadStore; runner: ProjectionRunner; clock: Clock; secrets: SecretBox; tasks: Tasks }): Endpoint[] {
  const store = { store: deps.eventStore, clock: deps.clock };
  const throttle = loginThrottleOf(deps);
  return [
    endpoint({
      method: 'post',
      path: '/v1/sessions',
      tag: 'identity',
      summary: 'Log in: open a session and get its bearer token (with `totp` when the user has two-factor authentication on)',
      permission: null,
      body: loginBody,
      responses: {
        201: { description: 'Logged in', schema: loginAnswer },
        401: { description: 'Wrong user name or password (INVALID_CREDENTIALS), two-factor code needed (TOTP_REQUIRED) or wrong (INVALID_TOTP)' },
        403: { description: 'The client address is refused by the IP lists (IP_NOT_ALLOWED); a project login: not a member, project disabled or expired (PROJECT_LOGIN_EXPIRED), outside its login windows (LOGIN_WINDOW_CLOSED)' },
        409: { description: 'The user has the most concurrent sessions allowed (SESSION_LIMIT_REACHED)' },
        429: { description: 'Too many failed attempts from this address; see Retry-After (RATE_LIMITED)' },
      },
      async handle({ req, res, body }) {
        const context: { correlationId: string; clientIp?: string; userAgent?: string } = { correlationId: localsOf(res).correlationId };
        if (req.ip) context.clientIp = req.ip;
        const userAgent = req.get('user-agent');
        if (userAgent) context.userAgent = userAgent;
        const credentials: { username: string; password: string; totp?: string; projectId?: string } = { username: body.username, password: body.password };
        if (body.totp !== undefined) credentials.totp = body.totp;
        if (body.projectId !== undefined) credentials.projectId = body.projectId;
        const session = await login({ ...store, secrets: deps.secrets, throttle }, context, credentials).catch((error: unknown) => {
          throw rateLimitProblem(error);
        });
        res.setHeader('Stratus-Position', String(session.position));
        res.status(201).json({
          token: session.token,
          expiresAt: new Date(session.expiresAt).toISOString(),
          user: session.user,
          ...(session.restriction ? { restriction: session.restriction } : {}),
          ...(session.notices ? { notices: session.notices } : {}),
        });
      },
    }),
    endpoint({
      method: 'delete',
      path: '/v1/sessions/current',
      tag: 'identity',
      summary: 'Log out: close the session of the bearer token',
      permission: 'session:logout',
      responses: { 204: { description: 'Logged out' } },
      async handle({ req, res }) {
        const principal = localsOf(res).principal!;
        if (!principal.sessionId) throw new ProblemError(400, 'NO_SESSION', 'this request is signed with an access key: there is no session to close');
        const closed = await logout(store, requestContextOf(req, res), principal.sessionId);
        res.setHeader('Stratus-Position', String(closed.position));
        res.status(204).end();
      },
    }),
    endpoint({
      method: 'get',
      path: '/v1/sessions',
      tag: 'identity',
      summary: 'Login sessions, newest first. `active=true` keeps those open and not expired.',
      permission: 'session:list',
      listQuery: true,
      responses: { 200: { description: 'Sessions' } },
      async handle({ req, res }) {
        const active = activeParameter.safeParse(req.query.active);
        if (!active.success) throw new ProblemError(400, 'INVALID_QUERY', 'active must be true or false', [{ field: 'active', message: 'must be true or false' }]);
        await sendList(req, res, deps, {
          collection: sessionsCollection,
          fields: sessionListFields,
          defaultSort: [['openedAt', -1]],
          scope: active.data === 'true' ? { state: 'open', expiresAt: { $gt: new Date(deps.clock.now()).toISOString() } } : {},
          extraParameters: ['active'],
        });
      },
    }),
    endpoint({
      method: 'delete',
      path: '/v1/sessions/:id',
      tag: 'identity',
      summary: 'Revoke a session: its token stops working at once',
      permission: 'session:revoke',
      responses: { 204: { description: 'Revoked' } },
      async handle({ req, res, params }) {
        const principal = localsOf(res).principal!;
        const session = await loadSession(store, params.id!);
        if (!session) throw new ProblemError(404, 'SESSION_NOT_FOUND', `no session ${params.id}`);
        await auditRefusals(deps, req, res, { action: 'RevokeSession', resourceType: 'session', resourceIds: [session.sessionId] }, async () => {
          const owner = await loadUser(deps.eventStore, session.userId);
          if (isLiveUser(owner) && owner.userId !== principal.userId) await assertMayManage(deps.eventStore, principal, owner);
        });
        const revoked = await revokeSession(store, requestContextOf(req, res), session.sessionId);
        res.setHeader('Stratus-Position', String(revoked.position));
        res.status(204).end();
      },
    }),
  ];
}
