import { isPermissionPattern, patternCovers, type Grant } from '../identity/permissions.js';
import type { ProjectRole } from './project.js';

// What a project role grants inside a project session (reference/002, "Differences in
// Permissions of Platform/Project Roles"). A project session acts only with these: every
// resource it reads or changes is the project's (the API scopes by the session's project),
// shared ones (images and L3 networks created outside any project) it may read.
// Members see the project's resources and ask for changes by ticket; project managers and
// project admins operate the project's resources; project admins approve tickets too.
// Custom project roles (reference/002 "Role", root role): defined inside a project with a
// subset of the project admin's permissions; a member holds them on top of the built-in role.

const shared = ['image:read', 'image:list', 'instance-offering:read', 'instance-offering:list', 'disk-offering:read', 'disk-offering:list',
  'l3-network:read', 'l3-network:list', 'zone:read', 'zone:list'];

const memberAllows = [
  ...shared, 'vm:read', 'vm:list', 'volume:read', 'volume:list', 'volume-snapshot:read', 'volume-snapshot:list', 'project:read', 'project:list',
  'project-role:read', 'project-role:list',
  'ticket:create', 'ticket:read', 'ticket:list', 'ticket:cancel', 'ticket:reopen', 'ticket:delete',
];

// Images and L3 networks a project creates are its own (and count against its quotas);
// those created outside a project stay read-only for it (the API refuses writes to them).
const managerAllows = [
  ...memberAllows, 'vm:*', 'volume:*', 'volume-snapshot:*', 'image:create', 'image:delete', 'image:recover', 'image:expunge',
  'l3-network:create', 'l3-network:update', 'l3-network:delete', 'project-member:list',
];
const adminAllows = [...managerAllows, 'ticket:approve', 'ticket:reject', 'approval:list', 'project-member:*', 'project-role:*'];

const allowsByRole: Record<ProjectRole, readonly string[]> = {
  member: memberAllows,
  'project-manager': managerAllows,
  'project-admin': adminAllows,
};

export function projectRoleGrant(role: ProjectRole, projectId: string): Grant {
  return { role: `project:${projectId}:${role}`, allow: allowsByRole[role], deny: [], zoneScoped: false };
}

/** A custom project role: its permissions are a subset of the project admin's (its root role). */
export interface CustomProjectRole {
  roleId: string;
  name: string;
  description: string;
  permissions: readonly string[];
}

/** What the project admin role allows: the ceiling of every custom project role. */
export const projectAdminPermissions: readonly string[] = adminAllows;

/** Problems with a custom project role's permissions: malformed, or beyond the project admin's. */
export function customProjectRolePermissionProblems(permissions: readonly string[]): Array<{ field: string; message: string }> {
  const problems: Array<{ field: string; message: string }> = [];
  if (permissions.length === 0) problems.push({ field: 'permissions', message: 'give at least one permission' });
  permissions.forEach((permission, index) => {
    if (!isPermissionPattern(permission)) problems.push({ field: `permissions.${index}`, message: `${permission} is not <resource>:<action>` });
    else if (!adminAllows.some((allowed) => patternCovers(allowed, permission))) {
      problems.push({ field: `permissions.${index}`, message: `${permission} is beyond what a project admin may do` });
    }
  });
  return problems;
}

export function customProjectRoleGrant(role: CustomProjectRole, projectId: string): Grant {
  return { role: `project:${projectId}:custom:${role.roleId}`, allow: role.permissions, deny: [], zoneScoped: false };
}
