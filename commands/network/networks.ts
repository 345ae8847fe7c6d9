import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { l2NetworkDecider, l2NetworkStream } from '../../domain/network/l2-network.js';
import { l3NetworkStream, type L3NetworkCommand } from '../../domain/network/l3-network.js';
import { DomainError } from '../../domain/shared/errors.js';
import { requireZone } from '../compute/inventory.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';
import { newId } from '../shared/ids.js';
import { l3Aggregates } from './ipam.js';
import { l3Amounts, l3QuotaKey, withQuota } from '../tenancy/quota.js';

type Deps = { store: EventStore; clock: Clock };

export async function createL2Network(
  deps: Deps,
  request: { zoneId: string; name: string; description?: string; physicalInterface: string; vlan?: number },
  metadata: EventMetadata,
) {
  await requireZone(deps.store, request.zoneId);
  const l2NetworkId = newId();
  const outcome = await handleCommand(deps.store, l2NetworkDecider, l2NetworkStream(l2NetworkId), {
    type: 'CreateL2Network', l2NetworkId, ...request, now: deps.clock.now(),
  }, metadata);
  return { id: l2NetworkId, position: outcome.position };
}

export async function createL3Network(deps: Deps, request: { l2NetworkId: string; name: string; description?: string }, metadata: EventMetadata, tenancy: { projectId?: string } = {}) {
  const l2 = await loadAggregate(deps.store, l2NetworkDecider, l2NetworkStream(request.l2NetworkId));
  if (!l2.state.exists) {
    throw new DomainError('L2_NETWORK_NOT_FOUND', `no L2 network ${request.l2NetworkId}`, 'not_found', { fields: [{ field: 'l2NetworkId', message: 'no such L2 network' }] });
  }
  const l3NetworkId = newId();
  const zoneId = l2.state.zoneId;
  // Tenancy: an L3 network created in a project records it and takes one of its L3 networks first.
  const recordedWith = tenancy.projectId ? { ...metadata, projectId: tenancy.projectId } : metadata;
  const outcome = await withQuota(deps.store, tenancy.projectId, l3QuotaKey(l3NetworkId), l3Amounts, recordedWith, () => l3Aggregates.handle(deps.store, l3NetworkStream(l3NetworkId), {
    type: 'CreateL3Network', l3NetworkId, ...request, zoneId, now: deps.clock.now(),
  }, recordedWith));
  return { id: l3NetworkId, position: outcome.position };
}

export async function addIpRange(
  store: EventStore,
  l3NetworkId: string,
  request: { name?: string; startIp: string; endIp: string; gateway: string; netmask: string; dns?: string[] },
  metadata: EventMetadata,
) {
  const ipRangeId = newId();
  const outcome = await l3Aggregates.handle(store, l3NetworkStream(l3NetworkId), { type: 'AddIpRange', ipRangeId, ...request }, metadata);
  return { id: ipRangeId, l3NetworkId, position: outcome.position };
}

export async function removeIpRange(store: EventStore, l3NetworkId: string, ipRangeId: string, metadata: EventMetadata) {
  const outcome = await l3Aggregates.handle(store, l3NetworkStream(l3NetworkId), { type: 'RemoveIpRange', ipRangeId }, metadata);
  return { position: outcome.position };
}

export async function deleteL3Network(deps: Deps, l3NetworkId: string, metadata: EventMetadata) {
  const command: L3NetworkCommand = { type: 'DeleteL3Network', now: deps.clock.now() };
  const outcome = await l3Aggregates.handle(deps.store, l3NetworkStream(l3NetworkId), command, metadata);
  return { position: outcome.position };
}
