import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';
import type { OperationError, Outcome } from './volume.js';

// A volume snapshot (stream `volume-snapshot-<id>`): the state of one disk, root or data,
// at one moment, kept on the primary storage beside the disk.
//
//   Creating ─snapshot.create ok─▶ Ready ─revert─▶ Reverting ─▶ Ready
//                     └─ failed ─▶ Failed        └─delete─▶ Deleting ─▶ Deleted
//
// A revert rewrites the disk under the guest: it is refused unless the VM that owns the disk
// is Stopped (VM_NOT_STOPPED). A detached data volume has no VM and may be reverted.
// The facts about the disk and its VM are read by the command layer and passed in.

export type VolumeType = 'Root' | 'Data';

export type SnapshotStatus = 'Creating' | 'Ready' | 'Reverting' | 'Deleting' | 'Deleted' | 'Failed';

/** The disk a snapshot command is about, as its owner's stream shows it (undefined: no such disk). */
export interface DiskFacts {
  volumeId: string;
  type: VolumeType;
  /** Ready: on a host's storage and idle; others (NotInstantiated, Creating, Busy, Destroyed, Expunged) say why not. */
  status: 'Ready' | 'NotInstantiated' | 'Creating' | 'Busy' | 'Destroyed' | 'Expunged';
  /** The host that currently reaches the disk's file. */
  hostId?: string;
  primaryStorageId?: string;
  /** The VM that uses the disk (a root volume's VM, or the VM a data volume is attached to). */
  vmInstanceId?: string;
  /** That VM's state. */
  vmState?: string;
}

export type SnapshotDiscardReason = 'VolumeExpunged' | 'VmExpunged';

export type VolumeSnapshotEvent =
  | DomainEvent<'VolumeSnapshotCreationStarted', {
      snapshotId: string;
      name: string;
      description: string;
      volumeId: string;
      volumeType: VolumeType;
      vmInstanceId: string | null;
      hostId: string;
      primaryStorageId: string | null;
      operationId: string;
      createdAt: number;
    }>
  | DomainEvent<'VolumeSnapshotCreated', { snapshotId: string; volumeId: string; operationId: string; sizeBytes: number; completedAt: number }>
  | DomainEvent<'VolumeSnapshotCreationFailed', { snapshotId: string; volumeId: string; operationId: string; error: OperationError; failedAt: number }>
  | DomainEvent<'VolumeSnapshotRevertStarted', { snapshotId: string; volumeId: string; operationId: string; hostId: string; vmInstanceId: string | null; startedAt: number }>
  | DomainEvent<'VolumeSnapshotReverted', { snapshotId: string; volumeId: string; operationId: string; revertedAt: number }>
  | DomainEvent<'VolumeSnapshotRevertFailed', { snapshotId: string; volumeId: string; operationId: string; error: OperationError; failedAt: number }>
  | DomainEvent<'VolumeSnapshotDeletionStarted', { snapshotId: string; volumeId: string; operationId: string; hostId: string; startedAt: number }>
  | DomainEvent<'VolumeSnapshotDeletionFailed', { snapshotId: string; volumeId: string; operationId: string; error: OperationError; failedAt: number }>
  | DomainEvent<'VolumeSnapshotDeleted', {
      snapshotId: string;
      volumeId: string;
      /** Requested: deleted on its host. Otherwise it went with its disk, nothing left to delete. */
      reason: 'Requested' | SnapshotDiscardReason;
      deletedAt: number;
    }>;

export type VolumeSnapshotCommand =
  | { type: 'CreateSnapshot'; snapshotId: string; name: string; description?: string; disk: DiskFacts | undefined; operationId: string; now: number }
  | { type: 'CompleteCreation'; operationId: string; outcome: Outcome<{ sizeBytes: number }>; now: number }
  | { type: 'RevertSnapshot'; operationId: string; disk: DiskFacts | undefined; now: number }
  | { type: 'CompleteRevert'; operationId: string; outcome: Outcome; now: number }
  /** `disk` undefined or expunged: the snapshot went with it, there is nothing to delete on a host. */
  | { type: 'DeleteSnapshot'; operationId: string; disk: DiskFacts | undefined; now: number }
  | { type: 'CompleteDeletion'; operationId: string; outcome: Outcome; now: number }
  | { type: 'DiscardSnapshot'; reason: SnapshotDiscardReason; now: number };

export type VolumeSnapshotState =
  | { status: 'None' }
  | {
      status: SnapshotStatus;
      snapshotId: string;
      volumeId: string;
      volumeType: VolumeType;
      /** The VM that used the disk when the snapshot was taken (a root volume's VM never changes). */
      vmInstanceId: string | null;
      /** The operation in flight (Creating, Reverting, Deleting). */
      operationId: string | null;
    };

export const volumeSnapshotStream = (snapshotId: string) => `volume-snapshot-${snapshotId}`;

/**
 * Every snapshot ever taken of one volume (stream `volume-snapshot-index-<volumeId>`),
 * written before the snapshot's own stream: when the volume goes, its snapshots are found
 * here and go with it, without trusting a read model.
 */
export const volumeSnapshotIndexStream = (volumeId: string) => `volume-snapshot-index-${volumeId}`;
export type VolumeSnapshotIndexed = DomainEvent<'VolumeSnapshotIndexed', { volumeId: string; snapshotId: string }>;

const stoppedState = 'Stopped';

function existing(state: VolumeSnapshotState, snapshotId?: string) {
  if (state.status === 'None' || state.status === 'Failed' || state.status === 'Deleted') {
    const id = state.status === 'None' ? snapshotId ?? '' : state.snapshotId;
    throw new DomainError('SNAPSHOT_NOT_FOUND', `no volume snapshot ${id}`.trim(), 'not_found');
  }
  return state;
}

/** The disk must exist, not be destroyed, be on a host, and be idle. */
function usableDisk(disk: DiskFacts | undefined, doing: string): asserts disk is DiskFacts & { hostId: string } {
  if (!disk || disk.status === 'Expunged') throw new DomainError('VOLUME_NOT_FOUND', 'the volume does not exist', 'not_found');
  switch (disk.status) {
    case 'Destroyed':
      throw new DomainError('VOLUME_DESTROYED', `volume ${disk.volumeId} is destroyed: recover it before you ${doing}`);
    case 'NotInstantiated':
      throw new DomainError('VOLUME_NOT_INSTANTIATED', `volume ${disk.volumeId} has not been created on a host yet (attach it to a VM first)`);
    case 'Creating':
    case 'Busy':
      throw new DomainError('VOLUME_BUSY', `volume ${disk.volumeId} is busy; try again when its current operation has finished`);
    case 'Ready':
      if (!disk.hostId) throw new DomainError('VOLUME_NOT_INSTANTIATED', `volume ${disk.volumeId} is on no host`);
  }
}

export const volumeSnapshotDecider: Decider<VolumeSnapshotCommand, VolumeSnapshotState, VolumeSnapshotEvent> = {
  initialState: { status: 'None' },

  decide(command, state) {
    switch (command.type) {
      case 'CreateSnapshot': {
        if (state.status !== 'None') throw new DomainError('SNAPSHOT_EXISTS', `volume snapshot ${command.snapshotId} already exists`);
        const { disk } = command;
        usableDisk(disk, 'take a snapshot of it');
        return [{
          type: 'VolumeSnapshotCreationStarted',
          data: {
            snapshotId: command.snapshotId,
            name: command.name,
            description: command.description ?? '',
            volumeId: disk.volumeId,
            volumeType: disk.type,
            vmInstanceId: disk.vmInstanceId ?? null,
            hostId: disk.hostId,
            primaryStorageId: disk.primaryStorageId ?? null,
            operationId: command.operationId,
            createdAt: command.now,
          },
        }];
      }

      case 'CompleteCreation':
        if (state.status !== 'Creating' || state.operationId !== command.operationId) return [];
        return command.outcome.ok
          ? [{ type: 'VolumeSnapshotCreated', data: { snapshotId: state.snapshotId, volumeId: state.volumeId, operationId: command.operationId, sizeBytes: command.outcome.sizeBytes, completedAt: command.now } }]
          : [{ type: 'VolumeSnapshotCreationFailed', data: { snapshotId: state.snapshotId, volumeId: state.volumeId, operationId: command.operationId, error: command.outcome.error, failedAt: command.now } }];

      case 'RevertSnapshot': {
        const snapshot = existing(state);
        if (snapshot.status === 'Reverting' && snapshot.operationId === command.operationId) return [];
        if (snapshot.status !== 'Ready') throw notReady(snapshot.snapshotId, snapshot.status);
        const { disk } = command;
        usableDisk(disk, 'revert it');
        if (disk.vmInstanceId && disk.vmState !== stoppedState) {
          throw new DomainError('VM_NOT_STOPPED', `VM ${disk.vmInstanceId} is ${disk.vmState ?? 'not stopped'}: stop it before reverting its volume to a snapshot`, 'conflict', {
            vmInstanceId: disk.vmInstanceId,
            vmState: disk.vmState,
          });
        }
        return [{
          type: 'VolumeSnapshotRevertStarted',
          data: {
            snapshotId: snapshot.snapshotId,
            volumeId: snapshot.volumeId,
            operationId: command.operationId,
            hostId: disk.hostId,
            vmInstanceId: disk.vmInstanceId ?? null,
            startedAt: command.now,
          },
        }];
      }

      case 'CompleteRevert':
        if (state.status !== 'Reverting' || state.operationId !== command.operationId) return [];
        return command.outcome.ok
          ? [{ type: 'VolumeSnapshotReverted', data: { snapshotId: state.snapshotId, volumeId: state.volumeId, operationId: command.operationId, revertedAt: command.now } }]
          : [{ type: 'VolumeSnapshotRevertFailed', data: { snapshotId: state.snapshotId, volumeId: state.volumeId, operationId: command.operationId, error: command.outcome.error, failedAt: command.now } }];

      case 'DeleteSnapshot': {
        // Deleting what is deleted, or being deleted, is done already.
        if (state.status === 'Deleted' || state.status === 'Deleting') return [];
        const snapshot = existing(state);
        if (snapshot.status !== 'Ready') throw notReady(snapshot.snapshotId, snapshot.status);
        const { disk } = command;
        if (!disk || disk.status === 'Expunged') {
          return [{ type: 'VolumeSnapshotDeleted', data: { snapshotId: snapshot.snapshotId, volumeId: snapshot.volumeId, reason: 'VolumeExpunged', deletedAt: command.now } }];
        }
        if (disk.status === 'Creating' || disk.status === 'Busy') throw new DomainError('VOLUME_BUSY', `volume ${disk.volumeId} is busy; try again when its current operation has finished`);
        if (!disk.hostId) throw new DomainError('VOLUME_NOT_INSTANTIATED', `volume ${disk.volumeId} is on no host`);
        return [{
          type: 'VolumeSnapshotDeletionStarted',
          data: { snapshotId: snapshot.snapshotId, volumeId: snapshot.volumeId, operationId: command.operationId, hostId: disk.hostId, startedAt: command.now },
        }];
      }

      case 'CompleteDeletion':
        if (state.status !== 'Deleting' || state.operationId !== command.operationId) return [];
        return command.outcome.ok
          ? [{ type: 'VolumeSnapshotDeleted', data: { snapshotId: state.snapshotId, volumeId: state.volumeId, reason: 'Requested', deletedAt: command.now } }]
          : [{ type: 'VolumeSnapshotDeletionFailed', data: { snapshotId: state.snapshotId, volumeId: state.volumeId, operationId: command.operationId, error: command.outcome.error, failedAt: command.now } }];

      case 'DiscardSnapshot':
        if (state.status === 'None' || state.status === 'Deleted' || state.status === 'Failed') return [];
        return [{ type: 'VolumeSnapshotDeleted', data: { snapshotId: state.snapshotId, volumeId: state.volumeId, reason: command.reason, deletedAt: command.now } }];
    }
  },

  evolve(state, event) {
    if (event.type === 'VolumeSnapshotCreationStarted') {
      return {
        status: 'Creating',
        snapshotId: event.data.snapshotId,
        volumeId: event.data.volumeId,
        volumeType: event.data.volumeType,
        vmInstanceId: event.data.vmInstanceId,
        operationId: event.data.operationId,
      };
    }
    if (state.status === 'None') return state;
    switch (event.type) {
      case 'VolumeSnapshotCreated':
      case 'VolumeSnapshotReverted':
      case 'VolumeSnapshotRevertFailed':
      case 'VolumeSnapshotDeletionFailed':
        return { ...state, status: 'Ready', operationId: null };
      case 'VolumeSnapshotCreationFailed':
        return { ...state, status: 'Failed', operationId: null };
      case 'VolumeSnapshotRevertStarted':
        return { ...state, status: 'Reverting', operationId: event.data.operationId };
      case 'VolumeSnapshotDeletionStarted':
        return { ...state, status: 'Deleting', operationId: event.data.operationId };
      case 'VolumeSnapshotDeleted':
        return { ...state, status: 'Deleted', operationId: null };
    }
    return state;
  },
};

function notReady(snapshotId: string, status: SnapshotStatus): DomainError {
  return new DomainError('SNAPSHOT_NOT_READY', `volume snapshot ${snapshotId} is ${status}; try again when that has finished`);
}
