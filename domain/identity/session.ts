import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';

// A login session. The bearer token is `<sessionId>.<secret>`; only a SHA-256 of the secret
// is recorded, so the event log never holds a usable token.

export type SessionEvent =
  | DomainEvent<'UserLoggedIn', { sessionId: string; userId: string; username: string; tokenHash: string; expiresAt: number; at: number }>
  | DomainEvent<'UserLoggedOut', { sessionId: string; userId: string; username: string; reason: 'logout' | 'revoked'; at: number }>;

export type SessionCommand =
  | { type: 'OpenSession'; sessionId: string; userId: string; username: string; tokenHash: string; expiresAt: number; now: number }
  | { type: 'CloseSession'; reason: 'logout' | 'revoked'; now: number };

export type SessionState =
  | { state: 'none' }
  | { state: 'open' | 'closed'; sessionId: string; userId: string; username: string; tokenHash: string; expiresAt: number; openedAt: number };

export const sessionStream = (sessionId: string) => `session-${sessionId}`;

export const sessionDecider: Decider<SessionCommand, SessionState, SessionEvent> = {
  initialState: { state: 'none' },

  decide(command, state) {
    switch (command.type) {
      case 'OpenSession':
        if (state.state !== 'none') throw new DomainError('SESSION_EXISTS', 'session already exists');
        return [{
          type: 'UserLoggedIn',
          data: {
            sessionId: command.sessionId,
            userId: command.userId,
            username: command.username,
            tokenHash: command.tokenHash,
            expiresAt: command.expiresAt,
            at: command.now,
          },
        }];
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
      case 'UserLoggedIn':
        return {
          state: 'open',
          sessionId: event.data.sessionId,
          userId: event.data.userId,
          username: event.data.username,
          tokenHash: event.data.tokenHash,
          expiresAt: event.data.expiresAt,
          openedAt: event.data.at,
        };
      case 'UserLoggedOut':
        return state.state === 'none' ? state : { ...state, state: 'closed' };
    }
  },
};

export function isSessionActive(state: SessionState, now: number): boolean {
  return state.state === 'open' && now < state.expiresAt;
}
