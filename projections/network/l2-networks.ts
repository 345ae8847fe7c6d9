import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { L2NetworkEvent } from '../../domain/network/l2-network.js';
import { isoTime, type Projection } from '../shared/projection.js';

export const l2NetworksCollection = 'l2_networks';

export const l2NetworkFields = { id: 'string', name: 'string', zoneId: 'string', type: 'string', physicalInterface: 'string', vlan: 'number', createdAt: 'time' } as const;

export const l2NetworksProjection: Projection = {
  name: 'l2-networks',
  version: 1,
  collections: [l2NetworksCollection],
  indexes: [{ collection: l2NetworksCollection, fields: [['zoneId', 1], ['createdAt', -1]] }],
  handles: ['L2NetworkCreated'],

  apply(recorded: RecordedEvent, batch: WriteBatch) {
    const { data } = recorded as unknown as L2NetworkEvent;
    batch.upsert(l2NetworksCollection, {
      id: data.l2NetworkId, name: data.name, description: data.description, zoneId: data.zoneId, type: data.type,
      physicalInterface: data.physicalInterface, vlan: data.vlan, createdAt: isoTime(data.createdAt),
    });
  },
};
