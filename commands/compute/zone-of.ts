import type { EventStore } from '../../adapters/eventstore/port.js';
import { clusterDecider, clusterStream } from '../../domain/compute/cluster.js';
import { hostStream } from '../../domain/compute/host.js';
import { l2NetworkDecider, l2NetworkStream } from '../../domain/network/l2-network.js';
import { l3NetworkStream } from '../../domain/network/l3-network.js';
import { loadAggregate } from '../shared/handle-command.js';
import { l3Aggregates } from '../network/ipam.js';
import { hostAggregates } from './host-capacity.js';
import { zoneOfNetworks } from './vm-resources.js';
import { loadVm } from './vm-store.js';

// The zone a resource is in, from its own stream (never from a read model that may lag), for
// zone-scoped authorization. Undefined when the resource does not exist: the command that
// follows reports that itself.

export async function zoneOfCluster(store: EventStore, clusterId: string): Promise<string | undefined> {
  const { state } = await loadAggregate(store, clusterDecider, clusterStream(clusterId));
  return state.exists ? state.zoneId : undefined;
}

export async function zoneOfHost(store: EventStore, hostId: string): Promise<string | undefined> {
  const { state } = await hostAggregates.load(store, hostStream(hostId));
  return state.exists ? state.zoneId : undefined;
}

export async function zoneOfL2Network(store: EventStore, l2NetworkId: string): Promise<string | undefined> {
  const { state } = await loadAggregate(store, l2NetworkDecider, l2NetworkStream(l2NetworkId));
  return state.exists ? state.zoneId : undefined;
}

export async function zoneOfL3Network(store: EventStore, l3NetworkId: string): Promise<string | undefined> {
  const { state } = await l3Aggregates.load(store, l3NetworkStream(l3NetworkId));
  return state.exists ? state.zoneId : undefined;
}

/** A VM is in the zone of its L3 networks (recorded on it once placed). */
export async function zoneOfVm(store: EventStore, vmId: string): Promise<string | undefined> {
  const { state } = await loadVm(store, vmId);
  if (!state.exists || state.expunged) return undefined;
  return state.zoneId ?? (await networksZone(store, state.l3NetworkIds));
}

/** The zone of the networks a VM is asked on; undefined if they do not resolve to one (the create reports why). */
export async function networksZone(store: EventStore, l3NetworkIds: readonly string[]): Promise<string | undefined> {
  if (l3NetworkIds.length === 0) return undefined;
  return zoneOfNetworks(store, l3NetworkIds).catch(() => undefined);
}
