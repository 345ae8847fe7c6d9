import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { HostEvent } from '../../domain/compute/host.js';
import { isoTime, type Projection } from '../shared/projection.js';

// Hosts with their capacity (total and used) and VM count. Placement reads it to rank
// candidates; the host streams, not this model, enforce capacity. The password is not here,
// not even sealed.

export const hostsCollection = 'hosts';

export const hostFields = {
  id: 'string',
  name: 'string',
  zoneId: 'string',
  clusterId: 'string',
  hypervisorType: 'string',
  managementIp: 'string',
  state: 'string',
  enabled: 'boolean',
  maintenance: 'boolean',
  cpuTotal: 'number',
  cpuUsed: 'number',
  memoryTotal: 'number',
  memoryUsed: 'number',
  vmCount: 'number',
  createdAt: 'time',
} as const;

export const hostsProjection: Projection = {
  name: 'hosts',
  version: 1,
  collections: [hostsCollection],
  indexes: [
    { collection: hostsCollection, fields: [['createdAt', -1]] },
    { collection: hostsCollection, fields: [['state', 1], ['zoneId', 1]] },
    { collection: hostsCollection, fields: [['clusterId', 1]] },
  ],
  handles: [
    'HostAdded', 'HostConnected', 'HostDisconnected', 'HostEnabled', 'HostDisabled', 'HostMaintenanceEntered', 'HostMaintenanceExited',
    'HostCapacityReserved', 'HostCapacityReleased', 'HostRemoved',
  ],

  async apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as HostEvent;
    switch (event.type) {
      case 'HostAdded': {
        const data = event.data;
        batch.upsert(hostsCollection, {
          id: data.hostId,
          name: data.name,
          zoneId: data.zoneId,
          clusterId: data.clusterId,
          hypervisorType: data.hypervisorType,
          managementIp: data.managementIp,
          username: data.username,
          libvirtUri: data.libvirtUri ?? null,
          state: 'Disconnected',
          reason: 'not connected yet',
          enabled: true,
          maintenance: false,
          cpuTotal: 0,
          cpuUsed: 0,
          memoryTotal: 0,
          memoryUsed: 0,
          vmCount: 0,
          createdAt: isoTime(data.addedAt),
          lastProbedAt: null,
        });
        return;
      }
      case 'HostConnected':
        batch.patch(hostsCollection, event.data.hostId, {
          state: 'Connected', reason: null, cpuTotal: event.data.cpuCount, memoryTotal: event.data.memoryBytes, lastProbedAt: isoTime(event.data.at),
        });
        return;
      case 'HostDisconnected':
        batch.patch(hostsCollection, event.data.hostId, { state: 'Disconnected', reason: event.data.reason, lastProbedAt: isoTime(event.data.at) });
        return;
      case 'HostEnabled':
      case 'HostDisabled':
        batch.patch(hostsCollection, event.data.hostId, { enabled: event.type === 'HostEnabled' });
        return;
      case 'HostMaintenanceEntered':
      case 'HostMaintenanceExited':
        batch.patch(hostsCollection, event.data.hostId, { maintenance: event.type === 'HostMaintenanceEntered' });
        return;
      case 'HostCapacityReserved':
      case 'HostCapacityReleased': {
        const host = await batch.get(hostsCollection, event.data.hostId);
        if (!host) return;
        const sign = event.type === 'HostCapacityReserved' ? 1 : -1;
        batch.patch(hostsCollection, event.data.hostId, {
          cpuUsed: (host.cpuUsed as number) + sign * event.data.cpuCount,
          memoryUsed: (host.memoryUsed as number) + sign * event.data.memoryBytes,
          vmCount: (host.vmCount as number) + sign,
        });
        return;
      }
      case 'HostRemoved':
        batch.delete(hostsCollection, event.data.hostId);
        return;
    }
  },
};
