import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';
import { ImmutableMap } from '../shared/immutable-map.js';

// The organization structure (reference/002 "Organization"): a forest of teams (top-level
// nodes, a company or subsidiary) and their sub-departments, with users, department admins
// and department managers.
//
// The whole forest is ONE aggregate, stream `organization-tree`: its invariants span nodes —
// a move must not make a cycle, deleting a department deletes its sub-departments, and a
// department manager may hold no other role anywhere in the tree — so they are decided
// against one state and one stream version, race-free. Organization changes are rare admin
// actions; one stream does not contend.
//
// Decisions where the seed is loose:
// - A user may belong to several departments ("Join Department: add one or more users to one
//   or more departments"; the import template takes `Company/Dev&&Company/QA`).
// - A department admin or manager is a member of the department: naming one adds them as a
//   member; removing the user from the department removes the role too (as the seed says for
//   admins).
// - "Exclusive" department manager: a user who holds a platform role, or is a department admin
//   anywhere in the tree, cannot be named manager; a manager cannot be named admin anywhere.
//   Managing several departments is the same role and allowed. (The platform-role side is
//   given to the decider by the command layer, which reads the user's stream.)
// - Deleting a department deletes its sub-departments in the same command; their users are
//   detached, never deleted.

export const organizationTreeStream = 'organization-tree';

export type OrganizationEvent =
  | DomainEvent<'OrganizationCreated', { organizationId: string; name: string; description: string; parentId: string | null; createdAt: number }>
  | DomainEvent<'OrganizationUpdated', { organizationId: string; name?: string; description?: string }>
  /** `subtreeIds`: the node and all its descendants (their ancestry changes with it). */
  | DomainEvent<'OrganizationMoved', { organizationId: string; fromParentId: string | null; toParentId: string | null; subtreeIds: string[] }>
  /** One per deleted node, the deepest first; `detachedUserIds` were its members. */
  | DomainEvent<'OrganizationDeleted', { organizationId: string; parentId: string | null; detachedUserIds: string[]; deletedAt: number }>
  | DomainEvent<'OrganizationUserAdded', { organizationId: string; userId: string }>
  /** Also ends the user's admin or manager role in that department. */
  | DomainEvent<'OrganizationUserRemoved', { organizationId: string; userId: string }>
  | DomainEvent<'OrganizationAdminAssigned', { organizationId: string; userId: string }>
  | DomainEvent<'OrganizationAdminUnassigned', { organizationId: string; userId: string }>
  | DomainEvent<'OrganizationManagerAssigned', { organizationId: string; userId: string }>
  | DomainEvent<'OrganizationManagerUnassigned', { organizationId: string; userId: string }>;

export type OrganizationCommand =
  | { type: 'CreateOrganization'; organizationId: string; name: string; description?: string; parentId?: string | null; now: number }
  | { type: 'UpdateOrganization'; organizationId: string; name?: string; description?: string }
  | { type: 'MoveOrganization'; organizationId: string; parentId: string | null }
  | { type: 'DeleteOrganization'; organizationId: string; now: number }
  | { type: 'AddUser'; organizationId: string; userId: string }
  | { type: 'RemoveUser'; organizationId: string; userId: string }
  | { type: 'AssignAdmin'; organizationId: string; userId: string }
  | { type: 'UnassignAdmin'; organizationId: string; userId: string }
  /** `platformRoles`: the roles the user holds outside the tree (system or custom role references). */
  | { type: 'AssignManager'; organizationId: string; userId: string; platformRoles: readonly string[] }
  | { type: 'UnassignManager'; organizationId: string; userId: string }
  /** A deleted user leaves every department (and so every admin and manager role there). */
  | { type: 'RemoveUserEverywhere'; userId: string };

export interface OrganizationNode {
  id: string;
  name: string;
  description: string;
  parentId: string | null;
  /** A team may hold thousands of users: a map that updates without copying them all. */
  members: ImmutableMap<true>;
  admins: ReadonlySet<string>;
  managers: ReadonlySet<string>;
  createdAt: number;
}

export interface OrganizationTree {
  /** The live nodes by id (an ImmutableMap: folding a large tree's history stays linear). */
  nodes: ImmutableMap<OrganizationNode>;
  /** Ids of deleted nodes: a command on one is refused as gone, not as unknown. */
  deleted: ImmutableMap<true>;
}

const invalid = (code: string, field: string, message: string) => new DomainError(code, message, 'invalid', { fields: [{ field, message }] });

function nodeOf(tree: OrganizationTree, organizationId: string): OrganizationNode {
  const node = tree.nodes.get(organizationId);
  if (node) return node;
  if (tree.deleted.has(organizationId)) throw new DomainError('ORGANIZATION_DELETED', `organization ${organizationId} is deleted`, 'gone');
  throw new DomainError('ORGANIZATION_NOT_FOUND', `no organization ${organizationId}`, 'not_found');
}

function parentOf(tree: OrganizationTree, parentId: string): OrganizationNode {
  const parent = tree.nodes.get(parentId);
  if (!parent) {
    throw invalid('PARENT_NOT_FOUND', 'parentId', tree.deleted.has(parentId) ? `department ${parentId} is deleted` : `no department ${parentId}`);
  }
  return parent;
}

/** Ids from the node's parent up to its team (nearest first). */
export function ancestorsOf(tree: Pick<OrganizationTree, 'nodes'>, organizationId: string): string[] {
  const ancestors: string[] = [];
  let current = tree.nodes.get(organizationId)?.parentId ?? null;
  while (current !== null && !ancestors.includes(current)) {
    ancestors.push(current);
    current = tree.nodes.get(current)?.parentId ?? null;
  }
  return ancestors;
}

/** The node and all its descendants, parents before children. */
export function subtreeOf(tree: Pick<OrganizationTree, 'nodes'>, organizationId: string): string[] {
  const children = new Map<string, string[]>();
  for (const node of tree.nodes.values()) {
    if (node.parentId !== null) children.set(node.parentId, [...(children.get(node.parentId) ?? []), node.id]);
  }
  const ids = [organizationId];
  for (let index = 0; index < ids.length; index++) ids.push(...(children.get(ids[index]!) ?? []).sort());
  return ids;
}

const anywhere = (tree: OrganizationTree, role: 'admins' | 'managers', userId: string) =>
  [...tree.nodes.values()].find((node) => node[role].has(userId));

function withMember(node: OrganizationNode, userId: string, present: boolean): OrganizationNode {
  return { ...node, members: present ? node.members.set(userId, true) : node.members.delete(userId) };
}

function withSet(node: OrganizationNode, key: 'admins' | 'managers', userId: string, present: boolean): OrganizationNode {
  const set = new Set(node[key]);
  if (present) set.add(userId);
  else set.delete(userId);
  return { ...node, [key]: set };
}

export const organizationDecider: Decider<OrganizationCommand, OrganizationTree, OrganizationEvent> = {
  initialState: { nodes: ImmutableMap.empty(), deleted: ImmutableMap.empty() },

  decide(command, tree) {
    if (command.type === 'RemoveUserEverywhere') {
      return [...tree.nodes.values()].filter((node) => node.members.has(command.userId)).map((node) => node.id).sort()
        .map((organizationId): OrganizationEvent => ({ type: 'OrganizationUserRemoved', data: { organizationId, userId: command.userId } }));
    }
    const organizationId = command.organizationId;
    switch (command.type) {
      case 'CreateOrganization': {
        if (tree.nodes.has(organizationId) || tree.deleted.has(organizationId)) throw new DomainError('ORGANIZATION_EXISTS', `organization ${organizationId} already exists`);
        if (!command.name.trim()) throw invalid('INVALID_ORGANIZATION', 'name', 'must not be empty');
        const parentId = command.parentId ?? null;
        if (parentId !== null) parentOf(tree, parentId);
        return [{ type: 'OrganizationCreated', data: { organizationId, name: command.name, description: command.description ?? '', parentId, createdAt: command.now } }];
      }
      case 'UpdateOrganization': {
        const node = nodeOf(tree, organizationId);
        const data: Extract<OrganizationEvent, { type: 'OrganizationUpdated' }>['data'] = { organizationId };
        if (command.name !== undefined && command.name !== node.name) {
          if (!command.name.trim()) throw invalid('INVALID_ORGANIZATION', 'name', 'must not be empty');
          data.name = command.name;
        }
        if (command.description !== undefined && command.description !== node.description) data.description = command.description;
        return data.name === undefined && data.description === undefined ? [] : [{ type: 'OrganizationUpdated', data }];
      }
      case 'MoveOrganization': {
        const node = nodeOf(tree, organizationId);
        if (node.parentId === command.parentId) return [];
        const subtreeIds = subtreeOf(tree, organizationId);
        if (command.parentId !== null) {
          parentOf(tree, command.parentId);
          if (subtreeIds.includes(command.parentId)) {
            throw new DomainError('ORGANIZATION_CYCLE', `department ${node.name} cannot move under itself or one of its sub-departments`, 'conflict', { parentId: command.parentId });
          }
        }
        return [{ type: 'OrganizationMoved', data: { organizationId, fromParentId: node.parentId, toParentId: command.parentId, subtreeIds } }];
      }
      case 'DeleteOrganization': {
        nodeOf(tree, organizationId);
        return subtreeOf(tree, organizationId).reverse().map((id) => {
          const node = tree.nodes.get(id)!;
          return { type: 'OrganizationDeleted', data: { organizationId: id, parentId: node.parentId, detachedUserIds: [...node.members.keys()].sort(), deletedAt: command.now } };
        });
      }
      case 'AddUser': {
        const node = nodeOf(tree, organizationId);
        return node.members.has(command.userId) ? [] : [{ type: 'OrganizationUserAdded', data: { organizationId, userId: command.userId } }];
      }
      case 'RemoveUser': {
        const node = nodeOf(tree, organizationId);
        if (!node.members.has(command.userId)) throw new DomainError('NOT_A_DEPARTMENT_MEMBER', `user ${command.userId} is not in department ${node.name}`, 'not_found');
        return [{ type: 'OrganizationUserRemoved', data: { organizationId, userId: command.userId } }];
      }
      case 'AssignAdmin': {
        const node = nodeOf(tree, organizationId);
        if (node.admins.has(command.userId)) return [];
        const managing = anywhere(tree, 'managers', command.userId);
        if (managing) {
          throw new DomainError('DEPARTMENT_MANAGER_EXCLUSIVE', `user ${command.userId} is manager of department ${managing.name}: a department manager holds no other role`, 'conflict', { managerOf: managing.id });
        }
        const events: OrganizationEvent[] = node.members.has(command.userId) ? [] : [{ type: 'OrganizationUserAdded', data: { organizationId, userId: command.userId } }];
        return [...events, { type: 'OrganizationAdminAssigned', data: { organizationId, userId: command.userId } }];
      }
      case 'UnassignAdmin': {
        const node = nodeOf(tree, organizationId);
        if (!node.admins.has(command.userId)) throw new DomainError('NOT_A_DEPARTMENT_ADMIN', `user ${command.userId} is not admin of department ${node.name}`, 'not_found');
        return [{ type: 'OrganizationAdminUnassigned', data: { organizationId, userId: command.userId } }];
      }
      case 'AssignManager': {
        const node = nodeOf(tree, organizationId);
        if (node.managers.has(command.userId)) return [];
        if (command.platformRoles.length > 0) {
          throw new DomainError('DEPARTMENT_MANAGER_EXCLUSIVE', `user ${command.userId} holds platform roles (${command.platformRoles.join(', ')}): a department manager holds no other role`, 'conflict', { roles: [...command.platformRoles] });
        }
        const administering = anywhere(tree, 'admins', command.userId);
        if (administering) {
          throw new DomainError('DEPARTMENT_MANAGER_EXCLUSIVE', `user ${command.userId} is admin of department ${administering.name}: a department manager holds no other role`, 'conflict', { adminOf: administering.id });
        }
        const events: OrganizationEvent[] = node.members.has(command.userId) ? [] : [{ type: 'OrganizationUserAdded', data: { organizationId, userId: command.userId } }];
        return [...events, { type: 'OrganizationManagerAssigned', data: { organizationId, userId: command.userId } }];
      }
      case 'UnassignManager': {
        const node = nodeOf(tree, organizationId);
        if (!node.managers.has(command.userId)) throw new DomainError('NOT_A_DEPARTMENT_MANAGER', `user ${command.userId} is not manager of department ${node.name}`, 'not_found');
        return [{ type: 'OrganizationManagerUnassigned', data: { organizationId, userId: command.userId } }];
      }
    }
  },

  evolve(tree, event) {
    const id = event.data.organizationId;
    const replace = (node: OrganizationNode): OrganizationTree => ({ ...tree, nodes: tree.nodes.set(node.id, node) });
    if (event.type === 'OrganizationCreated') {
      const { name, description, parentId, createdAt } = event.data;
      return replace({ id, name, description, parentId, members: ImmutableMap.empty(), admins: new Set(), managers: new Set(), createdAt });
    }
    const node = tree.nodes.get(id);
    if (!node) return tree;
    switch (event.type) {
      case 'OrganizationUpdated':
        return replace({ ...node, ...(event.data.name !== undefined ? { name: event.data.name } : {}), ...(event.data.description !== undefined ? { description: event.data.description } : {}) });
      case 'OrganizationMoved':
        return replace({ ...node, parentId: event.data.toParentId });
      case 'OrganizationDeleted':
        return { nodes: tree.nodes.delete(id), deleted: tree.deleted.set(id, true) };
      case 'OrganizationUserAdded':
        return replace(withMember(node, event.data.userId, true));
      case 'OrganizationUserRemoved':
        return replace(withSet(withSet(withMember(node, event.data.userId, false), 'admins', event.data.userId, false), 'managers', event.data.userId, false));
      case 'OrganizationAdminAssigned':
        return replace(withSet(node, 'admins', event.data.userId, true));
      case 'OrganizationAdminUnassigned':
        return replace(withSet(node, 'admins', event.data.userId, false));
      case 'OrganizationManagerAssigned':
        return replace(withSet(node, 'managers', event.data.userId, true));
      case 'OrganizationManagerUnassigned':
        return replace(withSet(node, 'managers', event.data.userId, false));
    }
  },
};

export const organizationEventTypes: readonly OrganizationEvent['type'][] = [
  'OrganizationCreated', 'OrganizationUpdated', 'OrganizationMoved', 'OrganizationDeleted', 'OrganizationUserAdded', 'OrganizationUserRemoved',
  'OrganizationAdminAssigned', 'OrganizationAdminUnassigned', 'OrganizationManagerAssigned', 'OrganizationManagerUnassigned',
];
