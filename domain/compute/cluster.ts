import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';
import type { HypervisorType } from './host.js';

// A cluster: hosts of one hypervisor type in one zone (ZStack's cluster). The command layer
// checks that the zone exists before it asks.

export type ClusterEvent = DomainEvent<'ClusterCreated', {
  clusterId: string; zoneId: string; name: string; description: string; hypervisorType: HypervisorType; createdAt: number;
}>;

export type ClusterCommand = {
  type: 'CreateCluster'; clusterId: string; zoneId: string; name: string; description?: string; hypervisorType: HypervisorType; now: number;
};

export type ClusterState = { exists: false } | { exists: true; clusterId: string; zoneId: string; name: string; hypervisorType: HypervisorType };

export const clusterStream = (clusterId: string) => `cluster-${clusterId}`;

export const clusterDecider: Decider<ClusterCommand, ClusterState, ClusterEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    if (state.exists) throw new DomainError('CLUSTER_EXISTS', `cluster ${command.clusterId} already exists`);
    if (!command.name.trim()) throw new DomainError('INVALID_CLUSTER', 'name must not be empty', 'invalid', { fields: [{ field: 'name', message: 'must not be empty' }] });
    return [{
      type: 'ClusterCreated',
      data: { clusterId: command.clusterId, zoneId: command.zoneId, name: command.name, description: command.description ?? '', hypervisorType: command.hypervisorType, createdAt: command.now },
    }];
  },

  evolve(_state, event) {
    const { clusterId, zoneId, name, hypervisorType } = event.data;
    return { exists: true, clusterId, zoneId, name, hypervisorType };
  },
};
