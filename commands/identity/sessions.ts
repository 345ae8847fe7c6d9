import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Actor, EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import { settingValue, type SettingsState } from '../../domain/settings/settings.js';
import {
  anonymousLoginFailuresStream, loginDecider, loginFailureError, loginStream, openSessionIds,
  type LoginFailureReason, type TotpCheck,
} from '../../domain/identity/login.js';
import { isSessionActive, sessionDecider, sessionStream, type SessionScope } from '../../domain/identity/session.js';
import { isLiveUser, userDecider, userStream } from '../../domain/identity/user.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';
import { newId } from '../shared/ids.js';
import { metadataFor, type RequestContext } from '../shared/request-context.js';
import { readSettings } from '../settings/settings.js';
import { checkClientAddress } from './ip-access-lists.js';
import type { LoginThrottle, ThrottleLimits } from './login-throttle.js';
import { decoyPasswordHash, verifyPassword } from './passwords.js';
import { principalOf, type Principal } from './principal.js';
import { matchTotp } from './totp.js';
import { findUserIdByName, loadUser } from './user-lookup.js';
import { checkProjectLogin, projectPrincipal } from '../tenancy/project-login.js';
import type { ExpiryNotice } from '../../domain/tenancy/reclaim.js';

export type { Principal } from './principal.js';

export interface SessionDeps {
  store: EventStore;
  clock: Clock;
}

export interface LoginDeps extends SessionDeps {
  secrets: SecretBox;
  throttle: LoginThrottle;
}

export interface LoginResult {
  token: string;
  sessionId: string;
  expiresAt: number;
  user: { id: string; username: string };
  /** Set when the session may only enrol in two-factor authentication. */
  restriction?: SessionScope;
  position: number;
  /** Things a project member is told at login (an approaching project expiry). */
  notices?: ExpiryNotice[];
}

const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** Failures that the per-address throttle charges: attempts at guessing, not steps of a normal login. */
const chargedFailures: ReadonlySet<LoginFailureReason> = new Set(['UNKNOWN_USER', 'WRONG_PASSWORD', 'USER_DISABLED', 'USER_LOCKED', 'WRONG_TOTP', 'TOTP_REPLAYED', 'IP_NOT_ALLOWED']);

export function throttleLimits(settings: SettingsState): ThrottleLimits {
  return {
    attempts: Number(settingValue(settings, 'login.rateLimit.attempts')),
    windowMs: Number(settingValue(settings, 'login.rateLimit.window')) * 1000,
  };
}

/** Too many failed attempts from one address: the API answers 429 with Retry-After. */
export function rateLimited(retryAfterSeconds: number): DomainError {
  return new DomainError('RATE_LIMITED', `too many failed attempts from this address; retry in ${retryAfterSeconds} s`, 'conflict', { retryAfterSeconds });
}

/** Refuses (RATE_LIMITED) an address that has used up its failed attempts. */
export async function assertAddressNotThrottled(deps: { store: EventStore; throttle: LoginThrottle }, clientIp: string | undefined): Promise<void> {
  const verdict = deps.throttle.check(clientIp ?? 'unknown', throttleLimits(await readSettings(deps.store)));
  if (!verdict.allowed) throw rateLimited(verdict.retryAfterSeconds);
}

/**
 * Logs in: throttle by client address, then the IP lists, then password, lockout, TOTP and
 * the session cap (decided together in the user's login ledger), then the session. Every
 * refusal is an event, so the audit log shows it with the client's address.
 */
export async function login(
  deps: LoginDeps,
  context: Omit<RequestContext, 'actor'>,
  credentials: { username: string; password: string; totp?: string; projectId?: string },
): Promise<LoginResult> {
  const { store, clock, throttle } = deps;
  const settings = await readSettings(store);
  const limits = throttleLimits(settings);
  const address = context.clientIp ?? 'unknown';
  const userId = await findUserIdByName(store, credentials.username);
  const actor: Actor = { kind: 'user', id: userId ?? 'unknown', name: credentials.username };
  const metadata = metadataFor({ ...context, actor });

  const verdict = throttle.check(address, limits);
  if (!verdict.allowed) {
    if (verdict.firstRefusal) {
      await store.append(anonymousLoginFailuresStream, [{
        type: 'LoginRateLimited', data: { clientIp: address, username: credentials.username, retryAfterSeconds: verdict.retryAfterSeconds, at: clock.now() }, metadata,
      }], 'any');
    }
    throw rateLimited(verdict.retryAfterSeconds);
  }
  const refuse = async (reason: LoginFailureReason, stream = anonymousLoginFailuresStream): Promise<never> => {
    await store.append(stream, [{ type: 'LoginFailed', data: { userId: userId ?? null, username: credentials.username, reason, at: clock.now() }, metadata }], 'any');
    throttle.fail(address, limits);
    throw loginFailureError(reason);
  };

  const ip = await checkClientAddress(store, context.clientIp, settings);
  if (!ip.allowed) return refuse('IP_NOT_ALLOWED');

  const user = userId ? await loadUser(store, userId) : undefined;
  const live = user && isLiveUser(user) ? user : undefined;
  // Wrong user name and wrong password get the same answer, and cost the same time,
  // so that the API does not tell which user names exist.
  const passwordMatches = await verifyPassword(credentials.password, live ? live.passwordHash : await decoyPasswordHash());
  if (!live) return refuse('UNKNOWN_USER');

  const now = clock.now();
  let totp: TotpCheck = { kind: 'not-enrolled' };
  if (live.totp.state !== 'off' && passwordMatches) {
    if (credentials.totp === undefined) totp = { kind: 'missing' };
    else {
      const step = await matchTotp(deps.secrets.open(live.totp.secretSealed), credentials.totp, now);
      totp = step === undefined ? { kind: 'wrong' } : { kind: 'valid', step };
    }
  }
  // Tenancy: a project login needs membership of an enabled project (refused before the ledger).
  let notices: ExpiryNotice[] = [];
  if (credentials.projectId !== undefined && passwordMatches && !live.disabled) {
    ({ notices } = await checkProjectLogin(store, live, credentials.projectId, now, metadata));
  }
  const sessionId = newId();
  const expiresAt = now + Number(settingValue(settings, 'session.timeout')) * 1000;
  const attempt = await handleCommand(store, loginDecider, loginStream(live.userId), {
    type: 'AttemptLogin',
    userId: live.userId,
    username: live.username,
    disabled: live.disabled,
    passwordMatches,
    totp,
    sessionId,
    expiresAt,
    maxSessions: Number(settingValue(settings, 'session.maxConcurrent')),
    lockout: {
      threshold: Number(settingValue(settings, 'login.lockout.threshold')),
      windowMs: Number(settingValue(settings, 'login.lockout.window')) * 1000,
      durationMs: Number(settingValue(settings, 'login.lockout.duration')) * 1000,
    },
    now,
  }, metadata);
  const failed = attempt.events.find((event) => event.type === 'LoginFailed');
  if (failed) {
    const reason = (failed.data as { reason: LoginFailureReason }).reason;
    if (chargedFailures.has(reason)) throttle.fail(address, limits);
    throw loginFailureError(reason);
  }

  // The first login with a code ends enrolment: the QR code is never given out again.
  if (totp.kind === 'valid' && live.totp.state === 'pending') {
    await handleCommand(store, userDecider, userStream(live.userId), { type: 'ConfirmTotp', now }, metadata);
  }
  const scope: SessionScope | undefined = settingValue(settings, 'twoFactor.required') === true && live.totp.state === 'off' ? 'totp-enrollment' : undefined;
  const secret = randomBytes(32).toString('base64url');
  const opened = await handleCommand(store, sessionDecider, sessionStream(sessionId), {
    type: 'OpenSession', sessionId, userId: live.userId, username: live.username, tokenHash: hashSecret(secret), expiresAt, now, ...(scope ? { scope } : {}),
    ...(credentials.projectId !== undefined ? { projectId: credentials.projectId } : {}),
  }, metadata);
  const result: LoginResult = {
    token: `${sessionId}.${secret}`,
    sessionId,
    expiresAt,
    user: { id: live.userId, username: live.username },
    position: opened.position,
  };
  if (scope) result.restriction = scope;
  if (notices.length > 0) result.notices = notices;
  return result;
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
  if (!isLiveUser(user) || user.disabled) return undefined;
  const how: Parameters<typeof principalOf>[2] = { actor: { kind: 'user', id: user.userId, name: user.username }, sessionId };
  if (state.scope) how.restriction = state.scope;
  const principal = await principalOf(deps.store, user, how);
  return state.projectId ? projectPrincipal(deps.store, principal, state.projectId) : principal;
}

async function closeSession(deps: SessionDeps, sessionId: string, reason: 'logout' | 'revoked', metadata: EventMetadata): Promise<{ position: number; userId?: string }> {
  const outcome = await handleCommand(deps.store, sessionDecider, sessionStream(sessionId), { type: 'CloseSession', reason, now: deps.clock.now() }, metadata);
  if (outcome.state.state === 'none') return { position: outcome.position };
  // The ledger frees the slot of the concurrent-session cap.
  const ended = await handleCommand(deps.store, loginDecider, loginStream(outcome.state.userId), {
    type: 'EndLoginSession', userId: outcome.state.userId, sessionId, now: deps.clock.now(),
  }, metadata);
  return { position: Math.max(outcome.position, ended.position), userId: outcome.state.userId };
}

export async function logout(deps: SessionDeps, context: RequestContext, sessionId: string): Promise<{ position: number }> {
  const { position } = await closeSession(deps, sessionId, 'logout', metadataFor(context));
  return { position };
}

/** The session, for an administrator deciding whether they may revoke it. */
export async function loadSession(deps: SessionDeps, sessionId: string) {
  if (!/^[0-9a-f-]{36}$/.test(sessionId)) return undefined;
  const { state } = await loadAggregate(deps.store, sessionDecider, sessionStream(sessionId));
  return state.state === 'none' ? undefined : state;
}

export async function revokeSession(deps: SessionDeps, context: RequestContext, sessionId: string): Promise<{ position: number }> {
  const { position } = await closeSession(deps, sessionId, 'revoked', metadataFor(context));
  return { position };
}

/** Closes every open session of a user (after a password reset), but `except`. */
export async function revokeUserSessions(deps: SessionDeps, userId: string, metadata: EventMetadata, except?: string): Promise<number> {
  const { state } = await loadAggregate(deps.store, loginDecider, loginStream(userId));
  const open = openSessionIds(state, deps.clock.now()).filter((sessionId) => sessionId !== except);
  for (const sessionId of open) await closeSession(deps, sessionId, 'revoked', metadata);
  return open.length;
}
