import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { hostStream } from '../../domain/compute/host.js';
import { imageDecider, imageStream } from '../../domain/compute/image.js';
import { primaryStorageStream } from '../../domain/compute/primary-storage.js';
import type { AllocatedNic, ImageSource, NicSlot } from '../../domain/compute/vm.js';
import { l3NetworkStream, requireL3Network } from '../../domain/network/l3-network.js';
import { DomainError } from '../../domain/shared/errors.js';
import { createAggregateCache } from '../shared/cached-command.js';
import { allocateIp, l3Aggregates, releaseIp } from '../network/ipam.js';
import { hostAggregates, releaseHostCapacity } from './host-capacity.js';
import { placeVm } from './placement.js';
import { primaryStorageAggregates, releasePrimaryStorage, reservePrimaryStorage } from './primary-storage-capacity.js';

// What a VM takes from other aggregates — host capacity, IP addresses (with MACs), primary
// storage for its root volume — reserved in their own streams (DESIGN.md §3), and given back.
// Everything is keyed by the VM (vmId, nicId, volumeId), so a repeat after a crash finds
// what the first attempt reserved instead of reserving twice. The one free choice, the host
// (and the primary storage), is looked up first when the attempt is a repeat.

export interface ResourceDeps {
  store: EventStore;
  readStore: ReadStore;
}

export interface AllocationRequest {
  vmId: string;
  cpuCount: number;
  memoryBytes: number;
  imageId: string;
  nics: NicSlot[];
  rootVolume: { volumeId: string; sizeBytes: number };
  zoneId: string | null;
  clusterId: string | null;
  hostId: string | null;
}

export interface Allocation {
  hostId: string;
  zoneId: string;
  clusterId: string;
  nics: AllocatedNic[];
  primaryStorageId: string;
  image: ImageSource;
}

/** Images as VMs read them: every create reads its image twice (request, allocation). */
const imageReads = createAggregateCache(imageDecider, { maxStreams: 10_000 });

/** The image a VM is built from, if it can be used now. */
export async function usableImage(store: EventStore, imageId: string): Promise<ImageSource & { sizeBytes: number }> {
  const { state } = await imageReads.load(store, imageStream(imageId));
  if (!state.exists || state.state === 'Expunged') throw new DomainError('IMAGE_NOT_FOUND', `no image ${imageId}`, 'not_found');
  if (state.state !== 'Ready') {
    throw new DomainError('IMAGE_NOT_READY', `image ${imageId} is ${state.state}${state.reason ? `: ${state.reason}` : ''}`, 'conflict', { state: state.state });
  }
  return { imageId, url: state.url, format: state.format, sha256: state.sha256, sizeBytes: state.sizeBytes };
}

/** The zone the VM's networks are in (they must share one). */
export async function zoneOfNetworks(store: EventStore, l3NetworkIds: readonly string[]): Promise<string> {
  const zones = new Set<string>();
  for (const l3NetworkId of l3NetworkIds) {
    const { state } = await l3Aggregates.load(store, l3NetworkStream(l3NetworkId));
    if (!state.exists || state.deleted) {
      throw new DomainError('L3_NETWORK_NOT_FOUND', `no L3 network ${l3NetworkId}`, 'invalid', { fields: [{ field: 'l3NetworkIds', message: `no L3 network ${l3NetworkId}` }] });
    }
    zones.add(requireL3Network(state).zoneId);
  }
  if (zones.size !== 1) {
    throw new DomainError('L3_NETWORKS_IN_SEVERAL_ZONES', 'the L3 networks of a VM must be in one zone', 'invalid', {
      fields: [{ field: 'l3NetworkIds', message: 'networks of several zones' }],
    });
  }
  return [...zones][0]!;
}

/**
 * Reserves everything a VM needs, all or nothing: if any reservation is refused, those that
 * succeeded are released and the refusal is thrown (a DomainError: NO_HOST_AVAILABLE,
 * IP_POOL_EXHAUSTED, PRIMARY_STORAGE_CAPACITY_EXCEEDED …).
 */
export async function allocateVmResources(deps: ResourceDeps, request: AllocationRequest, metadata: EventMetadata, options: { suspect: boolean }): Promise<Allocation> {
  const image = await usableImage(deps.store, request.imageId);
  const networkZone = await zoneOfNetworks(deps.store, request.nics.map((nic) => nic.l3NetworkId));
  if (request.zoneId !== null && request.zoneId !== networkZone) {
    throw new DomainError('ZONE_MISMATCH', `the VM's networks are in zone ${networkZone}, not ${request.zoneId}`, 'invalid', {
      fields: [{ field: 'zoneId', message: `the networks are in zone ${networkZone}` }],
    });
  }
  const zoneId = networkZone;
  // A repeat keeps what an earlier attempt reserved: its host and its primary storage.
  const earlierHost = options.suspect ? await hostHolding(deps, request.vmId) : undefined;
  const earlierStorage = options.suspect ? await storageHolding(deps, zoneId, request.rootVolume.volumeId) : undefined;

  const pinnedHost = earlierHost ?? request.hostId ?? undefined;
  const placement = placeVm({ store: deps.store, readStore: deps.readStore }, {
    vmId: request.vmId,
    cpuCount: request.cpuCount,
    memoryBytes: request.memoryBytes,
    zoneId,
    ...(request.clusterId !== null ? { clusterId: request.clusterId } : {}),
    ...(pinnedHost ? { hostId: pinnedHost } : {}),
  }, metadata);
  const addresses = request.nics.map((nic) => allocateIp(deps.store, nic.l3NetworkId, { nicId: nic.nicId }, metadata)
    .then((assignment): AllocatedNic => ({ ...nic, ...assignment })));
  const storage = reserveRootVolume(deps, zoneId, request.rootVolume, earlierStorage, metadata);

  const [placed, nics, reserved] = await Promise.allSettled([placement, Promise.allSettled(addresses), storage]);
  const nicResults = nics.status === 'fulfilled' ? nics.value : [];
  const failures: unknown[] = [];
  if (placed.status === 'rejected') failures.push(placed.reason);
  for (const result of nicResults) if (result.status === 'rejected') failures.push(result.reason);
  if (reserved.status === 'rejected') failures.push(reserved.reason);
  if (failures.length > 0) {
    // Give back what was taken (each release is idempotent and keyed by the VM).
    await Promise.all([
      placed.status === 'fulfilled' ? releaseHostCapacity(deps.store, placed.value.hostId, request.vmId, metadata) : undefined,
      ...request.nics.map((nic) => releaseIp(deps.store, nic.l3NetworkId, nic.nicId, metadata)),
      reserved.status === 'fulfilled' ? releasePrimaryStorage(deps.store, reserved.value, request.rootVolume.volumeId, metadata) : undefined,
    ]);
    throw failures.find((failure) => failure instanceof DomainError) ?? failures[0];
  }
  const hostId = (placed as PromiseFulfilledResult<{ hostId: string }>).value.hostId;
  const host = (await hostAggregates.load(deps.store, hostStream(hostId))).state;
  return {
    hostId,
    zoneId,
    clusterId: host.exists ? host.clusterId : '',
    nics: nicResults.map((result) => (result as PromiseFulfilledResult<AllocatedNic>).value),
    primaryStorageId: (reserved as PromiseFulfilledResult<string>).value,
    image: { imageId: image.imageId, url: image.url, format: image.format, sha256: image.sha256 },
  };
}

/** The primary storage for a root volume: the zone's, most free space first. */
async function reserveRootVolume(
  deps: ResourceDeps,
  zoneId: string,
  volume: { volumeId: string; sizeBytes: number },
  earlier: string | undefined,
  metadata: EventMetadata,
): Promise<string> {
  if (earlier) {
    await reservePrimaryStorage(deps.store, earlier, volume, metadata);
    return earlier;
  }
  const storages = await deps.readStore.find('primary_storages', { zoneId }, { sort: [['availableBytes', -1]], limit: 1000 });
  if (storages.length === 0) throw new DomainError('NO_PRIMARY_STORAGE', `zone ${zoneId} has no primary storage`, 'conflict');
  let refusal: unknown;
  for (const candidate of storages) {
    try {
      await reservePrimaryStorage(deps.store, candidate.id, volume, metadata);
      return candidate.id;
    } catch (error) {
      if (!(error instanceof DomainError) || !['PRIMARY_STORAGE_CAPACITY_EXCEEDED', 'PRIMARY_STORAGE_NOT_FOUND'].includes(error.code)) throw error;
      refusal = error;
    }
  }
  throw refusal;
}

/** The host holding a reservation for this VM, if any (a crashed attempt's). */
export async function hostHolding(deps: ResourceDeps, vmId: string): Promise<string | undefined> {
  const hosts = await deps.readStore.find('hosts', {}, { limit: 100_000 });
  for (const host of hosts) {
    const { state } = await hostAggregates.load(deps.store, hostStream(host.id));
    if (state.exists && state.reservations.has(vmId)) return host.id;
  }
  return undefined;
}

async function storageHolding(deps: ResourceDeps, zoneId: string, volumeId: string): Promise<string | undefined> {
  const storages = await deps.readStore.find('primary_storages', { zoneId }, { limit: 1000 });
  for (const storage of storages) {
    const { state } = await primaryStorageAggregates.load(deps.store, primaryStorageStream(storage.id));
    if (state.exists && state.reservations.has(volumeId)) return storage.id;
  }
  return undefined;
}

/** Gives back a VM's host capacity and addresses. Idempotent. */
export async function releaseVmCompute(deps: ResourceDeps, vmId: string, hostId: string | null, nics: readonly NicSlot[], metadata: EventMetadata) {
  await Promise.all([
    hostId ? releaseHostCapacity(deps.store, hostId, vmId, metadata) : undefined,
    ...nics.map((nic) => releaseIp(deps.store, nic.l3NetworkId, nic.nicId, metadata)),
  ]);
}

/** Gives back the root volume's bytes. Idempotent. */
export async function releaseVmStorage(deps: ResourceDeps, primaryStorageId: string, volumeId: string, metadata: EventMetadata) {
  await releasePrimaryStorage(deps.store, primaryStorageId, volumeId, metadata);
}

/**
 * Reserves again what a destroyed VM gave back, to recover it: capacity on the host that
 * keeps its root volume, and its addresses (the same ones if they are still free).
 */
export async function reserveForRecovery(
  deps: ResourceDeps,
  request: { vmId: string; cpuCount: number; memoryBytes: number; hostId: string; nics: Array<NicSlot & { ip: string | null }> },
  metadata: EventMetadata,
): Promise<{ hostId: string; zoneId: string; clusterId: string; nics: AllocatedNic[] }> {
  const taken: { host?: string; nics: NicSlot[] } = { nics: [] };
  try {
    let hostId: string;
    try {
      hostId = (await placeVm({ store: deps.store, readStore: deps.readStore }, {
        vmId: request.vmId, cpuCount: request.cpuCount, memoryBytes: request.memoryBytes, hostId: request.hostId,
      }, metadata)).hostId;
    } catch (error) {
      if (error instanceof DomainError && error.code === 'NO_HOST_AVAILABLE') {
        throw new DomainError('NO_HOST_AVAILABLE', `the VM's root volume is on host ${request.hostId}, which cannot take the VM now: ${error.message}`, 'conflict', error.details);
      }
      throw error;
    }
    taken.host = hostId;
    const nics: AllocatedNic[] = [];
    for (const nic of request.nics) {
      taken.nics.push(nic);
      let assignment;
      try {
        assignment = await allocateIp(deps.store, nic.l3NetworkId, { nicId: nic.nicId, ...(nic.ip ? { ip: nic.ip } : {}) }, metadata);
      } catch (error) {
        // Its old address was taken meanwhile: any free one will do.
        if (!(error instanceof DomainError) || !nic.ip || error.code !== 'IP_NOT_AVAILABLE') throw error;
        assignment = await allocateIp(deps.store, nic.l3NetworkId, { nicId: nic.nicId }, metadata);
      }
      nics.push({ nicId: nic.nicId, l3NetworkId: nic.l3NetworkId, ...assignment });
    }
    const { state } = await hostAggregates.load(deps.store, hostStream(hostId));
    return { hostId, zoneId: state.exists ? state.zoneId : '', clusterId: state.exists ? state.clusterId : '', nics };
  } catch (error) {
    await releaseVmCompute(deps, request.vmId, taken.host ?? null, taken.nics, metadata);
    throw error;
  }
}
