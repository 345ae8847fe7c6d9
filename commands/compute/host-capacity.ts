import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { hostDecider, hostStream } from '../../domain/compute/host.js';
import { createAggregateCache } from '../shared/cached-command.js';

// Host capacity is reserved in the host's stream (DESIGN.md §3): the reservation, not the
// hosts read model, is what keeps a host from being over-committed.

/** Every command on a host stream goes through this cache, so they queue per host in this process. */
export const hostAggregates = createAggregateCache(hostDecider);

export interface HostCapacityRequest {
  vmId: string;
  cpuCount: number;
  memoryBytes: number;
}

/**
 * Reserves a VM's vCPUs and memory on a host. Idempotent by `vmId`. Refusals:
 * HOST_NOT_FOUND, HOST_NOT_AVAILABLE (disconnected, disabled, maintenance), HOST_CAPACITY_EXCEEDED.
 */
export async function reserveHostCapacity(store: EventStore, hostId: string, request: HostCapacityRequest, metadata: EventMetadata): Promise<{ position: number }> {
  const outcome = await hostAggregates.handle(store, hostStream(hostId), {
    type: 'ReserveHostCapacity', vmId: request.vmId, cpuCount: request.cpuCount, memoryBytes: request.memoryBytes,
  }, metadata);
  return { position: outcome.position };
}

/** Releases what `vmId` holds on the host; nothing held is not an error (compensation repeats). */
export async function releaseHostCapacity(store: EventStore, hostId: string, vmId: string, metadata: EventMetadata): Promise<{ position: number }> {
  const outcome = await hostAggregates.handle(store, hostStream(hostId), { type: 'ReleaseHostCapacity', vmId }, metadata);
  return { position: outcome.position };
}
