import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import type { Doc, Filter, ReadStore } from '../../adapters/readstore/port.js';
import { hostStream } from '../../domain/compute/host.js';
import { rankHosts, type HostCandidate, type PlacementRequest } from '../../domain/compute/placement.js';
import { DomainError } from '../../domain/shared/errors.js';
import { hostAggregates, reserveHostCapacity } from './host-capacity.js';

// Chooses a host for a VM and reserves its capacity there. The candidates come from the
// `hosts` read model, which may lag; where this process holds a fresher state of a host
// (it reserved on it), that state is used, so concurrent creates spread instead of piling
// on the host the read model still shows as emptiest. Correctness never depends on either:
// the reservation in the host's stream is the only thing that takes capacity.

/** Refusals after which the next candidate is tried. */
const tryNextOn = new Set(['HOST_CAPACITY_EXCEEDED', 'HOST_NOT_AVAILABLE', 'HOST_NOT_FOUND', 'CONCURRENT_MODIFICATION']);

export async function placeVm(
  deps: { store: EventStore; readStore: ReadStore },
  request: PlacementRequest & { vmId: string },
  metadata: EventMetadata,
): Promise<{ hostId: string }> {
  const filter: Filter = { state: 'Connected', enabled: true, maintenance: false };
  if (request.zoneId !== undefined) filter.zoneId = request.zoneId;
  if (request.clusterId !== undefined) filter.clusterId = request.clusterId;
  if (request.hostId !== undefined) filter.id = request.hostId;
  const documents = await deps.readStore.find('hosts', filter, { limit: 100_000 });
  const candidates = documents.map((document) => freshest(deps.store, candidateOf(document)));
  const ranked = rankHosts(candidates, request);
  const refusals: Array<{ hostId: string; code: string }> = [];
  for (const host of ranked) {
    try {
      await reserveHostCapacity(deps.store, host.hostId, { vmId: request.vmId, cpuCount: request.cpuCount, memoryBytes: request.memoryBytes }, metadata);
      return { hostId: host.hostId };
    } catch (error) {
      if (!(error instanceof DomainError) || !tryNextOn.has(error.code)) throw error;
      refusals.push({ hostId: host.hostId, code: error.code });
    }
  }
  throw new DomainError('NO_HOST_AVAILABLE',
    `no host can take ${request.cpuCount} vCPUs and ${request.memoryBytes} bytes of memory${describeScope(request)}`,
    'conflict', { candidates: ranked.length, refusals: refusals.slice(0, 20) });
}

function candidateOf(document: Doc): HostCandidate {
  return {
    hostId: document.id,
    zoneId: document.zoneId as string,
    clusterId: document.clusterId as string,
    state: document.state as string,
    enabled: document.enabled as boolean,
    maintenance: document.maintenance as boolean,
    cpuTotal: document.cpuTotal as number,
    cpuUsed: document.cpuUsed as number,
    memoryTotal: document.memoryTotal as number,
    memoryUsed: document.memoryUsed as number,
  };
}

function freshest(store: EventStore, candidate: HostCandidate): HostCandidate {
  const known = hostAggregates.peek(store, hostStream(candidate.hostId))?.state;
  if (!known?.exists || known.removed) return candidate;
  return {
    ...candidate,
    state: known.state,
    enabled: known.enabled,
    maintenance: known.maintenance,
    cpuTotal: known.cpuTotal,
    cpuUsed: known.cpuUsed,
    memoryTotal: known.memoryTotal,
    memoryUsed: known.memoryUsed,
  };
}

function describeScope(request: PlacementRequest): string {
  const scope = [
    request.zoneId && `zone ${request.zoneId}`,
    request.clusterId && `cluster ${request.clusterId}`,
    request.hostId && `host ${request.hostId}`,
  ].filter(Boolean);
  return scope.length > 0 ? ` in ${scope.join(', ')}` : '';
}
