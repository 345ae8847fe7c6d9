import type { Decider } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';
import { expungeAtFor, type DeletionPolicy } from './deletion-policy.js';
import { validSshKeys, type GuestAccess } from './guest-access.js';
import type {
  AllocatedNic, CreateStrategy, DefineSpec, ImageSource, NicSlot, PowerOperation, StopType, VmError, VmEvent, VmState,
} from './vm-events.js';

export * from './vm-events.js';

// The VM aggregate (stream `vm-<id>`), its root volume included. A VM's life is a sequence
// of operations (create, start, stop …, destroy, expunge); a long one runs as numbered steps
// (`seq`), each asked by a step event and finished by a result command. Which step comes
// next is decided here, from the state alone, so that the process manager and the effect
// routes stay dumb: they do one step and report.

export const vmStream = (vmId: string) => `vm-${vmId}`;

/** Deterministic ids of a VM's parts: a provisioning resumed after a crash finds the same ones. */
export const rootVolumeIdName = (vmId: string) => `root-volume:${vmId}`;
export const nicIdName = (vmId: string, index: number) => `nic:${vmId}:${index}`;

export type VmStep =
  | 'allocate' | 'build' | 'define' | 'power'
  | 'undefine' | 'release-compute' | 'delete-root-volume' | 'release-storage';

export type VmPurpose = 'create' | PowerOperation | 'destroy' | 'expunge' | 'rollback';

/** The operation under way, if any. */
export interface VmProcess {
  purpose: VmPurpose;
  /** The task the operation's outcome ends (null: none, or already ended). */
  taskId: string | null;
  step: VmStep | null;
  /** The state the VM returns to if the operation fails. */
  resumeState: VmState;
  /** The operation began with allocation (create, or first start of a JustCreate VM). */
  provisioning: boolean;
  startAfterDefine: boolean;
  stopType?: StopType;
  policy?: DeletionPolicy;
  expungePeriodSeconds?: number;
  /** Rollback: the error that caused it, and the state to rest in once it is done. */
  error?: VmError;
  restState?: VmState;
  stalled?: boolean;
}

export interface VmRootVolume {
  volumeId: string;
  sizeBytes: number;
  primaryStorageId: string | null;
  storageReserved: boolean;
  created: boolean;
}

export interface VmNic extends NicSlot {
  ip: string | null;
  mac: string | null;
  gateway: string | null;
  netmask: string | null;
}

export interface VmInstance {
  exists: true;
  expunged: boolean;
  vmId: string;
  name: string;
  description: string;
  state: VmState;
  instanceOfferingId: string;
  cpuCount: number;
  memoryBytes: number;
  imageId: string;
  l3NetworkIds: string[];
  dataDiskOfferingIds: string[];
  strategy: CreateStrategy;
  /** Placement asked at create time. */
  requested: { zoneId: string | null; clusterId: string | null; hostId: string | null };
  createdAt: number;
  /** The host the VM is (or was last) on; `hostReserved` says whether it holds capacity there. */
  hostId: string | null;
  zoneId: string | null;
  clusterId: string | null;
  hostReserved: boolean;
  nics: VmNic[];
  ipsAllocated: boolean;
  rootVolume: VmRootVolume;
  /** Defined on its host (hypervisor knows it). */
  defined: boolean;
  seq: number;
  process: VmProcess | null;
  error: VmError | null;
  policy: DeletionPolicy | null;
  destroyedAt: number | null;
  expungeAt: number | null;
  /** The project the VM belongs to (tenancy), when created in one. */
  projectId?: string;
  /** Keys and sealed root password given at create time (the cloud-init seed of every define). */
  guestAccess?: GuestAccess;
  /** IP/MAC/ARP spoofing protection; undefined for VMs created before it could be chosen (on). */
  antiSpoofing?: boolean;
}

export type VmAggregate = { exists: false } | VmInstance;

export type VmCommand =
  | {
      type: 'CreateVm';
      vmId: string;
      name: string;
      description?: string;
      instanceOfferingId: string;
      cpuCount: number;
      memoryBytes: number;
      imageId: string;
      l3NetworkIds: string[];
      rootDiskSizeBytes: number;
      dataDiskOfferingIds?: string[];
      zoneId?: string | null;
      clusterId?: string | null;
      hostId?: string | null;
      strategy: CreateStrategy;
      /** Deterministic ids (rootVolumeIdName / nicIdName through the id helper). */
      rootVolumeId: string;
      nicIds: string[];
      taskId: string | null;
      now: number;
      /** The project (tenancy) the VM belongs to; its quota was reserved before this command. */
      projectId?: string;
      /** Keys and the root password, sealed by the command layer before it reaches the decider. */
      guestAccess?: GuestAccess;
      antiSpoofing?: boolean;
    }
  | {
      type: 'RecordResourcesAllocated';
      seq: number;
      hostId: string;
      zoneId: string;
      clusterId: string;
      nics: AllocatedNic[];
      primaryStorageId: string;
      image: ImageSource;
    }
  | { type: 'RecordStepSucceeded'; seq: number; now: number }
  | { type: 'RecordStepFailed'; seq: number; error: VmError; now: number }
  | { type: 'StartVm'; taskId: string | null }
  | { type: 'StopVm'; stopType: StopType; taskId: string | null }
  | { type: 'RebootVm'; taskId: string | null }
  | { type: 'PauseVm'; taskId: string | null }
  | { type: 'ResumeVm'; taskId: string | null }
  | { type: 'UpdateVm'; name?: string; description?: string }
  | { type: 'ChangeOffering'; instanceOfferingId: string; cpuCount: number; memoryBytes: number }
  | { type: 'DestroyVm'; policy: DeletionPolicy; expungePeriodSeconds: number; taskId: string | null; now: number }
  | { type: 'RecoverVm'; hostId: string; zoneId: string; clusterId: string; nics: AllocatedNic[]; taskId: string | null }
  | { type: 'ExpungeVm'; taskId: string | null; now: number }
  /** A stalled rollback is tried again (the expunger's periodic check). */
  | { type: 'RetryRollback'; now: number }
  | { type: 'SyncPowerState'; observed: 'Running' | 'Stopped' | 'Paused' | 'Crashed' };

// ---------------------------------------------------------------------------------------------
// Refusals

const notFound = () => new DomainError('VM_NOT_FOUND', 'no such VM instance', 'not_found');
const expunged = (vmId: string) => new DomainError('VM_EXPUNGED', `VM instance ${vmId} has been expunged`, 'gone');
const busy = (vm: VmInstance) =>
  new DomainError('VM_BUSY', `VM instance ${vm.vmId} is ${vm.state}: wait until its ${vm.process?.purpose ?? 'current'} operation ends`, 'conflict', {
    state: vm.state, operation: vm.process?.purpose,
  });
const destroyed = (vm: VmInstance) =>
  new DomainError('VM_DESTROYED', `VM instance ${vm.vmId} is Destroyed: recover it first`, 'conflict', { state: vm.state });
const wrongState = (code: string, vm: VmInstance, wanted: string) =>
  new DomainError(code, `VM instance ${vm.vmId} is ${vm.state}; ${wanted}`, 'conflict', { state: vm.state });

/** The VM, refusing when it does not exist, is expunged, or is busy with another operation. */
function idleVm(state: VmAggregate): VmInstance {
  if (!state.exists) throw notFound();
  if (state.expunged) throw expunged(state.vmId);
  if (state.process) throw busy(state);
  return state;
}

/** Where the VM can be started from. */
const startable: readonly VmState[] = ['Created', 'Stopped', 'Unknown', 'Crashed'];
const stoppable: readonly VmState[] = ['Running', 'Paused', 'Unknown', 'Crashed'];
const destroyable: readonly VmState[] = ['Created', 'Running', 'Stopped', 'Paused', 'Unknown', 'Crashed', 'Error'];

// ---------------------------------------------------------------------------------------------
// Deciding

/** Builds a list of events while folding them into a working state: later events see earlier ones. */
class Emitter {
  readonly events: VmEvent[] = [];
  constructor(public state: VmInstance) {}
  emit(event: VmEvent): this {
    this.events.push(event);
    this.state = evolveInstance(this.state, event);
    return this;
  }
  get nextSeq() {
    return this.state.seq + 1;
  }
}

export const vmDecider: Decider<VmCommand, VmAggregate, VmEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    if (command.type === 'CreateVm') return create(command, state);

    // Results arrive at least once and may be late: one that is not for the current step is stale.
    if (command.type === 'RecordResourcesAllocated' || command.type === 'RecordStepSucceeded' || command.type === 'RecordStepFailed') {
      if (!state.exists || state.expunged || !state.process || state.seq !== command.seq) return [];
      const out = new Emitter(state);
      if (command.type === 'RecordStepFailed') stepFailed(out, command.error, command.now);
      else if (command.type === 'RecordResourcesAllocated') resourcesAllocated(out, command);
      else stepSucceeded(out, command.now);
      return out.events;
    }

    if (command.type === 'RetryRollback') {
      if (!state.exists || state.expunged || state.process?.purpose !== 'rollback' || !state.process.stalled) return [];
      const out = new Emitter(state);
      out.emit({ type: 'VmTeardownRetried', data: { vmId: state.vmId } });
      continueTeardown(out, command.now);
      return out.events;
    }

    if (command.type === 'UpdateVm') {
      if (!state.exists) throw notFound();
      if (state.expunged) throw expunged(state.vmId);
      const data: { vmId: string; name?: string; description?: string } = { vmId: state.vmId };
      if (command.name !== undefined) {
        if (!command.name.trim()) throw invalidField('INVALID_VM_NAME', 'name', 'must not be empty');
        if (command.name !== state.name) data.name = command.name;
      }
      if (command.description !== undefined && command.description !== state.description) data.description = command.description;
      return data.name === undefined && data.description === undefined ? [] : [{ type: 'VmInstanceUpdated', data }];
    }

    if (command.type === 'SyncPowerState') {
      if (!state.exists || state.expunged || state.process) return [];
      if (!(['Running', 'Stopped', 'Paused', 'Unknown', 'Crashed'] as VmState[]).includes(state.state)) return [];
      if (state.state === command.observed) return [];
      return [{ type: 'VmPowerStateSynced', data: { vmId: state.vmId, from: state.state, to: command.observed } }];
    }

    const vm = idleVm(state);
    const out = new Emitter(vm);
    switch (command.type) {
      case 'StartVm': {
        if (vm.state === 'Destroyed') throw destroyed(vm);
        if (vm.state === 'Running') throw wrongState('VM_ALREADY_RUNNING', vm, 'it is already running');
        if (vm.state === 'Error') throw wrongState('VM_IN_ERROR', vm, 'its provisioning failed; delete it');
        if (!startable.includes(vm.state)) throw wrongState('VM_NOT_STOPPED', vm, 'only a stopped VM can be started (resume a paused one)');
        out.emit({ type: 'VmStartRequested', data: { vmId: vm.vmId, taskId: command.taskId } });
        if (vm.state === 'Created') out.emit(allocationRequested(out));
        else if (!vm.defined) out.emit({ type: 'VmDefineRequested', data: { vmId: vm.vmId, seq: out.nextSeq, hostId: vm.hostId!, define: defineSpecOf(vm), start: true } });
        else out.emit(powerRequested(out, 'start'));
        return out.events;
      }
      case 'StopVm': {
        if (vm.state === 'Destroyed') throw destroyed(vm);
        if (vm.state === 'Stopped') throw wrongState('VM_ALREADY_STOPPED', vm, 'it is already stopped');
        if (!stoppable.includes(vm.state)) throw wrongState('VM_NOT_RUNNING', vm, 'only a running, paused, crashed or unknown VM can be stopped');
        out.emit({ type: 'VmStopRequested', data: { vmId: vm.vmId, type: command.stopType, taskId: command.taskId } });
        out.emit(powerRequested(out, 'stop', command.stopType));
        return out.events;
      }
      case 'RebootVm':
      case 'PauseVm': {
        if (vm.state === 'Destroyed') throw destroyed(vm);
        if (vm.state !== 'Running') throw wrongState('VM_NOT_RUNNING', vm, `only a running VM can be ${command.type === 'RebootVm' ? 'rebooted' : 'paused'}`);
        if (command.type === 'RebootVm') {
          out.emit({ type: 'VmRebootRequested', data: { vmId: vm.vmId, taskId: command.taskId } });
          out.emit(powerRequested(out, 'reboot'));
        } else {
          out.emit({ type: 'VmPauseRequested', data: { vmId: vm.vmId, taskId: command.taskId } });
          out.emit(powerRequested(out, 'pause'));
        }
        return out.events;
      }
      case 'ResumeVm': {
        if (vm.state === 'Destroyed') throw destroyed(vm);
        if (vm.state !== 'Paused') throw wrongState('VM_NOT_PAUSED', vm, 'only a paused VM can be resumed');
        out.emit({ type: 'VmResumeRequested', data: { vmId: vm.vmId, taskId: command.taskId } });
        out.emit(powerRequested(out, 'resume'));
        return out.events;
      }
      case 'ChangeOffering': {
        if (vm.state === 'Destroyed') throw destroyed(vm);
        if (vm.state !== 'Stopped') throw wrongState('VM_NOT_STOPPED', vm, 'stop it before changing its offering');
        if (!positive(command.cpuCount) || !positive(command.memoryBytes)) {
          throw new DomainError('INVALID_CAPACITY_REQUEST', 'cpuCount and memoryBytes must be positive integers', 'invalid');
        }
        if (command.instanceOfferingId === vm.instanceOfferingId && command.cpuCount === vm.cpuCount && command.memoryBytes === vm.memoryBytes) return [];
        return [{
          type: 'VmOfferingChanged',
          data: {
            vmId: vm.vmId, instanceOfferingId: command.instanceOfferingId, cpuCount: command.cpuCount, memoryBytes: command.memoryBytes,
            previous: { instanceOfferingId: vm.instanceOfferingId, cpuCount: vm.cpuCount, memoryBytes: vm.memoryBytes },
          },
        }];
      }
      case 'DestroyVm': {
        if (vm.state === 'Destroyed') throw wrongState('VM_ALREADY_DESTROYED', vm, 'expunge or recover it');
        if (!destroyable.includes(vm.state)) throw busy(vm);
        out.emit({ type: 'VmDestroyRequested', data: { vmId: vm.vmId, policy: command.policy, expungePeriodSeconds: command.expungePeriodSeconds, taskId: command.taskId } });
        continueTeardown(out, command.now);
        return out.events;
      }
      case 'RecoverVm': {
        assertRecoverable(vm);
        return [{
          type: 'VmInstanceRecovered',
          data: { vmId: vm.vmId, hostId: command.hostId, zoneId: command.zoneId, clusterId: command.clusterId, nics: command.nics, taskId: command.taskId },
        }];
      }
      case 'ExpungeVm': {
        if (vm.state !== 'Destroyed') throw wrongState('VM_NOT_DESTROYED', vm, 'only a destroyed VM can be expunged: delete it first');
        out.emit({ type: 'VmExpungeStarted', data: { vmId: vm.vmId, taskId: command.taskId } });
        continueTeardown(out, command.now);
        return out.events;
      }
    }
  },

  evolve(state, event) {
    if (event.type === 'VmInstanceCreated') return created(event.data);
    if (!state.exists) return state;
    return evolveInstance(state, event);
  },
};

/** Refuses a recover that cannot be done; the handler asks before it reserves anything. */
export function assertRecoverable(state: VmAggregate): asserts state is VmInstance {
  const vm = idleVm(state);
  if (vm.state !== 'Destroyed') throw wrongState('VM_NOT_DESTROYED', vm, 'only a destroyed VM can be recovered');
  if (!vm.rootVolume.created) {
    throw wrongState('VM_NOT_RECOVERABLE', vm, 'it was never built (its provisioning failed or never ran), so there is nothing to recover');
  }
}

function create(command: Extract<VmCommand, { type: 'CreateVm' }>, state: VmAggregate): VmEvent[] {
  if (state.exists) throw new DomainError('VM_EXISTS', `VM instance ${command.vmId} already exists`);
  const problems: Array<{ field: string; message: string }> = [];
  if (!command.name.trim()) problems.push({ field: 'name', message: 'must not be empty' });
  if (command.l3NetworkIds.length === 0) problems.push({ field: 'l3NetworkIds', message: 'at least one L3 network is needed' });
  if (new Set(command.l3NetworkIds).size !== command.l3NetworkIds.length) problems.push({ field: 'l3NetworkIds', message: 'must not repeat a network' });
  if (command.nicIds.length !== command.l3NetworkIds.length) problems.push({ field: 'l3NetworkIds', message: 'one NIC id per network is needed' });
  if (!positive(command.cpuCount) || !positive(command.memoryBytes)) problems.push({ field: 'instanceOfferingId', message: 'the offering must give positive vCPUs and memory' });
  if (!positive(command.rootDiskSizeBytes)) problems.push({ field: 'rootDiskSize', message: 'must be a positive integer' });
  if (problems.length > 0) {
    throw new DomainError('INVALID_VM_INSTANCE', problems.map((p) => `${p.field} ${p.message}`).join('; '), 'invalid', { fields: problems });
  }
  const guestAccess: GuestAccess | undefined = command.guestAccess && {
    sshKeys: validSshKeys(command.guestAccess.sshKeys),
    ...(command.guestAccess.sealedRootPassword !== undefined ? { sealedRootPassword: command.guestAccess.sealedRootPassword } : {}),
  };
  const nics = command.l3NetworkIds.map((l3NetworkId, index) => ({ nicId: command.nicIds[index]!, l3NetworkId }));
  const createdEvent: VmEvent = {
    type: 'VmInstanceCreated',
    data: {
      vmId: command.vmId,
      name: command.name,
      description: command.description ?? '',
      instanceOfferingId: command.instanceOfferingId,
      cpuCount: command.cpuCount,
      memoryBytes: command.memoryBytes,
      imageId: command.imageId,
      l3NetworkIds: command.l3NetworkIds,
      nics,
      rootVolume: { volumeId: command.rootVolumeId, sizeBytes: command.rootDiskSizeBytes },
      dataDiskOfferingIds: command.dataDiskOfferingIds ?? [],
      zoneId: command.zoneId ?? null,
      clusterId: command.clusterId ?? null,
      hostId: command.hostId ?? null,
      strategy: command.strategy,
      createdAt: command.now,
      taskId: command.taskId,
      ...(command.projectId ? { projectId: command.projectId } : {}),
      ...(guestAccess ? { guestAccess } : {}),
      ...(command.antiSpoofing !== undefined ? { antiSpoofing: command.antiSpoofing } : {}),
    },
  };
  const out = new Emitter(created(createdEvent.data as Extract<VmEvent, { type: 'VmInstanceCreated' }>['data']));
  out.events.push(createdEvent);
  if (command.strategy !== 'JustCreate') out.emit(allocationRequested(out));
  return out.events;
}

// --- steps -----------------------------------------------------------------------------------

function allocationRequested(out: Emitter): VmEvent {
  const vm = out.state;
  return {
    type: 'VmAllocationRequested',
    data: {
      vmId: vm.vmId,
      seq: out.nextSeq,
      instanceOfferingId: vm.instanceOfferingId,
      cpuCount: vm.cpuCount,
      memoryBytes: vm.memoryBytes,
      imageId: vm.imageId,
      nics: vm.nics.map(({ nicId, l3NetworkId }) => ({ nicId, l3NetworkId })),
      rootVolume: { volumeId: vm.rootVolume.volumeId, sizeBytes: vm.rootVolume.sizeBytes },
      zoneId: vm.requested.zoneId,
      clusterId: vm.requested.clusterId,
      hostId: vm.requested.hostId,
    },
  };
}

function powerRequested(out: Emitter, operation: PowerOperation, stopType?: StopType): VmEvent {
  const data: Extract<VmEvent, { type: 'VmPowerOperationRequested' }>['data'] = { vmId: out.state.vmId, seq: out.nextSeq, hostId: out.state.hostId!, operation };
  if (stopType) data.stopType = stopType;
  return { type: 'VmPowerOperationRequested', data };
}

/** The VM as the hypervisor defines it: root volume as `vda`, NICs in order. */
export function defineSpecOf(vm: VmInstance): DefineSpec {
  const root: DefineSpec['volumes'][number] = { volumeId: vm.rootVolume.volumeId, device: 'vda' };
  const spec: DefineSpec = {
    name: vm.name,
    cpuCount: vm.cpuCount,
    memoryBytes: vm.memoryBytes,
    volumes: [root],
    nics: vm.nics.map((nic) => ({
      nicId: nic.nicId, mac: nic.mac ?? '', ip: nic.ip ?? '', l3NetworkId: nic.l3NetworkId,
      // The seed's network-config sets the address statically: it needs the mask and the gateway.
      ...(vm.guestAccess && nic.netmask ? { netmask: nic.netmask } : {}),
      ...(vm.guestAccess && nic.gateway ? { gateway: nic.gateway } : {}),
    })),
  };
  if (vm.guestAccess) spec.guestAccess = vm.guestAccess;
  if (vm.antiSpoofing !== undefined) spec.antiSpoofing = vm.antiSpoofing;
  return spec;
}

function resourcesAllocated(out: Emitter, command: Extract<VmCommand, { type: 'RecordResourcesAllocated' }>) {
  const vm = out.state;
  if (vm.process?.step !== 'allocate') return;
  out.emit({
    type: 'VmResourcesAllocated',
    data: {
      vmId: vm.vmId,
      hostId: command.hostId,
      zoneId: command.zoneId,
      clusterId: command.clusterId,
      nics: command.nics,
      rootVolume: { volumeId: vm.rootVolume.volumeId, sizeBytes: vm.rootVolume.sizeBytes, primaryStorageId: command.primaryStorageId },
    },
  });
  const allocatedVm = out.state;
  out.emit({
    type: 'VmBuildRequested',
    data: {
      vmId: vm.vmId,
      seq: out.nextSeq,
      hostId: command.hostId,
      image: command.image,
      rootVolume: { volumeId: vm.rootVolume.volumeId, sizeBytes: vm.rootVolume.sizeBytes },
      define: defineSpecOf(allocatedVm),
      start: allocatedVm.process!.startAfterDefine,
    },
  });
}

function stepSucceeded(out: Emitter, now: number) {
  const vm = out.state;
  const process = vm.process!;
  const vmId = vm.vmId;
  const hostId = vm.hostId!;
  switch (process.step) {
    case 'allocate':
      return; // only RecordResourcesAllocated finishes allocation
    case 'build':
      out.emit({ type: 'VmRootVolumeCreated', data: { vmId, volumeId: vm.rootVolume.volumeId, hostId } });
      out.emit({ type: 'VmDefined', data: { vmId, hostId } });
      if (process.startAfterDefine) out.emit({ type: 'VmStarted', data: { vmId, hostId, taskId: process.taskId } });
      else out.emit({ type: 'VmProvisioningCompleted', data: { vmId, taskId: process.taskId } });
      return;
    case 'define':
      out.emit({ type: 'VmDefined', data: { vmId, hostId } });
      out.emit({ type: 'VmStarted', data: { vmId, hostId, taskId: process.taskId } });
      return;
    case 'power':
      switch (process.purpose) {
        case 'create':
        case 'start':
          out.emit({ type: 'VmStarted', data: { vmId, hostId, taskId: process.taskId } });
          return;
        case 'stop':
          out.emit({ type: 'VmStopped', data: { vmId, hostId, type: process.stopType ?? 'grace', taskId: process.taskId } });
          return;
        case 'reboot':
          out.emit({ type: 'VmRebooted', data: { vmId, hostId, taskId: process.taskId } });
          return;
        case 'pause':
          out.emit({ type: 'VmPaused', data: { vmId, hostId, taskId: process.taskId } });
          return;
        case 'resume':
          out.emit({ type: 'VmResumed', data: { vmId, hostId, taskId: process.taskId } });
          return;
        default:
          return;
      }
    case 'undefine':
      out.emit({ type: 'VmUndefined', data: { vmId, hostId } });
      continueTeardown(out, now);
      return;
    case 'release-compute':
      out.emit({ type: 'VmComputeReleased', data: { vmId, hostId: vm.hostReserved ? vm.hostId : null } });
      continueTeardown(out, now);
      return;
    case 'delete-root-volume':
      out.emit({ type: 'VmRootVolumeDeleted', data: { vmId, volumeId: vm.rootVolume.volumeId } });
      continueTeardown(out, now);
      return;
    case 'release-storage':
      out.emit({ type: 'VmStorageReleased', data: { vmId, volumeId: vm.rootVolume.volumeId } });
      continueTeardown(out, now);
      return;
    case null:
      return;
  }
}

const timedOut = (error: VmError) => error.code === 'OPERATION_TIMEOUT';

function stepFailed(out: Emitter, error: VmError, now: number) {
  const vm = out.state;
  const process = vm.process!;
  const step = process.step!;
  if (process.provisioning && (step === 'allocate' || step === 'build')) {
    out.emit({ type: 'VmProvisioningFailed', data: { vmId: vm.vmId, step, error } });
    continueTeardown(out, now);
    return;
  }
  switch (process.purpose) {
    case 'start':
    case 'stop':
    case 'reboot':
    case 'pause':
    case 'resume':
      out.emit({
        type: 'VmOperationFailed',
        data: { vmId: vm.vmId, operation: process.purpose, error, state: timedOut(error) ? 'Unknown' : process.resumeState, taskId: process.taskId },
      });
      return;
    case 'destroy':
      out.emit({ type: 'VmDestroyFailed', data: { vmId: vm.vmId, error, state: timedOut(error) ? 'Unknown' : process.resumeState, taskId: process.taskId } });
      return;
    case 'expunge':
      out.emit({ type: 'VmExpungeFailed', data: { vmId: vm.vmId, error, taskId: process.taskId } });
      return;
    case 'rollback':
      out.emit({ type: 'VmRollbackStalled', data: { vmId: vm.vmId, step, error, stalledAt: now, taskId: process.taskId } });
      return;
    case 'create':
      return; // every create step is a provisioning step
  }
}

/**
 * Destroy, expunge and rollback take a VM apart in one order: undefine it on its host, give
 * back host capacity and IPs, then (expunge, rollback) delete the root volume and give back
 * its storage. What is left to do is read from the state, so a repeated or resumed teardown
 * skips what is done.
 */
function continueTeardown(out: Emitter, now: number) {
  const vm = out.state;
  const process = vm.process!;
  const vmId = vm.vmId;
  if (vm.defined && vm.hostId) {
    out.emit({ type: 'VmUndefineRequested', data: { vmId, seq: out.nextSeq, hostId: vm.hostId } });
    return;
  }
  if (vm.hostReserved || vm.ipsAllocated) {
    out.emit({
      type: 'VmComputeReleaseRequested',
      data: { vmId, seq: out.nextSeq, hostId: vm.hostReserved ? vm.hostId : null, nics: vm.ipsAllocated ? vm.nics.map(({ nicId, l3NetworkId }) => ({ nicId, l3NetworkId })) : [] },
    });
    return;
  }
  if (process.purpose !== 'destroy') {
    if (vm.rootVolume.created && vm.hostId) {
      out.emit({ type: 'VmRootVolumeDeleteRequested', data: { vmId, seq: out.nextSeq, hostId: vm.hostId, volumeId: vm.rootVolume.volumeId } });
      return;
    }
    if (vm.rootVolume.storageReserved && vm.rootVolume.primaryStorageId) {
      out.emit({ type: 'VmStorageReleaseRequested', data: { vmId, seq: out.nextSeq, primaryStorageId: vm.rootVolume.primaryStorageId, volumeId: vm.rootVolume.volumeId } });
      return;
    }
  }
  switch (process.purpose) {
    case 'destroy': {
      const policy = process.policy ?? 'Delay';
      const expungeAt = expungeAtFor(policy, now, process.expungePeriodSeconds ?? 0);
      // Direct: the DELETE ends when the VM is gone, so its task goes on into the expunge.
      const direct = policy === 'Direct';
      out.emit({ type: 'VmInstanceDestroyed', data: { vmId, policy, destroyedAt: now, expungeAt, taskId: direct ? null : process.taskId } });
      if (direct) {
        out.emit({ type: 'VmExpungeStarted', data: { vmId, taskId: process.taskId } });
        continueTeardown(out, now);
      }
      return;
    }
    case 'expunge':
      out.emit({ type: 'VmInstanceExpunged', data: { vmId, expungedAt: now, taskId: process.taskId } });
      return;
    case 'rollback':
      out.emit({
        type: 'VmProvisioningRolledBack',
        data: { vmId, error: process.error!, state: process.restState ?? 'Error', taskId: process.taskId },
      });
      return;
    default:
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Evolving

function created(data: Extract<VmEvent, { type: 'VmInstanceCreated' }>['data']): VmInstance {
  return {
    exists: true,
    expunged: false,
    vmId: data.vmId,
    name: data.name,
    description: data.description,
    state: 'Created',
    instanceOfferingId: data.instanceOfferingId,
    cpuCount: data.cpuCount,
    memoryBytes: data.memoryBytes,
    imageId: data.imageId,
    l3NetworkIds: data.l3NetworkIds,
    dataDiskOfferingIds: data.dataDiskOfferingIds,
    strategy: data.strategy,
    requested: { zoneId: data.zoneId, clusterId: data.clusterId, hostId: data.hostId },
    createdAt: data.createdAt,
    hostId: null,
    zoneId: data.zoneId,
    clusterId: data.clusterId,
    hostReserved: false,
    nics: data.nics.map((nic) => ({ ...nic, ip: null, mac: null, gateway: null, netmask: null })),
    ipsAllocated: false,
    rootVolume: { volumeId: data.rootVolume.volumeId, sizeBytes: data.rootVolume.sizeBytes, primaryStorageId: null, storageReserved: false, created: false },
    defined: false,
    seq: 0,
    process: data.strategy === 'JustCreate' ? null : {
      purpose: 'create',
      taskId: data.taskId,
      step: null,
      resumeState: 'Created',
      provisioning: true,
      startAfterDefine: data.strategy === 'InstantStart',
    },
    error: null,
    policy: null,
    destroyedAt: null,
    expungeAt: null,
    ...(data.projectId ? { projectId: data.projectId } : {}),
    ...(data.guestAccess ? { guestAccess: data.guestAccess } : {}),
    ...(data.antiSpoofing !== undefined ? { antiSpoofing: data.antiSpoofing } : {}),
  };
}

const stepOf: Partial<Record<VmEvent['type'], VmStep>> = {
  VmAllocationRequested: 'allocate',
  VmBuildRequested: 'build',
  VmDefineRequested: 'define',
  VmPowerOperationRequested: 'power',
  VmUndefineRequested: 'undefine',
  VmComputeReleaseRequested: 'release-compute',
  VmRootVolumeDeleteRequested: 'delete-root-volume',
  VmStorageReleaseRequested: 'release-storage',
};

const transitional: Partial<Record<PowerOperation, VmState>> = {
  start: 'Starting', stop: 'Stopping', reboot: 'Rebooting', pause: 'Pausing', resume: 'Resuming',
};

function begin(vm: VmInstance, purpose: VmPurpose, taskId: string | null, extra: Partial<VmProcess> = {}): VmInstance {
  const state = transitional[purpose as PowerOperation] ?? vm.state;
  return {
    ...vm,
    state,
    error: null,
    process: { purpose, taskId, step: null, resumeState: vm.state, provisioning: false, startAfterDefine: purpose === 'start', ...extra },
  };
}

/** Ends the operation: the VM rests in `state`. */
const rest = (vm: VmInstance, state: VmState, error: VmError | null = null): VmInstance => ({ ...vm, state, process: null, error });

function evolveInstance(vm: VmInstance, event: VmEvent): VmInstance {
  const step = stepOf[event.type];
  if (step) {
    const seq = (event.data as { seq: number }).seq;
    return { ...vm, seq, process: vm.process ? { ...vm.process, step, stalled: false } : vm.process };
  }
  switch (event.type) {
    case 'VmInstanceCreated':
      return vm;
    case 'VmResourcesAllocated': {
      const { hostId, zoneId, clusterId, nics, rootVolume } = event.data;
      const byNic = new Map(nics.map((nic) => [nic.nicId, nic]));
      return {
        ...vm,
        hostId, zoneId, clusterId,
        hostReserved: true,
        nics: vm.nics.map((nic) => {
          const allocated = byNic.get(nic.nicId);
          return allocated ? { ...nic, ip: allocated.ip, mac: allocated.mac, gateway: allocated.gateway, netmask: allocated.netmask } : nic;
        }),
        ipsAllocated: true,
        rootVolume: { ...vm.rootVolume, primaryStorageId: rootVolume.primaryStorageId, storageReserved: true },
      };
    }
    case 'VmRootVolumeCreated':
      return { ...vm, rootVolume: { ...vm.rootVolume, created: true } };
    case 'VmDefined':
      return { ...vm, defined: true };
    case 'VmProvisioningCompleted':
      return rest(vm, 'Stopped');
    case 'VmStartRequested':
      return vm.state === 'Created'
        ? { ...begin(vm, 'start', event.data.taskId, { provisioning: true }), state: 'Starting' }
        : begin(vm, 'start', event.data.taskId);
    case 'VmStopRequested':
      return begin(vm, 'stop', event.data.taskId, { stopType: event.data.type });
    case 'VmRebootRequested':
      return begin(vm, 'reboot', event.data.taskId);
    case 'VmPauseRequested':
      return begin(vm, 'pause', event.data.taskId);
    case 'VmResumeRequested':
      return begin(vm, 'resume', event.data.taskId);
    case 'VmStarted':
    case 'VmRebooted':
    case 'VmResumed':
      return rest({ ...vm, defined: true }, 'Running');
    case 'VmStopped':
      return rest(vm, 'Stopped');
    case 'VmPaused':
      return rest(vm, 'Paused');
    case 'VmOperationFailed':
      return rest(vm, event.data.state, event.data.error);
    case 'VmProvisioningFailed': {
      const process = vm.process!;
      const step = event.data.step;
      // A build cut short may have half happened on the host: undo it as if it had all
      // happened (the hypervisor's destroy and delete are idempotent on what does not exist).
      const maybeBuilt = step === 'build';
      return {
        ...vm,
        error: event.data.error,
        defined: vm.defined || maybeBuilt,
        rootVolume: { ...vm.rootVolume, created: vm.rootVolume.created || maybeBuilt },
        process: {
          ...process,
          purpose: 'rollback',
          step: null,
          provisioning: false,
          error: event.data.error,
          restState: process.purpose === 'create' ? 'Error' : process.resumeState,
        },
      };
    }
    case 'VmProvisioningRolledBack':
      return rest(vm, event.data.state, event.data.error);
    case 'VmRollbackStalled':
      // The task has its outcome now; the rollback itself goes on later.
      return { ...vm, process: { ...vm.process!, stalled: true, taskId: null } };
    case 'VmTeardownRetried':
      return vm;
    case 'VmInstanceUpdated': {
      const next = { ...vm };
      if (event.data.name !== undefined) next.name = event.data.name;
      if (event.data.description !== undefined) next.description = event.data.description;
      return next;
    }
    case 'VmOfferingChanged':
      return { ...vm, instanceOfferingId: event.data.instanceOfferingId, cpuCount: event.data.cpuCount, memoryBytes: event.data.memoryBytes };
    case 'VmDestroyRequested':
      return {
        ...begin(vm, 'destroy', event.data.taskId, { policy: event.data.policy, expungePeriodSeconds: event.data.expungePeriodSeconds }),
        state: 'Destroying',
      };
    case 'VmUndefined':
      return { ...vm, defined: false };
    case 'VmComputeReleased':
      // The addresses are kept as a memory: a recover asks for the same ones first.
      return { ...vm, hostReserved: false, ipsAllocated: false };
    case 'VmInstanceDestroyed':
      return { ...rest(vm, 'Destroyed'), policy: event.data.policy, destroyedAt: event.data.destroyedAt, expungeAt: event.data.expungeAt };
    case 'VmDestroyFailed':
      return rest(vm, event.data.state, event.data.error);
    case 'VmInstanceRecovered': {
      const byNic = new Map(event.data.nics.map((nic) => [nic.nicId, nic]));
      return {
        ...rest(vm, 'Stopped'),
        hostId: event.data.hostId,
        zoneId: event.data.zoneId,
        clusterId: event.data.clusterId,
        hostReserved: true,
        ipsAllocated: true,
        nics: vm.nics.map((nic) => {
          const allocated = byNic.get(nic.nicId);
          return allocated ? { ...nic, ip: allocated.ip, mac: allocated.mac, gateway: allocated.gateway, netmask: allocated.netmask } : nic;
        }),
        defined: false,
        policy: null,
        destroyedAt: null,
        expungeAt: null,
      };
    }
    case 'VmExpungeStarted':
      return { ...begin(vm, 'expunge', event.data.taskId), state: 'Expunging' };
    case 'VmRootVolumeDeleted':
      return { ...vm, rootVolume: { ...vm.rootVolume, created: false } };
    case 'VmStorageReleased':
      return { ...vm, rootVolume: { ...vm.rootVolume, storageReserved: false } };
    case 'VmInstanceExpunged':
      return { ...rest(vm, 'Destroyed'), expunged: true };
    case 'VmExpungeFailed':
      return rest(vm, 'Destroyed', event.data.error);
    case 'VmPowerStateSynced':
      return { ...vm, state: event.data.to };
    default:
      return vm;
  }
}

const positive = (value: number) => Number.isSafeInteger(value) && value > 0;

function invalidField(code: string, field: string, message: string) {
  return new DomainError(code, `${field} ${message}`, 'invalid', { fields: [{ field, message }] });
}

/** What a VM holds right now, for tests and the process manager's checks. */
export function holdings(vm: VmInstance) {
  return {
    host: vm.hostReserved ? vm.hostId : null,
    nics: vm.ipsAllocated ? vm.nics.map((nic) => nic.nicId) : [],
    storage: vm.rootVolume.storageReserved ? vm.rootVolume.primaryStorageId : null,
    defined: vm.defined,
    rootVolumeCreated: vm.rootVolume.created,
  };
}
