import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { IpAccessListEvent } from '../../domain/identity/ip-access-list.js';
import { isoTime, type Projection } from '../shared/projection.js';

// IP allowlists and blocklists (`GET /v1/ip-access-lists`). Logins read the lists' stream,
// not this, so a change applies at once.

export const ipAccessListsCollection = 'ip_access_lists';

export const ipAccessListFields = {
  id: 'string',
  name: 'string',
  type: 'string',
  entries: 'string',
  createdAt: 'time',
  updatedAt: 'time',
} as const;

export const ipAccessListsProjection: Projection = {
  name: 'identity-ip-access-lists',
  version: 1,
  collections: [ipAccessListsCollection],
  indexes: [{ collection: ipAccessListsCollection, fields: [['name', 1]] }],
  handles: ['IpAccessListCreated', 'IpAccessListChanged', 'IpAccessListDeleted'],

  apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as IpAccessListEvent & RecordedEvent;
    switch (event.type) {
      case 'IpAccessListCreated':
        batch.upsert(ipAccessListsCollection, {
          id: event.data.listId,
          name: event.data.name,
          type: event.data.type,
          entries: event.data.entries,
          description: event.data.description,
          createdAt: isoTime(event.data.at),
          updatedAt: isoTime(event.data.at),
        });
        return;
      case 'IpAccessListChanged':
        batch.patch(ipAccessListsCollection, event.data.listId, {
          name: event.data.name, entries: event.data.entries, description: event.data.description, updatedAt: isoTime(event.data.at),
        });
        return;
      case 'IpAccessListDeleted':
        batch.delete(ipAccessListsCollection, event.data.listId);
        return;
    }
  },
};
