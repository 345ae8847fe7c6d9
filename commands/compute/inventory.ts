import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { clusterDecider, clusterStream } from '../../domain/compute/cluster.js';
import type { HypervisorType } from '../../domain/compute/host.js';
import { imageStoreDecider, imageStoreStream } from '../../domain/compute/image-store.js';
import { diskOfferingDecider, diskOfferingStream, instanceOfferingDecider, instanceOfferingStream } from '../../domain/compute/offering.js';
import { primaryStorageDecider, primaryStorageStream, type PrimaryStorageType } from '../../domain/compute/primary-storage.js';
import { zoneDecider, zoneStream } from '../../domain/compute/zone.js';
import { DomainError } from '../../domain/shared/errors.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';
import { newId } from '../shared/ids.js';

// Zones, clusters, storage and offerings: created once, read often. Each is its own stream;
// a child's parent (a cluster's zone …) must exist when the child is created.

type Deps = { store: EventStore; clock: Clock };

export async function requireZone(store: EventStore, zoneId: string, field = 'zoneId') {
  const zone = await loadAggregate(store, zoneDecider, zoneStream(zoneId));
  if (!zone.state.exists) throw new DomainError('ZONE_NOT_FOUND', `no zone ${zoneId}`, 'not_found', { fields: [{ field, message: 'no such zone' }] });
  return zone.state;
}

export async function requireCluster(store: EventStore, clusterId: string, field = 'clusterId') {
  const cluster = await loadAggregate(store, clusterDecider, clusterStream(clusterId));
  if (!cluster.state.exists) throw new DomainError('CLUSTER_NOT_FOUND', `no cluster ${clusterId}`, 'not_found', { fields: [{ field, message: 'no such cluster' }] });
  return cluster.state;
}

export async function createZone(deps: Deps, request: { name: string; description?: string }, metadata: EventMetadata) {
  const zoneId = newId();
  const outcome = await handleCommand(deps.store, zoneDecider, zoneStream(zoneId), { type: 'CreateZone', zoneId, ...request, now: deps.clock.now() }, metadata);
  return { id: zoneId, position: outcome.position };
}

export async function createCluster(deps: Deps, request: { zoneId: string; name: string; description?: string; hypervisorType: HypervisorType }, metadata: EventMetadata) {
  await requireZone(deps.store, request.zoneId);
  const clusterId = newId();
  const outcome = await handleCommand(deps.store, clusterDecider, clusterStream(clusterId), { type: 'CreateCluster', clusterId, ...request, now: deps.clock.now() }, metadata);
  return { id: clusterId, position: outcome.position };
}

export async function addPrimaryStorage(
  deps: Deps,
  request: { zoneId: string; name: string; description?: string; type: PrimaryStorageType; url: string; totalCapacityBytes: number },
  metadata: EventMetadata,
) {
  await requireZone(deps.store, request.zoneId);
  const primaryStorageId = newId();
  const { type, ...rest } = request;
  const outcome = await handleCommand(deps.store, primaryStorageDecider, primaryStorageStream(primaryStorageId), {
    type: 'AddPrimaryStorage', primaryStorageId, ...rest, storageType: type, now: deps.clock.now(),
  }, metadata);
  return { id: primaryStorageId, position: outcome.position };
}

export async function addImageStore(
  deps: Deps,
  request: { zoneId: string; name: string; description?: string; url: string; totalCapacityBytes?: number },
  metadata: EventMetadata,
) {
  await requireZone(deps.store, request.zoneId);
  const imageStoreId = newId();
  const outcome = await handleCommand(deps.store, imageStoreDecider, imageStoreStream(imageStoreId), {
    type: 'AddImageStore', imageStoreId, ...request, now: deps.clock.now(),
  }, metadata);
  return { id: imageStoreId, position: outcome.position };
}

export async function createInstanceOffering(deps: Deps, request: { name: string; description?: string; cpuCount: number; memoryBytes: number }, metadata: EventMetadata) {
  const instanceOfferingId = newId();
  const outcome = await handleCommand(deps.store, instanceOfferingDecider, instanceOfferingStream(instanceOfferingId), {
    type: 'CreateInstanceOffering', instanceOfferingId, ...request, now: deps.clock.now(),
  }, metadata);
  return { id: instanceOfferingId, position: outcome.position };
}

export async function deleteInstanceOffering(deps: Deps, instanceOfferingId: string, metadata: EventMetadata) {
  const outcome = await handleCommand(deps.store, instanceOfferingDecider, instanceOfferingStream(instanceOfferingId), { type: 'DeleteInstanceOffering', now: deps.clock.now() }, metadata);
  return { id: instanceOfferingId, position: outcome.position };
}

export async function createDiskOffering(deps: Deps, request: { name: string; description?: string; sizeBytes: number }, metadata: EventMetadata) {
  const diskOfferingId = newId();
  const outcome = await handleCommand(deps.store, diskOfferingDecider, diskOfferingStream(diskOfferingId), {
    type: 'CreateDiskOffering', diskOfferingId, ...request, now: deps.clock.now(),
  }, metadata);
  return { id: diskOfferingId, position: outcome.position };
}

export async function deleteDiskOffering(deps: Deps, diskOfferingId: string, metadata: EventMetadata) {
  const outcome = await handleCommand(deps.store, diskOfferingDecider, diskOfferingStream(diskOfferingId), { type: 'DeleteDiskOffering', now: deps.clock.now() }, metadata);
  return { id: diskOfferingId, position: outcome.position };
}
