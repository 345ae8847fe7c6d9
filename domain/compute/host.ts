import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';
import { ImmutableMap } from '../shared/immutable-map.js';

// A hypervisor host. Its stream is the owner of its capacity: a VM is placed only once a
// reservation in this stream succeeded (DESIGN.md §3), so concurrent creates can never
// over-commit a host, whatever the (possibly lagging) read model said.
//
// Connection (`state`) and administration (`enabled`, `maintenance`) are separate, as in
// ZStack (status vs state): a host in maintenance may still be connected, and a disabled
// host keeps its VMs but takes no new ones.

export type HypervisorType = 'KVM' | 'Simulator';
export type HostConnectionState = 'Connected' | 'Disconnected';

export interface HostCapacity {
  cpuCount: number;
  memoryBytes: number;
}

const GiB = 1024 ** 3;
/** What a Simulator host offers when added without `simulatedCapacity`. */
export const defaultSimulatedCapacity: HostCapacity = { cpuCount: 64, memoryBytes: 256 * GiB };

export interface HostReservation {
  cpuCount: number;
  memoryBytes: number;
}

export type HostEvent =
  | DomainEvent<'HostAdded', {
      hostId: string;
      name: string;
      zoneId: string;
      clusterId: string;
      hypervisorType: HypervisorType;
      managementIp: string;
      username: string;
      /** Sealed with the key ring: never plaintext. */
      encryptedPassword: string;
      libvirtUri?: string;
      /** Simulator hosts only (defaulted when added without one). */
      simulatedCapacity?: HostCapacity;
      addedAt: number;
    }>
  | DomainEvent<'HostConnected', { hostId: string; cpuCount: number; memoryBytes: number; at: number }>
  | DomainEvent<'HostDisconnected', { hostId: string; reason: string; at: number }>
  | DomainEvent<'HostEnabled', { hostId: string; at: number }>
  | DomainEvent<'HostDisabled', { hostId: string; at: number }>
  | DomainEvent<'HostMaintenanceEntered', { hostId: string; at: number }>
  | DomainEvent<'HostMaintenanceExited', { hostId: string; at: number }>
  | DomainEvent<'HostCapacityReserved', { hostId: string; vmId: string; cpuCount: number; memoryBytes: number }>
  | DomainEvent<'HostCapacityReleased', { hostId: string; vmId: string; cpuCount: number; memoryBytes: number }>
  | DomainEvent<'HostRemoved', { hostId: string; at: number }>;

export type HostCommand =
  | {
      type: 'AddHost';
      hostId: string;
      name: string;
      zoneId: string;
      clusterId: string;
      hypervisorType: HypervisorType;
      managementIp: string;
      username: string;
      encryptedPassword: string;
      libvirtUri?: string;
      simulatedCapacity?: HostCapacity;
      now: number;
    }
  /** The outcome of probing the host (connect/reconnect, or a periodic ping). */
  | { type: 'RecordHostProbe'; cpuCount: number; memoryBytes: number; connected: boolean; reason?: string; now: number }
  | { type: 'EnableHost'; now: number }
  | { type: 'DisableHost'; now: number }
  | { type: 'EnterMaintenance'; now: number }
  | { type: 'ExitMaintenance'; now: number }
  | { type: 'ReserveHostCapacity'; vmId: string; cpuCount: number; memoryBytes: number }
  | { type: 'ReleaseHostCapacity'; vmId: string }
  | { type: 'RemoveHost'; now: number };

export interface ExistingHost {
  exists: true;
  removed: boolean;
  hostId: string;
  name: string;
  zoneId: string;
  clusterId: string;
  hypervisorType: HypervisorType;
  managementIp: string;
  username: string;
  encryptedPassword: string;
  libvirtUri?: string;
  simulatedCapacity?: HostCapacity;
  state: HostConnectionState;
  /** Why the host is disconnected (last failed probe), if it is. */
  disconnectReason?: string;
  enabled: boolean;
  maintenance: boolean;
  /** Capacity as last probed (Simulator: its simulated capacity); 0 until first connected. */
  cpuTotal: number;
  memoryTotal: number;
  cpuUsed: number;
  memoryUsed: number;
  /** By VM id. */
  reservations: ImmutableMap<HostReservation>;
}

export type HostState = { exists: false } | ExistingHost;

export const hostStream = (hostId: string) => `host-${hostId}`;

export const hostDecider: Decider<HostCommand, HostState, HostEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    if (command.type === 'AddHost') {
      if (state.exists) throw new DomainError('HOST_EXISTS', `host ${command.hostId} already exists`);
      return [{ type: 'HostAdded', data: hostAddedData(command) }];
    }
    // Releasing is idempotent, even on a removed host (which holds nothing): compensation must never fail.
    if (command.type === 'ReleaseHostCapacity' && state.exists && state.removed) return [];
    const host = requireHost(state);
    const hostId = host.hostId;
    switch (command.type) {
      case 'RecordHostProbe': {
        if (command.connected) {
          if (host.state === 'Connected' && host.cpuTotal === command.cpuCount && host.memoryTotal === command.memoryBytes) return [];
          return [{ type: 'HostConnected', data: { hostId, cpuCount: command.cpuCount, memoryBytes: command.memoryBytes, at: command.now } }];
        }
        const reason = command.reason ?? 'the host did not answer the probe';
        if (host.state === 'Disconnected' && host.disconnectReason === reason) return [];
        return [{ type: 'HostDisconnected', data: { hostId, reason, at: command.now } }];
      }
      case 'EnableHost':
        return host.enabled ? [] : [{ type: 'HostEnabled', data: { hostId, at: command.now } }];
      case 'DisableHost':
        return host.enabled ? [{ type: 'HostDisabled', data: { hostId, at: command.now } }] : [];
      case 'EnterMaintenance':
        return host.maintenance ? [] : [{ type: 'HostMaintenanceEntered', data: { hostId, at: command.now } }];
      case 'ExitMaintenance':
        return host.maintenance ? [{ type: 'HostMaintenanceExited', data: { hostId, at: command.now } }] : [];
      case 'ReserveHostCapacity': {
        if (host.reservations.has(command.vmId)) return [];
        if (!Number.isInteger(command.cpuCount) || command.cpuCount <= 0 || !Number.isInteger(command.memoryBytes) || command.memoryBytes <= 0) {
          throw new DomainError('INVALID_CAPACITY_REQUEST', 'cpuCount and memoryBytes must be positive integers', 'invalid');
        }
        const unavailable = unavailability(host);
        if (unavailable) throw new DomainError('HOST_NOT_AVAILABLE', `host ${hostId} takes no new VMs: ${unavailable}`, 'conflict', { hostId });
        const cpuFree = host.cpuTotal - host.cpuUsed;
        const memoryFree = host.memoryTotal - host.memoryUsed;
        if (command.cpuCount > cpuFree || command.memoryBytes > memoryFree) {
          throw new DomainError('HOST_CAPACITY_EXCEEDED',
            `host ${hostId} has ${cpuFree} vCPUs and ${memoryFree} bytes of memory free; ${command.cpuCount} vCPUs and ${command.memoryBytes} bytes asked`,
            'conflict', { hostId, cpuFree, memoryFree });
        }
        return [{ type: 'HostCapacityReserved', data: { hostId, vmId: command.vmId, cpuCount: command.cpuCount, memoryBytes: command.memoryBytes } }];
      }
      case 'ReleaseHostCapacity': {
        const reservation = host.reservations.get(command.vmId);
        if (!reservation) return [];
        return [{ type: 'HostCapacityReleased', data: { hostId, vmId: command.vmId, ...reservation } }];
      }
      case 'RemoveHost': {
        const vmCount = host.reservations.size;
        if (vmCount > 0) throw new DomainError('HOST_HAS_VMS', `host ${hostId} still holds ${vmCount} VMs; stop, migrate or destroy them first`, 'conflict', { vmCount });
        return [{ type: 'HostRemoved', data: { hostId, at: command.now } }];
      }
    }
  },

  evolve(state, event) {
    if (event.type === 'HostAdded') {
      const data = event.data;
      const host: ExistingHost = {
        exists: true,
        removed: false,
        hostId: data.hostId,
        name: data.name,
        zoneId: data.zoneId,
        clusterId: data.clusterId,
        hypervisorType: data.hypervisorType,
        managementIp: data.managementIp,
        username: data.username,
        encryptedPassword: data.encryptedPassword,
        state: 'Disconnected',
        disconnectReason: 'not connected yet',
        enabled: true,
        maintenance: false,
        cpuTotal: 0,
        memoryTotal: 0,
        cpuUsed: 0,
        memoryUsed: 0,
        reservations: ImmutableMap.empty(),
      };
      if (data.libvirtUri !== undefined) host.libvirtUri = data.libvirtUri;
      if (data.simulatedCapacity !== undefined) host.simulatedCapacity = data.simulatedCapacity;
      return host;
    }
    if (!state.exists) return state;
    switch (event.type) {
      case 'HostConnected': {
        const { disconnectReason: _, ...rest } = state;
        return { ...rest, state: 'Connected', cpuTotal: event.data.cpuCount, memoryTotal: event.data.memoryBytes };
      }
      case 'HostDisconnected':
        return { ...state, state: 'Disconnected', disconnectReason: event.data.reason };
      case 'HostEnabled':
        return { ...state, enabled: true };
      case 'HostDisabled':
        return { ...state, enabled: false };
      case 'HostMaintenanceEntered':
        return { ...state, maintenance: true };
      case 'HostMaintenanceExited':
        return { ...state, maintenance: false };
      case 'HostCapacityReserved': {
        const { vmId, cpuCount, memoryBytes } = event.data;
        return withReservation(state, vmId, { cpuCount, memoryBytes }, 'reserve');
      }
      case 'HostCapacityReleased': {
        // What the reservation held is given back, whatever the event says.
        const released = state.reservations.get(event.data.vmId);
        return released ? withReservation(state, event.data.vmId, released, 'release') : state;
      }
      case 'HostRemoved':
        return { ...state, removed: true };
    }
  },
};

/** The host with a VM's reservation taken from its free capacity, or given back to it. */
function withReservation(host: ExistingHost, vmId: string, reservation: HostReservation, change: 'reserve' | 'release'): ExistingHost {
  const sign = change === 'reserve' ? 1 : -1;
  return {
    ...host,
    cpuUsed: host.cpuUsed + sign * reservation.cpuCount,
    memoryUsed: host.memoryUsed + sign * reservation.memoryBytes,
    reservations: change === 'reserve' ? host.reservations.set(vmId, reservation) : host.reservations.delete(vmId),
  };
}

const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const hostname = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function hostAddedData(command: Extract<HostCommand, { type: 'AddHost' }>) {
  const problems: Array<{ field: string; message: string }> = [];
  if (!command.name.trim()) problems.push({ field: 'name', message: 'must not be empty' });
  if (!ipv4.test(command.managementIp) && !(hostname.test(command.managementIp) && /[A-Za-z]/.test(command.managementIp))) {
    problems.push({ field: 'managementIp', message: 'must be an IPv4 address or a host name' });
  }
  if (!command.username.trim()) problems.push({ field: 'username', message: 'must not be empty' });
  if (problems.length > 0) throw new DomainError('INVALID_HOST', problems.map((p) => `${p.field} ${p.message}`).join('; '), 'invalid', { fields: problems });
  const data: Extract<HostEvent, { type: 'HostAdded' }>['data'] = {
    hostId: command.hostId,
    name: command.name,
    zoneId: command.zoneId,
    clusterId: command.clusterId,
    hypervisorType: command.hypervisorType,
    managementIp: command.managementIp,
    username: command.username,
    encryptedPassword: command.encryptedPassword,
    addedAt: command.now,
  };
  if (command.libvirtUri !== undefined) data.libvirtUri = command.libvirtUri;
  if (command.hypervisorType === 'Simulator') {
    const capacity = command.simulatedCapacity ?? defaultSimulatedCapacity;
    if (!Number.isInteger(capacity.cpuCount) || capacity.cpuCount <= 0 || !Number.isInteger(capacity.memoryBytes) || capacity.memoryBytes <= 0) {
      throw new DomainError('INVALID_SIMULATED_CAPACITY', 'simulatedCapacity needs positive integer cpuCount and memoryBytes', 'invalid', {
        fields: [{ field: 'simulatedCapacity', message: 'cpuCount and memoryBytes must be positive integers' }],
      });
    }
    data.simulatedCapacity = { cpuCount: capacity.cpuCount, memoryBytes: capacity.memoryBytes };
  } else if (command.simulatedCapacity !== undefined) {
    throw new DomainError('INVALID_SIMULATED_CAPACITY', 'only Simulator hosts take a simulatedCapacity', 'invalid', {
      fields: [{ field: 'simulatedCapacity', message: 'only for hypervisorType Simulator' }],
    });
  }
  return data;
}

/** Why a host takes no new placement, or undefined when it does. */
export function unavailability(host: ExistingHost): string | undefined {
  if (host.state !== 'Connected') return `it is ${host.state}${host.disconnectReason ? ` (${host.disconnectReason})` : ''}`;
  if (!host.enabled) return 'it is disabled';
  if (host.maintenance) return 'it is in maintenance';
  return undefined;
}

export function requireHost(state: HostState): ExistingHost {
  if (!state.exists || state.removed) throw new DomainError('HOST_NOT_FOUND', 'no such host', 'not_found');
  return state;
}
