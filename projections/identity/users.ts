import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { LoginEvent } from '../../domain/identity/login.js';
import type { UserEvent } from '../../domain/identity/user.js';
import { isoTime, type Projection } from '../shared/projection.js';

// The user list (`GET /v1/users`). Never the password hash or the TOTP secret. A single
// user is read from its stream, which is always current; `lockedUntil` is shown as recorded
// (a lock whose time has passed is over, whatever this says).

export const usersCollection = 'users';

export const userListFields = {
  id: 'string',
  username: 'string',
  roles: 'string',
  state: 'string',
  totp: 'string',
  createdAt: 'time',
  lastLoginAt: 'time',
  lockedUntil: 'time',
} as const;

type Handled = UserEvent | Extract<LoginEvent, { type: 'UserLocked' | 'UserUnlocked' | 'LoginSucceeded' }>;

export const usersProjection: Projection = {
  name: 'identity-users',
  version: 1,
  collections: [usersCollection],
  indexes: [
    { collection: usersCollection, fields: [['username', 1]] },
    { collection: usersCollection, fields: [['roles', 1]], multiValued: true },
  ],
  handles: ['UserCreated', 'UserRolesChanged', 'UserPasswordChanged', 'UserDisabled', 'UserEnabled', 'UserDeleted', 'TotpEnabled', 'TotpConfirmed',
    'TotpReset', 'UserLocked', 'UserUnlocked', 'LoginSucceeded'],

  async apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as Handled & RecordedEvent;
    switch (event.type) {
      case 'UserCreated':
        batch.upsert(usersCollection, {
          id: event.data.userId,
          username: event.data.username,
          roles: event.data.roles,
          zones: event.data.zones ?? [],
          state: 'enabled',
          totp: 'off',
          createdAt: isoTime(event.data.createdAt),
          passwordChangedAt: null,
          lastLoginAt: null,
          lockedUntil: null,
        });
        return;
      case 'UserRolesChanged':
        batch.patch(usersCollection, event.data.userId, { roles: event.data.roles, zones: event.data.zones });
        return;
      case 'UserPasswordChanged':
        batch.patch(usersCollection, event.data.userId, { passwordChangedAt: isoTime(event.data.at) });
        return;
      case 'UserDisabled':
        batch.patch(usersCollection, event.data.userId, { state: 'disabled' });
        return;
      case 'UserEnabled':
        batch.patch(usersCollection, event.data.userId, { state: 'enabled' });
        return;
      case 'UserDeleted':
        batch.delete(usersCollection, event.data.userId);
        return;
      case 'TotpEnabled':
        batch.patch(usersCollection, event.data.userId, { totp: 'pending' });
        return;
      case 'TotpConfirmed':
        batch.patch(usersCollection, event.data.userId, { totp: 'on' });
        return;
      case 'TotpReset':
        batch.patch(usersCollection, event.data.userId, { totp: 'off' });
        return;
      case 'UserLocked':
        batch.patch(usersCollection, event.data.userId, { lockedUntil: isoTime(event.data.until) });
        return;
      case 'UserUnlocked':
        batch.patch(usersCollection, event.data.userId, { lockedUntil: null });
        return;
      case 'LoginSucceeded':
        batch.patch(usersCollection, event.data.userId, { lastLoginAt: isoTime(event.data.at) });
        return;
      case 'LoginFailed':
        return;
    }
  },
};
