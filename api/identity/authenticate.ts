import type { NextFunction, Request, Response } from 'express';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import { authenticateSignedRequest } from '../../commands/identity/access-keys.js';
import { authenticate } from '../../commands/identity/sessions.js';
import { localsOf } from '../shared/endpoint.js';
import { ProblemError, problemFromDomain } from '../shared/problem.js';
import { DomainError } from '../../domain/shared/errors.js';
import { loginThrottleOf, rateLimitProblem, rawBodyOf } from './runtime.js';

/**
 * Who a request acts as: a bearer token of a login session (`Authorization: Bearer …`) or an
 * access-key signature (`Authorization: Stratus <id>:<signature>`, docs/access-keys.md).
 * Without an Authorization header the request goes on unauthenticated (public endpoints);
 * with an invalid one it is refused here.
 */
export function authenticateRequests(deps: { eventStore: EventStore; clock: Clock; secrets: SecretBox }) {
  const throttle = loginThrottleOf(deps);
  return async (req: Request, res: Response, next: NextFunction) => {
    const header = req.get('authorization');
    if (header === undefined) return next();
    const locals = localsOf(res);
    if (/^Stratus\s/i.test(header)) {
      const context: { correlationId: string; clientIp?: string; userAgent?: string } = { correlationId: locals.correlationId };
      if (req.ip) context.clientIp = req.ip;
      const userAgent = req.get('user-agent');
      if (userAgent) context.userAgent = userAgent;
      try {
        locals.principal = await authenticateSignedRequest({ store: deps.eventStore, clock: deps.clock, secrets: deps.secrets, throttle }, {
          authorization: header, method: req.method, url: req.originalUrl, date: req.get('date'), body: rawBodyOf(req), context,
        });
      } catch (error) {
        const mapped = rateLimitProblem(error);
        if (mapped instanceof DomainError) {
          const problem = problemFromDomain(mapped);
          throw new ProblemError(problem.status, problem.code, problem.message, undefined, problem.status === 401 ? { 'WWW-Authenticate': 'Stratus' } : undefined);
        }
        throw mapped;
      }
    } else {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      const principal = match ? await authenticate({ store: deps.eventStore, clock: deps.clock }, match[1]!) : undefined;
      if (!principal) {
        throw new ProblemError(401, 'UNAUTHENTICATED', 'the credentials are invalid or expired', undefined, {
          'WWW-Authenticate': 'Bearer error="invalid_token"',
        });
      }
      locals.principal = principal;
    }
    locals.log = locals.log.child({ actor: locals.principal.actor.name, actorKind: locals.principal.actor.kind });
    next();
  };
}
