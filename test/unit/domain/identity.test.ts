import { describe, expect, it } from 'vitest';
import { isSessionActive, sessionDecider, type SessionEvent } from '../../../domain/identity/session.js';
import { userDecider, type UserEvent } from '../../../domain/identity/user.js';
import { fold } from '../../../domain/shared/decider.js';
import { scenario } from '../../support/given-when-then.js';

const created: UserEvent = { type: 'UserCreated', data: { userId: 'u1', username: 'alice', passwordHash: 'h', roles: ['admin'], createdAt: 1 } };
const user = scenario(userDecider);
const session = scenario(sessionDecider);
const opened: SessionEvent = {
  type: 'UserLoggedIn',
  data: { sessionId: 's1', userId: 'u1', username: 'alice', tokenHash: 'th', expiresAt: 10_000, at: 1000 },
};

describe('user decider', () => {
  it('creates a user once', () => {
    user.given().when({ type: 'CreateUser', userId: 'u1', username: 'alice', passwordHash: 'h', roles: ['admin'], now: 1 }).then([created]);
    user.given(created).when({ type: 'CreateUser', userId: 'u1', username: 'alice', passwordHash: 'h', roles: [], now: 1 }).thenFails('USER_EXISTS');
  });

  it('records a failed login with its reason, and nothing for a good one', () => {
    user.given(created).when({ type: 'CheckLogin', username: 'alice', passwordMatches: false, now: 5 })
      .then([{ type: 'LoginFailed', data: { userId: 'u1', username: 'alice', reason: 'WRONG_PASSWORD', at: 5 } }]);
    user.given().when({ type: 'CheckLogin', username: 'bob', passwordMatches: false, now: 5 })
      .then([{ type: 'LoginFailed', data: { userId: null, username: 'bob', reason: 'UNKNOWN_USER', at: 5 } }]);
    user.given(created).when({ type: 'CheckLogin', username: 'alice', passwordMatches: true, now: 5 }).then([]);
  });
});

describe('session decider', () => {
  it('opens a session that is active until it expires', () => {
    session.given().when({ type: 'OpenSession', sessionId: 's1', userId: 'u1', username: 'alice', tokenHash: 'th', expiresAt: 10_000, now: 1000 })
      .then([opened]);
    const state = fold(sessionDecider, [opened]);
    expect(isSessionActive(state, 9_999)).toBe(true);
    expect(isSessionActive(state, 10_000)).toBe(false);
  });

  it('closes a session once; a closed session is not active', () => {
    const closed: SessionEvent = { type: 'UserLoggedOut', data: { sessionId: 's1', userId: 'u1', username: 'alice', reason: 'logout', at: 2000 } };
    session.given(opened).when({ type: 'CloseSession', reason: 'logout', now: 2000 }).then([closed]);
    session.given(opened, closed).when({ type: 'CloseSession', reason: 'logout', now: 3000 }).then([]);
    session.given().when({ type: 'CloseSession', reason: 'logout', now: 3000 }).thenFails('SESSION_NOT_FOUND');
    expect(isSessionActive(fold(sessionDecider, [opened, closed]), 2500)).toBe(false);
  });
});
