import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { CustomRoleEvent } from '../../domain/identity/role.js';
import { isoTime, type Projection } from '../shared/projection.js';

// Custom roles (`GET /v1/roles` lists them after the system roles, which are code).

export const rolesCollection = 'custom_roles';

export const rolesProjection: Projection = {
  name: 'identity-roles',
  version: 1,
  collections: [rolesCollection],
  indexes: [{ collection: rolesCollection, fields: [['name', 1]] }],
  handles: ['CustomRoleCreated', 'CustomRoleChanged', 'CustomRoleDeleted'],

  apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as CustomRoleEvent & RecordedEvent;
    switch (event.type) {
      case 'CustomRoleCreated':
        batch.upsert(rolesCollection, {
          id: event.data.roleId,
          name: event.data.name,
          description: event.data.description,
          rootRole: event.data.rootRole,
          permissions: event.data.permissions,
          createdAt: isoTime(event.data.at),
        });
        return;
      case 'CustomRoleChanged':
        batch.patch(rolesCollection, event.data.roleId, { description: event.data.description, permissions: event.data.permissions });
        return;
      case 'CustomRoleDeleted':
        batch.delete(rolesCollection, event.data.roleId);
        return;
    }
  },
};
