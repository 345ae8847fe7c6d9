import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import {
  ancestorsOf, organizationDecider, organizationTreeStream, type OrganizationCommand, type OrganizationNode, type OrganizationTree,
} from '../../domain/tenancy/organization.js';
import { createAggregateCache } from '../shared/cached-command.js';
import { loadLiveUser } from '../identity/user-lookup.js';

// What the API asks of the organization tree: load → decide → append on `organization-tree`.
// Users named in a command must exist (read from their streams, as project members are).

export { departmentManagersOf } from '../../projections/tenancy/organizations.js';

export interface OrganizationDeps {
  store: EventStore;
  clock: Clock;
}

export interface OrganizationView {
  id: string;
  name: string;
  description: string;
  parentId: string | null;
  /** From the team (top) down to the parent. */
  ancestorIds: string[];
  memberUserIds: string[];
  adminUserIds: string[];
  managerUserIds: string[];
  createdAt: string;
}

export function organizationView(tree: OrganizationTree, node: OrganizationNode): OrganizationView {
  return {
    id: node.id,
    name: node.name,
    description: node.description,
    parentId: node.parentId,
    ancestorIds: ancestorsOf(tree, node.id).reverse(),
    memberUserIds: [...node.members.keys()].sort(),
    adminUserIds: [...node.admins].sort(),
    managerUserIds: [...node.managers].sort(),
    createdAt: new Date(node.createdAt).toISOString(),
  };
}

// The whole tree is one stream, which every organization command and several checks read:
// its fold is memoized, so that a read fetches only the events written since (it still reads
// the store, so what another process wrote is seen), and a command is decided on it and
// appended at the version it saw (a conflict re-reads and decides again).
const organizationTrees = createAggregateCache(organizationDecider, { maxStreams: 1 });

export async function loadOrganizationTree(store: EventStore): Promise<{ state: OrganizationTree; version: number }> {
  return organizationTrees.load(store, organizationTreeStream);
}

/** The department as it stands, or ORGANIZATION_NOT_FOUND / ORGANIZATION_DELETED. */
export async function requireOrganization(store: EventStore, organizationId: string): Promise<{ tree: OrganizationTree; node: OrganizationNode; version: number }> {
  const { state, version } = await loadOrganizationTree(store);
  const node = state.nodes.get(organizationId);
  if (!node) {
    if (state.deleted.has(organizationId)) throw new DomainError('ORGANIZATION_DELETED', `organization ${organizationId} is deleted`, 'gone');
    throw new DomainError('ORGANIZATION_NOT_FOUND', `no organization ${organizationId}`, 'not_found');
  }
  return { tree: state, node, version };
}

/** A department a project can be attached to: it exists and is not deleted (else a 400 on `field`). */
export async function assertDepartmentExists(store: EventStore, organizationId: string, field = 'departmentId'): Promise<void> {
  const { state } = await loadOrganizationTree(store);
  if (!state.nodes.has(organizationId)) {
    throw new DomainError('DEPARTMENT_NOT_FOUND', `no department ${organizationId}`, 'invalid', { fields: [{ field, message: `no department ${organizationId}` }] });
  }
}

/** The outcome of a command: the department after it (undefined when it was deleted). */
export async function runOrganizationCommand(
  deps: OrganizationDeps, command: OrganizationCommand, metadata: EventMetadata, options: { expectedVersion?: number } = {},
): Promise<{ view: OrganizationView | undefined; deletedIds: string[]; position: number }> {
  const outcome = await organizationTrees.handle(deps.store, organizationTreeStream, command, metadata, options);
  const node = 'organizationId' in command ? outcome.state.nodes.get(command.organizationId) : undefined;
  const deletedIds = outcome.events.filter((event) => event.type === 'OrganizationDeleted').map((event) => (event.data as { organizationId: string }).organizationId);
  return { view: node ? organizationView(outcome.state, node) : undefined, deletedIds, position: outcome.position };
}

async function liveUserOrInvalid(store: EventStore, userId: string) {
  try {
    return await loadLiveUser(store, userId);
  } catch (error) {
    if (error instanceof DomainError && error.code === 'USER_NOT_FOUND') {
      throw new DomainError('USER_NOT_FOUND', `no user ${userId}`, 'invalid', { fields: [{ field: 'userId', message: `no user ${userId}` }] });
    }
    throw error;
  }
}

/** Adds a user (who must exist) to a department, or names them its admin or manager. */
export async function organizationUserCommand(
  deps: OrganizationDeps, organizationId: string, userId: string, what: 'AddUser' | 'AssignAdmin' | 'AssignManager', metadata: EventMetadata,
) {
  const user = await liveUserOrInvalid(deps.store, userId);
  const command: OrganizationCommand = what === 'AssignManager'
    // The user's platform roles make "manager is exclusive" decidable by the pure decider.
    ? { type: 'AssignManager', organizationId, userId, platformRoles: user.roles }
    : { type: what, organizationId, userId };
  return runOrganizationCommand(deps, command, metadata);
}

/** Departments a user manages (for the platform-role side of the manager's exclusivity). */
export async function departmentsManagedBy(store: EventStore, userId: string): Promise<OrganizationNode[]> {
  const { state } = await loadOrganizationTree(store);
  return [...state.nodes.values()].filter((node) => node.managers.has(userId));
}

/**
 * The other side of "a department manager holds no other role": platform roles are refused
 * to a user who manages a department (DEPARTMENT_MANAGER_EXCLUSIVE). Read from the tree's
 * stream when the roles change; a manager named at the same instant is not excluded (both are
 * rare admin actions).
 */
export async function assertNotDepartmentManager(store: EventStore, userId: string): Promise<void> {
  const managed = await departmentsManagedBy(store, userId);
  if (managed.length > 0) {
    throw new DomainError('DEPARTMENT_MANAGER_EXCLUSIVE', `the user manages department ${managed[0]!.name}: a department manager holds no other role`, 'conflict', {
      managerOf: managed.map((node) => node.id),
    });
  }
}
