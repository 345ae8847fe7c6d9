import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';

// A user's login ledger, stream `login-<userId>`: failed attempts and the lockout they cause,
// the last TOTP time step used (a code works once), and the sessions open against the
// concurrent-session cap. One aggregate, so that two logins racing with the same code or for
// the last session slot are decided one after the other (optimistic concurrency) and
// cannot both succeed.

export type LoginFailureReason =
  | 'UNKNOWN_USER'
  | 'WRONG_PASSWORD'
  | 'USER_DISABLED'
  | 'USER_LOCKED'
  | 'TOTP_REQUIRED'
  | 'WRONG_TOTP'
  | 'TOTP_REPLAYED'
  | 'SESSION_LIMIT'
  | 'IP_NOT_ALLOWED';

/** Failures that count towards a lockout: guesses of a secret. */
const guesses: ReadonlySet<LoginFailureReason> = new Set(['WRONG_PASSWORD', 'WRONG_TOTP', 'TOTP_REPLAYED']);

export type LoginEvent =
  | DomainEvent<'LoginFailed', { userId: string | null; username: string; reason: LoginFailureReason; at: number }>
  | DomainEvent<'UserLocked', { userId: string; username: string; failures: number; until: number; at: number }>
  | DomainEvent<'UserUnlocked', { userId: string; username: string; at: number }>
  | DomainEvent<'LoginSucceeded', { userId: string; username: string; sessionId: string; expiresAt: number; totpStep: number | null; at: number }>
  | DomainEvent<'LoginSessionEnded', { userId: string; sessionId: string; at: number }>;

/** An address ran out of failed attempts (recorded once per episode, not per refused request). */
export type LoginRateLimitedEvent = DomainEvent<'LoginRateLimited', {
  clientIp: string;
  username?: string;
  accessKeyId?: string | null;
  retryAfterSeconds: number;
  at: number;
}>;

export interface LockoutPolicy {
  /** Failures within the window that lock the user; 0 turns lockout off. */
  threshold: number;
  windowMs: number;
  durationMs: number;
}

/** What the command layer found out before deciding: the password and TOTP checks are I/O. */
export type TotpCheck =
  | { kind: 'not-enrolled' }
  | { kind: 'missing' }
  | { kind: 'wrong' }
  | { kind: 'valid'; step: number };

export type LoginCommand =
  | {
      type: 'AttemptLogin';
      userId: string;
      username: string;
      disabled: boolean;
      passwordMatches: boolean;
      totp: TotpCheck;
      sessionId: string;
      expiresAt: number;
      maxSessions: number;
      lockout: LockoutPolicy;
      now: number;
    }
  | { type: 'UnlockUser'; userId: string; username: string; now: number }
  | { type: 'EndLoginSession'; userId: string; sessionId: string; now: number };

export interface LoginState {
  /** Times of counted failures since the last success, lock or unlock. */
  failures: number[];
  lockedUntil: number;
  lastTotpStep: number;
  /** Open sessions and when they expire. */
  sessions: Readonly<Record<string, number>>;
}

export const loginStream = (userId: string) => `login-${userId}`;
/** Failed logins of user names that do not exist, and refusals before any user was looked at. */
export const anonymousLoginFailuresStream = 'login-failures';

export const isLocked = (state: LoginState, now: number) => now < state.lockedUntil;

export function openSessionIds(state: LoginState, now: number): string[] {
  return Object.entries(state.sessions).filter(([, expiresAt]) => expiresAt > now).map(([sessionId]) => sessionId);
}

export const loginDecider: Decider<LoginCommand, LoginState, LoginEvent> = {
  initialState: { failures: [], lockedUntil: 0, lastTotpStep: -1, sessions: {} },

  decide(command, state) {
    switch (command.type) {
      case 'AttemptLogin': {
        const { userId, username, now } = command;
        const fail = (reason: LoginFailureReason): LoginEvent[] => {
          const events: LoginEvent[] = [{ type: 'LoginFailed', data: { userId, username, reason, at: now } }];
          const { threshold, windowMs, durationMs } = command.lockout;
          if (guesses.has(reason) && threshold > 0) {
            const recent = state.failures.filter((time) => time > now - windowMs).length + 1;
            if (recent >= threshold) {
              events.push({ type: 'UserLocked', data: { userId, username, failures: recent, until: now + durationMs, at: now } });
            }
          }
          return events;
        };
        if (isLocked(state, now)) return fail('USER_LOCKED');
        if (command.disabled) return fail('USER_DISABLED');
        if (!command.passwordMatches) return fail('WRONG_PASSWORD');
        const { totp } = command;
        if (totp.kind === 'missing') return fail('TOTP_REQUIRED');
        if (totp.kind === 'wrong') return fail('WRONG_TOTP');
        if (totp.kind === 'valid' && totp.step <= state.lastTotpStep) return fail('TOTP_REPLAYED');
        if (openSessionIds(state, now).length >= command.maxSessions) return fail('SESSION_LIMIT');
        return [{
          type: 'LoginSucceeded',
          data: {
            userId, username, sessionId: command.sessionId, expiresAt: command.expiresAt,
            totpStep: totp.kind === 'valid' ? totp.step : null, at: now,
          },
        }];
      }
      case 'UnlockUser':
        if (!isLocked(state, command.now) && state.failures.length === 0) return [];
        return [{ type: 'UserUnlocked', data: { userId: command.userId, username: command.username, at: command.now } }];
      case 'EndLoginSession':
        if (state.sessions[command.sessionId] === undefined) return [];
        return [{ type: 'LoginSessionEnded', data: { userId: command.userId, sessionId: command.sessionId, at: command.now } }];
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'LoginFailed':
        return guesses.has(event.data.reason) ? { ...state, failures: [...state.failures, event.data.at] } : state;
      case 'UserLocked':
        return { ...state, failures: [], lockedUntil: event.data.until };
      case 'UserUnlocked':
        return { ...state, failures: [], lockedUntil: 0 };
      case 'LoginSucceeded': {
        // Expired sessions are forgotten here, so the ledger stays as small as what is open.
        const sessions = Object.fromEntries(Object.entries(state.sessions).filter(([, expiresAt]) => expiresAt > event.data.at));
        sessions[event.data.sessionId] = event.data.expiresAt;
        return {
          ...state,
          failures: [],
          lastTotpStep: event.data.totpStep ?? state.lastTotpStep,
          sessions,
        };
      }
      case 'LoginSessionEnded': {
        const { [event.data.sessionId]: _ended, ...sessions } = state.sessions;
        return { ...state, sessions };
      }
    }
  },
};

/** The failure a client is told about. User-existence and lock state are not disclosed. */
export function loginFailureError(reason: LoginFailureReason): DomainError {
  switch (reason) {
    case 'TOTP_REQUIRED':
      return new DomainError('TOTP_REQUIRED', 'this user has two-factor authentication on: send the 6-digit code as totp', 'unauthorized', {
        fields: [{ field: 'totp', message: 'required' }],
      });
    case 'WRONG_TOTP':
    case 'TOTP_REPLAYED':
      return new DomainError('INVALID_TOTP', 'the two-factor code is wrong or was already used', 'unauthorized', {
        fields: [{ field: 'totp', message: 'wrong or already used' }],
      });
    case 'SESSION_LIMIT':
      return new DomainError('SESSION_LIMIT_REACHED', 'this user has the most concurrent sessions allowed; log out of one or ask an administrator to revoke one', 'conflict');
    case 'IP_NOT_ALLOWED':
      return new DomainError('IP_NOT_ALLOWED', 'logins from this address are not allowed', 'forbidden');
    default:
      return new DomainError('INVALID_CREDENTIALS', 'user name or password is wrong', 'unauthorized');
  }
}
