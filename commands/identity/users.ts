import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { WrongExpectedVersionError } from '../../adapters/eventstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import { userDecider, userStream, usernameStream, type UserState } from '../../domain/identity/user.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';
import { newId } from '../shared/ids.js';
import { hashPassword } from './passwords.js';

/** The user a name belongs to: its reservation stream holds the id. */
export async function findUserIdByName(store: EventStore, username: string): Promise<string | undefined> {
  const [reservation] = await store.readStream(usernameStream(username), { limit: 1 });
  return (reservation?.data as { userId?: string } | undefined)?.userId;
}

export async function loadUser(store: EventStore, userId: string): Promise<UserState> {
  return (await loadAggregate(store, userDecider, userStream(userId))).state;
}

/**
 * Creates a user: the name is reserved first (a "no stream" append, so two concurrent
 * creations of one name cannot both succeed), then the user's stream is written.
 */
export async function createUser(
  deps: { store: EventStore; clock: Clock },
  input: { username: string; password: string; roles: string[] },
  metadata: EventMetadata,
): Promise<{ userId: string; position: number }> {
  const userId = newId();
  try {
    await deps.store.append(usernameStream(input.username), [{ type: 'UsernameReserved', data: { username: input.username, userId }, metadata }], 'no_stream');
  } catch (error) {
    if (error instanceof WrongExpectedVersionError) {
      throw new DomainError('USERNAME_TAKEN', `user name ${input.username} is taken`, 'conflict', {
        fields: [{ field: 'username', message: 'is taken' }],
      });
    }
    throw error;
  }
  const passwordHash = await hashPassword(input.password);
  const outcome = await handleCommand(deps.store, userDecider, userStream(userId), {
    type: 'CreateUser', userId, username: input.username, passwordHash, roles: input.roles, now: deps.clock.now(),
  }, metadata);
  return { userId, position: outcome.position };
}
