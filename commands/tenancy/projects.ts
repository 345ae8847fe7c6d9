import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { isLiveUser } from '../../domain/identity/user.js';
import { DomainError } from '../../domain/shared/errors.js';
import {
  projectDecider, projectStream, type LiveProject, type ProjectAggregate, type ProjectCommand, type ProjectRole, type ReclaimPolicy,
} from '../../domain/tenancy/project.js';
import type { Quotas } from '../../domain/tenancy/quotas.js';
import { noLoginWindows, type LoginWindows, type LoginWindowsState } from '../../domain/tenancy/login-windows.js';
import { createAggregateCache } from '../shared/cached-command.js';
import { loadAggregate, type CommandOutcome } from '../shared/handle-command.js';
import type { Principal } from '../identity/principal.js';
import { loadUser } from '../identity/user-lookup.js';
import { zoneDecider, zoneStream } from '../../domain/compute/zone.js';

// What the API asks of projects: load → decide → append on the project's stream.

export interface ProjectDeps {
  store: EventStore;
  clock: Clock;
}

export interface ProjectView {
  id: string;
  name: string;
  description: string;
  state: string;
  quotas: Quotas;
  usage: Quotas;
  reclaimPolicy: ReclaimPolicy;
  members: Array<{ userId: string; role: ProjectRole }>;
  /** Access control: the windows set (`current`), from when they hold, and those that hold until then. */
  loginWindows: { current: LoginWindows | null; effectiveFrom: string; previous: LoginWindows | null };
  /** The department (organization node) the project belongs to, or null. */
  departmentId: string | null;
  /** User groups that joined, with their project role: their users are members through them. */
  userGroups: Array<{ userGroupId: string; role: ProjectRole }>;
  /** The zone the project's resources are created in when none is asked, or null. */
  zoneId: string | null;
  /** Custom project roles defined in the project. */
  roles: Array<{ id: string; name: string; description: string; permissions: readonly string[] }>;
  /** Custom roles given to members (userId → role ids), for those that hold any. */
  memberCustomRoles: Record<string, readonly string[]>;
}

export function projectView(project: LiveProject): ProjectView {
  return {
    id: project.projectId,
    name: project.name,
    description: project.description,
    state: project.state,
    quotas: project.quotas,
    usage: project.usage,
    reclaimPolicy: project.reclaimPolicy,
    members: [...project.members].map(([userId, role]) => ({ userId, role })),
    loginWindows: loginWindowsView(project.loginWindows ?? noLoginWindows),
    departmentId: project.departmentId ?? null,
    userGroups: [...(project.groups ?? [])].map(([userGroupId, role]) => ({ userGroupId, role })),
    zoneId: project.zoneId ?? null,
    roles: [...(project.roles ?? new Map()).values()].map((role) => ({ id: role.roleId, name: role.name, description: role.description, permissions: role.permissions })),
    memberCustomRoles: Object.fromEntries([...(project.memberCustomRoles ?? new Map())].filter(([, ids]) => ids.length > 0)),
  };
}

const loginWindowsView = (state: LoginWindowsState): ProjectView['loginWindows'] => ({
  current: state.current, effectiveFrom: new Date(state.effectiveFrom).toISOString(), previous: state.previous,
});

// A project's stream grows with every quota reservation, and every request of a project
// session reads it: the fold is memoized per stream, so that a read fetches only the events
// written since (still a read of the store: a removed member is refused at once, a write by
// another process is seen) and a command is decided on it and appended at the version it saw.
export const projectAggregates = createAggregateCache(projectDecider, { maxStreams: 10_000 });

export interface LoadedProject {
  state: LiveProject;
  version: number;
}

export async function loadProject(store: EventStore, projectId: string): Promise<{ state: ProjectAggregate; version: number }> {
  return projectAggregates.load(store, projectStream(projectId));
}

/**
 * The project a request acts on: the one its project session read at authentication (the
 * stream is read once per request), or, for any other project or principal, read now.
 */
export async function projectFor(store: EventStore, principal: Pick<Principal, 'project'> | undefined, projectId: string): Promise<{ state: ProjectAggregate; version: number }> {
  const session = principal?.project;
  return session?.projectId === projectId && session.loaded ? session.loaded : loadProject(store, projectId);
}

/** The project, or PROJECT_NOT_FOUND (a deleted one too: it is gone for its users). */
export async function requireProject(store: EventStore, projectId: string, principal?: Pick<Principal, 'project'>): Promise<LiveProject> {
  const { state } = await projectFor(store, principal, projectId);
  if (!state.exists || state.state === 'Deleted') throw new DomainError('PROJECT_NOT_FOUND', `no project ${projectId}`, 'not_found');
  return state;
}

export async function runProjectCommand(
  deps: ProjectDeps, projectId: string, command: ProjectCommand, metadata: EventMetadata, options: { expectedVersion?: number } = {},
): Promise<CommandOutcome<ProjectAggregate> & { view: ProjectView }> {
  const outcome = await projectAggregates.handle(deps.store, projectStream(projectId), command, metadata, options);
  if (!outcome.state.exists) throw new DomainError('PROJECT_NOT_FOUND', `no project ${projectId}`, 'not_found');
  return { ...outcome, view: projectView(outcome.state) };
}

export async function createProject(
  deps: ProjectDeps, projectId: string,
  request: { name: string; description?: string; quotas?: Partial<Quotas>; reclaimPolicy?: ReclaimPolicy; departmentId?: string; zoneId?: string },
  metadata: EventMetadata,
) {
  const command: ProjectCommand = { type: 'CreateProject', projectId, name: request.name, now: deps.clock.now() };
  if (request.description !== undefined) command.description = request.description;
  if (request.quotas !== undefined) command.quotas = request.quotas;
  if (request.reclaimPolicy !== undefined) command.reclaimPolicy = request.reclaimPolicy;
  if (request.departmentId !== undefined) command.departmentId = request.departmentId;
  if (request.zoneId !== undefined) {
    const zone = await loadAggregate(deps.store, zoneDecider, zoneStream(request.zoneId));
    if (!zone.state.exists) throw new DomainError('ZONE_NOT_FOUND', `no zone ${request.zoneId}`, 'invalid', { fields: [{ field: 'zoneId', message: 'no such zone' }] });
    command.zoneId = request.zoneId;
  }
  return runProjectCommand(deps, projectId, command, metadata);
}

/** A member must be a user that exists and is not deleted. */
export async function addMember(deps: ProjectDeps, projectId: string, userId: string, role: ProjectRole, metadata: EventMetadata) {
  const user = /^[0-9a-f-]{36}$/.test(userId) ? await loadUser(deps.store, userId) : undefined;
  if (!user || !isLiveUser(user)) {
    throw new DomainError('USER_NOT_FOUND', `no user ${userId}`, 'invalid', { fields: [{ field: 'userId', message: `no user ${userId}` }] });
  }
  return runProjectCommand(deps, projectId, { type: 'AddMember', userId, role }, metadata);
}
