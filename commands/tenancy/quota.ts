import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { projectStream, type ProjectCommand } from '../../domain/tenancy/project.js';
import { quotaKey, vmQuotaAmounts, type QuotaAmounts } from '../../domain/tenancy/quotas.js';
import { newId } from '../shared/ids.js';
import { projectAggregates } from './projects.js';

// Quota reservations in the project's stream (DESIGN.md §3): reserved before a resource is
// created, released when its creation fails or it is expunged. Keyed by the resource, so a
// repeat (a retry, a redelivered event) reserves or releases nothing twice. Concurrent
// reservations in this process queue on the project's memoized fold (projectAggregates) and
// are decided one after the other; against another process they race on the stream's
// version: the loser reloads and decides again, against the usage the winner left, so a
// quota is never exceeded.
//
// A running VM holds one `vm.runningNum` from the request that starts it (create with
// InstantStart, or start) until it rests stopped, destroyed or failed. That reservation is
// keyed by the VM *and* the command that started it (its commandId), so that the late release
// of one running period can never give back the next one's: a stop processed after the VM was
// started again releases only the key of the start it ends (quota-release.ts).

/** More retries than the default: a burst of creates in one project all append to its stream. */
const quotaRetry = { attempts: 200, baseDelayMs: 1 };

async function onProject(store: EventStore, projectId: string, command: ProjectCommand, metadata: EventMetadata) {
  return projectAggregates.handle(store, projectStream(projectId), command, metadata, { retry: quotaRetry });
}

/** True when this call reserved; false when the resource already held its reservation (a repeat). */
export async function reserveQuota(store: EventStore, projectId: string, key: string, amounts: QuotaAmounts, metadata: EventMetadata): Promise<boolean> {
  return (await onProject(store, projectId, { type: 'ReserveQuota', key, amounts }, metadata)).events.length > 0;
}

export async function releaseQuota(store: EventStore, projectId: string, key: string, metadata: EventMetadata): Promise<void> {
  await onProject(store, projectId, { type: 'ReleaseQuota', key }, metadata);
}

export async function releaseQuotas(store: EventStore, projectId: string, keys: string[], metadata: EventMetadata): Promise<void> {
  if (keys.length > 0) await onProject(store, projectId, { type: 'ReleaseQuotas', keys }, metadata);
}

/**
 * Reserves, creates, and gives the reservation back if the creation throws (a later failure
 * is released by the quota process when the resource records it).
 */
export async function withQuota<T>(
  store: EventStore, projectId: string | undefined, key: string, amounts: QuotaAmounts, metadata: EventMetadata, create: () => Promise<T>,
): Promise<T> {
  if (projectId === undefined) return create();
  // A reservation made earlier (a repeat, or one taken with the VM that asked for this volume) is not this call's to give back.
  const reserved = await reserveQuota(store, projectId, key, amounts, metadata);
  try {
    return await create();
  } catch (error) {
    if (reserved) await releaseQuota(store, projectId, key, metadata);
    throw error;
  }
}

// --- VMs ---------------------------------------------------------------------------------------

export const vmQuotaKey = (vmId: string) => quotaKey('vm', vmId);
export const vmRunningKeyPrefix = (vmId: string) => `${quotaKey('vm-running', vmId)}:`;
/** One running period of a VM: the command that started it names it. */
export const vmRunningKey = (vmId: string, startCommandId: string) => `${vmRunningKeyPrefix(vmId)}${startCommandId}`;
export const runningAmounts: QuotaAmounts = { 'vm.runningNum': 1 };

/** The metadata a starting command is recorded with: it must carry a commandId, which names the running period. */
export function withCommandId(metadata: EventMetadata): EventMetadata & { commandId: string } {
  return metadata.commandId ? metadata as EventMetadata & { commandId: string } : { ...metadata, commandId: newId() };
}

/** What a VM takes from its project: one VM, its vCPUs, its memory — and one running VM when it is created running. */
export async function reserveVmQuota(
  store: EventStore, projectId: string,
  vm: { vmId: string; cpuCount: number; memoryBytes: number; startCommandId?: string; dataVolumes?: ReadonlyArray<{ volumeId: string; sizeBytes: number }> },
  metadata: EventMetadata,
) {
  const reservations = [{ key: vmQuotaKey(vm.vmId), amounts: vmQuotaAmounts(vm.cpuCount, vm.memoryBytes) }];
  if (vm.startCommandId !== undefined) reservations.push({ key: vmRunningKey(vm.vmId, vm.startCommandId), amounts: runningAmounts });
  // The data volumes asked with the VM are reserved with it: the VM is refused if they do not fit.
  for (const volume of vm.dataVolumes ?? []) reservations.push({ key: volumeQuotaKey(volume.volumeId), amounts: dataVolumeAmounts(volume.sizeBytes) });
  await onProject(store, projectId, { type: 'ReserveQuotas', reservations }, metadata);
}

export async function releaseVmQuota(store: EventStore, projectId: string, vmId: string, metadata: EventMetadata, startCommandId?: string, dataVolumeIds: readonly string[] = []) {
  await releaseQuotas(store, projectId, [
    vmQuotaKey(vmId), ...(startCommandId !== undefined ? [vmRunningKey(vmId, startCommandId)] : []), ...dataVolumeIds.map(volumeQuotaKey),
  ], metadata);
}

export async function reserveVmRunning(store: EventStore, projectId: string, vmId: string, startCommandId: string, metadata: EventMetadata) {
  await reserveQuota(store, projectId, vmRunningKey(vmId, startCommandId), runningAmounts, metadata);
}

export async function releaseVmRunning(store: EventStore, projectId: string, vmId: string, startCommandId: string, metadata: EventMetadata) {
  await releaseQuota(store, projectId, vmRunningKey(vmId, startCommandId), metadata);
}

/** A VM given another offering: its vCPU and memory reservation follows (QUOTA_EXCEEDED if the new size does not fit). */
export async function resizeVmQuota(store: EventStore, projectId: string, vm: { vmId: string; cpuCount: number; memoryBytes: number }, metadata: EventMetadata) {
  await onProject(store, projectId, { type: 'ResizeQuota', key: vmQuotaKey(vm.vmId), amounts: vmQuotaAmounts(vm.cpuCount, vm.memoryBytes) }, metadata);
}

// --- storage and network resources ---------------------------------------------------------------

export const volumeQuotaKey = (volumeId: string) => quotaKey('volume', volumeId);
export const dataVolumeAmounts = (sizeBytes: number): QuotaAmounts => ({ 'volume.data.num': 1, 'volume.capacity': sizeBytes });
export const snapshotQuotaKey = (snapshotId: string) => quotaKey('snapshot', snapshotId);
export const snapshotAmounts: QuotaAmounts = { 'snapshot.volume.num': 1 };
export const imageQuotaKey = (imageId: string) => quotaKey('image', imageId);
export const imageAmounts: QuotaAmounts = { 'image.num': 1 };
export const l3QuotaKey = (l3NetworkId: string) => quotaKey('l3', l3NetworkId);
export const l3Amounts: QuotaAmounts = { 'l3.num': 1 };
