import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import { createLoginThrottle, type LoginThrottle } from '../../commands/identity/login-throttle.js';
import { DomainError } from '../../domain/shared/errors.js';
import { ProblemError } from '../shared/problem.js';

// What the identity endpoints and the authentication middleware of one app share.

const throttles = new WeakMap<EventStore, LoginThrottle>();

/** The per-address throttle of failed authentications, one per composed Stratus (keyed by its event store). */
export function loginThrottleOf(deps: { eventStore: EventStore; clock: Clock }): LoginThrottle {
  let throttle = throttles.get(deps.eventStore);
  if (!throttle) {
    throttle = createLoginThrottle(deps.clock);
    throttles.set(deps.eventStore, throttle);
  }
  return throttle;
}

/** A domain refusal the generic mapping cannot express: too many attempts is 429 with Retry-After. */
export function rateLimitProblem(error: unknown): unknown {
  if (error instanceof DomainError && error.code === 'RATE_LIMITED') {
    const seconds = Number((error.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds ?? 60);
    return new ProblemError(429, 'RATE_LIMITED', error.message, undefined, { 'Retry-After': String(seconds) });
  }
  return error;
}

/** For `express.json({verify})`: keeps the raw body, whose hash a signed request covers. */
export function keepRawBody(req: IncomingMessage, _res: ServerResponse, body: Buffer) {
  (req as IncomingMessage & { rawBody?: Buffer }).rawBody = body;
}

export const rawBodyOf = (req: IncomingMessage) => (req as IncomingMessage & { rawBody?: Buffer }).rawBody;
