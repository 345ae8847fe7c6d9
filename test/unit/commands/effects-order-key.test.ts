// Which key orders an effect among its host's operations (orderKeyOf): the VM it concerns,
// else its volume, else the host — so one VM's steps keep their order and other VMs do not wait.
import { describe, expect, it } from 'vitest';
import { orderKeyOf } from '../../../commands/effects/effect.js';

const hostId = 'h-1';

describe('order key of an effect', () => {
  it('is the VM the operation names', () => {
    expect(orderKeyOf({ hostId, operation: { op: 'vm.start', vmId: 'v-1' } })).toBe('vm:v-1');
    expect(orderKeyOf({ hostId, operation: { op: 'volume.attach', vmId: 'v-1', volumeId: 'd-1', device: 'vdb' } })).toBe('vm:v-1');
    expect(orderKeyOf({ hostId, operation: { op: 'vm.guestAccess', vmId: 'v-1', username: 'root' } })).toBe('vm:v-1');
  });

  it('is the VM of the causing event for the steps of a VM build (image, root volume), so they stay in order', () => {
    const event = { data: { vmId: 'v-2', hostId } };
    const steps = [
      { op: 'image.prepare' as const, imageId: 'i-1', url: 'file:///x', format: 'qcow2' as const, sha256: 'a'.repeat(64) },
      { op: 'volume.create' as const, volumeId: 'r-1', sizeBytes: 1, format: 'qcow2' as const, imageId: 'i-1' },
      { op: 'vm.start' as const, vmId: 'v-2' },
    ];
    expect(steps.map((operation) => orderKeyOf({ hostId, operation }, event))).toEqual(['vm:v-2', 'vm:v-2', 'vm:v-2']);
  });

  it('is the VM a snapshotted disk belongs to, else the volume; the host for host operations; the route\'s own key first', () => {
    const snapshot = { op: 'snapshot.create' as const, volumeId: 'd-1', snapshotId: 's-1' };
    expect(orderKeyOf({ hostId, operation: snapshot }, { data: { vmInstanceId: 'v-3' } })).toBe('vm:v-3');
    expect(orderKeyOf({ hostId, operation: snapshot }, { data: { vmInstanceId: null } })).toBe('volume:d-1');
    expect(orderKeyOf({ hostId, operation: { op: 'volume.delete', volumeId: 'd-1' } })).toBe('volume:d-1');
    expect(orderKeyOf({ hostId, operation: { op: 'host.probe' } })).toBe(hostId);
    expect(orderKeyOf({ hostId, operation: { op: 'vm.start', vmId: 'v-1' }, orderKey: 'custom' })).toBe('custom');
  });
});
