import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { DiskOfferingEvent, InstanceOfferingEvent } from '../../domain/compute/offering.js';
import { isoTime, type Projection } from '../shared/projection.js';

export const instanceOfferingsCollection = 'instance_offerings';
export const diskOfferingsCollection = 'disk_offerings';

export const instanceOfferingFields = { id: 'string', name: 'string', cpuCount: 'number', memoryBytes: 'number', createdAt: 'time' } as const;
export const diskOfferingFields = { id: 'string', name: 'string', sizeBytes: 'number', createdAt: 'time' } as const;

export const offeringsProjection: Projection = {
  name: 'offerings',
  version: 1,
  collections: [instanceOfferingsCollection, diskOfferingsCollection],
  indexes: [
    { collection: instanceOfferingsCollection, fields: [['createdAt', -1]] },
    { collection: diskOfferingsCollection, fields: [['createdAt', -1]] },
  ],
  handles: ['InstanceOfferingCreated', 'InstanceOfferingDeleted', 'DiskOfferingCreated', 'DiskOfferingDeleted'],

  apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as InstanceOfferingEvent | DiskOfferingEvent;
    switch (event.type) {
      case 'InstanceOfferingCreated':
        batch.upsert(instanceOfferingsCollection, {
          id: event.data.instanceOfferingId, name: event.data.name, description: event.data.description,
          cpuCount: event.data.cpuCount, memoryBytes: event.data.memoryBytes, createdAt: isoTime(event.data.createdAt),
        });
        return;
      case 'InstanceOfferingDeleted':
        batch.delete(instanceOfferingsCollection, event.data.instanceOfferingId);
        return;
      case 'DiskOfferingCreated':
        batch.upsert(diskOfferingsCollection, {
          id: event.data.diskOfferingId, name: event.data.name, description: event.data.description, sizeBytes: event.data.sizeBytes, createdAt: isoTime(event.data.createdAt),
        });
        return;
      case 'DiskOfferingDeleted':
        batch.delete(diskOfferingsCollection, event.data.diskOfferingId);
        return;
    }
  },
};
