import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';

// The guest devices of one VM's data volumes (stream `vm-volume-devices-<vmId>`). Two
// volumes attached to the same VM at the same time must not get the same device, and a VM
// takes a bounded number of them: like every invariant that spans aggregates, it is
// reserved in the stream that owns it, with the expected version, never counted from a
// read model. The stream also tells which volumes a VM holds (detach them when it dies).
//
// A reservation carries the attachment it is for: a late release from an earlier
// attachment of the same volume cannot free the device a newer one uses.

/** vda is the root volume; data volumes take vdb … vdz (virtio-blk names). */
export const dataVolumeDevices: readonly string[] = Array.from({ length: 25 }, (_, index) => `vd${String.fromCharCode(98 + index)}`);

export type VolumeDeviceEvent =
  | DomainEvent<'VolumeDeviceReserved', { vmInstanceId: string; volumeId: string; attachmentId: string; device: string }>
  | DomainEvent<'VolumeDeviceReleased', { vmInstanceId: string; volumeId: string; attachmentId: string; device: string }>;

export type VolumeDeviceCommand =
  | { type: 'ReserveDevice'; vmInstanceId: string; volumeId: string; attachmentId: string }
  | { type: 'ReleaseDevice'; vmInstanceId: string; volumeId: string; attachmentId: string };

/** Volume id → its device and the attachment holding it. */
export type VolumeDeviceState = Record<string, { device: string; attachmentId: string }>;

export const volumeDevicesStream = (vmInstanceId: string) => `vm-volume-devices-${vmInstanceId}`;

export const volumeDevicesDecider: Decider<VolumeDeviceCommand, VolumeDeviceState, VolumeDeviceEvent> = {
  initialState: {},

  decide(command, state) {
    const held = state[command.volumeId];
    switch (command.type) {
      case 'ReserveDevice': {
        if (held?.attachmentId === command.attachmentId) return [];
        // The same volume keeps its device across attachments to this VM.
        const device = held?.device ?? firstFreeDevice(state);
        if (!device) {
          throw new DomainError('VM_VOLUME_LIMIT', `VM ${command.vmInstanceId} already has ${dataVolumeDevices.length} data volumes`, 'conflict', {
            limit: dataVolumeDevices.length,
          });
        }
        return [{ type: 'VolumeDeviceReserved', data: { vmInstanceId: command.vmInstanceId, volumeId: command.volumeId, attachmentId: command.attachmentId, device } }];
      }
      case 'ReleaseDevice':
        if (!held || held.attachmentId !== command.attachmentId) return [];
        return [{ type: 'VolumeDeviceReleased', data: { vmInstanceId: command.vmInstanceId, volumeId: command.volumeId, attachmentId: command.attachmentId, device: held.device } }];
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'VolumeDeviceReserved':
        return { ...state, [event.data.volumeId]: { device: event.data.device, attachmentId: event.data.attachmentId } };
      case 'VolumeDeviceReleased': {
        const { [event.data.volumeId]: _released, ...rest } = state;
        return rest;
      }
    }
  },
};

function firstFreeDevice(state: VolumeDeviceState): string | undefined {
  const used = new Set(Object.values(state).map((slot) => slot.device));
  return dataVolumeDevices.find((device) => !used.has(device));
}
