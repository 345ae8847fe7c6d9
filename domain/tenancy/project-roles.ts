import type { Grant } from '../identity/permissions.js';
import type { ProjectRole } from './project.js';

// What a project role grants inside a project session (reference/002, "Differences in
// Permissions of Platform/Project Roles"). A project session acts only with these: every
// resource it reads or changes is the project's (the API scopes by the session's project).
// Members see the project's resources and ask for changes by ticket; project managers and
// project admins operate the project's resources; project admins approve tickets too.

const shared = ['image:read', 'image:list', 'instance-offering:read', 'instance-offering:list', 'disk-offering:read', 'disk-offering:list',
  'l3-network:read', 'l3-network:list', 'zone:read', 'zone:list'];

const memberAllows = [
  ...shared, 'vm:read', 'vm:list', 'project:read', 'project:list',
  'ticket:create', 'ticket:read', 'ticket:list', 'ticket:cancel', 'ticket:reopen', 'ticket:delete',
];

// Volumes are not project-scoped yet, so no project role reaches them (they would see all).
const managerAllows = [...memberAllows, 'vm:*', 'project-member:list'];
const adminAllows = [...managerAllows, 'ticket:approve', 'ticket:reject', 'approval:list', 'project-member:*'];

const allowsByRole: Record<ProjectRole, readonly string[]> = {
  member: memberAllows,
  'project-manager': managerAllows,
  'project-admin': adminAllows,
};

export function projectRoleGrant(role: ProjectRole, projectId: string): Grant {
  return { role: `project:${projectId}:${role}`, allow: allowsByRole[role], deny: [], zoneScoped: false };
}
