import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import { isLiveUser, userDecider, userStream, type LiveUser } from '../../domain/identity/user.js';
import { DomainError } from '../../domain/shared/errors.js';
import { handleCommand } from '../shared/handle-command.js';
import { loadUser } from '../identity/user-lookup.js';

// A user's e-mail address, where notifications go. It is personal data: sealed with the key
// ring before it enters the user's stream, never put in a read model or a log line, opened
// only to address a message or to show it to whoever may manage the user.

const emailPattern = /^[^\s@<>()",;:\\[\]]+@[^\s@<>()",;:\\[\]]+\.[^\s@<>()",;:\\[\]]+$/;

export function validEmail(email: string): string {
  const trimmed = email.trim();
  if (trimmed.length > 254 || !emailPattern.test(trimmed)) {
    throw new DomainError('INVALID_EMAIL', `${trimmed} is not an e-mail address`, 'invalid', { fields: [{ field: 'email', message: 'not an e-mail address' }] });
  }
  return trimmed;
}

export function emailOfUser(user: LiveUser, secrets: SecretBox): string | undefined {
  return user.emailSealed ? secrets.open(user.emailSealed) : undefined;
}

/** The address of a live, enabled user, or undefined (none, deleted, disabled). */
export async function emailOf(store: EventStore, secrets: SecretBox, userId: string): Promise<string | undefined> {
  const user = await loadUser(store, userId);
  return isLiveUser(user) && !user.disabled ? emailOfUser(user, secrets) : undefined;
}

export async function setUserEmail(
  deps: { store: EventStore; clock: Clock; secrets: SecretBox }, user: LiveUser, email: string | null, metadata: EventMetadata,
): Promise<{ email: string | null; position: number }> {
  const next = email === null ? null : validEmail(email);
  if ((emailOfUser(user, deps.secrets) ?? null) === next) return { email: next, position: 0 };
  const outcome = await handleCommand(deps.store, userDecider, userStream(user.userId), {
    type: 'ChangeEmail', emailSealed: next === null ? null : deps.secrets.seal(next), now: deps.clock.now(),
  }, metadata);
  return { email: next, position: outcome.position };
}
