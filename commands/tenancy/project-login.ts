import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import type { Principal } from '../identity/principal.js';
import { DomainError } from '../../domain/shared/errors.js';
import { projectRoleGrant } from '../../domain/tenancy/project-roles.js';
import type { LiveProject, ProjectRole } from '../../domain/tenancy/project.js';
import { loadProject, type LoadedProject } from './projects.js';
import { customProjectRoleGrantsOf } from './custom-project-roles.js';
import { groupRolesOf, strongestRole } from './user-groups.js';
import { loginWindowClosedError, loginWindowVerdict, noLoginWindows } from '../../domain/tenancy/login-windows.js';
import { expiryNotice, loginBarredByReclaim, type ExpiryNotice } from '../../domain/tenancy/reclaim.js';

// Project login (POST /v1/sessions with projectId): the user must be a member and the project
// Enabled. A refusal is recorded (stream `project-logins-<id>`) so the audit trail shows it.
// A project session is re-checked on every request: a removed member or a disabled project
// loses access at once.

export const projectLoginStream = (projectId: string) => `project-logins-${projectId}`;

/** The project a login names, or PROJECT_NOT_FOUND (a deleted one too; an id that is no uuid names none). */
async function projectToLogInTo(store: EventStore, projectId: string): Promise<LoadedProject> {
  const loaded = /^[0-9a-f-]{36}$/.test(projectId) ? await loadProject(store, projectId) : undefined;
  if (!loaded?.state.exists || loaded.state.state === 'Deleted') throw new DomainError('PROJECT_NOT_FOUND', `no project ${projectId}`, 'forbidden');
  return { state: loaded.state, version: loaded.version };
}

/** The member's role in the project, or the refusal (a DomainError). */
async function projectLoginRole(store: EventStore, userId: string, project: LiveProject): Promise<ProjectRole> {
  // A member directly or through user groups that joined the project: the strongest role wins.
  const direct = project.members.get(userId);
  const role = strongestRole([...(direct ? [direct] : []), ...(await groupRolesOf(store, project.groups, userId))]);
  if (!role) throw new DomainError('NOT_A_MEMBER', `you are not a member of project ${project.name}`, 'forbidden');
  if (project.state === 'Disabled') throw new DomainError('PROJECT_DISABLED', `project ${project.name} is disabled`, 'forbidden');
  if (project.state === 'LoginExpired') throw new DomainError('PROJECT_LOGIN_EXPIRED', `login to project ${project.name} has expired`, 'forbidden');
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
    const { state: project } = await projectToLogInTo(store, projectId);
    const role = await projectLoginRole(store, user.userId, project);
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

/**
 * The principal of a project session, or undefined when it may no longer act in the project.
 * The project's stream is read once, here, for the whole request: the principal carries what
 * was read (`project.loaded`), and the request's reads of its own project use it.
 */
export async function projectPrincipal(store: EventStore, principal: Principal, projectId: string): Promise<Principal | undefined> {
  try {
    const loaded = await projectToLogInTo(store, projectId);
    const role = await projectLoginRole(store, principal.userId, loaded.state);
    // Custom project roles the member was given add to the built-in role (reference/002: a member holds all its roles' permissions).
    const grants = principal.restriction ? [] : [projectRoleGrant(role, projectId), ...customProjectRoleGrantsOf(loaded.state, principal.userId)];
    return { ...principal, grants, zoneScope: 'all', project: { projectId, role, loaded } };
  } catch (error) {
    if (error instanceof DomainError) return undefined;
    throw error;
  }
}
