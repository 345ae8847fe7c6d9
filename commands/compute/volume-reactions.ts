import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import { vmStream, type VmEvent } from '../../domain/compute/vm.js';
import { vmGoneStates, volumeDecider, volumeStream, type VolumeEvent } from '../../domain/compute/volume.js';
import { DomainError } from '../../domain/shared/errors.js';
import { handleCommand } from '../shared/handle-command.js';
import { idFromName } from '../shared/ids.js';
import { systemActor } from '../shared/request-context.js';
import type { Tasks } from '../tasks/tasks.js';
import { discardSnapshotsOf } from './snapshot-discard.js';
import { attachVolume, awaitAttachment, releaseDevice, releaseVolumesOfVm, reserveInstantiationCapacity } from './volume-attach.js';
import { createVolume } from './volume-create.js';
import { deleteVolume } from './volume-delete.js';
import { vmAggregates } from './vm-store.js';
import { loadVm, loadVolume } from './volume-facts.js';

// The volume process manager's reactions (DESIGN.md §3): events of VMs and volumes turned
// into volume commands. Each is idempotent — ids are derived from the causing event, and
// every command accepts being repeated — because a restart delivers events again.
//
// - VmInstanceCreated with dataDiskOfferingIds: create one volume per offering;
// - VmDefined: attach those of them never attached yet (the host knows the VM only now);
// - VmInstanceDestroyed: let the VM's data volumes go (detached, kept: deleteOnVmDestroy=false);
// - VmProvisioningRolledBack into Error (the VM's creation failed): let its volumes go and
//   expunge the ones made for it, which no one has seen;
// - VmInstanceExpunged: the root volume's snapshots went with it;
// - VolumeInstantiationRequested: reserve the bytes (again, should the attach have been cut short);
// - VolumeAttachRequested for a VM that is gone meanwhile: let the volume go;
// - the end of an attachment (detached, failed): give its guest device back.

export const volumeReactionTypes: readonly string[] = [
  'VmInstanceCreated', 'VmDefined', 'VmInstanceDestroyed', 'VmProvisioningRolledBack', 'VmInstanceExpunged',
  'VolumeInstantiationRequested', 'VolumeAttachRequested', 'VolumeAttachFailed', 'VolumeDetached', 'VolumeInstantiationFailed',
  'VolumeInstantiated',
];

type Deps = { store: EventStore; clock: Clock };

/** Records an operation's outcome as a system task, so that the audit log shows it. */
export type AuditTasks = Pick<Tasks, 'start'>;

/**
 * The data volumes a VM's creation asked for, by index. The id is derived from the VM (whose
 * VmInstanceCreated event is its one creation), so that a repeat creates nothing new and a
 * later event of the VM finds them.
 */
export const dataVolumeIdFor = (vmId: string, index: number) => idFromName(`vm-data-volume:${vmId}:${index}`);

export async function reactToVolumeEvent(deps: Deps & { tasks?: AuditTasks }, recorded: RecordedEvent): Promise<void> {
  const metadata: EventMetadata = {
    actor: systemActor,
    correlationId: recorded.metadata.correlationId ?? recorded.id,
    causationId: recorded.id,
    commandId: idFromName(`volume-reaction:${recorded.id}`),
    schemaVersion: 1,
  };
  const event = recorded as unknown as (VmEvent | VolumeEvent) & RecordedEvent;
  switch (event.type) {
    case 'VmInstanceCreated': {
      const { vmId, name, dataDiskOfferingIds, projectId } = event.data;
      for (const [index, diskOfferingId] of dataDiskOfferingIds.entries()) {
        // In a project, the volume is the project's; its quota was reserved with the VM (vm-commands.ts).
        await refusalIgnored(createVolume(deps, {
          volumeId: dataVolumeIdFor(vmId, index),
          name: `DATA-${index + 1}-for-${name}`,
          diskOfferingId,
          createdForVmInstanceId: vmId,
          ...(projectId !== undefined ? { projectId } : {}),
        }, metadata), 'VOLUME_EXISTS');
      }
      return;
    }
    case 'VmDefined': {
      for (const volumeId of await dataVolumesCreatedFor(deps.store, event.data.vmId)) {
        const { state } = await loadVolume(deps.store, volumeId);
        if (state.status !== 'NotInstantiated' || state.attachment) continue;
        const attachmentId = idFromName(`vm-data-volume-attach:${recorded.id}:${volumeId}`);
        const asked = await refusalIgnored(attachVolume(deps, volumeId, event.data.vmId, metadata, { attachmentId }));
        // The attach goes on through the host; a system task follows it to its outcome for the audit log.
        if (asked && deps.tasks) {
          await deps.tasks.start(
            { actor: systemActor, correlationId: metadata.correlationId ?? recorded.id },
            { action: 'AttachVolume', resourceType: 'volume', resourceIds: [volumeId], request: { id: volumeId, vmInstanceId: event.data.vmId, reason: 'dataDiskOfferingIds' } },
            async () => ({ result: { volumeId, vmInstanceId: event.data.vmId, ...(await awaitAttachment(deps.store, volumeId, asked.attachmentId)) } }),
          );
        }
      }
      return;
    }
    case 'VmInstanceDestroyed':
      await releaseVolumesOfVm(deps, event.data.vmId, 'VmDestroyed', metadata);
      return;
    case 'VmProvisioningRolledBack': {
      const vm = await loadVm(deps.store, event.data.vmId);
      if (vm?.state !== 'Error') return;
      await releaseVolumesOfVm(deps, event.data.vmId, 'VmCreationFailed', metadata);
      for (const volumeId of await dataVolumesCreatedFor(deps.store, event.data.vmId)) await expungeIfOrphan(deps, volumeId, metadata);
      return;
    }
    case 'VmInstanceExpunged': {
      const { state } = await vmAggregates.load(deps.store, vmStream(event.data.vmId));
      if (state.exists) await discardSnapshotsOf(deps, state.rootVolume.volumeId, 'VmExpunged', metadata);
      return;
    }
    case 'VolumeInstantiationRequested':
      await reserveInstantiationCapacity(deps, event.data.volumeId, event.data.operationId, metadata);
      return;
    case 'VolumeAttachRequested': {
      const vm = await loadVm(deps.store, event.data.vmInstanceId);
      if (!vm || (vmGoneStates.includes(vm.state) && vm.state !== 'Destroying')) {
        await handleCommand(deps.store, volumeDecider, volumeStream(event.data.volumeId), {
          type: 'ReleaseFromVm', vmInstanceId: event.data.vmInstanceId, reason: 'VmDestroyed', now: deps.clock.now(),
        }, metadata);
      }
      return;
    }
    case 'VolumeAttachFailed':
    case 'VolumeDetached':
      await releaseDevice(deps.store, event.data.vmInstanceId, event.data.volumeId, event.data.attachmentId, metadata);
      await expungeIfOrphan(deps, event.data.volumeId, metadata);
      return;
    case 'VolumeInstantiationFailed':
      if (event.data.vmInstanceId && event.data.attachmentId) {
        await releaseDevice(deps.store, event.data.vmInstanceId, event.data.volumeId, event.data.attachmentId, metadata);
      }
      await expungeIfOrphan(deps, event.data.volumeId, metadata);
      return;
    case 'VolumeInstantiated':
      await expungeIfOrphan(deps, event.data.volumeId, metadata);
      return;
    default:
      return;
  }
}

/** The data volumes created for a VM by its dataDiskOfferingIds. */
async function dataVolumesCreatedFor(store: EventStore, vmId: string): Promise<string[]> {
  const { state } = await vmAggregates.load(store, vmStream(vmId));
  return state.exists ? state.dataDiskOfferingIds.map((_, index) => dataVolumeIdFor(vmId, index)) : [];
}

/**
 * A volume made for a VM whose creation failed belongs to no one: once it is idle (its own
 * instantiation or attach may still be under way when the VM fails) it is expunged
 * directly, whatever the deletion policy — no one ever saw it.
 */
async function expungeIfOrphan(deps: Deps, volumeId: string, metadata: EventMetadata) {
  const { state } = await loadVolume(deps.store, volumeId);
  if (state.status !== 'NotInstantiated' && state.status !== 'Ready') return;
  if (!state.createdForVmInstanceId || state.attachment) return;
  const vm = await loadVm(deps.store, state.createdForVmInstanceId);
  if (vm?.state !== 'Error') return;
  await refusalIgnored(deleteVolume(deps, volumeId, metadata, { policy: 'Direct', wait: false }));
}

/** Runs a command whose refusal means there is nothing to do (already done, or overtaken). */
async function refusalIgnored<T>(work: Promise<T>, ...codes: string[]): Promise<T | undefined> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof DomainError && (codes.length === 0 || codes.includes(error.code))) return undefined;
    throw error;
  }
}
