import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import {
  volumeSnapshotDecider,
  volumeSnapshotIndexStream,
  volumeSnapshotStream,
  type SnapshotDiscardReason,
  type VolumeSnapshotIndexed,
} from '../../domain/compute/volume-snapshot.js';
import { handleCommand } from '../shared/handle-command.js';

/** The ids of every snapshot ever taken of a volume (deleted ones included), from its index stream. */
export async function snapshotIdsOf(store: EventStore, volumeId: string): Promise<string[]> {
  const events = await store.readStream(volumeSnapshotIndexStream(volumeId));
  return events.map((event) => (event.data as VolumeSnapshotIndexed['data']).snapshotId);
}

/** Records that a snapshot is taken of a volume, before the snapshot's own stream exists. */
export async function indexSnapshot(store: EventStore, volumeId: string, snapshotId: string, metadata: EventMetadata) {
  const event: VolumeSnapshotIndexed = { type: 'VolumeSnapshotIndexed', data: { volumeId, snapshotId } };
  await store.append(volumeSnapshotIndexStream(volumeId), [{ ...event, metadata }], 'any');
}

/**
 * A volume is expunged (a data volume, or a VM's root volume with its VM): its snapshots
 * lived in its file and are gone with it. Idempotent.
 */
export async function discardSnapshotsOf(deps: { store: EventStore; clock: Clock }, volumeId: string, reason: SnapshotDiscardReason, metadata: EventMetadata) {
  for (const snapshotId of await snapshotIdsOf(deps.store, volumeId)) {
    await handleCommand(deps.store, volumeSnapshotDecider, volumeSnapshotStream(snapshotId), { type: 'DiscardSnapshot', reason, now: deps.clock.now() }, metadata);
  }
}
