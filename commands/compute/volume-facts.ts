import type { EventStore } from '../../adapters/eventstore/port.js';
import { vmStream, type VmInstance } from '../../domain/compute/vm.js';
import { volumeDecider, volumeStream, type ExistingVolume, type VmFacts, type VolumeState } from '../../domain/compute/volume.js';
import type { DiskFacts } from '../../domain/compute/volume-snapshot.js';
import { loadAggregate } from '../shared/handle-command.js';
import { vmAggregates } from './vm-store.js';

// Volume commands decide on facts about other aggregates (the VM a volume goes to, the VM
// that owns a root volume). They are read here, from the streams themselves — never from a
// read model — and handed to the pure deciders.

export async function loadVolume(store: EventStore, volumeId: string): Promise<{ state: VolumeState; version: number }> {
  return loadAggregate(store, volumeDecider, volumeStream(volumeId));
}

/** The VM, or undefined when there is none (never created, or expunged). */
export async function loadVm(store: EventStore, vmInstanceId: string): Promise<VmInstance | undefined> {
  // Through the VM commands' cache: only events written since its last look are read.
  const { state } = await vmAggregates.load(store, vmStream(vmInstanceId));
  return state.exists && !state.expunged ? state : undefined;
}

/**
 * A VM as an attach sees it. Only a VM defined on its host can take a volume (the host must
 * know the domain to hot-plug a disk into it), so `hostId` is given only then.
 */
export function vmFactsOf(vm: VmInstance): VmFacts {
  const facts: VmFacts = { vmInstanceId: vm.vmId, state: vm.state };
  if (vm.defined && vm.hostId) facts.hostId = vm.hostId;
  if (vm.rootVolume.primaryStorageId) facts.primaryStorageId = vm.rootVolume.primaryStorageId;
  return facts;
}

export async function readVmFacts(store: EventStore, vmInstanceId: string): Promise<VmFacts | undefined> {
  const vm = await loadVm(store, vmInstanceId);
  return vm ? vmFactsOf(vm) : undefined;
}

/** A VM's root volume as a snapshot command sees it. */
export function rootDiskFactsOf(vm: VmInstance): DiskFacts {
  const facts: DiskFacts = { volumeId: vm.rootVolume.volumeId, type: 'Root', status: 'Ready', vmInstanceId: vm.vmId, vmState: vm.state };
  if (vm.rootVolume.primaryStorageId) facts.primaryStorageId = vm.rootVolume.primaryStorageId;
  if (vm.expunged) facts.status = 'Expunged';
  else if (vm.state === 'Destroyed' || vm.state === 'Destroying' || vm.state === 'Expunging') facts.status = 'Destroyed';
  else if (!vm.rootVolume.created || !vm.hostId) facts.status = 'NotInstantiated';
  else if (vm.process) facts.status = 'Busy';
  if (vm.hostId && vm.rootVolume.created) facts.hostId = vm.hostId;
  return facts;
}

/** A data volume as a snapshot command sees it, with the state of the VM it is attached to. */
export async function dataDiskFactsOf(store: EventStore, volume: ExistingVolume): Promise<DiskFacts> {
  const facts: DiskFacts = { volumeId: volume.volumeId, type: 'Data', status: diskStatusOf(volume) };
  if (volume.instantiated && volume.hostId) facts.hostId = volume.hostId;
  if (volume.primaryStorageId) facts.primaryStorageId = volume.primaryStorageId;
  if (volume.attachment) {
    facts.vmInstanceId = volume.attachment.vmInstanceId;
    const vm = await loadVm(store, volume.attachment.vmInstanceId);
    facts.vmState = vm ? vm.state : 'Expunged';
  }
  return facts;
}

function diskStatusOf(volume: ExistingVolume): DiskFacts['status'] {
  switch (volume.status) {
    case 'Destroyed':
    case 'Expunging':
      return 'Destroyed';
    case 'Expunged':
      return 'Expunged';
    case 'Creating':
      return 'Creating';
    case 'NotInstantiated':
      return 'NotInstantiated';
    case 'Ready':
      return volume.attachment && volume.attachment.phase !== 'Attached' ? 'Busy' : 'Ready';
  }
}
