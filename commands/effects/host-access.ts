// How an agent reaches a host: from the host's stream, with its password opened by the key
// ring here, inside the agent, and nowhere else (DESIGN.md §3, secrets).
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { HostAccess } from '../../adapters/hypervisor/port.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import { hostDecider, hostStream } from '../../domain/compute/host.js';
import { loadAggregate } from '../shared/handle-command.js';

export type HostAccessLoader = (hostId: string) => Promise<HostAccess | undefined>;

/** Host access from the host stream; undefined for an unknown or removed host. */
export function hostAccessFromStore(deps: { eventStore: EventStore; secrets: SecretBox }): HostAccessLoader {
  return async (hostId) => {
    const { state } = await loadAggregate(deps.eventStore, hostDecider, hostStream(hostId));
    if (!state.exists || state.removed) return undefined;
    const access: HostAccess = {
      hostId,
      hypervisorType: state.hypervisorType,
      managementIp: state.managementIp,
      username: state.username,
    };
    if (state.encryptedPassword) access.password = deps.secrets.open(state.encryptedPassword);
    if (state.libvirtUri !== undefined) access.libvirtUri = state.libvirtUri;
    if (state.simulatedCapacity !== undefined) access.simulatedCapacity = { ...state.simulatedCapacity };
    return access;
  };
}
