import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Actor, EventStore } from '../../adapters/eventstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import { userDecider, userStream } from '../../domain/identity/user.js';
import { isSessionActive, sessionDecider, sessionStream } from '../../domain/identity/session.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';
import { newId } from '../shared/ids.js';
import { metadataFor, type RequestContext } from '../shared/request-context.js';
import { readSetting } from '../settings/settings.js';
import { decoyPasswordHash, verifyPassword } from './passwords.js';
import { findUserIdByName, loadUser } from './users.js';

export interface SessionDeps {
  store: EventStore;
  clock: Clock;
}

export interface LoginResult {
  token: string;
  sessionId: string;
  expiresAt: number;
  user: { id: string; username: string };
  position: number;
}

/** What an authenticated request acts as. */
export interface Principal {
  actor: Actor;
  userId: string;
  sessionId: string;
  roles: string[];
}

const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

// Wrong user name and wrong password get the same answer, and cost the same time,
// so that the API does not tell which user names exist.
const invalidCredentials = () => new DomainError('INVALID_CREDENTIALS', 'user name or password is wrong', 'unauthorized');

export async function login(
  deps: SessionDeps,
  context: Omit<RequestContext, 'actor'>,
  credentials: { username: string; password: string },
): Promise<LoginResult> {
  const { store, clock } = deps;
  const userId = await findUserIdByName(store, credentials.username);
  const user = userId ? await loadUser(store, userId) : undefined;
  const passwordMatches = await verifyPassword(
    credentials.password,
    user?.exists ? user.passwordHash : await decoyPasswordHash(),
  );
  const actor: Actor = { kind: 'user', id: userId ?? 'unknown', name: credentials.username };
  const metadata = metadataFor({ ...context, actor });
  const check = await handleCommand(
    store,
    userDecider,
    // Failures of unknown users go to a stream of their own: there is no user stream to hold them.
    userId ? userStream(userId) : 'login-failures',
    { type: 'CheckLogin', username: credentials.username, passwordMatches, now: clock.now() },
    metadata,
  );
  if (check.events.length > 0 || !user?.exists) throw invalidCredentials();

  const sessionId = newId();
  const secret = randomBytes(32).toString('base64url');
  const now = clock.now();
  const timeoutSeconds = Number(await readSetting(store, 'session.timeout'));
  const expiresAt = now + timeoutSeconds * 1000;
  const opened = await handleCommand(store, sessionDecider, sessionStream(sessionId), {
    type: 'OpenSession', sessionId, userId: user.userId, username: user.username, tokenHash: hashSecret(secret), expiresAt, now,
  }, metadata);
  return {
    token: `${sessionId}.${secret}`,
    sessionId,
    expiresAt,
    user: { id: user.userId, username: user.username },
    position: opened.position,
  };
}

/** The principal a bearer token stands for, or undefined if it is unknown, closed or expired. */
export async function authenticate(deps: SessionDeps, token: string): Promise<Principal | undefined> {
  const match = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) return undefined;
  const [, sessionId, secret] = match as unknown as [string, string, string];
  const { state } = await loadAggregate(deps.store, sessionDecider, sessionStream(sessionId));
  if (!isSessionActive(state, deps.clock.now()) || state.state === 'none') return undefined;
  const expected = Buffer.from(state.tokenHash, 'hex');
  const actual = Buffer.from(hashSecret(secret), 'hex');
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
  const user = await loadUser(deps.store, state.userId);
  if (!user.exists || user.disabled) return undefined;
  return {
    actor: { kind: 'user', id: user.userId, name: user.username },
    userId: user.userId,
    sessionId,
    roles: user.roles,
  };
}

export async function logout(deps: SessionDeps, context: RequestContext, sessionId: string): Promise<{ position: number }> {
  const outcome = await handleCommand(deps.store, sessionDecider, sessionStream(sessionId), {
    type: 'CloseSession', reason: 'logout', now: deps.clock.now(),
  }, metadataFor(context));
  return { position: outcome.position };
}
