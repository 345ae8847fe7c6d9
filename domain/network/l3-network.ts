import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';
import { ImmutableMap } from '../shared/immutable-map.js';
import { broadcastOf, ipToNumber, isIpv4, networkOf, numberToIp, prefixLength } from './ipv4.js';

// An L3 network and its IP pool. The stream `l3-<id>` owns the pool: an address is handed
// out only by an `IpAllocated` event appended at the version the decision saw, so two
// concurrent allocations can never take the same address (DESIGN.md §3).
//
// As in ZStack, every range of one L3 network shares its gateway and netmask (one subnet).
//
// Addresses are handed out in order after the last one handed out, wrapping around (not the
// lowest free one): an address just released is not given to the next NIC at once, where
// stale ARP caches on the segment would still send its traffic to the old owner.

export interface IpRange {
  ipRangeId: string;
  name: string;
  startIp: string;
  endIp: string;
  gateway: string;
  netmask: string;
  dns: string[];
  /** Number of addresses in the range. */
  size: number;
}

export interface IpAllocation {
  ip: string;
  mac: string;
  ipRangeId: string;
}

export type L3NetworkEvent =
  | DomainEvent<'L3NetworkCreated', { l3NetworkId: string; name: string; l2NetworkId: string; zoneId: string; description: string; createdAt: number }>
  | DomainEvent<'IpRangeAdded', { l3NetworkId: string } & IpRange>
  | DomainEvent<'IpRangeRemoved', { l3NetworkId: string; ipRangeId: string }>
  | DomainEvent<'IpAllocated', { l3NetworkId: string; nicId: string; ip: string; mac: string; gateway: string; netmask: string; ipRangeId: string }>
  | DomainEvent<'IpReleased', { l3NetworkId: string; nicId: string; ip: string; mac: string; ipRangeId: string }>
  | DomainEvent<'L3NetworkDeleted', { l3NetworkId: string; at: number }>;

export type L3NetworkCommand =
  | { type: 'CreateL3Network'; l3NetworkId: string; name: string; l2NetworkId: string; zoneId: string; description?: string; now: number }
  | { type: 'AddIpRange'; ipRangeId: string; name?: string; startIp: string; endIp: string; gateway: string; netmask: string; dns?: string[] }
  | { type: 'RemoveIpRange'; ipRangeId: string }
  /** `mac` is already reserved cloud-wide by the caller (see mac.ts). */
  | { type: 'AllocateIp'; nicId: string; ip?: string; mac: string }
  | { type: 'ReleaseIp'; nicId: string }
  | { type: 'DeleteL3Network'; now: number };

export interface ExistingL3Network {
  exists: true;
  deleted: boolean;
  l3NetworkId: string;
  name: string;
  l2NetworkId: string;
  zoneId: string;
  ranges: readonly IpRange[];
  /** By NIC id. */
  allocations: ImmutableMap<IpAllocation>;
  /** Address → NIC id. */
  usedIps: ImmutableMap<string>;
  /** MAC → NIC id. */
  usedMacs: ImmutableMap<string>;
  /** The last address handed out (as a number); the next search starts after it. */
  cursor: number | null;
}

export type L3NetworkState = { exists: false } | ExistingL3Network;

export const l3NetworkStream = (l3NetworkId: string) => `l3-${l3NetworkId}`;

export const l3NetworkDecider: Decider<L3NetworkCommand, L3NetworkState, L3NetworkEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    if (command.type === 'CreateL3Network') {
      if (state.exists) throw new DomainError('L3_NETWORK_EXISTS', `L3 network ${command.l3NetworkId} already exists`);
      return [{
        type: 'L3NetworkCreated',
        data: { l3NetworkId: command.l3NetworkId, name: command.name, l2NetworkId: command.l2NetworkId, zoneId: command.zoneId, description: command.description ?? '', createdAt: command.now },
      }];
    }
    // Releasing is idempotent, even on a deleted network (which holds nothing): compensation must never fail.
    if (command.type === 'ReleaseIp' && state.exists && state.deleted) return [];
    const network = requireL3Network(state);
    const l3NetworkId = network.l3NetworkId;
    switch (command.type) {
      case 'AddIpRange': {
        if (network.ranges.some((range) => range.ipRangeId === command.ipRangeId)) throw new DomainError('IP_RANGE_EXISTS', `IP range ${command.ipRangeId} already exists`);
        const range = validRange(command);
        const other = network.ranges[0];
        if (other && (other.gateway !== range.gateway || other.netmask !== range.netmask)) {
          throw new DomainError('IP_RANGE_SUBNET_MISMATCH',
            `every range of an L3 network shares one subnet: gateway ${other.gateway}, netmask ${other.netmask}`, 'invalid', {
              fields: [{ field: 'gateway', message: `must be ${other.gateway}` }, { field: 'netmask', message: `must be ${other.netmask}` }],
            });
        }
        const start = ipToNumber(range.startIp);
        const end = ipToNumber(range.endIp);
        const overlapping = network.ranges.find((existing) => start <= ipToNumber(existing.endIp) && ipToNumber(existing.startIp) <= end);
        if (overlapping) {
          throw new DomainError('IP_RANGE_OVERLAPS', `${range.startIp}-${range.endIp} overlaps range ${overlapping.ipRangeId} (${overlapping.startIp}-${overlapping.endIp})`, 'conflict', {
            ipRangeId: overlapping.ipRangeId,
          });
        }
        return [{ type: 'IpRangeAdded', data: { l3NetworkId, ...range } }];
      }
      case 'RemoveIpRange': {
        if (!network.ranges.some((range) => range.ipRangeId === command.ipRangeId)) throw new DomainError('IP_RANGE_NOT_FOUND', `no IP range ${command.ipRangeId}`, 'not_found');
        const inUse = [...network.allocations.values()].filter((allocation) => allocation.ipRangeId === command.ipRangeId).length;
        if (inUse > 0) throw new DomainError('IP_RANGE_IN_USE', `${inUse} addresses of range ${command.ipRangeId} are allocated`, 'conflict', { inUse });
        return [{ type: 'IpRangeRemoved', data: { l3NetworkId, ipRangeId: command.ipRangeId } }];
      }
      case 'AllocateIp': {
        if (network.allocations.has(command.nicId)) return [];
        if (network.usedMacs.has(command.mac)) {
          throw new DomainError('MAC_IN_USE', `MAC ${command.mac} is already used on this network`);
        }
        const chosen = command.ip === undefined ? nextFreeAddress(network) : requestedAddress(network, command.ip);
        return [{
          type: 'IpAllocated',
          data: { l3NetworkId, nicId: command.nicId, ip: chosen.ip, mac: command.mac, gateway: chosen.range.gateway, netmask: chosen.range.netmask, ipRangeId: chosen.range.ipRangeId },
        }];
      }
      case 'ReleaseIp': {
        const allocation = network.allocations.get(command.nicId);
        if (!allocation) return [];
        return [{ type: 'IpReleased', data: { l3NetworkId, nicId: command.nicId, ...allocation } }];
      }
      case 'DeleteL3Network': {
        const used = network.allocations.size;
        if (used > 0) throw new DomainError('L3_NETWORK_IN_USE', `${used} addresses of this network are allocated`, 'conflict', { ipUsed: used });
        return [{ type: 'L3NetworkDeleted', data: { l3NetworkId, at: command.now } }];
      }
    }
  },

  evolve(state, event) {
    if (event.type === 'L3NetworkCreated') {
      return {
        exists: true, deleted: false, l3NetworkId: event.data.l3NetworkId, name: event.data.name, l2NetworkId: event.data.l2NetworkId,
        zoneId: event.data.zoneId, ranges: [], allocations: ImmutableMap.empty(), usedIps: ImmutableMap.empty(), usedMacs: ImmutableMap.empty(), cursor: null,
      };
    }
    if (!state.exists) return state;
    switch (event.type) {
      case 'IpRangeAdded': {
        const { l3NetworkId: _, ...range } = event.data;
        return { ...state, ranges: [...state.ranges, range] };
      }
      case 'IpRangeRemoved':
        return { ...state, ranges: state.ranges.filter((range) => range.ipRangeId !== event.data.ipRangeId) };
      case 'IpAllocated': {
        const { nicId, ip, mac, ipRangeId } = event.data;
        return {
          ...state,
          allocations: state.allocations.set(nicId, { ip, mac, ipRangeId }),
          usedIps: state.usedIps.set(ip, nicId),
          usedMacs: state.usedMacs.set(mac, nicId),
          cursor: ipToNumber(ip),
        };
      }
      case 'IpReleased': {
        return {
          ...state,
          allocations: state.allocations.delete(event.data.nicId),
          usedIps: state.usedIps.delete(event.data.ip),
          usedMacs: state.usedMacs.delete(event.data.mac),
        };
      }
      case 'L3NetworkDeleted':
        return { ...state, deleted: true };
    }
  },
};

export function requireL3Network(state: L3NetworkState): ExistingL3Network {
  if (!state.exists || state.deleted) throw new DomainError('L3_NETWORK_NOT_FOUND', 'no such L3 network', 'not_found');
  return state;
}

/** Addresses in all ranges, and how many are allocated. */
export function ipUsage(network: ExistingL3Network): { ipTotal: number; ipUsed: number } {
  return { ipTotal: network.ranges.reduce((sum, range) => sum + range.size, 0), ipUsed: network.allocations.size };
}

/** The first free address after the cursor, in range order, wrapping around. */
function nextFreeAddress(network: ExistingL3Network): { ip: string; range: IpRange } {
  const ranges = [...network.ranges]
    .map((range) => ({ range, start: ipToNumber(range.startIp), end: ipToNumber(range.endIp) }))
    .sort((a, b) => a.start - b.start);
  const total = ranges.reduce((sum, { range }) => sum + range.size, 0);
  if (ranges.length === 0 || network.usedIps.size >= total) {
    throw new DomainError('IP_POOL_EXHAUSTED', `every address of L3 network ${network.l3NetworkId} is allocated`, 'conflict', { l3NetworkId: network.l3NetworkId });
  }
  const cursor = network.cursor;
  // Start in the first range that has addresses after the cursor (none: wrap to the first).
  const after = cursor === null ? -1 : ranges.findIndex(({ end }) => end > cursor);
  let index = after < 0 ? 0 : after;
  let value = after < 0 || ranges[index]!.start > cursor! ? ranges[index]!.start : cursor! + 1;
  for (let step = 0; step < total; step++) {
    const ip = numberToIp(value);
    if (!network.usedIps.has(ip)) return { ip, range: ranges[index]!.range };
    value++;
    if (value > ranges[index]!.end) {
      index = (index + 1) % ranges.length;
      value = ranges[index]!.start;
    }
  }
  throw new DomainError('IP_POOL_EXHAUSTED', `every address of L3 network ${network.l3NetworkId} is allocated`, 'conflict', { l3NetworkId: network.l3NetworkId });
}

function requestedAddress(network: ExistingL3Network, ip: string): { ip: string; range: IpRange } {
  if (!isIpv4(ip)) throw new DomainError('INVALID_IP', `${ip} is not an IPv4 address`, 'invalid', { fields: [{ field: 'ip', message: 'not an IPv4 address' }] });
  const value = ipToNumber(ip);
  const range = network.ranges.find((candidate) => ipToNumber(candidate.startIp) <= value && value <= ipToNumber(candidate.endIp));
  if (!range) throw new DomainError('IP_NOT_AVAILABLE', `${ip} is in no IP range of this network`, 'conflict', { ip });
  if (network.usedIps.has(ip)) throw new DomainError('IP_NOT_AVAILABLE', `${ip} is already allocated`, 'conflict', { ip });
  return { ip, range };
}

function validRange(command: Extract<L3NetworkCommand, { type: 'AddIpRange' }>): IpRange {
  const problems: Array<{ field: string; message: string }> = [];
  for (const field of ['startIp', 'endIp', 'gateway', 'netmask'] as const) {
    if (!isIpv4(command[field])) problems.push({ field, message: 'must be an IPv4 address' });
  }
  const dns = command.dns ?? [];
  dns.forEach((server, index) => { if (!isIpv4(server)) problems.push({ field: `dns.${index}`, message: 'must be an IPv4 address' }); });
  const prefix = isIpv4(command.netmask) ? prefixLength(command.netmask) : undefined;
  if (isIpv4(command.netmask) && (prefix === undefined || prefix < 1)) problems.push({ field: 'netmask', message: 'must be a contiguous netmask such as 255.255.255.0' });
  if (problems.length === 0 && prefix !== undefined) {
    const start = ipToNumber(command.startIp);
    const end = ipToNumber(command.endIp);
    const gateway = ipToNumber(command.gateway);
    if (start > end) problems.push({ field: 'endIp', message: 'must not be lower than startIp' });
    const subnet = networkOf(gateway, prefix);
    for (const [field, value] of [['startIp', start], ['endIp', end]] as const) {
      if (networkOf(value, prefix) !== subnet) problems.push({ field, message: `must be inside ${numberToIp(subnet)}/${prefix}, the gateway's subnet` });
    }
    if (prefix <= 30 && problems.length === 0) {
      if (start === subnet) problems.push({ field: 'startIp', message: 'must not be the network address' });
      if (end === broadcastOf(gateway, prefix)) problems.push({ field: 'endIp', message: 'must not be the broadcast address' });
    }
    if (start <= gateway && gateway <= end) problems.push({ field: 'gateway', message: 'must not be inside the range' });
  }
  if (problems.length > 0) {
    throw new DomainError('INVALID_IP_RANGE', problems.map((problem) => `${problem.field} ${problem.message}`).join('; '), 'invalid', { fields: problems });
  }
  return {
    ipRangeId: command.ipRangeId,
    name: command.name ?? `${command.startIp}-${command.endIp}`,
    startIp: command.startIp,
    endIp: command.endIp,
    gateway: command.gateway,
    netmask: command.netmask,
    dns,
    size: ipToNumber(command.endIp) - ipToNumber(command.startIp) + 1,
  };
}
