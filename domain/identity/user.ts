import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';
import type { Zones } from './permissions.js';

// A local user: identity, roles, password, state, two-factor enrolment. Passwords arrive here
// already hashed (scrypt) and TOTP secrets already sealed with the key ring: the domain never
// sees a plaintext secret. What happens at login (failures, lockout, used TOTP steps, open
// sessions) is the login ledger's (login.ts): this stream stays small, because every
// authenticated request reads it.

export type UserEvent =
  | DomainEvent<'UserCreated', { userId: string; username: string; passwordHash: string; roles: string[]; zones?: Zones; createdAt: number }>
  | DomainEvent<'UserRolesChanged', { userId: string; roles: string[]; zones: Zones; at: number }>
  | DomainEvent<'UserPasswordChanged', { userId: string; passwordHash: string; by: 'self' | 'admin'; at: number }>
  | DomainEvent<'UserDisabled', { userId: string; username: string; at: number }>
  | DomainEvent<'UserEnabled', { userId: string; username: string; at: number }>
  | DomainEvent<'UserDeleted', { userId: string; username: string; at: number }>
  /** Two-factor enrolment started: the (sealed) secret exists; logins need a code from now on. */
  | DomainEvent<'TotpEnabled', { userId: string; secretSealed: string; at: number }>
  /** The first login with a code succeeded: the QR code is never given out again. */
  | DomainEvent<'TotpConfirmed', { userId: string; at: number }>
  | DomainEvent<'TotpReset', { userId: string; at: number }>
  /** The e-mail address for notifications, sealed with the key ring (personal data); null: none. */
  | DomainEvent<'UserEmailChanged', { userId: string; emailSealed: string | null; at: number }>
  /** Written to user streams by versions before the login ledger; read and ignored. */
  | DomainEvent<'LoginFailed', { userId: string | null; username: string; reason: string; at: number }>;

export type UserCommand =
  | { type: 'CreateUser'; userId: string; username: string; passwordHash: string; roles: string[]; zones?: Zones; now: number }
  | { type: 'ChangeRoles'; roles: string[]; zones: Zones; now: number }
  | { type: 'ChangePassword'; passwordHash: string; by: 'self' | 'admin'; now: number }
  | { type: 'DisableUser'; now: number }
  | { type: 'EnableUser'; now: number }
  | { type: 'DeleteUser'; now: number }
  | { type: 'EnableTotp'; secretSealed: string; now: number }
  | { type: 'ConfirmTotp'; now: number }
  | { type: 'ResetTotp'; now: number }
  | { type: 'ChangeEmail'; emailSealed: string | null; now: number };

export type TotpState = { state: 'off' } | { state: 'pending' | 'on'; secretSealed: string };

export type UserState =
  | { exists: false }
  | {
      exists: true;
      userId: string;
      username: string;
      passwordHash: string;
      roles: string[];
      zones: Zones;
      disabled: boolean;
      deleted: boolean;
      totp: TotpState;
      /** Sealed e-mail address (absent: none). */
      emailSealed?: string;
    };

export type LiveUser = Extract<UserState, { exists: true }>;

export const userStream = (userId: string) => `user-${userId}`;
/** Reservation stream that makes user names unique, case-insensitively. */
export const usernameStream = (username: string) => `username-${username.toLowerCase()}`;

/** A user that can act: exists and is not deleted. */
export const isLiveUser = (state: UserState): state is LiveUser => state.exists && !state.deleted;

function live(state: UserState): LiveUser {
  if (!isLiveUser(state)) throw new DomainError('USER_NOT_FOUND', 'user not found', 'not_found');
  return state;
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((item) => b.includes(item));
const sameZones = (a: Zones, b: Zones) => (a === 'all' || b === 'all' ? a === b : sameSet(a, b));

export const userDecider: Decider<UserCommand, UserState, UserEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    if (command.type === 'CreateUser') {
      if (state.exists) throw new DomainError('USER_EXISTS', `user ${command.userId} already exists`);
      const data: Extract<UserEvent, { type: 'UserCreated' }>['data'] = {
        userId: command.userId, username: command.username, passwordHash: command.passwordHash, roles: command.roles, createdAt: command.now,
      };
      if (command.zones !== undefined) data.zones = command.zones;
      return [{ type: 'UserCreated', data }];
    }
    const user = live(state);
    const { userId } = user;
    switch (command.type) {
      case 'ChangeRoles':
        if (sameSet(user.roles, command.roles) && sameZones(user.zones, command.zones)) return [];
        return [{ type: 'UserRolesChanged', data: { userId, roles: command.roles, zones: command.zones, at: command.now } }];
      case 'ChangePassword':
        return [{ type: 'UserPasswordChanged', data: { userId, passwordHash: command.passwordHash, by: command.by, at: command.now } }];
      case 'DisableUser':
        return user.disabled ? [] : [{ type: 'UserDisabled', data: { userId, username: user.username, at: command.now } }];
      case 'EnableUser':
        return user.disabled ? [{ type: 'UserEnabled', data: { userId, username: user.username, at: command.now } }] : [];
      case 'DeleteUser':
        return [{ type: 'UserDeleted', data: { userId, username: user.username, at: command.now } }];
      case 'EnableTotp':
        // Until the first login with a code, enrolling again replaces the secret (a lost phone
        // before the first use); afterwards only an admin's reset starts over.
        if (user.totp.state === 'on') throw new DomainError('TOTP_ALREADY_ENABLED', 'two-factor authentication is already on; an administrator can reset it');
        return [{ type: 'TotpEnabled', data: { userId, secretSealed: command.secretSealed, at: command.now } }];
      case 'ConfirmTotp':
        return user.totp.state === 'pending' ? [{ type: 'TotpConfirmed', data: { userId, at: command.now } }] : [];
      case 'ResetTotp':
        return user.totp.state === 'off' ? [] : [{ type: 'TotpReset', data: { userId, at: command.now } }];
      case 'ChangeEmail':
        // A sealed value differs at every sealing: the command layer compares the addresses themselves.
        if (command.emailSealed === null && user.emailSealed === undefined) return [];
        return [{ type: 'UserEmailChanged', data: { userId, emailSealed: command.emailSealed, at: command.now } }];
    }
  },

  evolve(state, event) {
    if (event.type === 'UserCreated') {
      return {
        exists: true,
        userId: event.data.userId,
        username: event.data.username,
        passwordHash: event.data.passwordHash,
        roles: event.data.roles,
        zones: event.data.zones ?? [],
        disabled: false,
        deleted: false,
        totp: { state: 'off' },
      };
    }
    if (!state.exists) return state;
    switch (event.type) {
      case 'UserRolesChanged': return { ...state, roles: event.data.roles, zones: event.data.zones };
      case 'UserPasswordChanged': return { ...state, passwordHash: event.data.passwordHash };
      case 'UserDisabled': return { ...state, disabled: true };
      case 'UserEnabled': return { ...state, disabled: false };
      case 'UserDeleted': return { ...state, deleted: true };
      case 'TotpEnabled': return { ...state, totp: { state: 'pending', secretSealed: event.data.secretSealed } };
      case 'TotpConfirmed': return state.totp.state === 'off' ? state : { ...state, totp: { ...state.totp, state: 'on' } };
      case 'TotpReset': return { ...state, totp: { state: 'off' } };
      case 'UserEmailChanged': {
        const { emailSealed: _previous, ...rest } = state;
        return event.data.emailSealed === null ? rest : { ...rest, emailSealed: event.data.emailSealed };
      }
      case 'LoginFailed': return state;
    }
  },
};
