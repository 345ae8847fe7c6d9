import type { EventMetadata } from '../../adapters/eventstore/port.js';
import type { Grant } from '../../domain/identity/permissions.js';
import { DomainError } from '../../domain/shared/errors.js';
import { customProjectRoleGrant } from '../../domain/tenancy/project-roles.js';
import type { LiveProject } from '../../domain/tenancy/project.js';
import { isLiveUser } from '../../domain/identity/user.js';
import { loadUser } from '../identity/user-lookup.js';
import { runProjectCommand, type ProjectDeps } from './projects.js';

// Custom project roles (reference/002 "Role": a project role whose root role limits it): a
// project admin, or an admin, defines them inside the project with a subset of the project
// admin's permissions, and gives them to members; a project session holds them on top of the
// member's built-in role. They live in the project's stream, beside the memberships they
// are given in, so that removing a member or deleting a role takes effect at once.

/** The grants of the custom roles a member holds in the project (none for a non-member). */
export function customProjectRoleGrantsOf(project: LiveProject, userId: string): Grant[] {
  const roleIds = project.memberCustomRoles?.get(userId) ?? [];
  return roleIds.flatMap((roleId) => {
    const role = project.roles?.get(roleId);
    return role ? [customProjectRoleGrant(role, project.projectId)] : [];
  });
}

export async function defineProjectRole(
  deps: ProjectDeps, projectId: string, roleId: string, request: { name: string; description?: string; permissions: string[] }, metadata: EventMetadata,
) {
  return runProjectCommand(deps, projectId, {
    type: 'DefineRole', roleId, name: request.name, permissions: request.permissions, ...(request.description !== undefined ? { description: request.description } : {}),
  }, metadata);
}

/** Custom roles are given to members only: the user must exist and be a direct member of the project. */
export async function setMemberCustomRoles(deps: ProjectDeps, projectId: string, userId: string, roleIds: string[], metadata: EventMetadata) {
  const user = /^[0-9a-f-]{36}$/.test(userId) ? await loadUser(deps.store, userId) : undefined;
  if (!user || !isLiveUser(user)) throw new DomainError('NOT_A_MEMBER', `no member ${userId}`, 'not_found');
  return runProjectCommand(deps, projectId, { type: 'SetMemberCustomRoles', userId, roleIds }, metadata);
}
