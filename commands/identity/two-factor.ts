import type { EventStore } from '../../adapters/eventstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import { userDecider, userStream } from '../../domain/identity/user.js';
import { handleCommand } from '../shared/handle-command.js';
import type { TaskWorkContext } from '../tasks/tasks.js';
import { assertMayManage, type Principal } from './principal.js';
import { newTotpSecret, totpProvisioning, type TotpProvisioning } from './totp.js';
import { loadLiveUser } from './user-lookup.js';

// Two-factor enrolment (reference/001, "Two-Factor Authentication"): a user turns it on and
// gets an otpauth URI and its QR code; they can be fetched again until the first login with
// a code, never after. The secret is sealed with the key ring before it enters an event.

export interface TwoFactorDeps {
  store: EventStore;
  clock: Clock;
  secrets: SecretBox;
}

function assertSelf(actor: Principal, userId: string) {
  // Only the user may hold their second factor: an administrator enrolling someone would see the secret.
  if (actor.userId !== userId) throw new DomainError('FORBIDDEN', 'only the user themself can enrol in two-factor authentication', 'forbidden');
  if (actor.accessKeyId) throw new DomainError('FORBIDDEN', 'two-factor enrolment needs a login session, not an access key', 'forbidden');
}

/** Starts enrolment; the work of a task whose recorded result holds no secret. */
export async function enableTotp(deps: TwoFactorDeps, actor: Principal, task: TaskWorkContext, userId: string): Promise<{ userId: string; totp: 'pending' }> {
  assertSelf(actor, userId);
  await loadLiveUser(deps.store, userId);
  const secretSealed = deps.secrets.seal(newTotpSecret());
  await handleCommand(deps.store, userDecider, userStream(userId), { type: 'EnableTotp', secretSealed, now: deps.clock.now() }, task.metadata);
  return { userId, totp: 'pending' };
}

/** The URI and QR code, while enrolment awaits its first login with a code. */
export async function totpEnrolment(deps: TwoFactorDeps, actor: Principal, userId: string): Promise<TotpProvisioning> {
  assertSelf(actor, userId);
  const user = await loadLiveUser(deps.store, userId);
  if (user.totp.state === 'off') throw new DomainError('TOTP_NOT_ENABLED', 'two-factor authentication is not on for this user', 'not_found');
  if (user.totp.state === 'on') {
    throw new DomainError('TOTP_QR_GONE', 'the QR code is no longer available: it is shown only until the first login with a code', 'gone');
  }
  return totpProvisioning(deps.secrets.open(user.totp.secretSealed), user.username);
}

/** An administrator turns a user's two-factor authentication off (a lost phone); the user can enrol again. */
export async function resetTotp(deps: TwoFactorDeps, actor: Principal, task: TaskWorkContext, userId: string): Promise<{ userId: string; totp: 'off' }> {
  const user = await loadLiveUser(deps.store, userId);
  if (actor.userId !== userId) await assertMayManage(deps.store, actor, user);
  await handleCommand(deps.store, userDecider, userStream(userId), { type: 'ResetTotp', now: deps.clock.now() }, task.metadata);
  return { userId, totp: 'off' };
}
