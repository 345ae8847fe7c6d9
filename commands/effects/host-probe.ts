// Probing a host when it is added or reconnected: a request/reply over the bus, outside the
// outbox, because the caller (the add-host or reconnect task) waits for the answer to record
// the host Connected or Disconnected. The command goes to the host's topic like any effect,
// so the probe runs in the agent beside the host (the only place its password is opened),
// and the answer comes back on a reply topic of this process.
import { randomUUID } from 'node:crypto';
import type { Bus, BusSubscription } from '../../adapters/bus/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import type { OperationOutcome, OperationResults } from '../../adapters/hypervisor/port.js';
import type { ExistingHost } from '../../domain/compute/host.js';
import type { HostProbe, HostProbeResult } from '../compute/hosts.js';
import { hostTopic, type EffectCommand, type EffectResultMessage } from './effect.js';

export interface BusHostProbe {
  probe: HostProbe;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export const hostProbeRoute = 'host-probe';

export function createBusHostProbe(deps: { bus: Bus; clock: Clock; timeoutMs?: number }): BusHostProbe {
  const timeoutMs = deps.timeoutMs ?? 30_000;
  const replyTopic = `hypervisor-replies.${randomUUID()}`;
  const waiting = new Map<string, (outcome: OperationOutcome | undefined) => void>();
  let subscription: BusSubscription | undefined;

  async function probe(host: ExistingHost): Promise<HostProbeResult> {
    if (!subscription) throw new Error('the host probe is not started');
    const operationId = randomUUID();
    const answer = new Promise<OperationOutcome | undefined>((resolve) => {
      waiting.set(operationId, resolve);
      setTimeout(() => resolve(undefined), timeoutMs).unref();
    });
    const command: EffectCommand = {
      operationId,
      route: hostProbeRoute,
      hostId: host.hostId,
      operation: { op: 'host.probe' },
      deadline: deps.clock.now() + timeoutMs,
      replyTopic,
    };
    try {
      await deps.bus.publish([{ topic: hostTopic(host.hostId), key: host.hostId, value: command, headers: { operationId } }]);
      const outcome = await answer;
      if (!outcome) return { connected: false, cpuCount: 0, memoryBytes: 0, reason: `OPERATION_TIMEOUT: the host did not answer a probe within ${timeoutMs / 1000} s` };
      if (!outcome.ok) return { connected: false, cpuCount: 0, memoryBytes: 0, reason: `${outcome.error.code}: ${outcome.error.message}` };
      const result = outcome.result as OperationResults['host.probe'];
      return { connected: true, cpuCount: result.cpuCount, memoryBytes: result.memoryBytes };
    } finally {
      waiting.delete(operationId);
    }
  }

  return {
    probe,
    async start() {
      subscription = await deps.bus.subscribe<EffectResultMessage>({
        topic: replyTopic,
        group: replyTopic,
        handler: async (message) => { waiting.get(message.value.operationId)?.(message.value.outcome); },
      });
    },
    async stop() {
      await subscription?.stop();
      subscription = undefined;
      for (const resolve of waiting.values()) resolve(undefined);
      waiting.clear();
    },
  };
}
