import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';

// An L2 network: a broadcast domain on the hosts' physical interface, in one zone. Flat
// (no VLAN) as ZStack's L2NoVlanNetwork, or tagged with a VLAN id (L2VlanNetwork).

export type L2NetworkType = 'Flat' | 'Vlan';

export type L2NetworkEvent = DomainEvent<'L2NetworkCreated', {
  l2NetworkId: string; zoneId: string; name: string; description: string; type: L2NetworkType; physicalInterface: string; vlan: number | null; createdAt: number;
}>;

export type L2NetworkCommand = {
  type: 'CreateL2Network'; l2NetworkId: string; zoneId: string; name: string; description?: string; physicalInterface: string; vlan?: number; now: number;
};

export type L2NetworkState = { exists: false } | { exists: true; l2NetworkId: string; zoneId: string; name: string; physicalInterface: string; vlan: number | null };

export const l2NetworkStream = (l2NetworkId: string) => `l2-${l2NetworkId}`;

/** A Linux interface name: 1–15 characters, no slash or whitespace. */
const interfaceName = /^[A-Za-z0-9_.:-]{1,15}$/;

export const l2NetworkDecider: Decider<L2NetworkCommand, L2NetworkState, L2NetworkEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    if (state.exists) throw new DomainError('L2_NETWORK_EXISTS', `L2 network ${command.l2NetworkId} already exists`);
    const problems: Array<{ field: string; message: string }> = [];
    if (!command.name.trim()) problems.push({ field: 'name', message: 'must not be empty' });
    if (!interfaceName.test(command.physicalInterface)) problems.push({ field: 'physicalInterface', message: 'must be an interface name such as eth0 (1-15 characters)' });
    if (command.vlan !== undefined && (!Number.isInteger(command.vlan) || command.vlan < 1 || command.vlan > 4094)) problems.push({ field: 'vlan', message: 'must be 1 to 4094' });
    if (problems.length > 0) throw new DomainError('INVALID_L2_NETWORK', problems.map((p) => `${p.field} ${p.message}`).join('; '), 'invalid', { fields: problems });
    return [{
      type: 'L2NetworkCreated',
      data: {
        l2NetworkId: command.l2NetworkId, zoneId: command.zoneId, name: command.name, description: command.description ?? '',
        type: command.vlan === undefined ? 'Flat' : 'Vlan', physicalInterface: command.physicalInterface, vlan: command.vlan ?? null, createdAt: command.now,
      },
    }];
  },

  evolve(_state, event) {
    const { l2NetworkId, zoneId, name, physicalInterface, vlan } = event.data;
    return { exists: true, l2NetworkId, zoneId, name, physicalInterface, vlan };
  },
};
