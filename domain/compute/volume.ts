import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';
import { expungeAtFor, type DeletionPolicy } from './deletion-policy.js';

// A data volume (stream `volume-<id>`). Root volumes live inside the VM aggregate; this
// decider only knows data volumes.
//
// Life cycle (ZStack's VolumeStatus, simplified):
//   NotInstantiated ─attach─▶ Creating ─capacity reserved, volume.create ok─▶ Ready (on a host's primary storage)
//   Ready ⇄ attached to one VM (Attaching → Attached → Detaching), hypervisor effects in between
//   NotInstantiated | Ready ─DELETE─▶ Destroyed ─expunge─▶ Expunging ─volume.delete ok─▶ Expunged
//   Destroyed ─recover─▶ NotInstantiated | Ready (whichever it was)
//
// Decisions about other aggregates (the VM the volume is attached to) are taken on facts the
// command layer reads from them and passes in the command: the rules stay here and testable.
//
// An attached volume cannot be destroyed: the caller detaches it first (VOLUME_ATTACHED).
// Deleting a disk a running guest is writing to is never what anyone means; ZStack detaches
// silently, which turns a slip into data loss on a machine that keeps running.

export type VolumeStatus = 'NotInstantiated' | 'Creating' | 'Ready' | 'Destroyed' | 'Expunging' | 'Expunged';

export type DetachReason = 'Requested' | 'VmDestroyed' | 'VmCreationFailed';

export interface OperationError {
  code: string;
  message: string;
}

/** The VM a command is about, as its own stream shows it (undefined: no such VM). */
export interface VmFacts {
  vmInstanceId: string;
  state: string;
  /** Where the VM is placed; absent while it has never been placed. */
  hostId?: string;
  /** The primary storage of the VM's root volume: data volumes are instantiated beside it. */
  primaryStorageId?: string;
}

/** VM states from which there is no attaching: the VM is gone or going. */
export const vmGoneStates: readonly string[] = ['Destroying', 'Destroyed', 'Expunging', 'Expunged'];

export interface VolumeAttachment {
  vmInstanceId: string;
  /** Id of this attachment (the attach operation); results of other attachments are stale. */
  attachmentId: string;
  hostId: string;
  device: string;
  phase: 'Attaching' | 'Attached' | 'Detaching';
  /** Set while Detaching. */
  detachOperationId?: string;
}

export type VolumeEvent =
  | DomainEvent<'VolumeCreated', {
      volumeId: string;
      name: string;
      description: string;
      sizeBytes: number;
      diskOfferingId: string | null;
      /** The primary storage the caller asked for: the volume will be instantiated there and nowhere else. */
      primaryStorageId: string | null;
      /** The VM whose creation asked for this volume (dataDiskOfferingIds), if any. */
      createdForVmInstanceId: string | null;
      createdAt: number;
    }>
  | DomainEvent<'VolumeInstantiationRequested', {
      volumeId: string;
      operationId: string;
      hostId: string;
      primaryStorageId: string;
      sizeBytes: number;
      /** The VM this instantiation is for (attach follows). */
      vmInstanceId: string;
      requestedAt: number;
    }>
  /**
   * The volume's bytes are reserved in its primary storage's stream: only now is the host
   * asked to create it (volume.create), so that no file ever exists without its capacity.
   */
  | DomainEvent<'VolumeCapacityReserved', { volumeId: string; operationId: string; hostId: string; primaryStorageId: string; sizeBytes: number }>
  | DomainEvent<'VolumeInstantiated', {
      volumeId: string;
      operationId: string;
      hostId: string;
      primaryStorageId: string;
      path: string;
      /** The attachment that waited for this instantiation and proceeds now (null: none, or it was cancelled). */
      attachment: { attachmentId: string; vmInstanceId: string; hostId: string; device: string } | null;
      instantiatedAt: number;
    }>
  | DomainEvent<'VolumeInstantiationFailed', {
      volumeId: string;
      operationId: string;
      vmInstanceId: string | null;
      attachmentId: string | null;
      primaryStorageId: string;
      /** True when capacity had been reserved for this instantiation: it is released. */
      capacityReserved: boolean;
      error: OperationError;
      failedAt: number;
    }>
  | DomainEvent<'VolumeAttachRequested', {
      volumeId: string;
      attachmentId: string;
      vmInstanceId: string;
      hostId: string;
      device: string;
      /** Where the volume lives on the host, when known. */
      path: string | null;
      /** True when the volume is being instantiated first: its VolumeInstantiated event carries the attach on. */
      awaitsInstantiation: boolean;
      requestedAt: number;
    }>
  | DomainEvent<'VolumeAttached', { volumeId: string; attachmentId: string; vmInstanceId: string; hostId: string; device: string; attachedAt: number }>
  | DomainEvent<'VolumeAttachFailed', { volumeId: string; attachmentId: string; vmInstanceId: string; error: OperationError; failedAt: number }>
  | DomainEvent<'VolumeDetachRequested', { volumeId: string; attachmentId: string; operationId: string; vmInstanceId: string; hostId: string; requestedAt: number }>
  | DomainEvent<'VolumeDetached', { volumeId: string; attachmentId: string; vmInstanceId: string; reason: DetachReason; detachedAt: number }>
  | DomainEvent<'VolumeDetachFailed', { volumeId: string; attachmentId: string; operationId: string; vmInstanceId: string; error: OperationError; failedAt: number }>
  | DomainEvent<'VolumeDestroyed', {
      volumeId: string;
      policy: DeletionPolicy;
      destroyedAt: number;
      /** When the expunger removes it: at once for Direct, destroyedAt + period for Delay, never (null) for Never. */
      expungeAt: number | null;
    }>
  | DomainEvent<'VolumeRecovered', { volumeId: string; recoveredAt: number }>
  | DomainEvent<'VolumeExpungeStarted', {
      volumeId: string;
      operationId: string;
      /** True when there is a file on a host to delete (volume.delete); false: nothing to do there. */
      instantiated: boolean;
      hostId: string | null;
      /** Primary storage whose capacity the volume holds, released on expunge (null: none). */
      primaryStorageId: string | null;
      startedAt: number;
    }>
  | DomainEvent<'VolumeExpungeFailed', { volumeId: string; operationId: string; error: OperationError; failedAt: number }>
  | DomainEvent<'VolumeExpunged', { volumeId: string; operationId: string; primaryStorageId: string | null; expungedAt: number }>;

export type VolumeEventType = VolumeEvent['type'];

export type Outcome<R = object> = ({ ok: true } & R) | { ok: false; error: OperationError };

export type VolumeCommand =
  | {
      type: 'CreateVolume';
      volumeId: string;
      name: string;
      description?: string;
      sizeBytes: number;
      diskOfferingId?: string;
      primaryStorageId?: string;
      createdForVmInstanceId?: string;
      now: number;
    }
  | {
      type: 'AttachVolume';
      vmInstanceId: string;
      vm: VmFacts | undefined;
      /** New id for this attachment (and for the instantiation it may need). */
      attachmentId: string;
      /** Guest device reserved for the volume in the VM's device stream. */
      device: string;
      now: number;
    }
  /** The primary storage has granted the instantiation's bytes (or refused them: CompleteInstantiation with an error). */
  | { type: 'ConfirmCapacity'; operationId: string }
  | { type: 'CompleteInstantiation'; operationId: string; outcome: Outcome<{ path: string }>; now: number }
  | { type: 'CompleteAttach'; attachmentId: string; outcome: Outcome; now: number }
  | { type: 'DetachVolume'; operationId: string; now: number }
  | { type: 'CompleteDetach'; operationId: string; outcome: Outcome; now: number }
  /** The VM is gone: the attachment ends without asking its host (its domain no longer exists). */
  | { type: 'ReleaseFromVm'; vmInstanceId: string; reason: Exclude<DetachReason, 'Requested'>; now: number }
  | { type: 'DestroyVolume'; policy: DeletionPolicy; expungePeriodSeconds: number; now: number }
  | { type: 'RecoverVolume'; now: number }
  | { type: 'StartExpunge'; operationId: string; now: number }
  | { type: 'CompleteExpunge'; operationId: string; outcome: Outcome; now: number };

export type VolumeState =
  | { status: 'None' }
  | {
      status: VolumeStatus;
      volumeId: string;
      name: string;
      sizeBytes: number;
      /** The primary storage asked for at creation, if any. */
      requiredPrimaryStorageId: string | null;
      /** Where it is instantiated, or being instantiated. */
      primaryStorageId: string | null;
      /** Its bytes are reserved in primaryStorageId (from VolumeCapacityReserved until expunged or failed). */
      capacityReserved: boolean;
      instantiated: boolean;
      hostId: string | null;
      path: string | null;
      attachment: VolumeAttachment | null;
      /** The instantiation in flight (status Creating). */
      instantiationId: string | null;
      /** The expunge in flight (status Expunging). */
      expungeId: string | null;
      createdForVmInstanceId: string | null;
      policy: DeletionPolicy | null;
      destroyedAt: number | null;
      expungeAt: number | null;
    };

export type ExistingVolume = Exclude<VolumeState, { status: 'None' }>;

export const volumeStream = (volumeId: string) => `volume-${volumeId}`;

function notFound(state: VolumeState): DomainError {
  const id = state.status === 'None' ? '' : ` ${state.volumeId}`;
  return new DomainError('VOLUME_NOT_FOUND', `no volume${id}`, 'not_found');
}

/** The volume, if it exists and has not been expunged. */
function live(state: VolumeState): ExistingVolume {
  if (state.status === 'None' || state.status === 'Expunged') throw notFound(state);
  return state;
}

function notDestroyed(state: ExistingVolume, doing: string) {
  if (state.status === 'Destroyed' || state.status === 'Expunging') {
    throw new DomainError('VOLUME_DESTROYED', `volume ${state.volumeId} is destroyed: recover it before you ${doing}`);
  }
}

export const volumeDecider: Decider<VolumeCommand, VolumeState, VolumeEvent> = {
  initialState: { status: 'None' },

  decide(command, state) {
    switch (command.type) {
      case 'CreateVolume': {
        if (state.status !== 'None') throw new DomainError('VOLUME_EXISTS', `volume ${command.volumeId} already exists`);
        if (!Number.isSafeInteger(command.sizeBytes) || command.sizeBytes <= 0) {
          throw new DomainError('INVALID_VOLUME_SIZE', 'a volume size is a positive whole number of bytes', 'invalid', {
            fields: [{ field: 'sizeBytes', message: 'must be a positive integer' }],
          });
        }
        return [{
          type: 'VolumeCreated',
          data: {
            volumeId: command.volumeId,
            name: command.name,
            description: command.description ?? '',
            sizeBytes: command.sizeBytes,
            diskOfferingId: command.diskOfferingId ?? null,
            primaryStorageId: command.primaryStorageId ?? null,
            createdForVmInstanceId: command.createdForVmInstanceId ?? null,
            createdAt: command.now,
          },
        }];
      }

      case 'AttachVolume': {
        const volume = live(state);
        notDestroyed(volume, 'attach it');
        const { vm } = command;
        if (volume.attachment) {
          // Asking again for the attachment that exists (or is under way) changes nothing.
          if (volume.attachment.vmInstanceId === command.vmInstanceId && volume.attachment.phase !== 'Detaching') return [];
          if (volume.attachment.phase === 'Detaching') throw busy(volume, 'being detached');
          throw new DomainError('VOLUME_ALREADY_ATTACHED', `volume ${volume.volumeId} is attached to VM ${volume.attachment.vmInstanceId}: detach it first`, 'conflict', {
            vmInstanceId: volume.attachment.vmInstanceId,
          });
        }
        if (volume.status === 'Creating') throw busy(volume, 'being created');
        if (!vm) throw new DomainError('VM_NOT_FOUND', `no VM ${command.vmInstanceId}`, 'not_found');
        if (vmGoneStates.includes(vm.state)) throw new DomainError('VM_DESTROYED', `VM ${vm.vmInstanceId} is ${vm.state}: a volume cannot be attached to it`);
        if (!vm.hostId || !vm.primaryStorageId) {
          throw new DomainError('VM_NOT_PLACED', `VM ${vm.vmInstanceId} has no host yet: start it once, then attach volumes`);
        }
        // A volume's file is where it was created: moving it to another host is a storage
        // migration, which this build does not do (the simulator's storage is host-local too).
        if (volume.instantiated && volume.hostId !== vm.hostId) {
          throw new DomainError('VOLUME_ON_OTHER_HOST', `volume ${volume.volumeId} is on host ${volume.hostId}, VM ${vm.vmInstanceId} on ${vm.hostId}`, 'conflict', {
            volumeHostId: volume.hostId,
            vmHostId: vm.hostId,
          });
        }
        const volumeStorage = volume.instantiated ? volume.primaryStorageId : volume.requiredPrimaryStorageId;
        if (volumeStorage && volumeStorage !== vm.primaryStorageId) {
          throw new DomainError('PRIMARY_STORAGE_MISMATCH',
            `volume ${volume.volumeId} belongs on primary storage ${volumeStorage}, VM ${vm.vmInstanceId} is on ${vm.primaryStorageId}`, 'conflict', {
              volumePrimaryStorageId: volumeStorage,
              vmPrimaryStorageId: vm.primaryStorageId,
            });
        }
        if (!volume.instantiated) {
          return [{
            type: 'VolumeInstantiationRequested',
            data: {
              volumeId: volume.volumeId,
              operationId: command.attachmentId,
              hostId: vm.hostId,
              primaryStorageId: vm.primaryStorageId,
              sizeBytes: volume.sizeBytes,
              vmInstanceId: vm.vmInstanceId,
              requestedAt: command.now,
            },
          }, {
            // The attachment is recorded at once (device included) so that the volume is
            // visibly taken; its effect waits for the instantiation (VolumeInstantiated).
            type: 'VolumeAttachRequested',
            data: attachRequest(volume, vm, command, true),
          }];
        }
        return [{ type: 'VolumeAttachRequested', data: attachRequest(volume, vm, command, false) }];
      }

      case 'ConfirmCapacity': {
        if (state.status !== 'Creating' || state.instantiationId !== command.operationId || state.capacityReserved) return [];
        return [{
          type: 'VolumeCapacityReserved',
          data: {
            volumeId: state.volumeId,
            operationId: command.operationId,
            hostId: state.hostId ?? '',
            primaryStorageId: state.primaryStorageId ?? '',
            sizeBytes: state.sizeBytes,
          },
        }];
      }

      case 'CompleteInstantiation': {
        if (state.status !== 'Creating' || state.instantiationId !== command.operationId) return [];
        const attachment = state.attachment;
        if (!command.outcome.ok) {
          return [{
            type: 'VolumeInstantiationFailed',
            data: {
              volumeId: state.volumeId,
              operationId: command.operationId,
              vmInstanceId: attachment?.vmInstanceId ?? null,
              attachmentId: attachment?.attachmentId ?? null,
              primaryStorageId: state.primaryStorageId ?? '',
              capacityReserved: state.capacityReserved,
              error: command.outcome.error,
              failedAt: command.now,
            },
          }];
        }
        return [{
          type: 'VolumeInstantiated',
          data: {
            volumeId: state.volumeId,
            operationId: command.operationId,
            hostId: state.hostId ?? '',
            primaryStorageId: state.primaryStorageId ?? '',
            path: command.outcome.path,
            attachment: attachment && attachment.phase === 'Attaching'
              ? { attachmentId: attachment.attachmentId, vmInstanceId: attachment.vmInstanceId, hostId: attachment.hostId, device: attachment.device }
              : null,
            instantiatedAt: command.now,
          },
        }];
      }

      case 'CompleteAttach': {
        if (state.status === 'None' || !state.attachment) return [];
        const attachment = state.attachment;
        if (attachment.attachmentId !== command.attachmentId || attachment.phase !== 'Attaching') return [];
        return command.outcome.ok
          ? [{
              type: 'VolumeAttached',
              data: {
                volumeId: state.volumeId,
                attachmentId: attachment.attachmentId,
                vmInstanceId: attachment.vmInstanceId,
                hostId: attachment.hostId,
                device: attachment.device,
                attachedAt: command.now,
              },
            }]
          : [{
              type: 'VolumeAttachFailed',
              data: { volumeId: state.volumeId, attachmentId: attachment.attachmentId, vmInstanceId: attachment.vmInstanceId, error: command.outcome.error, failedAt: command.now },
            }];
      }

      case 'DetachVolume': {
        const volume = live(state);
        const attachment = volume.attachment;
        if (!attachment) throw new DomainError('VOLUME_NOT_ATTACHED', `volume ${volume.volumeId} is not attached to a VM`);
        if (attachment.phase === 'Detaching') return [];
        if (attachment.phase === 'Attaching') throw busy(volume, 'being attached');
        return [{
          type: 'VolumeDetachRequested',
          data: {
            volumeId: volume.volumeId,
            attachmentId: attachment.attachmentId,
            operationId: command.operationId,
            vmInstanceId: attachment.vmInstanceId,
            hostId: attachment.hostId,
            requestedAt: command.now,
          },
        }];
      }

      case 'CompleteDetach': {
        if (state.status === 'None' || !state.attachment) return [];
        const attachment = state.attachment;
        if (attachment.phase !== 'Detaching' || attachment.detachOperationId !== command.operationId) return [];
        return command.outcome.ok
          ? [{
              type: 'VolumeDetached',
              data: { volumeId: state.volumeId, attachmentId: attachment.attachmentId, vmInstanceId: attachment.vmInstanceId, reason: 'Requested', detachedAt: command.now },
            }]
          : [{
              type: 'VolumeDetachFailed',
              data: {
                volumeId: state.volumeId,
                attachmentId: attachment.attachmentId,
                operationId: command.operationId,
                vmInstanceId: attachment.vmInstanceId,
                error: command.outcome.error,
                failedAt: command.now,
              },
            }];
      }

      case 'ReleaseFromVm': {
        if (state.status === 'None' || !state.attachment || state.attachment.vmInstanceId !== command.vmInstanceId) return [];
        return [{
          type: 'VolumeDetached',
          data: {
            volumeId: state.volumeId,
            attachmentId: state.attachment.attachmentId,
            vmInstanceId: command.vmInstanceId,
            reason: command.reason,
            detachedAt: command.now,
          },
        }];
      }

      case 'DestroyVolume': {
        const volume = live(state);
        // DELETE is idempotent: a destroyed volume stays destroyed (use expunge to remove it now).
        if (volume.status === 'Destroyed' || volume.status === 'Expunging') return [];
        if (volume.attachment) {
          throw new DomainError('VOLUME_ATTACHED', `volume ${volume.volumeId} is attached to VM ${volume.attachment.vmInstanceId}: detach it before deleting it`, 'conflict', {
            vmInstanceId: volume.attachment.vmInstanceId,
          });
        }
        if (volume.status === 'Creating') throw busy(volume, 'being created');
        return [{
          type: 'VolumeDestroyed',
          data: {
            volumeId: volume.volumeId,
            policy: command.policy,
            destroyedAt: command.now,
            // Direct is due at once, so that an expunge cut short by a crash is finished by
            // the expunger on its next pass.
            expungeAt: expungeAtFor(command.policy, command.now, command.expungePeriodSeconds),
          },
        }];
      }

      case 'RecoverVolume': {
        const volume = live(state);
        if (volume.status === 'Expunging') throw new DomainError('VOLUME_EXPUNGING', `volume ${volume.volumeId} is being expunged: it cannot be recovered`, 'gone');
        if (volume.status !== 'Destroyed') throw new DomainError('VOLUME_NOT_DESTROYED', `volume ${volume.volumeId} is ${volume.status}: only a destroyed volume can be recovered`);
        if (volume.policy === 'Direct') {
          throw new DomainError('VOLUME_NOT_RECOVERABLE', `volume ${volume.volumeId} was deleted with the Direct policy: it cannot be recovered`, 'gone');
        }
        return [{ type: 'VolumeRecovered', data: { volumeId: volume.volumeId, recoveredAt: command.now } }];
      }

      case 'StartExpunge': {
        if (state.status === 'None') throw notFound(state);
        // Expunging twice is expunging once: the expunger and a user may race, a crash may repeat it.
        if (state.status === 'Expunged' || state.status === 'Expunging') return [];
        if (state.status !== 'Destroyed') {
          throw new DomainError('VOLUME_NOT_DESTROYED', `volume ${state.volumeId} is ${state.status}: delete it before expunging it`);
        }
        return [{
          type: 'VolumeExpungeStarted',
          data: {
            volumeId: state.volumeId,
            operationId: command.operationId,
            instantiated: state.instantiated,
            hostId: state.instantiated ? state.hostId : null,
            primaryStorageId: state.capacityReserved ? state.primaryStorageId : null,
            startedAt: command.now,
          },
        }];
      }

      case 'CompleteExpunge': {
        if (state.status !== 'Expunging' || state.expungeId !== command.operationId) return [];
        return command.outcome.ok
          ? [{ type: 'VolumeExpunged', data: { volumeId: state.volumeId, operationId: command.operationId, primaryStorageId: state.capacityReserved ? state.primaryStorageId : null, expungedAt: command.now } }]
          : [{ type: 'VolumeExpungeFailed', data: { volumeId: state.volumeId, operationId: command.operationId, error: command.outcome.error, failedAt: command.now } }];
      }
    }
  },

  evolve(state, event) {
    if (event.type === 'VolumeCreated') {
      return {
        status: 'NotInstantiated',
        volumeId: event.data.volumeId,
        name: event.data.name,
        sizeBytes: event.data.sizeBytes,
        requiredPrimaryStorageId: event.data.primaryStorageId,
        primaryStorageId: null,
        capacityReserved: false,
        instantiated: false,
        hostId: null,
        path: null,
        attachment: null,
        instantiationId: null,
        expungeId: null,
        createdForVmInstanceId: event.data.createdForVmInstanceId,
        policy: null,
        destroyedAt: null,
        expungeAt: null,
      };
    }
    if (state.status === 'None') return state;
    switch (event.type) {
      case 'VolumeInstantiationRequested':
        return {
          ...state,
          status: 'Creating',
          instantiationId: event.data.operationId,
          hostId: event.data.hostId,
          primaryStorageId: event.data.primaryStorageId,
        };
      case 'VolumeCapacityReserved':
        return { ...state, capacityReserved: true };
      case 'VolumeInstantiated':
        return { ...state, status: 'Ready', instantiated: true, instantiationId: null, hostId: event.data.hostId, primaryStorageId: event.data.primaryStorageId, path: event.data.path };
      case 'VolumeInstantiationFailed':
        return {
          ...state,
          status: 'NotInstantiated',
          instantiationId: null,
          hostId: null,
          primaryStorageId: null,
          capacityReserved: false,
          // The attachment waited for this instantiation: it ends with it.
          attachment: null,
        };
      case 'VolumeAttachRequested':
        return {
          ...state,
          attachment: {
            vmInstanceId: event.data.vmInstanceId,
            attachmentId: event.data.attachmentId,
            hostId: event.data.hostId,
            device: event.data.device,
            phase: 'Attaching',
          },
        };
      case 'VolumeAttached':
        return state.attachment ? { ...state, attachment: { ...state.attachment, phase: 'Attached' } } : state;
      case 'VolumeAttachFailed':
      case 'VolumeDetached':
        return { ...state, attachment: null };
      case 'VolumeDetachRequested':
        return state.attachment ? { ...state, attachment: { ...state.attachment, phase: 'Detaching', detachOperationId: event.data.operationId } } : state;
      case 'VolumeDetachFailed': {
        if (!state.attachment) return state;
        const { detachOperationId: _ended, ...attachment } = state.attachment;
        return { ...state, attachment: { ...attachment, phase: 'Attached' } };
      }
      case 'VolumeDestroyed':
        return { ...state, status: 'Destroyed', policy: event.data.policy, destroyedAt: event.data.destroyedAt, expungeAt: event.data.expungeAt };
      case 'VolumeRecovered':
        return { ...state, status: state.instantiated ? 'Ready' : 'NotInstantiated', policy: null, destroyedAt: null, expungeAt: null };
      case 'VolumeExpungeStarted':
        return { ...state, status: 'Expunging', expungeId: event.data.operationId };
      case 'VolumeExpungeFailed':
        return { ...state, status: 'Destroyed', expungeId: null };
      case 'VolumeExpunged':
        return { ...state, status: 'Expunged', expungeId: null, attachment: null, capacityReserved: false };
    }
    return state;
  },
};

function attachRequest(
  volume: ExistingVolume,
  vm: VmFacts,
  command: Extract<VolumeCommand, { type: 'AttachVolume' }>,
  awaitsInstantiation: boolean,
): Extract<VolumeEvent, { type: 'VolumeAttachRequested' }>['data'] {
  return {
    volumeId: volume.volumeId,
    attachmentId: command.attachmentId,
    vmInstanceId: vm.vmInstanceId,
    hostId: vm.hostId ?? '',
    device: command.device,
    path: volume.path,
    awaitsInstantiation,
    requestedAt: command.now,
  };
}

function busy(volume: ExistingVolume, what: string): DomainError {
  return new DomainError('VOLUME_BUSY', `volume ${volume.volumeId} is ${what}; try again when that has finished`);
}
