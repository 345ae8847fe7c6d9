import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import type { Principal } from '../identity/principal.js';
import { DomainError } from '../../domain/shared/errors.js';
import { projectRoleGrant } from '../../domain/tenancy/project-roles.js';
import type { ProjectRole } from '../../domain/tenancy/project.js';
import { loadProject } from './projects.js';
import { customProjectRoleGrantsOf } from './custom-project-roles.js';
import { groupRolesOf, strongestRole } from './user-groups.js';
import { loginWindowClosedError, loginWindowVerdict, noLoginWindows } from '../../domain/tenancy/login-windows.js';
import { expiryNotice, loginBarredByReclaim, type ExpiryNotice } from '../../domain/tenancy/reclaim.js';

// Project login (POST /v1/sessions with projectId): the user must be a member and the project
// Enabled. A refusal is recorded (stream `project-logins-<id>`) so the audit trail shows it.
// A project session is re-checked on every request: a removed member or a disabled project
// loses access at once.

export const projectLoginStream = (projectId: string) => `project-logins-${projectId}`;

/** The member's role, or the refusal (a DomainError). */
export async function projectLoginRole(store: EventStore, userId: string, projectId: string): Promise<ProjectRole> {
  const { state } = /^[0-9a-f-]{36}$/.test(projectId) ? await loadProject(store, projectId) : { state: { exists: false as const } };
  if (!state.exists || state.state === 'Deleted') throw new DomainError('PROJECT_NOT_FOUND', `no project ${projectId}`, 'forbidden');
  // A member directly or through user groups that joined the project: the strongest role wins.
  const direct = state.members.get(userId);
  const role = strongestRole([...(direct ? [direct] : []), ...(await groupRolesOf(store, state.groups, userId))]);
  if (!role) throw new DomainError('NOT_A_MEMBER', `you are not a member of project ${state.name}`, 'forbidden');
  if (state.state === 'Disabled') throw new DomainError('PROJECT_DISABLED', `project ${state.name} is disabled`, 'forbidden');
  if (state.state === 'LoginExpired') throw new DomainError('PROJECT_LOGIN_EXPIRED', `login to project ${state.name} has expired`, 'forbidden');
  return role;
}

/**
 * Checks a project login; records and throws the refusal. Past membership and state, the
 * reclaim policy comes first (it wins over the login windows: a project whose deadline has
 * come refuses with PROJECT_LOGIN_EXPIRED even before the timer has run its action), then the
 * login windows (LOGIN_WINDOW_CLOSED). Within 14 days of a deadline the member gets a notice.
 */
export async function checkProjectLogin(
  store: EventStore, user: { userId: string; username: string }, projectId: string, now: number, metadata: EventMetadata,
): Promise<{ role: ProjectRole; notices: ExpiryNotice[] }> {
  try {
    const role = await projectLoginRole(store, user.userId, projectId);
    const { state: project } = await loadProject(store, projectId);
    if (!project.exists) throw new DomainError('PROJECT_NOT_FOUND', `no project ${projectId}`, 'forbidden');
    if (loginBarredByReclaim(project, now)) throw new DomainError('PROJECT_LOGIN_EXPIRED', `login to project ${project.name} has expired`, 'forbidden');
    const verdict = loginWindowVerdict(project.loginWindows ?? noLoginWindows, now);
    if (!verdict.allowed) throw loginWindowClosedError(project.name, verdict);
    const notice = expiryNotice(project, now);
    return { role, notices: notice ? [notice] : [] };
  } catch (error) {
    if (error instanceof DomainError) {
      await store.append(projectLoginStream(projectId), [{
        type: 'ProjectLoginRefused', data: { projectId, userId: user.userId, username: user.username, reason: error.code, at: now }, metadata,
      }], 'any');
    }
    throw error;
  }
}

/** The principal of a project session, or undefined when it may no longer act in the project. */
export async function projectPrincipal(store: EventStore, principal: Principal, projectId: string): Promise<Principal | undefined> {
  try {
    const role = await projectLoginRole(store, principal.userId, projectId);
    // Custom project roles the member was given add to the built-in role (reference/002: a member holds all its roles' permissions).
    const grants = principal.restriction ? [] : [projectRoleGrant(role, projectId), ...(await customProjectRoleGrantsOf(store, projectId, principal.userId))];
    return { ...principal, grants, zoneScope: 'all', project: { projectId, role } };
  } catch (error) {
    if (error instanceof DomainError) return undefined;
    throw error;
  }
}
