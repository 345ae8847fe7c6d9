import type { DomainEvent } from '../shared/decider.js';
import type { DeletionPolicy } from './deletion-policy.js';
import type { GuestAccess } from './guest-access.js';

// The VM aggregate's vocabulary (stream `vm-<id>`). States follow ZStack's VmInstanceState
// (FACTS.md) plus `Pausing`/`Resuming` (ZStack has them too) and `Error`, where a VM whose
// provisioning failed rests once everything it had reserved is released.
//
// Conventions that the process manager and the effect routes rely on:
// - intent events (`VmStartRequested`, `VmDestroyRequested` …) record what was asked and by
//   which task; step events (`VmImagePrepareRequested`, `VmPowerOperationRequested` … — those
//   with a `seq`) ask for one step and carry everything it needs, so that effects are derived
//   from the event alone; `seq` numbers the steps of this VM's life, and a result for another
//   `seq` is stale and changes nothing (results arrive at least once);
// - an outcome event with a non-null `taskId` ends that task (see taskOutcomeOf): the process
//   manager records the task's outcome.

export const vmStates = [
  'Created', 'Starting', 'Running', 'Stopping', 'Stopped', 'Rebooting', 'Pausing', 'Paused', 'Resuming',
  'Migrating', 'Destroying', 'Destroyed', 'Expunging', 'Unknown', 'Crashed', 'Error',
] as const;
export type VmState = (typeof vmStates)[number];

export const createStrategies = ['InstantStart', 'JustCreate', 'CreateStopped'] as const;
export type CreateStrategy = (typeof createStrategies)[number];

export type StopType = 'grace' | 'cold';

/** Power operations a user asks for; each is one hypervisor operation. */
export type PowerOperation = 'start' | 'stop' | 'reboot' | 'pause' | 'resume';

export interface VmError {
  code: string;
  message: string;
}

export interface NicSlot {
  nicId: string;
  l3NetworkId: string;
}

export interface AllocatedNic extends NicSlot {
  ip: string;
  mac: string;
  gateway: string;
  netmask: string;
}

/** Where the image comes from, as the host's image cache needs it. */
export interface ImageSource {
  imageId: string;
  url: string;
  format: 'qcow2' | 'raw' | 'iso';
  sha256: string;
}

/** What `vm.define` needs: the VM as the hypervisor sees it. */
export interface DefineSpec {
  name: string;
  cpuCount: number;
  memoryBytes: number;
  volumes: Array<{ volumeId: string; device: string; path?: string }>;
  /** netmask and gateway come with guest access: the cloud-init seed sets the address statically. */
  nics: Array<{ nicId: string; mac: string; ip: string; l3NetworkId: string; netmask?: string; gateway?: string }>;
  /** Keys and sealed root password for the cloud-init seed (absent: no seed). */
  guestAccess?: GuestAccess;
  /** IP/MAC/ARP spoofing protection on the NICs (absent: the driver's default, on). */
  antiSpoofing?: boolean;
}

export type VmInstanceCreated = DomainEvent<'VmInstanceCreated', {
  vmId: string;
  name: string;
  description: string;
  instanceOfferingId: string;
  cpuCount: number;
  memoryBytes: number;
  imageId: string;
  l3NetworkIds: string[];
  nics: NicSlot[];
  rootVolume: { volumeId: string; sizeBytes: number };
  dataDiskOfferingIds: string[];
  zoneId: string | null;
  clusterId: string | null;
  hostId: string | null;
  strategy: CreateStrategy;
  createdAt: number;
  /** The task that creates it (its outcome comes with the end of provisioning). */
  taskId: string | null;
  /** The project (tenancy) it belongs to, when created in one. */
  projectId?: string;
  /** Access into the guest given at create time; the root password is sealed with the key ring. */
  guestAccess?: GuestAccess;
  /** IP/MAC/ARP spoofing protection (vm.antiSpoofing when not asked); absent in events older than it. */
  antiSpoofing?: boolean;
}>;

/** Placement, IPs and primary storage asked for (handled by the provisioning process). */
export type VmAllocationRequested = DomainEvent<'VmAllocationRequested', {
  vmId: string;
  seq: number;
  instanceOfferingId: string;
  cpuCount: number;
  memoryBytes: number;
  imageId: string;
  nics: NicSlot[];
  rootVolume: { volumeId: string; sizeBytes: number };
  zoneId: string | null;
  clusterId: string | null;
  hostId: string | null;
}>;

export type VmResourcesAllocated = DomainEvent<'VmResourcesAllocated', {
  vmId: string;
  hostId: string;
  zoneId: string;
  clusterId: string;
  nics: AllocatedNic[];
  rootVolume: { volumeId: string; sizeBytes: number; primaryStorageId: string };
}>;

/**
 * Build the VM on its host: prepare the image in the host's cache (verified against its
 * sha256), create the root volume from it, define the VM and, if asked, start it. One step of
 * several hypervisor operations: they go to the host in this order and run one after the
 * other, and the outcome of the last one is the step's.
 */
export type VmBuildRequested = DomainEvent<'VmBuildRequested', {
  vmId: string;
  seq: number;
  hostId: string;
  image: ImageSource;
  rootVolume: { volumeId: string; sizeBytes: number };
  define: DefineSpec;
  start: boolean;
}>;
export type VmRootVolumeCreated = DomainEvent<'VmRootVolumeCreated', { vmId: string; volumeId: string; hostId: string }>;
/** Define a VM whose host forgot it (recovered), then start it if asked. */
export type VmDefineRequested = DomainEvent<'VmDefineRequested', { vmId: string; seq: number; hostId: string; define: DefineSpec; start: boolean }>;
export type VmDefined = DomainEvent<'VmDefined', { vmId: string; hostId: string }>;

/** CreateStopped: the VM is built, defined and stays off. */
export type VmProvisioningCompleted = DomainEvent<'VmProvisioningCompleted', { vmId: string; taskId: string | null }>;

/** What a user asked for; the step events below carry it out. */
export type VmStartRequested = DomainEvent<'VmStartRequested', { vmId: string; taskId: string | null }>;
export type VmStopRequested = DomainEvent<'VmStopRequested', { vmId: string; type: StopType; taskId: string | null }>;
export type VmRebootRequested = DomainEvent<'VmRebootRequested', { vmId: string; taskId: string | null }>;
export type VmPauseRequested = DomainEvent<'VmPauseRequested', { vmId: string; taskId: string | null }>;
export type VmResumeRequested = DomainEvent<'VmResumeRequested', { vmId: string; taskId: string | null }>;

/** One hypervisor power operation (`vm.start`, `vm.stop` …). */
export type VmPowerOperationRequested = DomainEvent<'VmPowerOperationRequested', {
  vmId: string; seq: number; hostId: string; operation: PowerOperation; stopType?: StopType;
}>;

export type VmStarted = DomainEvent<'VmStarted', { vmId: string; hostId: string; taskId: string | null }>;
export type VmStopped = DomainEvent<'VmStopped', { vmId: string; hostId: string; type: StopType; taskId: string | null }>;
export type VmRebooted = DomainEvent<'VmRebooted', { vmId: string; hostId: string; taskId: string | null }>;
export type VmPaused = DomainEvent<'VmPaused', { vmId: string; hostId: string; taskId: string | null }>;
export type VmResumed = DomainEvent<'VmResumed', { vmId: string; hostId: string; taskId: string | null }>;

/** A power operation failed; the VM is back in `state` (Unknown when the outcome is unknown). */
export type VmOperationFailed = DomainEvent<'VmOperationFailed', {
  vmId: string; operation: PowerOperation | 'define'; error: VmError; state: VmState; taskId: string | null;
}>;

/** Provisioning failed at `step`; what was reserved is released next (rollback). */
export type VmProvisioningFailed = DomainEvent<'VmProvisioningFailed', { vmId: string; step: string; error: VmError }>;
/** The rollback of a failed provisioning finished: the VM holds nothing, its state is Error. */
export type VmProvisioningRolledBack = DomainEvent<'VmProvisioningRolledBack', { vmId: string; error: VmError; state: VmState; taskId: string | null }>;

export type VmInstanceUpdated = DomainEvent<'VmInstanceUpdated', { vmId: string; name?: string; description?: string }>;
export type VmOfferingChanged = DomainEvent<'VmOfferingChanged', {
  vmId: string; instanceOfferingId: string; cpuCount: number; memoryBytes: number;
  previous: { instanceOfferingId: string; cpuCount: number; memoryBytes: number };
}>;

export type VmDestroyRequested = DomainEvent<'VmDestroyRequested', {
  vmId: string; policy: DeletionPolicy; expungePeriodSeconds: number; taskId: string | null;
}>;
/** Power off and undefine on the host (hypervisor `vm.destroy`). */
export type VmUndefineRequested = DomainEvent<'VmUndefineRequested', { vmId: string; seq: number; hostId: string }>;
export type VmUndefined = DomainEvent<'VmUndefined', { vmId: string; hostId: string }>;
/** Host capacity and IPs to give back (handled by the provisioning process). */
export type VmComputeReleaseRequested = DomainEvent<'VmComputeReleaseRequested', {
  vmId: string; seq: number; hostId: string | null; nics: NicSlot[];
}>;
export type VmComputeReleased = DomainEvent<'VmComputeReleased', { vmId: string; hostId: string | null }>;
export type VmInstanceDestroyed = DomainEvent<'VmInstanceDestroyed', {
  vmId: string; policy: DeletionPolicy; destroyedAt: number; expungeAt: number | null; taskId: string | null;
}>;
export type VmDestroyFailed = DomainEvent<'VmDestroyFailed', { vmId: string; error: VmError; state: VmState; taskId: string | null }>;

export type VmInstanceRecovered = DomainEvent<'VmInstanceRecovered', {
  vmId: string; hostId: string; zoneId: string; clusterId: string; nics: AllocatedNic[]; taskId: string | null;
}>;

export type VmExpungeStarted = DomainEvent<'VmExpungeStarted', { vmId: string; taskId: string | null }>;
export type VmRootVolumeDeleteRequested = DomainEvent<'VmRootVolumeDeleteRequested', { vmId: string; seq: number; hostId: string; volumeId: string }>;
export type VmRootVolumeDeleted = DomainEvent<'VmRootVolumeDeleted', { vmId: string; volumeId: string }>;
export type VmStorageReleaseRequested = DomainEvent<'VmStorageReleaseRequested', {
  vmId: string; seq: number; primaryStorageId: string; volumeId: string;
}>;
export type VmStorageReleased = DomainEvent<'VmStorageReleased', { vmId: string; volumeId: string }>;
export type VmInstanceExpunged = DomainEvent<'VmInstanceExpunged', { vmId: string; expungedAt: number; taskId: string | null }>;
/** The expunge could not finish (the host refused): the VM is Destroyed again and is retried later. */
export type VmExpungeFailed = DomainEvent<'VmExpungeFailed', { vmId: string; error: VmError; taskId: string | null }>;
/** A rollback step failed on the host; it is retried later (VmTeardownRetried). */
export type VmRollbackStalled = DomainEvent<'VmRollbackStalled', { vmId: string; step: string; error: VmError; stalledAt: number; taskId: string | null }>;
export type VmTeardownRetried = DomainEvent<'VmTeardownRetried', { vmId: string }>;

/** The hypervisor reports a power state other than the one recorded (host sync). */
export type VmPowerStateSynced = DomainEvent<'VmPowerStateSynced', { vmId: string; from: VmState; to: VmState }>;

export type VmEvent =
  | VmInstanceCreated | VmAllocationRequested | VmResourcesAllocated
  | VmBuildRequested | VmRootVolumeCreated
  | VmDefineRequested | VmDefined | VmProvisioningCompleted
  | VmStartRequested | VmStopRequested | VmRebootRequested | VmPauseRequested | VmResumeRequested | VmPowerOperationRequested
  | VmStarted | VmStopped | VmRebooted | VmPaused | VmResumed | VmOperationFailed
  | VmProvisioningFailed | VmProvisioningRolledBack | VmRollbackStalled | VmTeardownRetried
  | VmInstanceUpdated | VmOfferingChanged
  | VmDestroyRequested | VmUndefineRequested | VmUndefined | VmComputeReleaseRequested | VmComputeReleased
  | VmInstanceDestroyed | VmDestroyFailed | VmInstanceRecovered
  | VmExpungeStarted | VmRootVolumeDeleteRequested | VmRootVolumeDeleted | VmStorageReleaseRequested | VmStorageReleased
  | VmInstanceExpunged | VmExpungeFailed | VmPowerStateSynced;

export type VmEventType = VmEvent['type'];

/** Every VM event type, for projections and subscriptions. */
export const vmEventTypes: readonly VmEventType[] = [
  'VmInstanceCreated', 'VmAllocationRequested', 'VmResourcesAllocated',
  'VmBuildRequested', 'VmRootVolumeCreated',
  'VmDefineRequested', 'VmDefined', 'VmProvisioningCompleted',
  'VmStartRequested', 'VmStopRequested', 'VmRebootRequested', 'VmPauseRequested', 'VmResumeRequested', 'VmPowerOperationRequested',
  'VmStarted', 'VmStopped', 'VmRebooted', 'VmPaused', 'VmResumed', 'VmOperationFailed',
  'VmProvisioningFailed', 'VmProvisioningRolledBack', 'VmRollbackStalled', 'VmTeardownRetried',
  'VmInstanceUpdated', 'VmOfferingChanged',
  'VmDestroyRequested', 'VmUndefineRequested', 'VmUndefined', 'VmComputeReleaseRequested', 'VmComputeReleased',
  'VmInstanceDestroyed', 'VmDestroyFailed', 'VmInstanceRecovered',
  'VmExpungeStarted', 'VmRootVolumeDeleteRequested', 'VmRootVolumeDeleted', 'VmStorageReleaseRequested', 'VmStorageReleased',
  'VmInstanceExpunged', 'VmExpungeFailed', 'VmPowerStateSynced',
];

/** Events that ask the hypervisor for something: the effect routes' input. */
export const vmHypervisorRequestTypes = [
  'VmBuildRequested', 'VmDefineRequested', 'VmPowerOperationRequested',
  'VmUndefineRequested', 'VmRootVolumeDeleteRequested',
] as const satisfies readonly VmEventType[];

/** Events that ask the provisioning process to reserve or release in other aggregates. */
export const vmProcessRequestTypes = [
  'VmAllocationRequested', 'VmComputeReleaseRequested', 'VmStorageReleaseRequested',
] as const satisfies readonly VmEventType[];

/** The task an event ends, and how: success, or failure with its error. */
export function taskOutcomeOf(event: VmEvent): { taskId: string; ok: true } | { taskId: string; ok: false; error: VmError } | undefined {
  switch (event.type) {
    case 'VmProvisioningCompleted':
    case 'VmStarted':
    case 'VmStopped':
    case 'VmRebooted':
    case 'VmPaused':
    case 'VmResumed':
    case 'VmInstanceDestroyed':
    case 'VmInstanceExpunged':
      return event.data.taskId ? { taskId: event.data.taskId, ok: true } : undefined;
    case 'VmOperationFailed':
    case 'VmProvisioningRolledBack':
    case 'VmRollbackStalled':
    case 'VmDestroyFailed':
    case 'VmExpungeFailed':
      return event.data.taskId ? { taskId: event.data.taskId, ok: false, error: event.data.error } : undefined;
    default:
      return undefined;
  }
}
