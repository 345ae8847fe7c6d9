import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { Doc, ReadStore, WriteBatch } from '../../adapters/readstore/port.js';
import type { OrganizationEvent } from '../../domain/tenancy/organization.js';
import { isoTime, type Projection } from '../shared/projection.js';

// The organization forest as the API lists it: one document per department
// `{id, name, description, parentId, ancestorIds, rootId, managerUserIds, adminUserIds,
// memberUserIds, createdAt, updatedAt}` — `ancestorIds` from the team (top) down to the parent,
// `rootId` the team the department belongs to — and one document per membership
// `{organizationId, userId, rootId}` for "which users share this user's organization tree".

export const organizationsCollection = 'organizations';
export const organizationMembersCollection = 'organization_members';

export const organizationFields = {
  id: 'string',
  name: 'string',
  parentId: 'string',
  rootId: 'string',
  ancestorIds: 'string',
  memberUserIds: 'string',
  adminUserIds: 'string',
  managerUserIds: 'string',
  createdAt: 'time',
  updatedAt: 'time',
} as const;

const membershipId = (organizationId: string, userId: string) => `${organizationId}:${userId}`;

type UserListKey = 'memberUserIds' | 'adminUserIds' | 'managerUserIds';

function withUser(list: unknown, userId: string, present: boolean): string[] {
  const current = (list as string[] | undefined) ?? [];
  if (present) return current.includes(userId) ? current : [...current, userId].sort();
  return current.filter((id) => id !== userId);
}

export const organizationsProjection: Projection = {
  name: 'tenancy-organizations',
  version: 1,
  collections: [organizationsCollection, organizationMembersCollection],
  indexes: [
    { collection: organizationsCollection, fields: [['parentId', 1]] },
    { collection: organizationsCollection, fields: [['managerUserIds', 1]], multiValued: true },
    { collection: organizationsCollection, fields: [['memberUserIds', 1]], multiValued: true },
    { collection: organizationsCollection, fields: [['ancestorIds', 1]], multiValued: true },
    { collection: organizationMembersCollection, fields: [['userId', 1]] },
    { collection: organizationMembersCollection, fields: [['rootId', 1]] },
    { collection: organizationMembersCollection, fields: [['organizationId', 1]] },
  ],
  handles: [
    'OrganizationCreated', 'OrganizationUpdated', 'OrganizationMoved', 'OrganizationDeleted', 'OrganizationUserAdded', 'OrganizationUserRemoved',
    'OrganizationAdminAssigned', 'OrganizationAdminUnassigned', 'OrganizationManagerAssigned', 'OrganizationManagerUnassigned',
  ],

  async apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as OrganizationEvent;
    const id = event.data.organizationId;
    const updatedAt = isoTime(recorded.recordedAt);
    if (event.type === 'OrganizationCreated') {
      const parent = event.data.parentId === null ? undefined : await batch.get(organizationsCollection, event.data.parentId);
      const ancestorIds = parent ? [...(parent.ancestorIds as string[]), parent.id] : [];
      batch.upsert(organizationsCollection, {
        id, name: event.data.name, description: event.data.description, parentId: event.data.parentId, ancestorIds, rootId: ancestorIds[0] ?? id,
        managerUserIds: [], adminUserIds: [], memberUserIds: [], createdAt: isoTime(event.data.createdAt), updatedAt,
      });
      return;
    }
    const doc = await batch.get(organizationsCollection, id);
    if (!doc) return;
    const setUser = (key: UserListKey, userId: string, present: boolean) => {
      batch.patch(organizationsCollection, id, { [key]: withUser(doc[key], userId, present), updatedAt });
    };
    switch (event.type) {
      case 'OrganizationUpdated':
        batch.patch(organizationsCollection, id, {
          ...(event.data.name !== undefined ? { name: event.data.name } : {}),
          ...(event.data.description !== undefined ? { description: event.data.description } : {}),
          updatedAt,
        });
        return;
      case 'OrganizationMoved':
        await move(batch, doc, event.data.toParentId, event.data.subtreeIds, updatedAt);
        return;
      case 'OrganizationDeleted':
        for (const userId of doc.memberUserIds as string[]) batch.delete(organizationMembersCollection, membershipId(id, userId));
        batch.delete(organizationsCollection, id);
        return;
      case 'OrganizationUserAdded':
        setUser('memberUserIds', event.data.userId, true);
        batch.upsert(organizationMembersCollection, { id: membershipId(id, event.data.userId), organizationId: id, userId: event.data.userId, rootId: doc.rootId });
        return;
      case 'OrganizationUserRemoved':
        batch.patch(organizationsCollection, id, {
          memberUserIds: withUser(doc.memberUserIds, event.data.userId, false),
          adminUserIds: withUser(doc.adminUserIds, event.data.userId, false),
          managerUserIds: withUser(doc.managerUserIds, event.data.userId, false),
          updatedAt,
        });
        batch.delete(organizationMembersCollection, membershipId(id, event.data.userId));
        return;
      case 'OrganizationAdminAssigned':
        setUser('adminUserIds', event.data.userId, true);
        return;
      case 'OrganizationAdminUnassigned':
        setUser('adminUserIds', event.data.userId, false);
        return;
      case 'OrganizationManagerAssigned':
        setUser('managerUserIds', event.data.userId, true);
        return;
      case 'OrganizationManagerUnassigned':
        setUser('managerUserIds', event.data.userId, false);
        return;
    }
  },
};

/** Re-roots the moved department and its descendants (their ancestry below the moved node is kept). */
async function move(batch: WriteBatch, moved: Doc, toParentId: string | null, subtreeIds: readonly string[], updatedAt: string) {
  const parent = toParentId === null ? undefined : await batch.get(organizationsCollection, toParentId);
  const prefix = parent ? [...(parent.ancestorIds as string[]), parent.id] : [];
  const keptFrom = (moved.ancestorIds as string[]).length;
  for (const nodeId of subtreeIds) {
    const node = nodeId === moved.id ? moved : await batch.get(organizationsCollection, nodeId);
    if (!node) continue;
    const ancestorIds = [...prefix, ...(node.ancestorIds as string[]).slice(keptFrom)];
    const rootId = ancestorIds[0] ?? nodeId;
    batch.patch(organizationsCollection, nodeId, {
      ancestorIds, rootId, updatedAt, ...(nodeId === moved.id ? { parentId: toParentId } : {}),
    });
    for (const userId of node.memberUserIds as string[]) batch.patch(organizationMembersCollection, membershipId(nodeId, userId), { rootId });
  }
}

/**
 * Who manages a department: its own managers, then those of each department above it up to
 * the team, nearest first, without repeats. A manager manages the whole department "and
 * sub-departments" (reference/002, Department Manager), so the managers of ancestors count.
 * An unknown or deleted department has none.
 */
export async function departmentManagersOf(readStore: ReadStore, organizationId: string): Promise<string[]> {
  const department = await readStore.get(organizationsCollection, organizationId);
  if (!department) return [];
  const managers = [...(department.managerUserIds as string[])];
  for (const ancestorId of [...(department.ancestorIds as string[])].reverse()) {
    const ancestor = await readStore.get(organizationsCollection, ancestorId);
    for (const userId of (ancestor?.managerUserIds as string[] | undefined) ?? []) if (!managers.includes(userId)) managers.push(userId);
  }
  return managers;
}

/**
 * The users of the organization trees a user belongs to (every team holding one of the
 * user's departments, with all its sub-departments), or undefined when the user belongs to
 * no department (then nothing narrows what they see).
 */
export async function organizationTreeUserIds(readStore: ReadStore, userId: string): Promise<string[] | undefined> {
  const memberships = await readStore.find(organizationMembersCollection, { userId });
  if (memberships.length === 0) return undefined;
  const rootIds = [...new Set(memberships.map((membership) => membership.rootId as string))];
  const sharing = await readStore.find(organizationMembersCollection, { rootId: { $in: rootIds } });
  return [...new Set([userId, ...sharing.map((membership) => membership.userId as string)])].sort();
}
