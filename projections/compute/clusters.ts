import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { ClusterEvent } from '../../domain/compute/cluster.js';
import { isoTime, type Projection } from '../shared/projection.js';

export const clustersCollection = 'clusters';

export const clusterFields = { id: 'string', name: 'string', zoneId: 'string', hypervisorType: 'string', createdAt: 'time' } as const;

export const clustersProjection: Projection = {
  name: 'clusters',
  version: 1,
  collections: [clustersCollection],
  indexes: [{ collection: clustersCollection, fields: [['zoneId', 1], ['createdAt', -1]] }],
  handles: ['ClusterCreated'],

  apply(recorded: RecordedEvent, batch: WriteBatch) {
    const { data } = recorded as unknown as ClusterEvent;
    batch.upsert(clustersCollection, {
      id: data.clusterId, name: data.name, description: data.description, zoneId: data.zoneId, hypervisorType: data.hypervisorType, createdAt: isoTime(data.createdAt),
    });
  },
};
