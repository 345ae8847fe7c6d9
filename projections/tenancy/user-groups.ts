import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { UserGroupEvent } from '../../domain/tenancy/user-group.js';
import { isoTime, type Projection } from '../shared/projection.js';

// User groups as the API lists them: `{id, name, description, userIds, createdAt, updatedAt}`.
// A deleted group leaves the list. The projects a group joined are in `project_groups`
// (projections/tenancy/projects.ts), from the projects' streams.

export const userGroupsCollection = 'user_groups';

export const userGroupFields = {
  id: 'string',
  name: 'string',
  userIds: 'string',
  createdAt: 'time',
  updatedAt: 'time',
} as const;

export const userGroupsProjection: Projection = {
  name: 'tenancy-user-groups',
  version: 1,
  collections: [userGroupsCollection],
  indexes: [
    { collection: userGroupsCollection, fields: [['name', 1]] },
    { collection: userGroupsCollection, fields: [['userIds', 1]], multiValued: true },
  ],
  handles: ['UserGroupCreated', 'UserGroupUpdated', 'UserGroupDeleted', 'UserGroupUserAdded', 'UserGroupUserRemoved'],

  async apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as UserGroupEvent;
    const id = event.data.userGroupId;
    const updatedAt = isoTime(recorded.recordedAt);
    if (event.type === 'UserGroupCreated') {
      batch.upsert(userGroupsCollection, { id, name: event.data.name, description: event.data.description, userIds: [], createdAt: isoTime(event.data.createdAt), updatedAt, version: recorded.version });
      return;
    }
    const doc = await batch.get(userGroupsCollection, id);
    if (!doc) return;
    const userIds = doc.userIds as string[];
    const touched = { updatedAt, version: recorded.version };
    switch (event.type) {
      case 'UserGroupUpdated':
        batch.patch(userGroupsCollection, id, {
          ...(event.data.name !== undefined ? { name: event.data.name } : {}),
          ...(event.data.description !== undefined ? { description: event.data.description } : {}),
          ...touched,
        });
        return;
      case 'UserGroupDeleted':
        batch.delete(userGroupsCollection, id);
        return;
      case 'UserGroupUserAdded':
        if (!userIds.includes(event.data.userId)) batch.patch(userGroupsCollection, id, { userIds: [...userIds, event.data.userId].sort(), ...touched });
        return;
      case 'UserGroupUserRemoved':
        batch.patch(userGroupsCollection, id, { userIds: userIds.filter((userId) => userId !== event.data.userId), ...touched });
        return;
    }
  },
};
