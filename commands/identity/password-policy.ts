import type { EventStore } from '../../adapters/eventstore/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import { readSetting } from '../settings/settings.js';

// The password policy (setting `password.minLength`; never the user name). Checked here, in
// the command layer, because it needs the plaintext, which never reaches the domain or an event.

export async function assertPasswordAcceptable(store: EventStore, password: string, username: string, field = 'password'): Promise<void> {
  const minLength = Number(await readSetting(store, 'password.minLength'));
  const problems: string[] = [];
  // Counted in code points, as a person counts characters.
  if ([...password].length < minLength) problems.push(`must be at least ${minLength} characters`);
  if (password.trim().toLowerCase() === username.trim().toLowerCase()) problems.push('must not be the user name');
  if (problems.length > 0) {
    throw new DomainError('PASSWORD_POLICY', `the password does not meet the policy: it ${problems.join(' and ')}`, 'invalid', {
      fields: problems.map((message) => ({ field, message })),
    });
  }
}
