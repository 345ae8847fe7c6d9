import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';

// A local user. Passwords arrive here already hashed (scrypt): the domain never sees plaintext.

export type UserEvent =
  | DomainEvent<'UserCreated', { userId: string; username: string; passwordHash: string; roles: string[]; createdAt: number }>
  | DomainEvent<'LoginFailed', { userId: string | null; username: string; reason: LoginFailureReason; at: number }>;

export type LoginFailureReason = 'UNKNOWN_USER' | 'WRONG_PASSWORD' | 'USER_DISABLED';

export type UserCommand =
  | { type: 'CreateUser'; userId: string; username: string; passwordHash: string; roles: string[]; now: number }
  | { type: 'CheckLogin'; username: string; passwordMatches: boolean; now: number };

export type UserState =
  | { exists: false }
  | { exists: true; userId: string; username: string; passwordHash: string; roles: string[]; disabled: boolean };

export const userStream = (userId: string) => `user-${userId}`;
/** Reservation stream that makes user names unique, case-insensitively. */
export const usernameStream = (username: string) => `username-${username.toLowerCase()}`;

export const userDecider: Decider<UserCommand, UserState, UserEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    switch (command.type) {
      case 'CreateUser':
        if (state.exists) throw new DomainError('USER_EXISTS', `user ${command.userId} already exists`);
        return [{
          type: 'UserCreated',
          data: { userId: command.userId, username: command.username, passwordHash: command.passwordHash, roles: command.roles, createdAt: command.now },
        }];
      case 'CheckLogin': {
        // A successful check writes nothing here: the session stream records the login.
        const reason = loginFailureReason(state, command.passwordMatches);
        if (!reason) return [];
        return [{
          type: 'LoginFailed',
          data: { userId: state.exists ? state.userId : null, username: command.username, reason, at: command.now },
        }];
      }
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'UserCreated':
        return { exists: true, userId: event.data.userId, username: event.data.username, passwordHash: event.data.passwordHash, roles: event.data.roles, disabled: false };
      case 'LoginFailed':
        return state;
    }
  },
};

function loginFailureReason(state: UserState, passwordMatches: boolean): LoginFailureReason | undefined {
  if (!state.exists) return 'UNKNOWN_USER';
  if (state.disabled) return 'USER_DISABLED';
  if (!passwordMatches) return 'WRONG_PASSWORD';
  return undefined;
}
