import { describe, expect, it } from 'vitest';
import { accessKeyDecider } from '../../../domain/identity/access-key.js';
import { isLocked, loginDecider, openSessionIds, type LoginCommand, type LoginEvent } from '../../../domain/identity/login.js';
import { customRoleDecider, type CustomRoleEvent } from '../../../domain/identity/role.js';
import { isSessionActive, sessionDecider, type SessionEvent } from '../../../domain/identity/session.js';
import { userDecider, type UserEvent } from '../../../domain/identity/user.js';
import { fold } from '../../../domain/shared/decider.js';
import { scenario } from '../../support/given-when-then.js';

const created: UserEvent = { type: 'UserCreated', data: { userId: 'u1', username: 'alice', passwordHash: 'h', roles: ['admin'], createdAt: 1 } };
const user = scenario(userDecider);
const session = scenario(sessionDecider);
const login = scenario(loginDecider);
const opened: SessionEvent = {
  type: 'UserLoggedIn',
  data: { sessionId: 's1', userId: 'u1', username: 'alice', tokenHash: 'th', expiresAt: 10_000, at: 1000 },
};

describe('user decider', () => {
  it('creates a user once', () => {
    user.given().when({ type: 'CreateUser', userId: 'u1', username: 'alice', passwordHash: 'h', roles: ['admin'], now: 1 }).then([created]);
    user.given(created).when({ type: 'CreateUser', userId: 'u1', username: 'alice', passwordHash: 'h', roles: [], now: 1 }).thenFails('USER_EXISTS');
  });

  it('changes roles and zones only when they differ', () => {
    user.given(created).when({ type: 'ChangeRoles', roles: ['admin'], zones: [], now: 2 }).then([]);
    user.given(created).when({ type: 'ChangeRoles', roles: ['platform-admin'], zones: ['z1'], now: 2 })
      .then([{ type: 'UserRolesChanged', data: { userId: 'u1', roles: ['platform-admin'], zones: ['z1'], at: 2 } }]);
  });

  it('disables and enables idempotently; a deleted user accepts nothing', () => {
    const disabled: UserEvent = { type: 'UserDisabled', data: { userId: 'u1', username: 'alice', at: 2 } };
    user.given(created).when({ type: 'DisableUser', now: 2 }).then([disabled]);
    user.given(created, disabled).when({ type: 'DisableUser', now: 3 }).then([]);
    user.given(created, disabled).when({ type: 'EnableUser', now: 3 }).then([{ type: 'UserEnabled', data: { userId: 'u1', username: 'alice', at: 3 } }]);
    const deleted: UserEvent = { type: 'UserDeleted', data: { userId: 'u1', username: 'alice', at: 4 } };
    user.given(created).when({ type: 'DeleteUser', now: 4 }).then([deleted]);
    user.given(created, deleted).when({ type: 'ChangePassword', passwordHash: 'h2', by: 'admin', now: 5 }).thenFails('USER_NOT_FOUND');
    user.given().when({ type: 'DisableUser', now: 5 }).thenFails('USER_NOT_FOUND');
  });

  it('two-factor: enrol (pending), confirm on the first code login (on), refuse a second enrolment, reset', () => {
    const enabled: UserEvent = { type: 'TotpEnabled', data: { userId: 'u1', secretSealed: 'v1.k.sealed', at: 2 } };
    const confirmed: UserEvent = { type: 'TotpConfirmed', data: { userId: 'u1', at: 3 } };
    user.given(created).when({ type: 'EnableTotp', secretSealed: 'v1.k.sealed', now: 2 }).then([enabled]);
    // Before the first code login, enrolling again replaces the secret.
    user.given(created, enabled).when({ type: 'EnableTotp', secretSealed: 'v1.k.other', now: 3 })
      .then([{ type: 'TotpEnabled', data: { userId: 'u1', secretSealed: 'v1.k.other', at: 3 } }]);
    user.given(created, enabled).when({ type: 'ConfirmTotp', now: 3 }).then([confirmed]);
    user.given(created, enabled, confirmed).when({ type: 'ConfirmTotp', now: 4 }).then([]);
    user.given(created, enabled, confirmed).when({ type: 'EnableTotp', secretSealed: 'v1.k.x', now: 4 }).thenFails('TOTP_ALREADY_ENABLED');
    user.given(created, enabled, confirmed).when({ type: 'ResetTotp', now: 5 }).then([{ type: 'TotpReset', data: { userId: 'u1', at: 5 } }]);
    user.given(created).when({ type: 'ResetTotp', now: 5 }).then([]);
    const state = fold(userDecider, [created, enabled, confirmed]);
    expect(state.exists && state.totp).toEqual({ state: 'on', secretSealed: 'v1.k.sealed' });
  });

  it('still reads user streams with login failures written by earlier versions', () => {
    const legacy: UserEvent = { type: 'LoginFailed', data: { userId: 'u1', username: 'alice', reason: 'WRONG_PASSWORD', at: 2 } };
    expect(fold(userDecider, [created, legacy])).toEqual(fold(userDecider, [created]));
  });
});

const policy = { threshold: 5, windowMs: 900_000, durationMs: 900_000 };
const attempt = (now: number, overrides: Partial<Extract<LoginCommand, { type: 'AttemptLogin' }>> = {}): LoginCommand => ({
  type: 'AttemptLogin', userId: 'u1', username: 'alice', disabled: false, passwordMatches: true, totp: { kind: 'not-enrolled' },
  sessionId: `s${now}`, expiresAt: now + 7_200_000, maxSessions: 500, lockout: policy, now, ...overrides,
});
const failedAt = (at: number, reason: 'WRONG_PASSWORD' | 'WRONG_TOTP' = 'WRONG_PASSWORD'): LoginEvent => ({ type: 'LoginFailed', data: { userId: 'u1', username: 'alice', reason, at } });
const succeededAt = (at: number, totpStep: number | null = null, sessionId = `s${at}`): LoginEvent => ({
  type: 'LoginSucceeded', data: { userId: 'u1', username: 'alice', sessionId, expiresAt: at + 7_200_000, totpStep, at },
});

describe('login ledger decider', () => {
  it('records a success with its session', () => {
    login.given().when(attempt(1000)).then([succeededAt(1000)]);
  });

  it('locks after 5 failures within 15 minutes, and the lock refuses even the right password', () => {
    const four = [failedAt(1000), failedAt(2000), failedAt(3000), failedAt(4000)];
    login.given(...four).when(attempt(5000, { passwordMatches: false })).then([
      failedAt(5000),
      { type: 'UserLocked', data: { userId: 'u1', username: 'alice', failures: 5, until: 5000 + 900_000, at: 5000 } },
    ]);
    const locked = fold(loginDecider, [...four, failedAt(5000), { type: 'UserLocked', data: { userId: 'u1', username: 'alice', failures: 5, until: 905_000, at: 5000 } }]);
    expect(isLocked(locked, 904_999)).toBe(true);
    expect(loginDecider.decide(attempt(6000), locked)).toEqual([{ type: 'LoginFailed', data: { userId: 'u1', username: 'alice', reason: 'USER_LOCKED', at: 6000 } }]);
    // The lock runs out by itself.
    expect(loginDecider.decide(attempt(905_000), locked)[0]?.type).toBe('LoginSucceeded');
  });

  it('counts only failures inside the window, and a success starts the count over', () => {
    const old = [failedAt(0), failedAt(1), failedAt(2), failedAt(3)];
    login.given(...old).when(attempt(900_001, { passwordMatches: false })).then([failedAt(900_001)]);
    login.given(...old, succeededAt(10)).when(attempt(20, { passwordMatches: false })).then([failedAt(20)]);
  });

  it('does not count a missing two-factor code (a normal step) towards a lockout, but counts a wrong one', () => {
    const four = [failedAt(1), failedAt(2), failedAt(3), failedAt(4)];
    login.given(...four).when(attempt(5, { totp: { kind: 'missing' } }))
      .then([{ type: 'LoginFailed', data: { userId: 'u1', username: 'alice', reason: 'TOTP_REQUIRED', at: 5 } }]);
    const events = loginDecider.decide(attempt(5, { totp: { kind: 'wrong' } }), fold(loginDecider, four));
    expect(events.map((event) => event.type)).toEqual(['LoginFailed', 'UserLocked']);
  });

  it('an admin unlock clears the lock and the count', () => {
    const locked: LoginEvent = { type: 'UserLocked', data: { userId: 'u1', username: 'alice', failures: 5, until: 900_000, at: 1 } };
    login.given(locked).when({ type: 'UnlockUser', userId: 'u1', username: 'alice', now: 2 })
      .then([{ type: 'UserUnlocked', data: { userId: 'u1', username: 'alice', at: 2 } }]);
    login.given().when({ type: 'UnlockUser', userId: 'u1', username: 'alice', now: 2 }).then([]);
    const state = fold(loginDecider, [locked, { type: 'UserUnlocked', data: { userId: 'u1', username: 'alice', at: 2 } }]);
    expect(isLocked(state, 3)).toBe(false);
  });

  it('refuses a TOTP code of a time step already used, or an older one', () => {
    const used = succeededAt(1000, 58_908_960);
    login.given(used).when(attempt(2000, { totp: { kind: 'valid', step: 58_908_960 } }))
      .then([{ type: 'LoginFailed', data: { userId: 'u1', username: 'alice', reason: 'TOTP_REPLAYED', at: 2000 } }]);
    login.given(used).when(attempt(2000, { totp: { kind: 'valid', step: 58_908_959 } }))
      .then([{ type: 'LoginFailed', data: { userId: 'u1', username: 'alice', reason: 'TOTP_REPLAYED', at: 2000 } }]);
    login.given(used).when(attempt(31_000, { totp: { kind: 'valid', step: 58_908_961 } })).then([succeededAt(31_000, 58_908_961)]);
  });

  it('refuses a login beyond the concurrent-session cap; closed and expired sessions free their slot', () => {
    const two = [succeededAt(1, null, 'a'), succeededAt(2, null, 'b')];
    login.given(...two).when(attempt(3, { maxSessions: 2 }))
      .then([{ type: 'LoginFailed', data: { userId: 'u1', username: 'alice', reason: 'SESSION_LIMIT', at: 3 } }]);
    const ended: LoginEvent = { type: 'LoginSessionEnded', data: { userId: 'u1', sessionId: 'a', at: 3 } };
    login.given(...two, ended).when(attempt(4, { maxSessions: 2 })).then([succeededAt(4)]);
    login.given(...two).when(attempt(2 + 7_200_000, { maxSessions: 2 })).then([succeededAt(2 + 7_200_000)]);
    expect(openSessionIds(fold(loginDecider, [...two, ended]), 5)).toEqual(['b']);
  });

  it('refuses a disabled user', () => {
    login.given().when(attempt(1, { disabled: true })).then([{ type: 'LoginFailed', data: { userId: 'u1', username: 'alice', reason: 'USER_DISABLED', at: 1 } }]);
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

  it('records the enrolment-only scope', () => {
    session.given().when({ type: 'OpenSession', sessionId: 's1', userId: 'u1', username: 'alice', tokenHash: 'th', expiresAt: 10_000, now: 1000, scope: 'totp-enrollment' })
      .then([{ type: 'UserLoggedIn', data: { ...(opened as Extract<SessionEvent, { type: 'UserLoggedIn' }>).data, scope: 'totp-enrollment' } }]);
  });

  it('closes a session once; a closed session is not active', () => {
    const closed: SessionEvent = { type: 'UserLoggedOut', data: { sessionId: 's1', userId: 'u1', username: 'alice', reason: 'logout', at: 2000 } };
    session.given(opened).when({ type: 'CloseSession', reason: 'logout', now: 2000 }).then([closed]);
    session.given(opened, closed).when({ type: 'CloseSession', reason: 'logout', now: 3000 }).then([]);
    session.given().when({ type: 'CloseSession', reason: 'logout', now: 3000 }).thenFails('SESSION_NOT_FOUND');
    expect(isSessionActive(fold(sessionDecider, [opened, closed]), 2500)).toBe(false);
  });
});

describe('access key decider', () => {
  const keys = scenario(accessKeyDecider);
  const keyCreated = { type: 'AccessKeyCreated' as const, data: { accessKeyId: 'AK1', userId: 'u1', username: 'alice', secretSealed: 'v1.k.s', description: '', at: 1 } };
  it('creates, disables, enables and deletes; a deleted key accepts nothing', () => {
    keys.given().when({ type: 'CreateAccessKey', accessKeyId: 'AK1', userId: 'u1', username: 'alice', secretSealed: 'v1.k.s', description: '', now: 1 }).then([keyCreated]);
    keys.given(keyCreated).when({ type: 'EnableAccessKey', now: 2 }).then([]);
    keys.given(keyCreated).when({ type: 'DisableAccessKey', now: 2 }).then([{ type: 'AccessKeyDisabled', data: { accessKeyId: 'AK1', userId: 'u1', at: 2 } }]);
    const deleted = { type: 'AccessKeyDeleted' as const, data: { accessKeyId: 'AK1', userId: 'u1', at: 3 } };
    keys.given(keyCreated).when({ type: 'DeleteAccessKey', now: 3 }).then([deleted]);
    keys.given(keyCreated, deleted).when({ type: 'EnableAccessKey', now: 4 }).thenFails('ACCESS_KEY_NOT_FOUND');
  });
});

describe('custom role decider', () => {
  const roles = scenario(customRoleDecider);
  const create = (rootRole: string, permissions: string[]) => ({ type: 'CreateCustomRole' as const, roleId: 'r1', name: 'operators', description: '', rootRole, permissions, now: 1 });
  const roleCreated: CustomRoleEvent = { type: 'CustomRoleCreated', data: { roleId: 'r1', name: 'operators', description: '', rootRole: 'read-only', permissions: ['vm:read'], at: 1 } };

  it('creates a role whose permissions lie within its root role', () => {
    roles.given().when(create('read-only', ['vm:read', 'vm:read'])).then([roleCreated]);
    roles.given().when(create('platform-admin', ['vm:*', 'volume:create'])).then([{
      type: 'CustomRoleCreated', data: { roleId: 'r1', name: 'operators', description: '', rootRole: 'platform-admin', permissions: ['vm:*', 'volume:create'], at: 1 },
    }]);
  });

  it('refuses permissions beyond the root role, malformed permissions and unknown roots', () => {
    roles.given().when(create('read-only', ['vm:create'])).thenFails('PERMISSION_BEYOND_ROOT_ROLE');
    roles.given().when(create('auditor', ['*:read'])).thenFails('PERMISSION_BEYOND_ROOT_ROLE');
    roles.given().when(create('read-only', ['vm'])).thenFails('INVALID_PERMISSIONS');
    roles.given().when(create('read-only', ['VM:read'])).thenFails('INVALID_PERMISSIONS');
    roles.given().when(create('superuser', ['vm:read'])).thenFails('INVALID_ROOT_ROLE');
    roles.given(roleCreated).when({ type: 'ChangeCustomRole', permissions: ['vm:delete'], now: 2 }).thenFails('PERMISSION_BEYOND_ROOT_ROLE');
  });

  it('changes and deletes a role', () => {
    roles.given(roleCreated).when({ type: 'ChangeCustomRole', permissions: ['vm:read', 'vm:list'], now: 2 })
      .then([{ type: 'CustomRoleChanged', data: { roleId: 'r1', description: '', permissions: ['vm:read', 'vm:list'], at: 2 } }]);
    roles.given(roleCreated).when({ type: 'DeleteCustomRole', now: 3 }).then([{ type: 'CustomRoleDeleted', data: { roleId: 'r1', name: 'operators', at: 3 } }]);
  });
});
