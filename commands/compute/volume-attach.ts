import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import { volumeDecider, volumeStream, type DetachReason, type VolumeEvent, type VolumeState } from '../../domain/compute/volume.js';
import { volumeDevicesDecider, volumeDevicesStream } from '../../domain/compute/volume-devices.js';
import { DomainError } from '../../domain/shared/errors.js';
import { releasePrimaryStorage, reservePrimaryStorage } from './primary-storage-capacity.js';
import { loadVolume, readVmFacts } from './volume-facts.js';
import { awaitOutcome, operationFailed } from './volume-outcome.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';
import { newId } from '../shared/ids.js';

// Attaching and detaching data volumes. An attach takes three reservations, each in the
// stream that owns it: a guest device in the VM's device stream, the volume itself (its
// attachment), and — the first time — the volume's bytes in its primary storage. Then the
// host is asked (effects: volume.create, volume.attach), and the volume stream records
// the answer. Every step is idempotent, so the process manager can repeat any of them.

type Deps = { store: EventStore; clock: Clock };

export interface AttachOutcome {
  volumeId: string;
  vmInstanceId: string;
  attachmentId: string;
  device: string;
  state: 'Attached' | 'Attaching';
  position: number;
}

export async function attachVolume(
  deps: Deps,
  volumeId: string,
  vmInstanceId: string,
  metadata: EventMetadata,
  options: { attachmentId?: string; wait?: boolean } = {},
): Promise<AttachOutcome> {
  const { store, clock } = deps;
  const vm = await readVmFacts(store, vmInstanceId);
  const attachmentId = options.attachmentId ?? newId();
  const command = { type: 'AttachVolume' as const, vmInstanceId, vm, attachmentId, now: clock.now() };
  // Ask the decider before reserving anything: a refusal costs no device.
  const before = await loadVolume(store, volumeId);
  const preview = volumeDecider.decide({ ...command, device: 'vdb' }, before.state);
  if (preview.length === 0) return following(deps, before.state, before.version, options.wait);

  const device = await reserveDevice(store, vmInstanceId, volumeId, attachmentId, metadata);
  let outcome;
  try {
    outcome = await handleCommand(store, volumeDecider, volumeStream(volumeId), { ...command, device }, metadata);
  } catch (error) {
    await settleDevice(store, vmInstanceId, volumeId, attachmentId, (await loadVolume(store, volumeId)).state, metadata);
    throw error;
  }
  if (outcome.events.length === 0) {
    // Someone attached it to this VM meanwhile: that attachment keeps the device.
    await settleDevice(store, vmInstanceId, volumeId, attachmentId, outcome.state, metadata);
    return following(deps, outcome.state, outcome.version, options.wait);
  }
  if (outcome.events.some((event) => event.type === 'VolumeInstantiationRequested')) {
    await reserveInstantiationCapacity(deps, volumeId, attachmentId, metadata);
  }
  const result: AttachOutcome = { volumeId, vmInstanceId, attachmentId, device, state: 'Attaching', position: outcome.position };
  if (!options.wait) return result;
  return { ...result, ...(await attachResult(store, volumeId, outcome.version + 1, attachmentId)) };
}

/** An attach already under way (or done): report it, waiting for it if asked. */
async function following(deps: Deps, state: VolumeState, version: number, wait: boolean | undefined): Promise<AttachOutcome> {
  if (state.status === 'None' || !state.attachment) throw new DomainError('VOLUME_NOT_ATTACHED', 'the volume is not attached');
  const { attachment } = state;
  const result: AttachOutcome = {
    volumeId: state.volumeId, vmInstanceId: attachment.vmInstanceId, attachmentId: attachment.attachmentId, device: attachment.device,
    state: attachment.phase === 'Attached' ? 'Attached' : 'Attaching', position: 0,
  };
  if (!wait || result.state === 'Attached') return result;
  return { ...result, ...(await attachResult(deps.store, state.volumeId, version + 1, attachment.attachmentId)) };
}

/** Waits for the outcome of one attachment (Attached, or its failure as an error). */
export async function awaitAttachment(store: EventStore, volumeId: string, attachmentId: string, fromVersion = 0) {
  return attachResult(store, volumeId, fromVersion, attachmentId);
}

async function attachResult(store: EventStore, volumeId: string, fromVersion: number, attachmentId: string) {
  return awaitOutcome(store, volumeStream(volumeId), fromVersion, (recorded: RecordedEvent) => {
    const event = recorded as unknown as VolumeEvent;
    switch (event.type) {
      case 'VolumeAttached':
        return event.data.attachmentId === attachmentId ? { state: 'Attached' as const, position: recorded.position } : undefined;
      case 'VolumeAttachFailed':
        if (event.data.attachmentId === attachmentId) throw operationFailed(event.data.error);
        return undefined;
      case 'VolumeInstantiationFailed':
        if (event.data.attachmentId === attachmentId) throw operationFailed(event.data.error);
        return undefined;
      case 'VolumeDetached':
        if (event.data.attachmentId === attachmentId) {
          throw new DomainError('VM_DESTROYED', `VM ${event.data.vmInstanceId} went away before the volume was attached`);
        }
        return undefined;
      default:
        return undefined;
    }
  });
}

async function reserveDevice(store: EventStore, vmInstanceId: string, volumeId: string, attachmentId: string, metadata: EventMetadata): Promise<string> {
  const outcome = await handleCommand(store, volumeDevicesDecider, volumeDevicesStream(vmInstanceId), { type: 'ReserveDevice', vmInstanceId, volumeId, attachmentId }, metadata);
  return outcome.state[volumeId]!.device;
}

/**
 * After an attach that did not go through: the device goes back, unless the volume is
 * attached to this VM by another attachment, which then holds it.
 */
async function settleDevice(store: EventStore, vmInstanceId: string, volumeId: string, attachmentId: string, volume: VolumeState, metadata: EventMetadata) {
  const holder = volume.status !== 'None' && volume.attachment?.vmInstanceId === vmInstanceId ? volume.attachment.attachmentId : undefined;
  const command = holder
    ? { type: 'ReserveDevice' as const, vmInstanceId, volumeId, attachmentId: holder }
    : { type: 'ReleaseDevice' as const, vmInstanceId, volumeId, attachmentId };
  await handleCommand(store, volumeDevicesDecider, volumeDevicesStream(vmInstanceId), command, metadata);
}

/** Gives back the device an attachment held (after a detach or a failed attach). Idempotent. */
export async function releaseDevice(store: EventStore, vmInstanceId: string, volumeId: string, attachmentId: string, metadata: EventMetadata) {
  await handleCommand(store, volumeDevicesDecider, volumeDevicesStream(vmInstanceId), { type: 'ReleaseDevice', vmInstanceId, volumeId, attachmentId }, metadata);
}

/**
 * Reserves the bytes of an instantiation in its primary storage, then lets the host create
 * the volume (VolumeCapacityReserved); a refusal ends the instantiation. Idempotent: the
 * attach calls it at once, the process manager again after a crash.
 */
export async function reserveInstantiationCapacity(deps: Deps, volumeId: string, operationId: string, metadata: EventMetadata) {
  const { state } = await loadVolume(deps.store, volumeId);
  if (state.status !== 'Creating' || state.instantiationId !== operationId || state.capacityReserved || !state.primaryStorageId) return;
  try {
    await reservePrimaryStorage(deps.store, state.primaryStorageId, { volumeId, sizeBytes: state.sizeBytes }, metadata);
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    await handleCommand(deps.store, volumeDecider, volumeStream(volumeId), {
      type: 'CompleteInstantiation', operationId, outcome: { ok: false, error: { code: error.code, message: error.message } }, now: deps.clock.now(),
    }, metadata);
    return;
  }
  await handleCommand(deps.store, volumeDecider, volumeStream(volumeId), { type: 'ConfirmCapacity', operationId }, metadata);
}

/**
 * Records the host's answer to volume.create. A failure gives the reserved bytes back first,
 * then records it: if this is cut short, the repeat releases again (a no-op) and records.
 */
export async function completeInstantiation(
  deps: Deps,
  volumeId: string,
  operationId: string,
  outcome: { ok: true; path: string } | { ok: false; error: { code: string; message: string } },
  metadata: EventMetadata,
) {
  if (!outcome.ok) {
    const { state } = await loadVolume(deps.store, volumeId);
    if (state.status === 'Creating' && state.instantiationId === operationId && state.capacityReserved && state.primaryStorageId) {
      await releasePrimaryStorage(deps.store, state.primaryStorageId, volumeId, metadata);
    }
  }
  await handleCommand(deps.store, volumeDecider, volumeStream(volumeId), { type: 'CompleteInstantiation', operationId, outcome, now: deps.clock.now() }, metadata);
}

export interface DetachOutcome {
  volumeId: string;
  vmInstanceId: string;
  state: 'Detached' | 'Detaching';
  position: number;
}

export async function detachVolume(deps: Deps, volumeId: string, metadata: EventMetadata, options: { wait?: boolean } = {}): Promise<DetachOutcome> {
  const operationId = newId();
  const outcome = await handleCommand(deps.store, volumeDecider, volumeStream(volumeId), { type: 'DetachVolume', operationId, now: deps.clock.now() }, metadata);
  const attachment = outcome.state.status === 'None' ? null : outcome.state.attachment;
  if (!attachment) throw new DomainError('VOLUME_NOT_ATTACHED', `volume ${volumeId} is not attached to a VM`);
  const result: DetachOutcome = { volumeId, vmInstanceId: attachment.vmInstanceId, state: 'Detaching', position: outcome.position };
  if (!options.wait) return result;
  const fromVersion = outcome.events.length > 0 ? outcome.version + 1 : 0;
  const detachId = attachment.detachOperationId;
  return {
    ...result,
    ...(await awaitOutcome(deps.store, volumeStream(volumeId), fromVersion, (recorded: RecordedEvent) => {
      const event = recorded as unknown as VolumeEvent;
      if (event.type === 'VolumeDetached' && event.data.attachmentId === attachment.attachmentId) {
        return { state: 'Detached' as const, position: recorded.position };
      }
      if (event.type === 'VolumeDetachFailed' && event.data.operationId === detachId && recorded.version >= fromVersion) {
        throw operationFailed(event.data.error);
      }
      return undefined;
    })),
  };
}

/**
 * A VM is gone (destroyed, or its creation failed): every volume it holds is let go, without
 * asking its host, and keeps its data. The VM's device stream says which volumes these are.
 */
export async function releaseVolumesOfVm(deps: Deps, vmInstanceId: string, reason: Exclude<DetachReason, 'Requested'>, metadata: EventMetadata): Promise<string[]> {
  const { state: devices } = await loadAggregate(deps.store, volumeDevicesDecider, volumeDevicesStream(vmInstanceId));
  const released: string[] = [];
  for (const [volumeId, slot] of Object.entries(devices)) {
    await handleCommand(deps.store, volumeDecider, volumeStream(volumeId), { type: 'ReleaseFromVm', vmInstanceId, reason, now: deps.clock.now() }, metadata);
    await releaseDevice(deps.store, vmInstanceId, volumeId, slot.attachmentId, metadata);
    released.push(volumeId);
  }
  return released;
}
