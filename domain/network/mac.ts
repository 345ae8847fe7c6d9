import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';

// MAC addresses are unique across the whole cloud, not only within an L3 network: two NICs
// with one MAC on one L2 segment break both. Each MAC has its own reservation stream
// (`mac-<address>`), so that concurrent allocations on different L3 networks, or in
// different processes, cannot both take it.

export type MacEvent =
  | DomainEvent<'MacReserved', { mac: string; nicId: string; l3NetworkId: string }>
  | DomainEvent<'MacReleased', { mac: string; nicId: string }>;

export type MacCommand =
  | { type: 'ReserveMac'; mac: string; nicId: string; l3NetworkId: string }
  | { type: 'ReleaseMac'; mac: string; nicId: string };

export type MacState = { heldBy: string | null };

/** Locally administered (bit 1 of the first octet set), unicast (bit 0 clear): never a vendor's MAC. */
export const macPattern = /^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/;

export const macStream = (mac: string) => `mac-${mac}`;

export const macDecider: Decider<MacCommand, MacState, MacEvent> = {
  initialState: { heldBy: null },

  decide(command, state) {
    switch (command.type) {
      case 'ReserveMac':
        if (!macPattern.test(command.mac)) throw new DomainError('INVALID_MAC', `${command.mac} is not a locally administered unicast MAC`, 'invalid');
        if (state.heldBy === command.nicId) return [];
        if (state.heldBy !== null) throw new DomainError('MAC_IN_USE', `MAC ${command.mac} is held by another NIC`, 'conflict');
        return [{ type: 'MacReserved', data: { mac: command.mac, nicId: command.nicId, l3NetworkId: command.l3NetworkId } }];
      case 'ReleaseMac':
        if (state.heldBy !== command.nicId) return [];
        return [{ type: 'MacReleased', data: { mac: command.mac, nicId: command.nicId } }];
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'MacReserved':
        return { heldBy: event.data.nicId };
      case 'MacReleased':
        return { heldBy: null };
    }
  },
};
