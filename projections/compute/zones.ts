import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { ZoneEvent } from '../../domain/compute/zone.js';
import { isoTime, type Projection } from '../shared/projection.js';

export const zonesCollection = 'zones';

export const zoneFields = { id: 'string', name: 'string', createdAt: 'time' } as const;

export const zonesProjection: Projection = {
  name: 'zones',
  version: 1,
  collections: [zonesCollection],
  indexes: [{ collection: zonesCollection, fields: [['createdAt', -1]] }],
  handles: ['ZoneCreated'],

  apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as ZoneEvent;
    batch.upsert(zonesCollection, { id: event.data.zoneId, name: event.data.name, description: event.data.description, createdAt: isoTime(event.data.createdAt) });
  },
};
