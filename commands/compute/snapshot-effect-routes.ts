import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { VolumeSnapshotEvent } from '../../domain/compute/volume-snapshot.js';
import { operationIdFor, type Effect, type EffectRoute } from '../effects/effect.js';
import { completeSnapshotOperation } from './snapshots.js';

// What snapshot events ask of the host that reaches the disk, and what its answers become.

type Started = Extract<VolumeSnapshotEvent, { type: 'VolumeSnapshotCreationStarted' | 'VolumeSnapshotRevertStarted' | 'VolumeSnapshotDeletionStarted' }>;

const ops = {
  VolumeSnapshotCreationStarted: { op: 'snapshot.create', complete: 'CompleteCreation' },
  VolumeSnapshotRevertStarted: { op: 'snapshot.revert', complete: 'CompleteRevert' },
  VolumeSnapshotDeletionStarted: { op: 'snapshot.delete', complete: 'CompleteDeletion' },
} as const;

export const volumeSnapshotRoute: EffectRoute = {
  name: 'volume-snapshot',
  handles: Object.keys(ops),
  effectsOf(recorded: RecordedEvent): Effect[] {
    const event = recorded as unknown as Started;
    const { op } = ops[event.type];
    return [{
      operationId: operationIdFor(recorded, op),
      hostId: event.data.hostId,
      operation: { op, volumeId: event.data.volumeId, snapshotId: event.data.snapshotId },
      context: { snapshotId: event.data.snapshotId, operationId: event.data.operationId, complete: ops[event.type].complete },
    }];
  },
  async onResult(result, deps) {
    const context = result.effect.context as { snapshotId: string; operationId: string; complete: (typeof ops)[keyof typeof ops]['complete'] };
    const error = result.outcome.ok ? undefined : { code: result.outcome.error.code, message: result.outcome.error.message };
    const store = { store: deps.eventStore, clock: deps.clock };
    if (context.complete === 'CompleteCreation') {
      const sizeBytes = result.outcome.ok ? (result.outcome.result as { sizeBytes: number }).sizeBytes : 0;
      await completeSnapshotOperation(store, context.snapshotId, {
        type: 'CompleteCreation', operationId: context.operationId, outcome: error ? { ok: false, error } : { ok: true, sizeBytes },
      }, result.metadata);
      return;
    }
    await completeSnapshotOperation(store, context.snapshotId, {
      type: context.complete, operationId: context.operationId, outcome: error ? { ok: false, error } : { ok: true },
    }, result.metadata);
  },
};
