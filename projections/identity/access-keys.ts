import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { AccessKeyEvent } from '../../domain/identity/access-key.js';
import { isoTime, type Projection } from '../shared/projection.js';

// Access keys (`GET /v1/access-keys`): never the secret, not even sealed.

export const accessKeysCollection = 'access_keys';

export const accessKeyListFields = {
  id: 'string',
  userId: 'string',
  username: 'string',
  state: 'string',
  createdAt: 'time',
} as const;

export const accessKeysProjection: Projection = {
  name: 'identity-access-keys',
  version: 1,
  collections: [accessKeysCollection],
  indexes: [{ collection: accessKeysCollection, fields: [['userId', 1], ['createdAt', -1]] }],
  handles: ['AccessKeyCreated', 'AccessKeyDisabled', 'AccessKeyEnabled', 'AccessKeyDeleted'],

  apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as AccessKeyEvent & RecordedEvent;
    switch (event.type) {
      case 'AccessKeyCreated':
        batch.upsert(accessKeysCollection, {
          id: event.data.accessKeyId,
          userId: event.data.userId,
          username: event.data.username,
          state: 'enabled',
          description: event.data.description,
          createdAt: isoTime(event.data.at),
        });
        return;
      case 'AccessKeyDisabled':
        batch.patch(accessKeysCollection, event.data.accessKeyId, { state: 'disabled' });
        return;
      case 'AccessKeyEnabled':
        batch.patch(accessKeysCollection, event.data.accessKeyId, { state: 'enabled' });
        return;
      case 'AccessKeyDeleted':
        batch.delete(accessKeysCollection, event.data.accessKeyId);
        return;
    }
  },
};
