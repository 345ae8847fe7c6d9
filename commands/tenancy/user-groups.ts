import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import { projectRoles, type ProjectRole } from '../../domain/tenancy/project.js';
import {
  groupUsers, userGroupDecider, userGroupStream, type LiveUserGroup, type UserGroupCommand, type UserGroupState,
} from '../../domain/tenancy/user-group.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';
import { loadLiveUser } from '../identity/user-lookup.js';
import { runProjectCommand, type ProjectDeps } from './projects.js';

// What the API asks of user groups: load → decide → append on `user-group-<id>`; and a group
// joining or leaving a project, decided on the project's stream.

export interface UserGroupDeps {
  store: EventStore;
  clock: Clock;
}

export interface UserGroupView {
  id: string;
  name: string;
  description: string;
  userIds: string[];
  createdAt: string;
}

export const userGroupView = (group: LiveUserGroup): UserGroupView => ({
  id: group.userGroupId,
  name: group.name,
  description: group.description,
  userIds: [...group.users].sort(),
  createdAt: new Date(group.createdAt).toISOString(),
});

const isId = (id: string) => /^[0-9a-f-]{36}$/.test(id);

export async function loadUserGroup(store: EventStore, userGroupId: string): Promise<{ state: UserGroupState; version: number }> {
  if (!isId(userGroupId)) return { state: { exists: false }, version: -1 };
  return loadAggregate(store, userGroupDecider, userGroupStream(userGroupId));
}

/** The group, or USER_GROUP_NOT_FOUND (a deleted one too: it is gone for its users). */
export async function requireUserGroup(store: EventStore, userGroupId: string): Promise<LiveUserGroup & { version: number }> {
  const { state, version } = await loadUserGroup(store, userGroupId);
  if (!state.exists || state.deleted) throw new DomainError('USER_GROUP_NOT_FOUND', `no user group ${userGroupId}`, 'not_found');
  return { ...state, version };
}

export async function runUserGroupCommand(deps: UserGroupDeps, userGroupId: string, command: UserGroupCommand, metadata: EventMetadata, options: { expectedVersion?: number } = {}) {
  if (command.type !== 'CreateUserGroup' && !isId(userGroupId)) throw new DomainError('USER_GROUP_NOT_FOUND', `no user group ${userGroupId}`, 'not_found');
  const outcome = await handleCommand(deps.store, userGroupDecider, userGroupStream(userGroupId), command, metadata, options);
  if (!outcome.state.exists) throw new DomainError('USER_GROUP_NOT_FOUND', `no user group ${userGroupId}`, 'not_found');
  return { ...outcome, view: userGroupView(outcome.state) };
}

/** Adds a user, who must exist and not be deleted. */
export async function addUserToGroup(deps: UserGroupDeps, userGroupId: string, userId: string, metadata: EventMetadata) {
  await loadLiveUser(deps.store, userId).catch((error: unknown) => {
    if (error instanceof DomainError && error.code === 'USER_NOT_FOUND') {
      throw new DomainError('USER_NOT_FOUND', `no user ${userId}`, 'invalid', { fields: [{ field: 'userId', message: `no user ${userId}` }] });
    }
    throw error;
  });
  return runUserGroupCommand(deps, userGroupId, { type: 'AddUser', userId }, metadata);
}

/** A group joins a project with a project role (or changes its role there); the group must exist. */
export async function addGroupToProject(deps: ProjectDeps, projectId: string, userGroupId: string, role: ProjectRole, metadata: EventMetadata) {
  const { state } = await loadUserGroup(deps.store, userGroupId);
  if (!state.exists || state.deleted) {
    throw new DomainError('USER_GROUP_NOT_FOUND', `no user group ${userGroupId}`, 'invalid', { fields: [{ field: 'userGroupId', message: `no user group ${userGroupId}` }] });
  }
  return runProjectCommand(deps, projectId, { type: 'AddGroup', userGroupId, role }, metadata);
}

/** Strongest first: a user who is a member directly and through groups gets the strongest role. */
const roleStrength = (role: string) => {
  const index = ['project-admin', 'project-manager', 'member'].indexOf(role);
  return index < 0 ? projectRoles.length : index;
};

export function strongestRole(roles: readonly ProjectRole[]): ProjectRole | undefined {
  return [...roles].sort((a, b) => roleStrength(a) - roleStrength(b))[0];
}

/**
 * The roles a user holds in a project through the groups that joined it: each group's stream
 * is read, as the project's stream is read for direct members, so that removing the user
 * from a group (or deleting the group) ends the access at once.
 */
export async function groupRolesOf(store: EventStore, groups: ReadonlyMap<string, ProjectRole> | undefined, userId: string): Promise<ProjectRole[]> {
  const roles: ProjectRole[] = [];
  for (const [userGroupId, role] of groups ?? []) {
    const { state } = await loadUserGroup(store, userGroupId);
    if (groupUsers(state).has(userId)) roles.push(role);
  }
  return roles;
}

/**
 * Everyone who is a member of a project, directly or through its user groups, with their
 * strongest role (for whoever must reach all members: reminders, notices).
 */
export async function effectiveProjectMembers(
  store: EventStore, project: { members: ReadonlyMap<string, ProjectRole>; groups?: ReadonlyMap<string, ProjectRole> },
): Promise<Map<string, ProjectRole>> {
  const roles = new Map<string, ProjectRole[]>();
  const add = (userId: string, role: ProjectRole) => roles.set(userId, [...(roles.get(userId) ?? []), role]);
  for (const [userId, role] of project.members) add(userId, role);
  for (const [userGroupId, role] of project.groups ?? []) {
    const { state } = await loadUserGroup(store, userGroupId);
    for (const userId of groupUsers(state)) add(userId, role);
  }
  return new Map([...roles].map(([userId, held]) => [userId, strongestRole(held)!]));
}
