import type { VmInstance } from './vm.js';
import { guestAccessView, type GuestAccessView } from './guest-access.js';

// A VM as users see it (API detail, list, a finished task's result): one function, used by
// the read model and by the process that ends tasks, so that the two never disagree.

export interface VmVolumeView {
  id: string;
  type: 'Root' | 'Data';
  device: string;
  sizeBytes?: number;
  primaryStorageId?: string | null;
}

export interface VmView {
  id: string;
  name: string;
  description: string;
  state: string;
  /** The host holding the VM's capacity (null once destroyed); `lastHostId` is where it was. */
  hostId: string | null;
  lastHostId: string | null;
  zoneId: string | null;
  clusterId: string | null;
  nics: Array<{ nicId: string; l3NetworkId: string; ip: string | null; mac: string | null; gateway: string | null; netmask: string | null }>;
  volumes: VmVolumeView[];
  instanceOfferingId: string;
  cpuCount: number;
  memoryBytes: number;
  imageId: string;
  strategy: string;
  createdAt: string;
  deletionPolicy: string | null;
  destroyedAt: string | null;
  expungeAt: string | null;
  error: { code: string; message: string } | null;
  /** The project (tenancy) the VM belongs to, when created in one. */
  projectId?: string;
  /** IP/MAC/ARP spoofing protection (libvirt clean-traffic) on its NICs. */
  antiSpoofing: boolean;
  /** Access given at create time: keys, and whether a root password was set (never the password). */
  guestAccess: GuestAccessView | null;
}

const iso = (epochMs: number | null) => (epochMs === null ? null : new Date(epochMs).toISOString());

export function vmView(vm: VmInstance, dataVolumes: readonly VmVolumeView[] = []): VmView {
  return {
    id: vm.vmId,
    name: vm.name,
    description: vm.description,
    state: vm.state,
    hostId: vm.hostReserved ? vm.hostId : null,
    lastHostId: vm.hostId,
    zoneId: vm.zoneId,
    clusterId: vm.clusterId,
    nics: vm.nics.map((nic) => ({
      nicId: nic.nicId,
      l3NetworkId: nic.l3NetworkId,
      ip: vm.ipsAllocated ? nic.ip : null,
      mac: vm.ipsAllocated ? nic.mac : null,
      gateway: vm.ipsAllocated ? nic.gateway : null,
      netmask: vm.ipsAllocated ? nic.netmask : null,
    })),
    volumes: [
      { id: vm.rootVolume.volumeId, type: 'Root', device: 'vda', sizeBytes: vm.rootVolume.sizeBytes, primaryStorageId: vm.rootVolume.primaryStorageId },
      ...dataVolumes,
    ],
    instanceOfferingId: vm.instanceOfferingId,
    cpuCount: vm.cpuCount,
    memoryBytes: vm.memoryBytes,
    imageId: vm.imageId,
    strategy: vm.strategy,
    createdAt: new Date(vm.createdAt).toISOString(),
    deletionPolicy: vm.policy,
    destroyedAt: iso(vm.destroyedAt),
    expungeAt: iso(vm.expungeAt),
    error: vm.error,
    ...(vm.projectId ? { projectId: vm.projectId } : {}),
    antiSpoofing: vm.antiSpoofing ?? true,
    guestAccess: guestAccessView(vm.guestAccess),
  };
}
