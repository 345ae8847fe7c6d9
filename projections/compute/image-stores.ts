import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { ImageStoreEvent } from '../../domain/compute/image-store.js';
import { isoTime, type Projection } from '../shared/projection.js';

export const imageStoresCollection = 'image_stores';

export const imageStoreFields = { id: 'string', name: 'string', zoneId: 'string', url: 'string', createdAt: 'time' } as const;

export const imageStoresProjection: Projection = {
  name: 'image-stores',
  version: 1,
  collections: [imageStoresCollection],
  indexes: [{ collection: imageStoresCollection, fields: [['zoneId', 1], ['createdAt', -1]] }],
  handles: ['ImageStoreAdded'],

  apply(recorded: RecordedEvent, batch: WriteBatch) {
    const { data } = recorded as unknown as ImageStoreEvent;
    batch.upsert(imageStoresCollection, {
      id: data.imageStoreId, name: data.name, description: data.description, zoneId: data.zoneId, url: data.url,
      totalCapacityBytes: data.totalCapacityBytes, createdAt: isoTime(data.addedAt),
    });
  },
};
