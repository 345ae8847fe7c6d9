import { describe, it } from 'vitest';
import { dataVolumeDevices, volumeDevicesDecider, type VolumeDeviceEvent } from '../../../domain/compute/volume-devices.js';
import { scenario } from '../../support/given-when-then.js';

const devices = scenario(volumeDevicesDecider);
const reserved = (volumeId: string, attachmentId: string, device: string): VolumeDeviceEvent =>
  ({ type: 'VolumeDeviceReserved', data: { vmInstanceId: 'vm1', volumeId, attachmentId, device } });
const reserve = (volumeId: string, attachmentId: string) => ({ type: 'ReserveDevice', vmInstanceId: 'vm1', volumeId, attachmentId }) as const;
const release = (volumeId: string, attachmentId: string) => ({ type: 'ReleaseDevice', vmInstanceId: 'vm1', volumeId, attachmentId }) as const;

describe('VM volume devices', () => {
  it('gives each volume of a VM the first free device after the root disk', () => {
    devices.given().when(reserve('v1', 'a1')).then([reserved('v1', 'a1', 'vdb')]);
    devices.given(reserved('v1', 'a1', 'vdb')).when(reserve('v2', 'a2')).then([reserved('v2', 'a2', 'vdc')]);
  });

  it('reuses a released device', () => {
    devices.given(reserved('v1', 'a1', 'vdb'), reserved('v2', 'a2', 'vdc'), { type: 'VolumeDeviceReleased', data: { vmInstanceId: 'vm1', volumeId: 'v1', attachmentId: 'a1', device: 'vdb' } })
      .when(reserve('v3', 'a3')).then([reserved('v3', 'a3', 'vdb')]);
  });

  it('is idempotent per attachment, and keeps a volume on its device for a new attachment', () => {
    devices.given(reserved('v1', 'a1', 'vdb')).when(reserve('v1', 'a1')).then([]);
    devices.given(reserved('v1', 'a1', 'vdb'), reserved('v2', 'a2', 'vdc')).when(reserve('v1', 'a9')).then([reserved('v1', 'a9', 'vdb')]);
  });

  it('releases only for the attachment holding the device (a late release of an older attachment is nothing)', () => {
    devices.given(reserved('v1', 'a1', 'vdb')).when(release('v1', 'a1'))
      .then([{ type: 'VolumeDeviceReleased', data: { vmInstanceId: 'vm1', volumeId: 'v1', attachmentId: 'a1', device: 'vdb' } }]);
    devices.given(reserved('v1', 'a1', 'vdb'), reserved('v1', 'a2', 'vdb')).when(release('v1', 'a1')).then([]);
    devices.given().when(release('v1', 'a1')).then([]);
  });

  it('refuses a data volume beyond the devices a VM has', () => {
    const full = dataVolumeDevices.map((device, index) => reserved(`v${index}`, `a${index}`, device));
    devices.given(...full).when(reserve('extra', 'ax')).thenFails('VM_VOLUME_LIMIT');
  });
});
