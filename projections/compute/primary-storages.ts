import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { PrimaryStorageEvent } from '../../domain/compute/primary-storage.js';
import { isoTime, type Projection } from '../shared/projection.js';

export const primaryStoragesCollection = 'primary_storages';

export const primaryStorageFields = {
  id: 'string',
  name: 'string',
  zoneId: 'string',
  type: 'string',
  totalCapacityBytes: 'number',
  usedBytes: 'number',
  availableBytes: 'number',
  volumeCount: 'number',
  createdAt: 'time',
} as const;

export const primaryStoragesProjection: Projection = {
  name: 'primary-storages',
  version: 1,
  collections: [primaryStoragesCollection],
  indexes: [{ collection: primaryStoragesCollection, fields: [['zoneId', 1], ['createdAt', -1]] }],
  handles: ['PrimaryStorageAdded', 'PrimaryStorageCapacityReserved', 'PrimaryStorageCapacityReleased'],

  async apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as PrimaryStorageEvent;
    switch (event.type) {
      case 'PrimaryStorageAdded': {
        const data = event.data;
        batch.upsert(primaryStoragesCollection, {
          id: data.primaryStorageId, name: data.name, description: data.description, zoneId: data.zoneId, type: data.type, url: data.url,
          totalCapacityBytes: data.totalCapacityBytes, usedBytes: 0, availableBytes: data.totalCapacityBytes, volumeCount: 0, createdAt: isoTime(data.addedAt),
        });
        return;
      }
      case 'PrimaryStorageCapacityReserved':
      case 'PrimaryStorageCapacityReleased': {
        const storage = await batch.get(primaryStoragesCollection, event.data.primaryStorageId);
        if (!storage) return;
        const sign = event.type === 'PrimaryStorageCapacityReserved' ? 1 : -1;
        const usedBytes = (storage.usedBytes as number) + sign * event.data.sizeBytes;
        batch.patch(primaryStoragesCollection, event.data.primaryStorageId, {
          usedBytes, availableBytes: (storage.totalCapacityBytes as number) - usedBytes, volumeCount: (storage.volumeCount as number) + sign,
        });
        return;
      }
    }
  },
};
