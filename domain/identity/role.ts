import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';
import { isPermissionPattern, isSystemRole, permissionsBeyondRoot, type SystemRoleName } from './permissions.js';

// A custom role (reference/002, "Root Role"): a set of permissions inside a system role, its
// root, from which it inherits the exceptions and the zone scope. Whether its creator may
// grant those permissions at all is checked by the command layer, which knows the creator.

export type CustomRoleEvent =
  | DomainEvent<'CustomRoleCreated', { roleId: string; name: string; description: string; rootRole: SystemRoleName; permissions: string[]; at: number }>
  | DomainEvent<'CustomRoleChanged', { roleId: string; description: string; permissions: string[]; at: number }>
  | DomainEvent<'CustomRoleDeleted', { roleId: string; name: string; at: number }>;

export type CustomRoleCommand =
  | { type: 'CreateCustomRole'; roleId: string; name: string; description: string; rootRole: string; permissions: string[]; now: number }
  | { type: 'ChangeCustomRole'; description?: string; permissions?: string[]; now: number }
  | { type: 'DeleteCustomRole'; now: number };

export type CustomRoleState =
  | { exists: false }
  | { exists: true; roleId: string; name: string; description: string; rootRole: SystemRoleName; permissions: string[]; deleted: boolean };

export type LiveCustomRole = Extract<CustomRoleState, { exists: true }>;

export const customRoleStream = (roleId: string) => `role-${roleId}`;
export const roleNameStream = (name: string) => `rolename-${name.toLowerCase()}`;

export const maxPermissionsPerRole = 500;

function validPermissions(rootRole: SystemRoleName, permissions: readonly string[]): string[] {
  const problems: Array<{ field: string; message: string }> = [];
  permissions.forEach((permission, index) => {
    if (!isPermissionPattern(permission)) problems.push({ field: `permissions.${index}`, message: 'must be <resource>:<action> (each may be *)' });
  });
  if (permissions.length > maxPermissionsPerRole) problems.push({ field: 'permissions', message: `at most ${maxPermissionsPerRole}` });
  if (problems.length > 0) throw new DomainError('INVALID_PERMISSIONS', 'some permissions are not valid', 'invalid', { fields: problems });
  const beyond = permissionsBeyondRoot(rootRole, permissions);
  if (beyond.length > 0) {
    throw new DomainError('PERMISSION_BEYOND_ROOT_ROLE', `a custom role's permissions must lie within its root role ${rootRole}: ${beyond.join(', ')} do not`, 'forbidden', {
      fields: beyond.map((permission) => ({ field: 'permissions', message: `${permission} is not within ${rootRole}` })),
    });
  }
  return [...new Set(permissions)];
}

export const customRoleDecider: Decider<CustomRoleCommand, CustomRoleState, CustomRoleEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    if (command.type === 'CreateCustomRole') {
      if (state.exists) throw new DomainError('ROLE_EXISTS', `role ${command.roleId} exists`);
      if (!isSystemRole(command.rootRole)) {
        throw new DomainError('INVALID_ROOT_ROLE', `the root role must be a system role`, 'invalid', { fields: [{ field: 'rootRole', message: 'not a system role' }] });
      }
      const permissions = validPermissions(command.rootRole, command.permissions);
      return [{
        type: 'CustomRoleCreated',
        data: { roleId: command.roleId, name: command.name, description: command.description, rootRole: command.rootRole, permissions, at: command.now },
      }];
    }
    if (!state.exists || state.deleted) throw new DomainError('ROLE_NOT_FOUND', 'role not found', 'not_found');
    switch (command.type) {
      case 'ChangeCustomRole': {
        const permissions = command.permissions === undefined ? state.permissions : validPermissions(state.rootRole, command.permissions);
        const description = command.description ?? state.description;
        if (description === state.description && JSON.stringify(permissions) === JSON.stringify(state.permissions)) return [];
        return [{ type: 'CustomRoleChanged', data: { roleId: state.roleId, description, permissions, at: command.now } }];
      }
      case 'DeleteCustomRole':
        return [{ type: 'CustomRoleDeleted', data: { roleId: state.roleId, name: state.name, at: command.now } }];
    }
  },

  evolve(state, event) {
    if (event.type === 'CustomRoleCreated') {
      const { at: _at, ...data } = event.data;
      return { exists: true, ...data, deleted: false };
    }
    if (!state.exists) return state;
    switch (event.type) {
      case 'CustomRoleChanged': return { ...state, description: event.data.description, permissions: event.data.permissions };
      case 'CustomRoleDeleted': return { ...state, deleted: true };
    }
  },
};
