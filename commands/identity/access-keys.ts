import { randomBytes } from 'node:crypto';
import type { Actor, EventStore } from '../../adapters/eventstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import {
  accessKeyDecider, accessKeyFailuresStream, accessKeyStream, type AccessKeyFailureReason, type AccessKeyState,
} from '../../domain/identity/access-key.js';
import { checkSignature, parseAuthorization } from '../../domain/identity/signature.js';
import { isLiveUser } from '../../domain/identity/user.js';
import { anonymousLoginFailuresStream } from '../../domain/identity/login.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';
import { metadataFor, type RequestContext } from '../shared/request-context.js';
import type { TaskWorkContext } from '../tasks/tasks.js';
import { readSettings } from '../settings/settings.js';
import { checkClientAddress } from './ip-access-lists.js';
import type { LoginThrottle } from './login-throttle.js';
import { assertMayManage, principalOf, type Principal } from './principal.js';
import { rateLimited, throttleLimits } from './sessions.js';
import { loadLiveUser, loadUser } from './user-lookup.js';

export interface AccessKeyDeps {
  store: EventStore;
  clock: Clock;
  secrets: SecretBox;
}

export type LiveAccessKey = Extract<AccessKeyState, { exists: true }>;

export interface AccessKeyView {
  id: string;
  userId: string;
  username: string;
  state: 'enabled' | 'disabled';
  description: string;
  createdAt: string;
}

const base32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** `AK` and 18 base32 characters (90 random bits): unguessable, and safe in a header and a stream name. */
function newAccessKeyId(): string {
  return 'AK' + [...randomBytes(18)].map((byte) => base32[byte & 31]).join('');
}

export const accessKeyView = (key: LiveAccessKey): AccessKeyView => ({
  id: key.accessKeyId,
  userId: key.userId,
  username: key.username,
  state: key.state === 'disabled' ? 'disabled' : 'enabled',
  description: key.description,
  createdAt: new Date(key.createdAt).toISOString(),
});

export async function loadAccessKey(store: EventStore, accessKeyId: string): Promise<LiveAccessKey | undefined> {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(accessKeyId)) return undefined;
  const { state } = await loadAggregate(store, accessKeyDecider, accessKeyStream(accessKeyId));
  return state.exists && state.state !== 'deleted' ? state : undefined;
}

/**
 * Creates a key for the caller. The secret is returned to be shown once; only its sealed form
 * enters the event (and the task's recorded result does not hold it).
 */
export async function createAccessKey(
  deps: AccessKeyDeps,
  actor: Principal,
  task: TaskWorkContext,
  input: { description?: string },
): Promise<{ view: AccessKeyView; secret: string }> {
  const owner = await loadLiveUser(deps.store, actor.userId);
  const accessKeyId = newAccessKeyId();
  const secret = randomBytes(30).toString('base64url');
  const outcome = await handleCommand(deps.store, accessKeyDecider, accessKeyStream(accessKeyId), {
    type: 'CreateAccessKey',
    accessKeyId,
    userId: owner.userId,
    username: owner.username,
    secretSealed: deps.secrets.seal(secret),
    description: input.description ?? '',
    now: deps.clock.now(),
  }, task.metadata);
  return { view: accessKeyView(outcome.state as LiveAccessKey), secret };
}

/** The caller's own keys are theirs to manage; someone else's only if the caller could manage that user. */
export async function assertMayActOnKey(store: EventStore, actor: Principal, key: LiveAccessKey): Promise<void> {
  if (key.userId === actor.userId) return;
  const owner = await loadUser(store, key.userId);
  if (isLiveUser(owner)) await assertMayManage(store, actor, owner);
}

export async function changeAccessKey(
  deps: AccessKeyDeps,
  actor: Principal,
  task: TaskWorkContext,
  accessKeyId: string,
  change: 'enable' | 'disable' | 'delete',
): Promise<AccessKeyView> {
  const key = await loadAccessKey(deps.store, accessKeyId);
  if (!key) throw new DomainError('ACCESS_KEY_NOT_FOUND', `no access key ${accessKeyId}`, 'not_found');
  await assertMayActOnKey(deps.store, actor, key);
  const type = change === 'enable' ? 'EnableAccessKey' : change === 'disable' ? 'DisableAccessKey' : 'DeleteAccessKey';
  const outcome = await handleCommand(deps.store, accessKeyDecider, accessKeyStream(accessKeyId), { type, now: deps.clock.now() }, task.metadata);
  return accessKeyView(outcome.state as LiveAccessKey);
}

export interface SignedRequestInput {
  authorization: string;
  method: string;
  /** Path and query as sent. */
  url: string;
  date: string | undefined;
  body: Buffer | undefined;
  context: Omit<RequestContext, 'actor'>;
}

const failureError = (reason: AccessKeyFailureReason) => {
  switch (reason) {
    case 'STALE_DATE':
      return new DomainError('REQUEST_EXPIRED', 'the Date header is missing, malformed, or more than 15 minutes from the server\'s clock', 'unauthorized');
    case 'IP_NOT_ALLOWED':
      return new DomainError('IP_NOT_ALLOWED', 'requests from this address are not allowed', 'forbidden');
    default:
      return new DomainError('INVALID_SIGNATURE', 'the access key or the request signature is not valid', 'unauthorized');
  }
};

/**
 * Authenticates a request signed with an access key (docs/access-keys.md). The key acts with
 * its owner's permissions and is named as the operator in the audit log. Every refusal is an
 * event and is charged to the client's address like a failed login.
 */
export async function authenticateSignedRequest(deps: AccessKeyDeps & { throttle: LoginThrottle }, input: SignedRequestInput): Promise<Principal> {
  const { store, clock, throttle } = deps;
  const settings = await readSettings(store);
  const limits = throttleLimits(settings);
  const address = input.context.clientIp ?? 'unknown';
  const parsed = parseAuthorization(input.authorization);
  const keyId = parsed?.accessKeyId ?? null;
  const actor: Actor = { kind: 'accessKey', id: keyId ?? 'unknown', name: keyId ?? 'unknown' };
  const metadata = metadataFor({ ...input.context, actor });
  const path = input.url.split('?')[0] ?? input.url;

  const verdict = throttle.check(address, limits);
  if (!verdict.allowed) {
    if (verdict.firstRefusal) {
      await store.append(anonymousLoginFailuresStream, [{
        type: 'LoginRateLimited', data: { clientIp: address, accessKeyId: keyId, retryAfterSeconds: verdict.retryAfterSeconds, at: clock.now() }, metadata,
      }], 'any');
    }
    throw rateLimited(verdict.retryAfterSeconds);
  }
  const fail = async (reason: AccessKeyFailureReason): Promise<never> => {
    await store.append(accessKeyFailuresStream, [{
      type: 'AccessKeyAuthenticationFailed', data: { accessKeyId: keyId, reason, method: input.method, path: path.slice(0, 512), at: clock.now() }, metadata,
    }], 'any');
    throttle.fail(address, limits);
    throw failureError(reason);
  };

  if (!parsed) return fail('MALFORMED');
  if (!(await checkClientAddress(store, input.context.clientIp, settings)).allowed) return fail('IP_NOT_ALLOWED');
  const key = await loadAccessKey(store, parsed.accessKeyId);
  if (!key) return fail('UNKNOWN_KEY');
  if (key.state !== 'enabled') return fail('KEY_DISABLED');
  const owner = await loadUser(store, key.userId);
  if (!isLiveUser(owner) || owner.disabled) return fail('OWNER_INACTIVE');
  const check = checkSignature(deps.secrets.open(key.secretSealed), { method: input.method, url: input.url, date: input.date ?? '', body: input.body }, parsed.signature, clock.now());
  if (check === 'malformed-date' || check === 'stale-date') return fail('STALE_DATE');
  if (check !== 'valid') return fail('BAD_SIGNATURE');
  return principalOf(store, owner, {
    actor: { kind: 'accessKey', id: key.accessKeyId, name: owner.username },
    accessKeyId: key.accessKeyId,
  });
}
