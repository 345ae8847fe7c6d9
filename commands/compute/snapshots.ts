import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import {
  volumeSnapshotDecider,
  volumeSnapshotStream,
  type DiskFacts,
  type VolumeSnapshotEvent,
  type VolumeSnapshotState,
} from '../../domain/compute/volume-snapshot.js';
import { DomainError } from '../../domain/shared/errors.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';
import { newId } from '../shared/ids.js';
import { indexSnapshot } from './snapshot-discard.js';
import { dataDiskFactsOf, loadVm, loadVolume, rootDiskFactsOf } from './volume-facts.js';
import { awaitOutcome, operationFailed } from './volume-outcome.js';
import { snapshotAmounts, snapshotQuotaKey, withQuota } from '../tenancy/quota.js';

// Volume snapshots: take, revert, delete. Each is decided on the disk's facts (its host, its
// state, the state of the VM using it) read from the disk's owner — the volume stream for a
// data volume, the VM stream for a root volume — then done on the host (effects) and
// recorded in the snapshot's stream. A root volume is named either by its VM
// (`vmInstanceId`) or by its id (as GET /v1/volumes lists it, type Root).

type Deps = { store: EventStore; clock: Clock; readStore: ReadStore };

export interface SnapshotRequest {
  name: string;
  description?: string;
  volumeId?: string;
  vmInstanceId?: string;
  /** The project (tenancy) the snapshot is taken in: its snapshot quota is reserved first. */
  projectId?: string;
}

export interface SnapshotOutcome {
  id: string;
  volumeId: string;
  state: string;
  position: number;
}

/** The facts about the disk a snapshot request names; undefined when there is no such disk. */
async function diskNamed(deps: Deps, request: { volumeId?: string; vmInstanceId?: string }): Promise<DiskFacts | undefined> {
  if (request.vmInstanceId !== undefined) {
    const vm = await loadVm(deps.store, request.vmInstanceId);
    if (!vm) throw new DomainError('VM_NOT_FOUND', `no VM ${request.vmInstanceId}`, 'not_found', { fields: [{ field: 'vmInstanceId', message: 'no such VM' }] });
    if (request.volumeId !== undefined && request.volumeId !== vm.rootVolume.volumeId) {
      throw new DomainError('INVALID_SNAPSHOT_REQUEST', 'volumeId is not the root volume of vmInstanceId', 'invalid', {
        fields: [{ field: 'volumeId', message: 'give volumeId or vmInstanceId (for its root volume), not both' }],
      });
    }
    return rootDiskFactsOf(vm);
  }
  return diskOfVolume(deps, request.volumeId!, 'Data');
}

/** A disk by volume id: a data volume from its stream, a root volume through its VM. */
async function diskOfVolume(deps: Deps, volumeId: string, hint: 'Root' | 'Data', vmInstanceId?: string | null): Promise<DiskFacts | undefined> {
  if (hint === 'Data') {
    const { state } = await loadVolume(deps.store, volumeId);
    if (state.status !== 'None') return dataDiskFactsOf(deps.store, state);
    // Not a data volume: perhaps a root volume, whose VM the volume list knows.
    const listed = await deps.readStore.get('volumes', volumeId);
    if (listed?.type !== 'Root' || typeof listed.vmInstanceId !== 'string') return undefined;
    vmInstanceId = listed.vmInstanceId;
  }
  if (!vmInstanceId) return undefined;
  const vm = await loadVm(deps.store, vmInstanceId);
  return vm && vm.rootVolume.volumeId === volumeId ? rootDiskFactsOf(vm) : undefined;
}

async function diskOfSnapshot(deps: Deps, snapshot: Exclude<VolumeSnapshotState, { status: 'None' }>): Promise<DiskFacts | undefined> {
  return diskOfVolume(deps, snapshot.volumeId, snapshot.volumeType, snapshot.vmInstanceId);
}

async function loadSnapshot(store: EventStore, snapshotId: string) {
  return loadAggregate(store, volumeSnapshotDecider, volumeSnapshotStream(snapshotId));
}

export async function createSnapshot(deps: Deps, request: SnapshotRequest, metadata: EventMetadata, options: { wait?: boolean } = {}): Promise<SnapshotOutcome> {
  const disk = await diskNamed(deps, request);
  const snapshotId = newId();
  const command = {
    type: 'CreateSnapshot' as const, snapshotId, name: request.name, disk, operationId: newId(), now: deps.clock.now(),
    ...(request.description !== undefined ? { description: request.description } : {}),
  };
  // Refusals first: the index records only snapshots that are taken.
  volumeSnapshotDecider.decide(command, volumeSnapshotDecider.initialState);
  // Tenancy: the snapshot's events record its project; it takes one of the project's snapshots first.
  const recordedWith = request.projectId ? { ...metadata, projectId: request.projectId } : metadata;
  const outcome = await withQuota(deps.store, request.projectId, snapshotQuotaKey(snapshotId), snapshotAmounts, recordedWith, async () => {
    await indexSnapshot(deps.store, disk!.volumeId, snapshotId, recordedWith);
    return handleCommand(deps.store, volumeSnapshotDecider, volumeSnapshotStream(snapshotId), command, recordedWith);
  });
  const result: SnapshotOutcome = { id: snapshotId, volumeId: disk!.volumeId, state: 'Creating', position: outcome.position };
  if (!options.wait) return result;
  return {
    ...result,
    ...(await awaitOutcome(deps.store, volumeSnapshotStream(snapshotId), outcome.version, (recorded: RecordedEvent) => {
      const event = recorded as unknown as VolumeSnapshotEvent;
      if (event.type === 'VolumeSnapshotCreated') return { state: 'Ready', sizeBytes: event.data.sizeBytes, position: recorded.position };
      if (event.type === 'VolumeSnapshotCreationFailed') throw operationFailed(event.data.error);
      return undefined;
    })),
  };
}

export async function revertSnapshot(deps: Deps, snapshotId: string, metadata: EventMetadata, options: { wait?: boolean } = {}): Promise<SnapshotOutcome> {
  const { state } = await loadSnapshot(deps.store, snapshotId);
  const disk = state.status === 'None' ? undefined : await diskOfSnapshot(deps, state);
  const operationId = newId();
  const outcome = await handleCommand(deps.store, volumeSnapshotDecider, volumeSnapshotStream(snapshotId), { type: 'RevertSnapshot', operationId, disk, now: deps.clock.now() }, metadata);
  const volumeId = state.status === 'None' ? '' : state.volumeId;
  const result: SnapshotOutcome = { id: snapshotId, volumeId, state: 'Reverting', position: outcome.position };
  if (!options.wait) return result;
  return {
    ...result,
    ...(await awaitOutcome(deps.store, volumeSnapshotStream(snapshotId), outcome.version, (recorded: RecordedEvent) => {
      const event = recorded as unknown as VolumeSnapshotEvent;
      if (event.type === 'VolumeSnapshotReverted' && event.data.operationId === operationId) return { state: 'Ready', position: recorded.position };
      if (event.type === 'VolumeSnapshotRevertFailed' && event.data.operationId === operationId) throw operationFailed(event.data.error);
      return undefined;
    })),
  };
}

export async function deleteSnapshot(deps: Deps, snapshotId: string, metadata: EventMetadata, options: { wait?: boolean } = {}): Promise<SnapshotOutcome> {
  const { state } = await loadSnapshot(deps.store, snapshotId);
  const disk = state.status === 'None' ? undefined : await diskOfSnapshot(deps, state);
  const outcome = await handleCommand(deps.store, volumeSnapshotDecider, volumeSnapshotStream(snapshotId), { type: 'DeleteSnapshot', operationId: newId(), disk, now: deps.clock.now() }, metadata);
  const after = outcome.state;
  const volumeId = after.status === 'None' ? '' : after.volumeId;
  const result: SnapshotOutcome = { id: snapshotId, volumeId, state: after.status, position: outcome.position };
  if (!options.wait || after.status === 'Deleted' || after.status === 'None') return result;
  const deletionId = after.operationId;
  return {
    ...result,
    ...(await awaitOutcome(deps.store, volumeSnapshotStream(snapshotId), Math.max(0, outcome.version), (recorded: RecordedEvent) => {
      const event = recorded as unknown as VolumeSnapshotEvent;
      if (event.type === 'VolumeSnapshotDeleted') return { state: 'Deleted', position: recorded.position };
      if (event.type === 'VolumeSnapshotDeletionFailed' && event.data.operationId === deletionId) throw operationFailed(event.data.error);
      return undefined;
    })),
  };
}

/** Records the host's answer to a snapshot operation (called by the effect routes). */
export async function completeSnapshotOperation(
  deps: { store: EventStore; clock: Clock },
  snapshotId: string,
  command:
    | { type: 'CompleteCreation'; operationId: string; outcome: { ok: true; sizeBytes: number } | { ok: false; error: { code: string; message: string } } }
    | { type: 'CompleteRevert' | 'CompleteDeletion'; operationId: string; outcome: { ok: true } | { ok: false; error: { code: string; message: string } } },
  metadata: EventMetadata,
) {
  await handleCommand(deps.store, volumeSnapshotDecider, volumeSnapshotStream(snapshotId), { ...command, now: deps.clock.now() } as Parameters<typeof volumeSnapshotDecider.decide>[0], metadata);
}
