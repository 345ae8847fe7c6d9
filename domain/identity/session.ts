import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';

// A login session. The bearer token is `<sessionId>.<secret>`; only a SHA-256 of the secret
// is recorded, so the event log never holds a usable token. A session of a user who must
// first enrol in two-factor authentication has the scope `totp-enrollment`: it can enrol,
// change its password and log out, nothing else.

export type SessionScope = 'totp-enrollment';

export type SessionEvent =
  | DomainEvent<'UserLoggedIn', { sessionId: string; userId: string; username: string; tokenHash: string; expiresAt: number; at: number; scope?: SessionScope; projectId?: string }>
  | DomainEvent<'UserLoggedOut', { sessionId: string; userId: string; username: string; reason: 'logout' | 'revoked'; at: number }>;

export type SessionCommand =
  | { type: 'OpenSession'; sessionId: string; userId: string; username: string; tokenHash: string; expiresAt: number; now: number; scope?: SessionScope; projectId?: string }
  | { type: 'CloseSession'; reason: 'logout' | 'revoked'; now: number };

export type SessionState =
  | { state: 'none' }
  | { state: 'open' | 'closed'; sessionId: string; userId: string; username: string; tokenHash: string; expiresAt: number; openedAt: number; scope?: SessionScope; projectId?: string };

export const sessionStream = (sessionId: string) => `session-${sessionId}`;

export const sessionDecider: Decider<SessionCommand, SessionState, SessionEvent> = {
  initialState: { state: 'none' },

  decide(command, state) {
    switch (command.type) {
      case 'OpenSession': {
        if (state.state !== 'none') throw new DomainError('SESSION_EXISTS', 'session already exists');
        const data: Extract<SessionEvent, { type: 'UserLoggedIn' }>['data'] = {
          sessionId: command.sessionId,
          userId: command.userId,
          username: command.username,
          tokenHash: command.tokenHash,
          expiresAt: command.expiresAt,
          at: command.now,
        };
        if (command.scope) data.scope = command.scope;
        if (command.projectId) data.projectId = command.projectId;
        return [{ type: 'UserLoggedIn', data }];
      }
      case 'CloseSession':
        if (state.state === 'none') throw new DomainError('SESSION_NOT_FOUND', 'session not found', 'not_found');
        if (state.state === 'closed') return [];
        return [{
          type: 'UserLoggedOut',
          data: { sessionId: state.sessionId, userId: state.userId, username: state.username, reason: command.reason, at: command.now },
        }];
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'UserLoggedIn': {
        const opened: SessionState = {
          state: 'open',
          sessionId: event.data.sessionId,
          userId: event.data.userId,
          username: event.data.username,
          tokenHash: event.data.tokenHash,
          expiresAt: event.data.expiresAt,
          openedAt: event.data.at,
        };
        if (event.data.scope) opened.scope = event.data.scope;
        if (event.data.projectId) opened.projectId = event.data.projectId;
        return opened;
      }
      case 'UserLoggedOut':
        return state.state === 'none' ? state : { ...state, state: 'closed' };
    }
  },
};

export function isSessionActive(state: SessionState, now: number): boolean {
  return state.state === 'open' && now < state.expiresAt;
}
