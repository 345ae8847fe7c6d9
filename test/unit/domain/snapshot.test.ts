import { describe, it } from 'vitest';
import { volumeSnapshotDecider, type DiskFacts, type VolumeSnapshotEvent } from '../../../domain/compute/volume-snapshot.js';
import { scenario } from '../../support/given-when-then.js';

const snapshot = scenario(volumeSnapshotDecider);
const error = { code: 'INJECTED_FAULT', message: 'boom' };

const dataDisk: DiskFacts = { volumeId: 'v1', type: 'Data', status: 'Ready', hostId: 'h1', primaryStorageId: 'ps1', vmInstanceId: 'vm1', vmState: 'Running' };
const rootDisk: DiskFacts = { volumeId: 'r1', type: 'Root', status: 'Ready', hostId: 'h1', primaryStorageId: 'ps1', vmInstanceId: 'vm1', vmState: 'Running' };
const started: VolumeSnapshotEvent = {
  type: 'VolumeSnapshotCreationStarted',
  data: { snapshotId: 's1', name: 'before upgrade', description: '', volumeId: 'v1', volumeType: 'Data', vmInstanceId: 'vm1', hostId: 'h1', primaryStorageId: 'ps1', operationId: 'o1', createdAt: 1000 },
};
const created: VolumeSnapshotEvent = { type: 'VolumeSnapshotCreated', data: { snapshotId: 's1', volumeId: 'v1', operationId: 'o1', sizeBytes: 4096, completedAt: 1100 } };
const ready = [started, created];
const stopped: DiskFacts = { ...dataDisk, vmState: 'Stopped' };
const revertStarted: VolumeSnapshotEvent = {
  type: 'VolumeSnapshotRevertStarted',
  data: { snapshotId: 's1', volumeId: 'v1', operationId: 'o2', hostId: 'h1', vmInstanceId: 'vm1', startedAt: 2000 },
};
const deletionStarted: VolumeSnapshotEvent = {
  type: 'VolumeSnapshotDeletionStarted',
  data: { snapshotId: 's1', volumeId: 'v1', operationId: 'o3', hostId: 'h1', startedAt: 3000 },
};
const create = (disk: DiskFacts | undefined) => ({ type: 'CreateSnapshot', snapshotId: 's1', name: 'before upgrade', disk, operationId: 'o1', now: 1000 }) as const;
const revert = (disk: DiskFacts | undefined) => ({ type: 'RevertSnapshot', operationId: 'o2', disk, now: 2000 }) as const;
const remove = (disk: DiskFacts | undefined) => ({ type: 'DeleteSnapshot', operationId: 'o3', disk, now: 3000 }) as const;

describe('volume snapshot decider: create', () => {
  it('snapshots a data volume, even under a running VM (a live snapshot)', () => {
    snapshot.given().when(create(dataDisk)).then([started]);
  });

  it('snapshots a root volume, named by its VM', () => {
    snapshot.given().when(create(rootDisk)).then([{
      type: 'VolumeSnapshotCreationStarted',
      data: { ...started.data, volumeId: 'r1', volumeType: 'Root' },
    } as VolumeSnapshotEvent]);
  });

  it('becomes Ready when the host has taken it, or Failed when it could not', () => {
    snapshot.given(started).when({ type: 'CompleteCreation', operationId: 'o1', outcome: { ok: true, sizeBytes: 4096 }, now: 1100 }).then([created]);
    snapshot.given(started).when({ type: 'CompleteCreation', operationId: 'o1', outcome: { ok: false, error }, now: 1100 })
      .then([{ type: 'VolumeSnapshotCreationFailed', data: { snapshotId: 's1', volumeId: 'v1', operationId: 'o1', error, failedAt: 1100 } }]);
    snapshot.given(...ready).when({ type: 'CompleteCreation', operationId: 'o1', outcome: { ok: true, sizeBytes: 1 }, now: 1200 }).then([]);
  });

  it('refuses: an existing snapshot id, an unknown, destroyed, uninstantiated or busy volume', () => {
    snapshot.given(started).when(create(dataDisk)).thenFails('SNAPSHOT_EXISTS');
    snapshot.given().when(create(undefined)).thenFails('VOLUME_NOT_FOUND');
    snapshot.given().when(create({ ...dataDisk, status: 'Expunged' })).thenFails('VOLUME_NOT_FOUND');
    snapshot.given().when(create({ ...dataDisk, status: 'Destroyed' })).thenFails('VOLUME_DESTROYED');
    snapshot.given().when(create({ volumeId: 'v1', type: 'Data', status: 'NotInstantiated' })).thenFails('VOLUME_NOT_INSTANTIATED');
    snapshot.given().when(create({ ...dataDisk, status: 'Busy' })).thenFails('VOLUME_BUSY');
    snapshot.given().when(create({ ...dataDisk, status: 'Creating' })).thenFails('VOLUME_BUSY');
  });
});

describe('volume snapshot decider: revert', () => {
  it('reverts while the VM owning the volume is stopped', () => {
    snapshot.given(...ready).when(revert(stopped)).then([revertStarted]);
    snapshot.given(...ready, revertStarted).when({ type: 'CompleteRevert', operationId: 'o2', outcome: { ok: true }, now: 2100 })
      .then([{ type: 'VolumeSnapshotReverted', data: { snapshotId: 's1', volumeId: 'v1', operationId: 'o2', revertedAt: 2100 } }]);
  });

  it('reverts a detached data volume: no VM uses it', () => {
    snapshot.given(...ready).when(revert({ volumeId: 'v1', type: 'Data', status: 'Ready', hostId: 'h1', primaryStorageId: 'ps1' }))
      .then([{ ...revertStarted, data: { ...revertStarted.data, vmInstanceId: null } } as VolumeSnapshotEvent]);
  });

  it('refuses to revert the snapshot of a running (or paused, or starting) VM: VM_NOT_STOPPED', () => {
    snapshot.given(...ready).when(revert(dataDisk)).thenFails('VM_NOT_STOPPED');
    snapshot.given(...ready).when(revert({ ...rootDisk, vmState: 'Paused' })).thenFails('VM_NOT_STOPPED');
    snapshot.given(...ready).when(revert({ ...dataDisk, vmState: 'Starting' })).thenFails('VM_NOT_STOPPED');
  });

  it('stays Ready when the host fails to revert', () => {
    snapshot.given(...ready, revertStarted).when({ type: 'CompleteRevert', operationId: 'o2', outcome: { ok: false, error }, now: 2100 })
      .then([{ type: 'VolumeSnapshotRevertFailed', data: { snapshotId: 's1', volumeId: 'v1', operationId: 'o2', error, failedAt: 2100 } }]);
  });

  it('refuses: a snapshot still being taken or reverted, a failed, deleted or unknown one, a destroyed volume', () => {
    snapshot.given(started).when(revert(stopped)).thenFails('SNAPSHOT_NOT_READY');
    snapshot.given(...ready, revertStarted).when({ ...revert(stopped), operationId: 'o9' }).thenFails('SNAPSHOT_NOT_READY');
    snapshot.given(started, { type: 'VolumeSnapshotCreationFailed', data: { snapshotId: 's1', volumeId: 'v1', operationId: 'o1', error, failedAt: 1 } })
      .when(revert(stopped)).thenFails('SNAPSHOT_NOT_FOUND');
    snapshot.given(...ready, { type: 'VolumeSnapshotDeleted', data: { snapshotId: 's1', volumeId: 'v1', reason: 'Requested', deletedAt: 1 } })
      .when(revert(stopped)).thenFails('SNAPSHOT_NOT_FOUND');
    snapshot.given().when(revert(stopped)).thenFails('SNAPSHOT_NOT_FOUND');
    snapshot.given(...ready).when(revert({ ...stopped, status: 'Destroyed' })).thenFails('VOLUME_DESTROYED');
  });
});

describe('volume snapshot decider: delete', () => {
  it('deletes on the host that reaches the volume', () => {
    snapshot.given(...ready).when(remove(dataDisk)).then([deletionStarted]);
    snapshot.given(...ready, deletionStarted).when({ type: 'CompleteDeletion', operationId: 'o3', outcome: { ok: true }, now: 3100 })
      .then([{ type: 'VolumeSnapshotDeleted', data: { snapshotId: 's1', volumeId: 'v1', reason: 'Requested', deletedAt: 3100 } }]);
  });

  it('keeps the snapshot when the host fails to delete it', () => {
    snapshot.given(...ready, deletionStarted).when({ type: 'CompleteDeletion', operationId: 'o3', outcome: { ok: false, error }, now: 3100 })
      .then([{ type: 'VolumeSnapshotDeletionFailed', data: { snapshotId: 's1', volumeId: 'v1', operationId: 'o3', error, failedAt: 3100 } }]);
  });

  it('deletes without a host operation when the volume is gone', () => {
    snapshot.given(...ready).when(remove(undefined))
      .then([{ type: 'VolumeSnapshotDeleted', data: { snapshotId: 's1', volumeId: 'v1', reason: 'VolumeExpunged', deletedAt: 3000 } }]);
  });

  it('is idempotent, and refuses while the snapshot is being taken or reverted', () => {
    snapshot.given(...ready, deletionStarted).when(remove(dataDisk)).then([]);
    snapshot.given(...ready, deletionStarted, { type: 'VolumeSnapshotDeleted', data: { snapshotId: 's1', volumeId: 'v1', reason: 'Requested', deletedAt: 1 } })
      .when(remove(dataDisk)).then([]);
    snapshot.given(started).when(remove(dataDisk)).thenFails('SNAPSHOT_NOT_READY');
    snapshot.given(...ready, revertStarted).when(remove(dataDisk)).thenFails('SNAPSHOT_NOT_READY');
    snapshot.given().when(remove(dataDisk)).thenFails('SNAPSHOT_NOT_FOUND');
    snapshot.given(...ready).when(remove({ ...dataDisk, status: 'Busy' })).thenFails('VOLUME_BUSY');
  });

  it('goes with its volume when the volume (or the VM of a root volume) is expunged', () => {
    snapshot.given(...ready).when({ type: 'DiscardSnapshot', reason: 'VolumeExpunged', now: 4000 })
      .then([{ type: 'VolumeSnapshotDeleted', data: { snapshotId: 's1', volumeId: 'v1', reason: 'VolumeExpunged', deletedAt: 4000 } }]);
    snapshot.given(...ready, revertStarted).when({ type: 'DiscardSnapshot', reason: 'VmExpunged', now: 4000 })
      .then([{ type: 'VolumeSnapshotDeleted', data: { snapshotId: 's1', volumeId: 'v1', reason: 'VmExpunged', deletedAt: 4000 } }]);
    snapshot.given(...ready, { type: 'VolumeSnapshotDeleted', data: { snapshotId: 's1', volumeId: 'v1', reason: 'Requested', deletedAt: 1 } })
      .when({ type: 'DiscardSnapshot', reason: 'VolumeExpunged', now: 4000 }).then([]);
  });
});
