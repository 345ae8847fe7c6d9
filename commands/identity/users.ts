import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import { isLocked, loginDecider, loginStream } from '../../domain/identity/login.js';
import type { Zones } from '../../domain/identity/permissions.js';
import { userDecider, userStream, usernameStream, type LiveUser, type UserCommand } from '../../domain/identity/user.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';
import { newId } from '../shared/ids.js';
import type { TaskWorkContext } from '../tasks/tasks.js';
import { readSettings } from '../settings/settings.js';
import { assertPasswordAcceptable } from './password-policy.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { assertMayGrant, assertMayManage, resolveRoleReferences, type Principal } from './principal.js';
import { revokeUserSessions, throttleLimits } from './sessions.js';
import { loadLiveUser, reserveName, usernameTaken } from './user-lookup.js';
import type { LoginThrottle } from './login-throttle.js';
import { assertNotDepartmentManager } from '../tenancy/organizations.js';

export { findUserIdByName, loadUser, loadLiveUser } from './user-lookup.js';

export interface UserDeps {
  store: EventStore;
  clock: Clock;
}

/** A user as the API shows it: never the password hash or the TOTP secret. */
export interface UserView {
  id: string;
  username: string;
  roles: string[];
  zones: Zones;
  state: 'enabled' | 'disabled';
  totp: 'off' | 'pending' | 'on';
  lockedUntil: string | null;
  version: number;
}

export async function userView(deps: UserDeps, user: LiveUser & { version: number }): Promise<UserView> {
  const { state: ledger } = await loadAggregate(deps.store, loginDecider, loginStream(user.userId));
  return {
    id: user.userId,
    username: user.username,
    roles: user.roles,
    zones: user.zones,
    state: user.disabled ? 'disabled' : 'enabled',
    totp: user.totp.state,
    lockedUntil: isLocked(ledger, deps.clock.now()) ? new Date(ledger.lockedUntil).toISOString() : null,
    version: user.version,
  };
}

/**
 * Creates a user: the name is reserved first (a "no stream" append, so two concurrent
 * creations of one name cannot both succeed), then the user's stream is written. No policy
 * or grant checks: for the bootstrap and for `createUserAs`, which makes them.
 */
export async function createUser(
  deps: UserDeps,
  input: { username: string; password: string; roles: string[]; zones?: Zones },
  metadata: EventMetadata,
): Promise<{ userId: string; position: number }> {
  const userId = newId();
  await reserveName(deps.store, usernameStream(input.username), { type: 'UsernameReserved', data: { username: input.username, userId } }, 'UsernameReleased', metadata, usernameTaken(input.username));
  const passwordHash = await hashPassword(input.password);
  const command: Extract<UserCommand, { type: 'CreateUser' }> = {
    type: 'CreateUser', userId, username: input.username, passwordHash, roles: input.roles, now: deps.clock.now(),
  };
  if (input.zones !== undefined) command.zones = input.zones;
  const outcome = await handleCommand(deps.store, userDecider, userStream(userId), command, metadata);
  return { userId, position: outcome.position };
}

/** An administrator creates a user: the password policy, and nobody grants what they do not hold. */
export async function createUserAs(
  deps: UserDeps,
  actor: Principal,
  task: TaskWorkContext,
  input: { username: string; password: string; roles: string[]; zones?: Zones },
): Promise<UserView> {
  const roles = await resolveRoleReferences(deps.store, input.roles);
  const zones = input.zones ?? [];
  await assertMayGrant(deps.store, actor, roles, zones);
  await assertPasswordAcceptable(deps.store, input.password, input.username);
  const { userId } = await createUser(deps, { ...input, roles, zones }, task.metadata);
  return userView(deps, await loadLiveUser(deps.store, userId));
}

function assertNotSelf(actor: Principal, userId: string, what: string) {
  if (actor.userId === userId) throw new DomainError('SELF_ACTION', `you cannot ${what} yourself`, 'conflict');
}

export async function changeUserRoles(
  deps: UserDeps,
  actor: Principal,
  task: TaskWorkContext,
  userId: string,
  input: { roles?: string[]; zones?: Zones },
  expectedVersion?: number,
): Promise<UserView> {
  const user = await loadLiveUser(deps.store, userId);
  assertNotSelf(actor, userId, 'change the roles of');
  await assertMayManage(deps.store, actor, user);
  const roles = input.roles === undefined ? user.roles : await resolveRoleReferences(deps.store, input.roles);
  const zones = input.zones ?? user.zones;
  await assertMayGrant(deps.store, actor, roles, zones);
  // A department manager holds no other role (reference/002; domain/tenancy/organization.ts).
  if (roles.length > 0) await assertNotDepartmentManager(deps.store, userId);
  await handleCommand(deps.store, userDecider, userStream(userId), { type: 'ChangeRoles', roles, zones, now: deps.clock.now() }, task.metadata,
    expectedVersion === undefined ? {} : { expectedVersion });
  return userView(deps, await loadLiveUser(deps.store, userId));
}

export async function setUserEnabled(deps: UserDeps, actor: Principal, task: TaskWorkContext, userId: string, enabled: boolean): Promise<UserView> {
  const user = await loadLiveUser(deps.store, userId);
  assertNotSelf(actor, userId, enabled ? 'enable' : 'disable');
  await assertMayManage(deps.store, actor, user);
  await handleCommand(deps.store, userDecider, userStream(userId), { type: enabled ? 'EnableUser' : 'DisableUser', now: deps.clock.now() }, task.metadata);
  return userView(deps, await loadLiveUser(deps.store, userId));
}

/** Deletes a user: their sessions and access keys stop working at once, and the name is free again. */
export async function deleteUser(deps: UserDeps, actor: Principal, task: TaskWorkContext, userId: string): Promise<void> {
  const user = await loadLiveUser(deps.store, userId);
  assertNotSelf(actor, userId, 'delete');
  await assertMayManage(deps.store, actor, user);
  await handleCommand(deps.store, userDecider, userStream(userId), { type: 'DeleteUser', now: deps.clock.now() }, task.metadata);
  await revokeUserSessions(deps, userId, task.metadata);
  await deps.store.append(usernameStream(user.username), [{ type: 'UsernameReleased', data: { username: user.username, userId }, metadata: task.metadata }], 'any');
}

/**
 * A user changes their own password: the current one is required (a stolen session must not
 * be enough), wrong guesses are charged to the client's address like failed logins (the API
 * refuses a throttled address before this runs), and every other session of the user is closed.
 */
export async function changeOwnPassword(
  deps: UserDeps & { throttle: LoginThrottle },
  actor: Principal,
  task: TaskWorkContext,
  input: { oldPassword: string; newPassword: string; clientIp?: string },
): Promise<UserView> {
  const user = await loadLiveUser(deps.store, actor.userId);
  if (!(await verifyPassword(input.oldPassword, user.passwordHash))) {
    deps.throttle.fail(input.clientIp ?? 'unknown', throttleLimits(await readSettings(deps.store)));
    throw new DomainError('WRONG_PASSWORD', 'the current password is wrong', 'invalid', { fields: [{ field: 'oldPassword', message: 'is wrong' }] });
  }
  await assertPasswordAcceptable(deps.store, input.newPassword, user.username, 'newPassword');
  const passwordHash = await hashPassword(input.newPassword);
  await handleCommand(deps.store, userDecider, userStream(user.userId), { type: 'ChangePassword', passwordHash, by: 'self', now: deps.clock.now() }, task.metadata);
  await revokeUserSessions(deps, user.userId, task.metadata, actor.sessionId);
  return userView(deps, await loadLiveUser(deps.store, user.userId));
}

/** An administrator sets someone's password without the old one; all their sessions are closed. */
export async function resetPassword(deps: UserDeps, actor: Principal, task: TaskWorkContext, userId: string, newPassword: string): Promise<UserView> {
  const user = await loadLiveUser(deps.store, userId);
  await assertMayManage(deps.store, actor, user);
  await assertPasswordAcceptable(deps.store, newPassword, user.username, 'newPassword');
  const passwordHash = await hashPassword(newPassword);
  await handleCommand(deps.store, userDecider, userStream(userId), { type: 'ChangePassword', passwordHash, by: 'admin', now: deps.clock.now() }, task.metadata);
  await revokeUserSessions(deps, userId, task.metadata);
  return userView(deps, await loadLiveUser(deps.store, userId));
}

export async function unlockUser(deps: UserDeps, actor: Principal, task: TaskWorkContext, userId: string): Promise<UserView> {
  const user = await loadLiveUser(deps.store, userId);
  await assertMayManage(deps.store, actor, user);
  await handleCommand(deps.store, loginDecider, loginStream(userId), { type: 'UnlockUser', userId, username: user.username, now: deps.clock.now() }, task.metadata);
  return userView(deps, await loadLiveUser(deps.store, userId));
}
