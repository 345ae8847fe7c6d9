import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { ImageEvent } from '../../domain/compute/image.js';
import { isoTime, type Projection } from '../shared/projection.js';
import { projectFieldOf } from '../tenancy/project-of.js';

// Images as users see them. Destroyed images stay listed (`q=state=Destroyed`) with the time
// they are due for expunge; the image expunge job reads `expungeAt` from here. An expunged
// image is gone from the list.

export const imagesCollection = 'images';

export const imageFields = {
  id: 'string',
  name: 'string',
  url: 'string',
  format: 'string',
  platform: 'string',
  sha256: 'string',
  sizeBytes: 'number',
  imageStoreId: 'string',
  state: 'string',
  projectId: 'string',
  createdAt: 'time',
  deletedAt: 'time',
  expungeAt: 'time',
} as const;

export const imagesProjection: Projection = {
  name: 'images',
  version: 2,
  collections: [imagesCollection],
  indexes: [
    { collection: imagesCollection, fields: [['createdAt', -1]] },
    { collection: imagesCollection, fields: [['state', 1], ['expungeAt', 1]] },
  ],
  handles: ['ImageRegistered', 'ImageMarkedError', 'ImageDeleted', 'ImageRecovered', 'ImageExpunged'],

  async apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as ImageEvent;
    switch (event.type) {
      case 'ImageRegistered': {
        const data = event.data;
        batch.upsert(imagesCollection, {
          id: data.imageId, name: data.name, description: data.description, url: data.url, format: data.format, platform: data.platform,
          sha256: data.sha256, sizeBytes: data.sizeBytes, imageStoreId: data.imageStoreId, state: 'Ready', status: 'Ready', createdAt: isoTime(data.registeredAt),
          ...projectFieldOf(recorded),
        });
        return;
      }
      case 'ImageMarkedError':
        batch.patch(imagesCollection, event.data.imageId, { state: 'Error', status: 'Error', reason: event.data.reason });
        return;
      case 'ImageDeleted':
        batch.patch(imagesCollection, event.data.imageId, {
          state: 'Destroyed', deletedAt: isoTime(event.data.at), expungeAt: event.data.expungeAt === null ? null : isoTime(event.data.expungeAt),
        });
        return;
      case 'ImageRecovered': {
        const image = await batch.get(imagesCollection, event.data.imageId);
        batch.patch(imagesCollection, event.data.imageId, { state: image?.status ?? 'Ready', deletedAt: undefined, expungeAt: undefined });
        return;
      }
      case 'ImageExpunged':
        batch.delete(imagesCollection, event.data.imageId);
        return;
    }
  },
};
