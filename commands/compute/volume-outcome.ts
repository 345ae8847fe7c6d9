import type { EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import { DomainError } from '../../domain/shared/errors.js';

// A volume or snapshot operation that goes through a host ends with an event in the
// resource's own stream (…Attached / …AttachFailed …), appended by the effect route when the
// hypervisor answers. A task that asked for the operation waits for that event here, so that
// its outcome (and the audit log's) is the operation's real outcome.

const pollMs = 10;
/** Past the effect timeout (effect.operationTimeout, 300 s by default) the route has answered anyway. */
export const defaultOutcomeWaitMs = 15 * 60_000;

/**
 * Follows `stream` from `fromVersion` until `match` returns a value for one of its events.
 * Gives up after `timeoutMs` with OPERATION_STILL_RUNNING: the operation goes on, its
 * outcome will show on the resource.
 */
export async function awaitOutcome<T>(
  store: EventStore,
  stream: string,
  fromVersion: number,
  match: (event: RecordedEvent) => T | undefined,
  timeoutMs = defaultOutcomeWaitMs,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let next = fromVersion;
  for (;;) {
    const events = await store.readStream(stream, { fromVersion: next });
    for (const event of events) {
      const found = match(event);
      if (found !== undefined) return found;
    }
    next += events.length;
    if (Date.now() >= deadline) {
      throw new DomainError('OPERATION_STILL_RUNNING', `the operation on ${stream} has not finished yet; its outcome will show on the resource`, 'conflict');
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** The failure an event reports, as the error a task ends with. */
export function operationFailed(error: { code: string; message: string }): DomainError {
  return new DomainError(error.code, error.message, 'conflict');
}
