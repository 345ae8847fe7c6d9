import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';

// A user group (reference/002 "User Group"), stream `user-group-<id>`: a named set of users
// that can join projects with a project role. The group's users live here; the projects it
// joined, with the role, live in each project's stream (ProjectGroupAdded), so that project
// login reads the project for the groups and each group for its users, as it reads the
// project for its direct members. Deleting the group ends every membership through it
// ("deleting a user group also removes the group relationships among relevant users").

export const userGroupStream = (userGroupId: string) => `user-group-${userGroupId}`;

export type UserGroupEvent =
  | DomainEvent<'UserGroupCreated', { userGroupId: string; name: string; description: string; createdAt: number }>
  | DomainEvent<'UserGroupUpdated', { userGroupId: string; name?: string; description?: string }>
  | DomainEvent<'UserGroupDeleted', { userGroupId: string; userIds: string[]; deletedAt: number }>
  | DomainEvent<'UserGroupUserAdded', { userGroupId: string; userId: string }>
  | DomainEvent<'UserGroupUserRemoved', { userGroupId: string; userId: string }>;

export type UserGroupCommand =
  | { type: 'CreateUserGroup'; userGroupId: string; name: string; description?: string; now: number }
  | { type: 'UpdateUserGroup'; name?: string; description?: string }
  | { type: 'DeleteUserGroup'; now: number }
  | { type: 'AddUser'; userId: string }
  | { type: 'RemoveUser'; userId: string };

export type UserGroupState =
  | { exists: false }
  | { exists: true; deleted: boolean; userGroupId: string; name: string; description: string; users: ReadonlySet<string>; createdAt: number };
export type LiveUserGroup = Extract<UserGroupState, { exists: true }>;

const invalidName = () => new DomainError('INVALID_USER_GROUP', 'name must not be empty', 'invalid', { fields: [{ field: 'name', message: 'must not be empty' }] });

function live(state: UserGroupState): LiveUserGroup {
  if (!state.exists) throw new DomainError('USER_GROUP_NOT_FOUND', 'no such user group', 'not_found');
  if (state.deleted) throw new DomainError('USER_GROUP_DELETED', `user group ${state.name} is deleted`, 'gone');
  return state;
}

/** The group's users, or none when it does not exist or was deleted. */
export const groupUsers = (state: UserGroupState): ReadonlySet<string> => (state.exists && !state.deleted ? state.users : new Set());

export const userGroupDecider: Decider<UserGroupCommand, UserGroupState, UserGroupEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    if (command.type === 'CreateUserGroup') {
      if (state.exists) throw new DomainError('USER_GROUP_EXISTS', `user group ${command.userGroupId} already exists`);
      if (!command.name.trim()) throw invalidName();
      return [{ type: 'UserGroupCreated', data: { userGroupId: command.userGroupId, name: command.name, description: command.description ?? '', createdAt: command.now } }];
    }
    const group = live(state);
    const userGroupId = group.userGroupId;
    switch (command.type) {
      case 'UpdateUserGroup': {
        const data: Extract<UserGroupEvent, { type: 'UserGroupUpdated' }>['data'] = { userGroupId };
        if (command.name !== undefined && command.name !== group.name) {
          if (!command.name.trim()) throw invalidName();
          data.name = command.name;
        }
        if (command.description !== undefined && command.description !== group.description) data.description = command.description;
        return data.name === undefined && data.description === undefined ? [] : [{ type: 'UserGroupUpdated', data }];
      }
      case 'DeleteUserGroup':
        return [{ type: 'UserGroupDeleted', data: { userGroupId, userIds: [...group.users].sort(), deletedAt: command.now } }];
      case 'AddUser':
        return group.users.has(command.userId) ? [] : [{ type: 'UserGroupUserAdded', data: { userGroupId, userId: command.userId } }];
      case 'RemoveUser':
        if (!group.users.has(command.userId)) throw new DomainError('NOT_IN_USER_GROUP', `user ${command.userId} is not in user group ${group.name}`, 'not_found');
        return [{ type: 'UserGroupUserRemoved', data: { userGroupId, userId: command.userId } }];
    }
  },

  evolve(state, event) {
    if (event.type === 'UserGroupCreated') {
      const { userGroupId, name, description, createdAt } = event.data;
      return { exists: true, deleted: false, userGroupId, name, description, users: new Set(), createdAt };
    }
    if (!state.exists) return state;
    switch (event.type) {
      case 'UserGroupUpdated':
        return { ...state, ...(event.data.name !== undefined ? { name: event.data.name } : {}), ...(event.data.description !== undefined ? { description: event.data.description } : {}) };
      case 'UserGroupDeleted':
        return { ...state, deleted: true, users: new Set() };
      case 'UserGroupUserAdded':
        return { ...state, users: new Set(state.users).add(event.data.userId) };
      case 'UserGroupUserRemoved': {
        const users = new Set(state.users);
        users.delete(event.data.userId);
        return { ...state, users };
      }
    }
  },
};

export const userGroupEventTypes: readonly UserGroupEvent['type'][] = [
  'UserGroupCreated', 'UserGroupUpdated', 'UserGroupDeleted', 'UserGroupUserAdded', 'UserGroupUserRemoved',
];
