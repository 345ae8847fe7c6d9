import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { deletionSettingNames, isDeletionPolicy } from '../../domain/compute/deletion-policy.js';
import { hostDecider, hostStream, type HostEvent, type HostState } from '../../domain/compute/host.js';
import { diskOfferingDecider, diskOfferingStream, instanceOfferingDecider, instanceOfferingStream } from '../../domain/compute/offering.js';
import {
  assertRecoverable, nicIdName, rootVolumeIdName, vmDecider, type CreateStrategy, type StopType, type VmCommand, type VmInstance,
} from '../../domain/compute/vm.js';
import { vmView, type VmView } from '../../domain/compute/vm-view.js';
import type { Decider } from '../../domain/shared/decider.js';
import { DomainError } from '../../domain/shared/errors.js';
import { settingValue } from '../../domain/settings/settings.js';
import { readSettings } from '../settings/settings.js';
import { createAggregateCache } from '../shared/cached-command.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';
import { idFromName } from '../shared/ids.js';
import { releaseVmCompute, reserveForRecovery, usableImage, zoneOfNetworks } from './vm-resources.js';
import { handleVmCommand, requireVm } from './vm-store.js';
import { createGuestAccess } from './vm-guest-access.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import { dataVolumeIdFor } from './volume-reactions.js';
import { releaseVmQuota, releaseVmRunning, reserveVmQuota, reserveVmRunning, resizeVmQuota, withCommandId } from '../tenancy/quota.js';

// What the API asks of VMs. Commands that start a long operation (create, start, stop …,
// destroy, expunge) only record its first events: the process manager and the effect routes
// carry it on, and the process manager ends the task. Quick ones (rename, change offering,
// recover) finish here.

export interface VmCommandDeps {
  store: EventStore;
  readStore: ReadStore;
  clock: Clock;
  /** Seals a root password given at create time (required only then). */
  secrets?: SecretBox;
}

export interface CreateVmRequest {
  name: string;
  description?: string;
  instanceOfferingId: string;
  imageId: string;
  l3NetworkIds: string[];
  /** Bytes; the image's size when absent. */
  rootDiskSize?: number;
  dataDiskOfferingIds?: string[];
  zoneId?: string;
  clusterId?: string;
  hostId?: string;
  strategy?: CreateStrategy;
  /** The project the VM is created in: its quota is reserved first (tenancy). */
  projectId?: string;
  /** OpenSSH public keys and a root password (plaintext, sealed before any event) for the cloud-init seed. */
  sshKeys?: string[];
  rootPassword?: string;
  /** IP/MAC/ARP spoofing protection; the setting vm.antiSpoofing when absent. */
  antiSpoofing?: boolean;
}

const invalidField = (code: string, field: string, message: string, kind: DomainError['kind'] = 'invalid') =>
  new DomainError(code, `${field}: ${message}`, kind, { fields: [{ field, message }] });

const offeringReads = createAggregateCache(instanceOfferingDecider, { maxStreams: 10_000 });

async function offeringOf(store: EventStore, instanceOfferingId: string) {
  const { state } = await offeringReads.load(store, instanceOfferingStream(instanceOfferingId));
  if (!state.exists || state.deleted) throw invalidField('INSTANCE_OFFERING_NOT_FOUND', 'instanceOfferingId', `no instance offering ${instanceOfferingId}`);
  return state;
}

/** Checks what the VM refers to, then records it. Its provisioning goes on in the process manager. */
export async function createVm(deps: VmCommandDeps, vmId: string, request: CreateVmRequest, task: { taskId: string; metadata: EventMetadata }): Promise<VmView> {
  const offering = await offeringOf(deps.store, request.instanceOfferingId);
  const image = await usableImage(deps.store, request.imageId).catch((error: unknown) => {
    if (error instanceof DomainError && error.code === 'IMAGE_NOT_FOUND') throw invalidField('IMAGE_NOT_FOUND', 'imageId', `no image ${request.imageId}`);
    throw error;
  });
  if (request.l3NetworkIds.length === 0) throw invalidField('INVALID_VM_INSTANCE', 'l3NetworkIds', 'at least one L3 network is needed');
  const zoneId = await zoneOfNetworks(deps.store, request.l3NetworkIds);
  if (request.zoneId !== undefined && request.zoneId !== zoneId) throw invalidField('ZONE_MISMATCH', 'zoneId', `the L3 networks are in zone ${zoneId}`);
  const dataVolumes: Array<{ volumeId: string; sizeBytes: number }> = [];
  for (const [index, diskOfferingId] of (request.dataDiskOfferingIds ?? []).entries()) {
    const { state } = await loadAggregate(deps.store, diskOfferingDecider, diskOfferingStream(diskOfferingId));
    if (!state.exists || state.deleted) throw invalidField('DISK_OFFERING_NOT_FOUND', 'dataDiskOfferingIds', `no disk offering ${diskOfferingId}`);
    dataVolumes.push({ volumeId: dataVolumeIdFor(vmId, index), sizeBytes: state.sizeBytes });
  }
  const rootDiskSizeBytes = request.rootDiskSize ?? image.sizeBytes;
  if (rootDiskSizeBytes < image.sizeBytes) {
    throw invalidField('ROOT_DISK_TOO_SMALL', 'rootDiskSize', `must be at least the image's ${image.sizeBytes} bytes`);
  }
  const command: VmCommand = {
    type: 'CreateVm',
    vmId,
    name: request.name,
    instanceOfferingId: request.instanceOfferingId,
    cpuCount: offering.cpuCount,
    memoryBytes: offering.memoryBytes,
    imageId: request.imageId,
    l3NetworkIds: request.l3NetworkIds,
    rootDiskSizeBytes,
    dataDiskOfferingIds: request.dataDiskOfferingIds ?? [],
    zoneId: request.zoneId ?? null,
    clusterId: request.clusterId ?? null,
    hostId: request.hostId ?? null,
    strategy: request.strategy ?? 'InstantStart',
    rootVolumeId: idFromName(rootVolumeIdName(vmId)),
    nicIds: request.l3NetworkIds.map((_, index) => idFromName(nicIdName(vmId, index))),
    taskId: task.taskId,
    now: deps.clock.now(),
  };
  if (request.description !== undefined) command.description = request.description;
  Object.assign(command, await createGuestAccess(deps, request));
  if (request.projectId === undefined) {
    const outcome = await handleVmCommand(deps.store, vmId, command, task.metadata);
    return vmView(outcome.state as VmInstance);
  }
  // Tenancy: the project's quota is reserved before the VM exists (a VM created running takes
  // a running slot too, named by this command); if it is never recorded, the reservation is
  // given back (a later failure is released by the quota process).
  command.projectId = request.projectId;
  const metadata = withCommandId(task.metadata);
  const startCommandId = command.strategy === 'InstantStart' ? metadata.commandId : undefined;
  await reserveVmQuota(deps.store, request.projectId, {
    vmId, cpuCount: offering.cpuCount, memoryBytes: offering.memoryBytes, ...(startCommandId !== undefined ? { startCommandId } : {}), dataVolumes,
  }, metadata);
  try {
    const outcome = await handleVmCommand(deps.store, vmId, command, metadata);
    return vmView(outcome.state as VmInstance);
  } catch (error) {
    await releaseVmQuota(deps.store, request.projectId, vmId, metadata, startCommandId, dataVolumes.map((volume) => volume.volumeId));
    throw error;
  }
}

/** Start, stop, reboot, pause, resume: the first events of the operation. */
export async function powerVm(
  deps: VmCommandDeps,
  vmId: string,
  operation: { type: 'StartVm' | 'RebootVm' | 'PauseVm' | 'ResumeVm' } | { type: 'StopVm'; stopType: StopType },
  task: { taskId: string | null; metadata: EventMetadata },
  options: { expectedVersion?: number } = {},
): Promise<void> {
  const { vm } = await requireVm(deps.store, vmId);
  const command = { ...operation, taskId: task.taskId } as VmCommand;
  if (operation.type !== 'StartVm' || vm.projectId === undefined) {
    await handleVmCommand(deps.store, vmId, command, task.metadata, options);
    return;
  }
  // Tenancy: a start takes a running slot of the project's quota first, named by this command.
  // Refusals come first, so that nothing is reserved for a start that cannot happen.
  vmDecider.decide(command, vm);
  const metadata = withCommandId(task.metadata);
  await reserveVmRunning(deps.store, vm.projectId, vmId, metadata.commandId, metadata);
  try {
    await handleVmCommand(deps.store, vmId, command, metadata, options);
  } catch (error) {
    await releaseVmRunning(deps.store, vm.projectId, vmId, metadata.commandId, metadata);
    throw error;
  }
}

export async function updateVm(deps: VmCommandDeps, vmId: string, changes: { name?: string; description?: string }, metadata: EventMetadata, options: { expectedVersion?: number } = {}): Promise<VmView> {
  await requireVm(deps.store, vmId);
  const command: VmCommand = { type: 'UpdateVm' };
  if (changes.name !== undefined) command.name = changes.name;
  if (changes.description !== undefined) command.description = changes.description;
  const outcome = await handleVmCommand(deps.store, vmId, command, metadata, options);
  return vmView(outcome.state as VmInstance);
}

/** DELETE: destroys the VM under `vm.deletionPolicy` as it stands now. */
export async function destroyVm(deps: VmCommandDeps, vmId: string, task: { taskId: string; metadata: EventMetadata }, options: { expectedVersion?: number } = {}) {
  await requireVm(deps.store, vmId);
  const settings = await readSettings(deps.store);
  const names = deletionSettingNames('vm');
  const policy = settingValue(settings, names.policy);
  if (!isDeletionPolicy(policy)) throw new Error(`setting ${names.policy} holds ${String(policy)}`);
  const expungePeriodSeconds = Number(settingValue(settings, names.expungePeriod));
  await handleVmCommand(deps.store, vmId, { type: 'DestroyVm', policy, expungePeriodSeconds, taskId: task.taskId, now: deps.clock.now() }, task.metadata, options);
  return { policy };
}

export async function expungeVm(deps: VmCommandDeps, vmId: string, task: { taskId: string | null; metadata: EventMetadata }, options: { expectedVersion?: number } = {}) {
  await requireVm(deps.store, vmId);
  await handleVmCommand(deps.store, vmId, { type: 'ExpungeVm', taskId: task.taskId, now: deps.clock.now() }, task.metadata, options);
}

/**
 * Destroyed → Stopped: capacity on the host that keeps the root volume and the addresses are
 * reserved again first (the same addresses when still free), then the VM is recorded
 * recovered. If it cannot be, what was reserved is given back.
 */
export async function recoverVm(deps: VmCommandDeps, vmId: string, task: { taskId: string; metadata: EventMetadata }, options: { expectedVersion?: number } = {}): Promise<VmView> {
  const { vm, version } = await requireVm(deps.store, vmId);
  if (options.expectedVersion !== undefined && options.expectedVersion !== version) {
    throw new DomainError('PRECONDITION_FAILED', `vm-${vmId} has changed (version ${version})`, 'precondition', { version });
  }
  assertRecoverable(vm);
  const resources = { store: deps.store, readStore: deps.readStore };
  const reserved = await reserveForRecovery(resources, {
    vmId, cpuCount: vm.cpuCount, memoryBytes: vm.memoryBytes, hostId: vm.hostId!, nics: vm.nics,
  }, task.metadata);
  try {
    // At the version checked: a VM expunged or recovered meanwhile is not recovered twice.
    const outcome = await handleVmCommand(deps.store, vmId, { type: 'RecoverVm', ...reserved, taskId: task.taskId }, task.metadata, { expectedVersion: version });
    return vmView(outcome.state as VmInstance);
  } catch (error) {
    await releaseVmCompute(resources, vmId, reserved.hostId, vm.nics, task.metadata);
    throw error;
  }
}

/** Capacity moves from the old offering to the new one in one append to the host's stream. */
const resizeDecider: Decider<{ vmId: string; cpuCount: number; memoryBytes: number }, HostState, HostEvent> = {
  initialState: hostDecider.initialState,
  evolve: hostDecider.evolve,
  decide(command, state) {
    const released = hostDecider.decide({ type: 'ReleaseHostCapacity', vmId: command.vmId }, state);
    const after = released.reduce(hostDecider.evolve, state);
    return [...released, ...hostDecider.decide({ type: 'ReserveHostCapacity', ...command }, after)];
  },
};

/** A stopped VM gets another instance offering; its host must have room for the new size. */
export async function changeVmOffering(deps: VmCommandDeps, vmId: string, instanceOfferingId: string, metadata: EventMetadata, options: { expectedVersion?: number } = {}): Promise<VmView> {
  const { vm, version } = await requireVm(deps.store, vmId);
  if (options.expectedVersion !== undefined && options.expectedVersion !== version) {
    throw new DomainError('PRECONDITION_FAILED', `vm-${vmId} has changed (version ${version})`, 'precondition', { version });
  }
  const offering = await offeringOf(deps.store, instanceOfferingId);
  const command: VmCommand = { type: 'ChangeOffering', instanceOfferingId, cpuCount: offering.cpuCount, memoryBytes: offering.memoryBytes };
  // Asked of the decider first: a running VM is refused before its host is touched.
  if (vmDecider.decide(command, vm).length === 0) return vmView(vm);
  // Tenancy: the project's vCPU and memory reservation follows the new size (QUOTA_EXCEEDED if it does not fit).
  const projectId = vm.projectId;
  if (projectId !== undefined) await resizeVmQuota(deps.store, projectId, { vmId, cpuCount: offering.cpuCount, memoryBytes: offering.memoryBytes }, metadata);
  const undoQuota = () => (projectId === undefined ? Promise.resolve()
    : resizeVmQuota(deps.store, projectId, { vmId, cpuCount: vm.cpuCount, memoryBytes: vm.memoryBytes }, metadata).catch(() => undefined));
  const hostId = vm.hostId!;
  try {
    await handleCommand(deps.store, resizeDecider, hostStream(hostId), { vmId, cpuCount: offering.cpuCount, memoryBytes: offering.memoryBytes }, metadata);
  } catch (error) {
    await undoQuota();
    throw error;
  }
  try {
    const outcome = await handleVmCommand(deps.store, vmId, command, metadata, { expectedVersion: version });
    return vmView(outcome.state as VmInstance);
  } catch (error) {
    await handleCommand(deps.store, resizeDecider, hostStream(hostId), { vmId, cpuCount: vm.cpuCount, memoryBytes: vm.memoryBytes }, metadata)
      .catch(() => undefined);
    await undoQuota();
    throw error;
  }
}
