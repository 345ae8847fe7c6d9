import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { WrongExpectedVersionError } from '../../adapters/eventstore/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import { isLiveUser, userDecider, userStream, usernameStream, type LiveUser, type UserState } from '../../domain/identity/user.js';
import { loadAggregate } from '../shared/handle-command.js';

// A user name's reservation stream holds `UsernameReserved {userId}` and, once the user is
// deleted, `UsernameReleased`; the name is free again after a release.

/** The user a name belongs to now. */
export async function findUserIdByName(store: EventStore, username: string): Promise<string | undefined> {
  const events = await store.readStream(usernameStream(username));
  const last = events[events.length - 1];
  return last?.type === 'UsernameReserved' ? (last.data as { userId?: string }).userId : undefined;
}

export async function loadUser(store: EventStore, userId: string): Promise<UserState> {
  return (await loadAggregate(store, userDecider, userStream(userId))).state;
}

/** The user, unless it does not exist or was deleted (then USER_NOT_FOUND). */
export async function loadLiveUser(store: EventStore, userId: string): Promise<LiveUser & { version: number }> {
  if (!/^[0-9a-f-]{36}$/.test(userId)) throw new DomainError('USER_NOT_FOUND', `no user ${userId}`, 'not_found');
  const { state, version } = await loadAggregate(store, userDecider, userStream(userId));
  if (!isLiveUser(state)) throw new DomainError('USER_NOT_FOUND', `no user ${userId}`, 'not_found');
  return { ...state, version };
}

/**
 * Claims a name for a user: a "no stream" append, or an append right after its release, so
 * two concurrent claims of one name cannot both succeed.
 */
export async function reserveName(
  store: EventStore,
  stream: string,
  reserved: { type: string; data: Record<string, unknown> },
  releasedType: string,
  metadata: EventMetadata,
  taken: () => DomainError,
): Promise<void> {
  const events = await store.readStream(stream);
  const last = events[events.length - 1];
  if (last && last.type !== releasedType) throw taken();
  try {
    await store.append(stream, [{ type: reserved.type, data: reserved.data, metadata }], last ? last.version : 'no_stream');
  } catch (error) {
    if (error instanceof WrongExpectedVersionError) throw taken();
    throw error;
  }
}

export const usernameTaken = (username: string) => () => new DomainError('USERNAME_TAKEN', `user name ${username} is taken`, 'conflict', {
  fields: [{ field: 'username', message: 'is taken' }],
});
