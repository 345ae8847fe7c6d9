import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import { hostStream, requireHost, type ExistingHost, type HostCapacity, type HostCommand, type HypervisorType } from '../../domain/compute/host.js';
import { DomainError } from '../../domain/shared/errors.js';
import { newId } from '../shared/ids.js';
import { hostAggregates } from './host-capacity.js';
import { requireCluster } from './inventory.js';

// Adding and operating hosts. Connecting a host means probing it (is it there, how many
// CPUs and how much memory does it have); the result is recorded in the host's stream.

export interface HostProbeResult {
  connected: boolean;
  cpuCount: number;
  memoryBytes: number;
  reason?: string;
}

/**
 * Probes a host through its hypervisor driver. The password is passed sealed: the driver
 * opens it with the key ring only when it connects.
 * TODO(effects): the hypervisor port's probe plugs in here (bin/compose passes it); until
 * then KVM hosts cannot be connected and Simulator hosts use `simulatorProbe`.
 */
export type HostProbe = (host: ExistingHost) => Promise<HostProbeResult>;

/** A Simulator host is always there, with its simulated capacity. */
export const simulatorProbe: HostProbe = async (host) => {
  if (!host.simulatedCapacity) return { connected: false, cpuCount: 0, memoryBytes: 0, reason: 'a Simulator host without a simulated capacity' };
  return { connected: true, cpuCount: host.simulatedCapacity.cpuCount, memoryBytes: host.simulatedCapacity.memoryBytes };
};

export interface HostDeps {
  store: EventStore;
  clock: Clock;
  /** The hypervisor driver's probe; Simulator hosts fall back to `simulatorProbe` without it. */
  probe?: HostProbe;
}

export interface AddHostRequest {
  name: string;
  clusterId: string;
  hypervisorType: HypervisorType;
  managementIp: string;
  username: string;
  /** Plaintext: sealed here, before it enters any event. */
  password: string;
  libvirtUri?: string;
  simulatedCapacity?: HostCapacity;
}

/** Adds a host to a cluster (same hypervisor type) and connects it. */
export async function addHost(deps: HostDeps & { secrets: SecretBox }, request: AddHostRequest, metadata: EventMetadata) {
  const cluster = await requireCluster(deps.store, request.clusterId);
  if (cluster.hypervisorType !== request.hypervisorType) {
    throw new DomainError('HYPERVISOR_TYPE_MISMATCH', `cluster ${cluster.clusterId} holds ${cluster.hypervisorType} hosts, not ${request.hypervisorType}`, 'invalid', {
      fields: [{ field: 'hypervisorType', message: `must be ${cluster.hypervisorType}, the cluster's` }],
    });
  }
  const hostId = newId();
  const command: HostCommand = {
    type: 'AddHost',
    hostId,
    name: request.name,
    zoneId: cluster.zoneId,
    clusterId: cluster.clusterId,
    hypervisorType: request.hypervisorType,
    managementIp: request.managementIp,
    username: request.username,
    encryptedPassword: deps.secrets.seal(request.password),
    now: deps.clock.now(),
  };
  if (request.libvirtUri !== undefined) command.libvirtUri = request.libvirtUri;
  if (request.simulatedCapacity !== undefined) command.simulatedCapacity = request.simulatedCapacity;
  await hostAggregates.handle(deps.store, hostStream(hostId), command, metadata);
  const probe = probeFor(deps, request.hypervisorType);
  if (!probe) return { id: hostId, ...(await hostView(deps.store, hostId)) };
  const connected = await connect(deps, hostId, probe, metadata);
  return { id: hostId, ...connected };
}

/** Probes the host again and records what it answered (connected with its capacity, or why not). */
export async function reconnectHost(deps: HostDeps, hostId: string, metadata: EventMetadata) {
  const host = requireHost((await hostAggregates.load(deps.store, hostStream(hostId))).state);
  const probe = probeFor(deps, host.hypervisorType);
  if (!probe) {
    throw new DomainError('HOST_PROBE_UNAVAILABLE', `no hypervisor driver is configured for ${host.hypervisorType} hosts; host ${hostId} cannot be probed`, 'conflict');
  }
  return { id: hostId, ...(await connect(deps, hostId, probe, metadata)) };
}

/** Records a probe's outcome (from a reconnect, or a periodic ping of the hypervisor driver). */
export async function recordHostProbe(deps: { store: EventStore; clock: Clock }, hostId: string, result: HostProbeResult, metadata: EventMetadata) {
  const command: HostCommand = { type: 'RecordHostProbe', connected: result.connected, cpuCount: result.cpuCount, memoryBytes: result.memoryBytes, now: deps.clock.now() };
  if (result.reason !== undefined) command.reason = result.reason;
  const outcome = await hostAggregates.handle(deps.store, hostStream(hostId), command, metadata);
  return { position: outcome.position };
}

export type HostAdministration = 'EnableHost' | 'DisableHost' | 'EnterMaintenance' | 'ExitMaintenance' | 'RemoveHost';

/** Enable, disable, enter or leave maintenance (no new VMs while in it), remove. */
export async function administerHost(deps: { store: EventStore; clock: Clock }, hostId: string, action: HostAdministration, metadata: EventMetadata) {
  const outcome = await hostAggregates.handle(deps.store, hostStream(hostId), { type: action, now: deps.clock.now() }, metadata);
  return { position: outcome.position };
}

function probeFor(deps: HostDeps, hypervisorType: HypervisorType): HostProbe | undefined {
  return deps.probe ?? (hypervisorType === 'Simulator' ? simulatorProbe : undefined);
}

async function connect(deps: HostDeps, hostId: string, probe: HostProbe, metadata: EventMetadata) {
  const host = requireHost((await hostAggregates.load(deps.store, hostStream(hostId))).state);
  let result: HostProbeResult;
  try {
    result = await probe(host);
  } catch (error) {
    result = { connected: false, cpuCount: 0, memoryBytes: 0, reason: `probe failed: ${(error as Error).message ?? String(error)}` };
  }
  const recorded = await recordHostProbe(deps, hostId, result, metadata);
  return { ...(await hostView(deps.store, hostId)), position: recorded.position };
}

async function hostView(store: EventStore, hostId: string) {
  const host = requireHost((await hostAggregates.load(store, hostStream(hostId))).state);
  const view: { state: string; reason?: string; cpuTotal: number; memoryTotal: number } = { state: host.state, cpuTotal: host.cpuTotal, memoryTotal: host.memoryTotal };
  if (host.disconnectReason) view.reason = host.disconnectReason;
  return view;
}
