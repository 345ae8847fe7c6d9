// Probing a host when it is added or reconnected: a request/reply over the bus, outside the
// outbox, because the caller (the add-host or reconnect task) waits for the answer to record
// the host Connected or Disconnected. The command goes to the host's topic like any effect,
// so the probe runs in the agent beside the host (the only place its password is opened),
// and the answer comes back on a reply topic of this process.
import type { Bus } from '../../adapters/bus/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import type { OperationResults } from '../../adapters/hypervisor/port.js';
import type { ExistingHost } from '../../domain/compute/host.js';
import type { HostProbe, HostProbeResult } from '../compute/hosts.js';
import { createBusOperationRequester } from './operation-request.js';

export interface BusHostProbe {
  probe: HostProbe;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export const hostProbeRoute = 'host-probe';

export function createBusHostProbe(deps: { bus: Bus; clock: Clock; timeoutMs?: number }): BusHostProbe {
  const requester = createBusOperationRequester({ ...deps, timeoutMs: deps.timeoutMs ?? 30_000, route: hostProbeRoute });

  async function probe(host: ExistingHost): Promise<HostProbeResult> {
    const outcome = await requester.request(host.hostId, { op: 'host.probe' });
    if (!outcome.ok) return { connected: false, cpuCount: 0, memoryBytes: 0, reason: `${outcome.error.code}: ${outcome.error.message}` };
    const result = outcome.result as OperationResults['host.probe'];
    return { connected: true, cpuCount: result.cpuCount, memoryBytes: result.memoryBytes };
  }

  return { probe, start: requester.start, stop: requester.stop };
}
