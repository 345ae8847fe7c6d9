import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { projectDecider, projectStream } from '../../domain/tenancy/project.js';
import { quotaKey, vmQuotaAmounts, type QuotaAmounts } from '../../domain/tenancy/quotas.js';
import { handleCommand } from '../shared/handle-command.js';

// Quota reservations in the project's stream (DESIGN.md §3): reserved before a resource is
// created, released when its creation fails or it is expunged. Keyed by the resource, so a
// repeat (a retry, a redelivered event) reserves or releases nothing twice. Concurrent
// reservations race on the project stream's version: the loser reloads and decides again,
// against the usage the winner left, so a quota is never exceeded.

/** More retries than the default: a burst of creates in one project all append to its stream. */
const quotaRetry = { attempts: 200, baseDelayMs: 1 };

export async function reserveQuota(store: EventStore, projectId: string, key: string, amounts: QuotaAmounts, metadata: EventMetadata): Promise<void> {
  await handleCommand(store, projectDecider, projectStream(projectId), { type: 'ReserveQuota', key, amounts }, metadata, { retry: quotaRetry });
}

export async function releaseQuota(store: EventStore, projectId: string, key: string, metadata: EventMetadata): Promise<void> {
  await handleCommand(store, projectDecider, projectStream(projectId), { type: 'ReleaseQuota', key }, metadata, { retry: quotaRetry });
}

export const vmQuotaKey = (vmId: string) => quotaKey('vm', vmId);

/** What a VM takes from its project: one VM, its vCPUs, its memory. */
export async function reserveVmQuota(store: EventStore, projectId: string, vm: { vmId: string; cpuCount: number; memoryBytes: number }, metadata: EventMetadata) {
  await reserveQuota(store, projectId, vmQuotaKey(vm.vmId), vmQuotaAmounts(vm.cpuCount, vm.memoryBytes), metadata);
}

export async function releaseVmQuota(store: EventStore, projectId: string, vmId: string, metadata: EventMetadata) {
  await releaseQuota(store, projectId, vmQuotaKey(vmId), metadata);
}
