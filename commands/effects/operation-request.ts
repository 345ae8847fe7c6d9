// One hypervisor operation asked and awaited by a task, outside the outbox: a request/reply
// over the bus, as the host probe does, for quick operations whose caller waits for the
// answer and records nothing the domain must carry on after a crash (guest agent commands).
// The command goes to the host's topic like any effect, so it runs in the agent beside the
// host — the only place a sealed secret inside it is opened — and the answer comes back on
// a reply topic of this process. No answer within the timeout is OPERATION_TIMEOUT.
import { randomUUID } from 'node:crypto';
import type { Bus, BusSubscription } from '../../adapters/bus/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import type { HypervisorOperation, OperationOutcome, ResultOf } from '../../adapters/hypervisor/port.js';
import { hostTopic, orderKeyOf, type EffectCommand, type EffectResultMessage } from './effect.js';

/** Runs one operation on one host and answers its outcome (never rejects for a driver error). */
export type OperationRequester = <O extends HypervisorOperation>(hostId: string, operation: O, options?: { correlationId?: string }) =>
  Promise<OperationOutcome<ResultOf<O>>>;

export interface BusOperationRequester {
  request: OperationRequester;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export const operationRequestRoute = 'operation-request';

/** `route` names what the requests are for (the host probe has its own) in logs and results. */
export function createBusOperationRequester(deps: { bus: Bus; clock: Clock; timeoutMs?: number; route?: string }): BusOperationRequester {
  const timeoutMs = deps.timeoutMs ?? 60_000;
  const replyTopic = `hypervisor-replies.${randomUUID()}`;
  const waiting = new Map<string, (outcome: OperationOutcome | undefined) => void>();
  let subscription: BusSubscription | undefined;

  const request: OperationRequester = async (hostId, operation, options = {}) => {
    if (!subscription) throw new Error('the operation requester is not started');
    const operationId = randomUUID();
    const answer = new Promise<OperationOutcome | undefined>((resolve) => {
      waiting.set(operationId, resolve);
      setTimeout(() => resolve(undefined), timeoutMs).unref();
    });
    const command: EffectCommand = {
      operationId,
      route: deps.route ?? operationRequestRoute,
      hostId,
      operation,
      deadline: deps.clock.now() + timeoutMs,
      replyTopic,
      ...(options.correlationId ? { correlationId: options.correlationId } : {}),
    };
    try {
      // Keyed like an effect on the same VM, so it never overlaps that VM's other operations.
      await deps.bus.publish([{ topic: hostTopic(hostId), key: orderKeyOf({ hostId, operation }), value: command, headers: { operationId } }]);
      const outcome = await answer;
      if (!outcome) {
        return { ok: false, error: { code: 'OPERATION_TIMEOUT', message: `host ${hostId} did not answer ${operation.op} within ${timeoutMs / 1000} s` } };
      }
      return outcome as OperationOutcome<ResultOf<typeof operation>>;
    } finally {
      waiting.delete(operationId);
    }
  };

  return {
    request,
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
