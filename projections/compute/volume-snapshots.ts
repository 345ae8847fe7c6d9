import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { VolumeSnapshotEvent } from '../../domain/compute/volume-snapshot.js';
import { isoTime, type Projection } from '../shared/projection.js';
import { projectFieldOf } from '../tenancy/project-of.js';

// The volume snapshot list (`GET /v1/volume-snapshots`). A snapshot that could not be taken,
// and a deleted one, leave the list (the task that asked for it keeps the error).

export const volumeSnapshotsCollection = 'volume_snapshots';

export const volumeSnapshotListFields = {
  id: 'string',
  name: 'string',
  state: 'string',
  volumeId: 'string',
  volumeType: 'string',
  vmInstanceId: 'string',
  hostId: 'string',
  primaryStorageId: 'string',
  sizeBytes: 'number',
  createdAt: 'time',
  lastRevertedAt: 'time',
  projectId: 'string',
} as const;

const handled: readonly VolumeSnapshotEvent['type'][] = [
  'VolumeSnapshotCreationStarted', 'VolumeSnapshotCreated', 'VolumeSnapshotCreationFailed',
  'VolumeSnapshotRevertStarted', 'VolumeSnapshotReverted', 'VolumeSnapshotRevertFailed',
  'VolumeSnapshotDeletionStarted', 'VolumeSnapshotDeletionFailed', 'VolumeSnapshotDeleted',
];

export const volumeSnapshotsProjection: Projection = {
  name: 'volume-snapshots',
  version: 2,
  collections: [volumeSnapshotsCollection],
  indexes: [
    { collection: volumeSnapshotsCollection, fields: [['createdAt', -1]] },
    { collection: volumeSnapshotsCollection, fields: [['volumeId', 1], ['createdAt', -1]] },
    { collection: volumeSnapshotsCollection, fields: [['vmInstanceId', 1]] },
  ],
  handles: handled,

  apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as VolumeSnapshotEvent;
    const id = event.data.snapshotId;
    const set = (fields: Record<string, unknown>) => batch.patch(volumeSnapshotsCollection, id, fields);
    switch (event.type) {
      case 'VolumeSnapshotCreationStarted':
        batch.upsert(volumeSnapshotsCollection, {
          id,
          name: event.data.name,
          description: event.data.description,
          state: 'Creating',
          volumeId: event.data.volumeId,
          volumeType: event.data.volumeType,
          vmInstanceId: event.data.vmInstanceId,
          hostId: event.data.hostId,
          primaryStorageId: event.data.primaryStorageId,
          sizeBytes: null,
          createdAt: isoTime(event.data.createdAt),
          lastRevertedAt: null,
          ...projectFieldOf(recorded),
        });
        return;
      case 'VolumeSnapshotCreated':
        set({ state: 'Ready', sizeBytes: event.data.sizeBytes });
        return;
      case 'VolumeSnapshotRevertStarted':
        set({ state: 'Reverting' });
        return;
      case 'VolumeSnapshotReverted':
        set({ state: 'Ready', lastRevertedAt: isoTime(event.data.revertedAt) });
        return;
      case 'VolumeSnapshotDeletionStarted':
        set({ state: 'Deleting' });
        return;
      case 'VolumeSnapshotRevertFailed':
      case 'VolumeSnapshotDeletionFailed':
        set({ state: 'Ready' });
        return;
      case 'VolumeSnapshotCreationFailed':
      case 'VolumeSnapshotDeleted':
        batch.delete(volumeSnapshotsCollection, id);
        return;
    }
  },
};
