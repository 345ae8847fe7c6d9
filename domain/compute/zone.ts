import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';

// A zone: the top of the inventory (one data centre or failure domain). Clusters, primary
// storages, image stores and L2 networks belong to one zone.

export type ZoneEvent = DomainEvent<'ZoneCreated', { zoneId: string; name: string; description: string; createdAt: number }>;

export type ZoneCommand = { type: 'CreateZone'; zoneId: string; name: string; description?: string; now: number };

export type ZoneState = { exists: false } | { exists: true; zoneId: string; name: string };

export const zoneStream = (zoneId: string) => `zone-${zoneId}`;

export const zoneDecider: Decider<ZoneCommand, ZoneState, ZoneEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    if (state.exists) throw new DomainError('ZONE_EXISTS', `zone ${command.zoneId} already exists`);
    if (!command.name.trim()) throw new DomainError('INVALID_ZONE', 'name must not be empty', 'invalid', { fields: [{ field: 'name', message: 'must not be empty' }] });
    return [{ type: 'ZoneCreated', data: { zoneId: command.zoneId, name: command.name, description: command.description ?? '', createdAt: command.now } }];
  },

  evolve(_state, event) {
    return { exists: true, zoneId: event.data.zoneId, name: event.data.name };
  },
};
