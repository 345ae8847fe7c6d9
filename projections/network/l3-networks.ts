import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { L3NetworkEvent } from '../../domain/network/l3-network.js';
import { isoTime, type Projection } from '../shared/projection.js';
import { projectFieldOf } from '../tenancy/project-of.js';

// L3 networks with their IP ranges and IP usage, and the addresses in use (which NIC holds
// which address and MAC). The L3 stream, not this model, decides allocations.

export const l3NetworksCollection = 'l3_networks';
export const ipAddressesCollection = 'l3_ip_addresses';

export const l3NetworkFields = { id: 'string', name: 'string', l2NetworkId: 'string', zoneId: 'string', ipTotal: 'number', ipUsed: 'number', createdAt: 'time', projectId: 'string' } as const;
export const ipAddressFields = { id: 'string', l3NetworkId: 'string', ip: 'string', mac: 'string', nicId: 'string', ipRangeId: 'string' } as const;

export const l3NetworksProjection: Projection = {
  name: 'l3-networks',
  version: 2,
  collections: [l3NetworksCollection, ipAddressesCollection],
  indexes: [
    { collection: l3NetworksCollection, fields: [['zoneId', 1], ['createdAt', -1]] },
    { collection: ipAddressesCollection, fields: [['l3NetworkId', 1], ['ip', 1]] },
    { collection: ipAddressesCollection, fields: [['nicId', 1]] },
  ],
  handles: ['L3NetworkCreated', 'IpRangeAdded', 'IpRangeRemoved', 'IpAllocated', 'IpReleased', 'L3NetworkDeleted'],

  async apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as L3NetworkEvent;
    switch (event.type) {
      case 'L3NetworkCreated': {
        const data = event.data;
        batch.upsert(l3NetworksCollection, {
          id: data.l3NetworkId, name: data.name, description: data.description, l2NetworkId: data.l2NetworkId, zoneId: data.zoneId,
          ipRanges: [], ipTotal: 0, ipUsed: 0, createdAt: isoTime(data.createdAt),
          ...projectFieldOf(recorded),
        });
        return;
      }
      case 'IpRangeAdded': {
        const network = await batch.get(l3NetworksCollection, event.data.l3NetworkId);
        if (!network) return;
        const { l3NetworkId: _, ipRangeId, ...range } = event.data;
        const ranges = [...(network.ipRanges as object[]), { id: ipRangeId, ...range }];
        batch.patch(l3NetworksCollection, event.data.l3NetworkId, { ipRanges: ranges, ipTotal: (network.ipTotal as number) + range.size });
        return;
      }
      case 'IpRangeRemoved': {
        const network = await batch.get(l3NetworksCollection, event.data.l3NetworkId);
        if (!network) return;
        const ranges = network.ipRanges as Array<{ id: string; size: number }>;
        const removed = ranges.find((range) => range.id === event.data.ipRangeId);
        batch.patch(l3NetworksCollection, event.data.l3NetworkId, {
          ipRanges: ranges.filter((range) => range.id !== event.data.ipRangeId), ipTotal: (network.ipTotal as number) - (removed?.size ?? 0),
        });
        return;
      }
      case 'IpAllocated':
      case 'IpReleased': {
        const network = await batch.get(l3NetworksCollection, event.data.l3NetworkId);
        if (network) batch.patch(l3NetworksCollection, event.data.l3NetworkId, { ipUsed: (network.ipUsed as number) + (event.type === 'IpAllocated' ? 1 : -1) });
        const id = `${event.data.l3NetworkId}:${event.data.ip}`;
        if (event.type === 'IpAllocated') {
          batch.upsert(ipAddressesCollection, {
            id, l3NetworkId: event.data.l3NetworkId, ip: event.data.ip, mac: event.data.mac, nicId: event.data.nicId, ipRangeId: event.data.ipRangeId,
          });
        } else {
          batch.delete(ipAddressesCollection, id);
        }
        return;
      }
      case 'L3NetworkDeleted':
        batch.delete(l3NetworksCollection, event.data.l3NetworkId);
        return;
    }
  },
};
