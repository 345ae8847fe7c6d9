import { z } from 'zod';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import { login, logout } from '../../commands/identity/sessions.js';
import { endpoint, localsOf, requestContextOf, type Endpoint } from '../shared/endpoint.js';

const loginBody = z.strictObject({
  username: z.string().min(1).max(128),
  password: z.string().min(1).max(1024),
});

const loginAnswer = z.object({
  token: z.string(),
  expiresAt: z.string(),
  user: z.object({ id: z.string(), username: z.string() }),
});

export function sessionEndpoints(deps: { eventStore: EventStore; clock: Clock }): Endpoint[] {
  const store = { store: deps.eventStore, clock: deps.clock };
  return [
    endpoint({
      method: 'post',
      path: '/v1/sessions',
      tag: 'identity',
      summary: 'Log in: open a session and get its bearer token',
      permission: null,
      body: loginBody,
      responses: { 201: { description: 'Logged in', schema: loginAnswer }, 401: { description: 'Wrong user name or password' } },
      async handle({ req, res, body }) {
        const context: { correlationId: string; clientIp?: string; userAgent?: string } = { correlationId: localsOf(res).correlationId };
        if (req.ip) context.clientIp = req.ip;
        const userAgent = req.get('user-agent');
        if (userAgent) context.userAgent = userAgent;
        const session = await login(store, context, body);
        res.setHeader('Stratus-Position', String(session.position));
        res.status(201).json({ token: session.token, expiresAt: new Date(session.expiresAt).toISOString(), user: session.user });
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
        const closed = await logout(store, requestContextOf(req, res), principal.sessionId);
        res.setHeader('Stratus-Position', String(closed.position));
        res.status(204).end();
      },
    }),
  ];
}
