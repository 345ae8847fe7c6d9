import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import { createProcessRunner, type ProcessRunner } from './provisioning-runner.js';
import { reactToVolumeEvent, volumeReactionTypes, type AuditTasks } from './volume-reactions.js';

// The volume process manager: `reactToVolumeEvent` on the process-manager engine (a
// checkpointed subscription; events of one stream in order, a crash repeats what may not
// have been handled — the reactions are idempotent).

export type VolumeProcessManager = ProcessRunner;

export function createVolumeProcessManager(deps: {
  eventStore: EventStore;
  readStore: ReadStore;
  clock: Clock;
  /** To audit the attaches it asks for (optional: without it they are not audited). */
  tasks?: AuditTasks;
  log: { warn(details: object, message: string): void; error(details: object, message: string): void };
}): VolumeProcessManager {
  const { eventStore, clock, log } = deps;
  return createProcessRunner({
    name: 'volumes',
    eventStore,
    readStore: deps.readStore,
    log,
    handles: volumeReactionTypes,
    async handle(event) {
      try {
        await reactToVolumeEvent({ store: eventStore, clock, ...(deps.tasks ? { tasks: deps.tasks } : {}) }, event);
      } catch (error) {
        // A refusal is a decision, not a passing failure: trying again would decide the same.
        // Conflicts and store errors are retried by the engine.
        if (!(error instanceof DomainError) || error.code === 'CONCURRENT_MODIFICATION') throw error;
        log.warn({ err: error, code: error.code, eventType: event.type, stream: event.stream }, 'volume reaction refused; nothing done');
      }
    },
  });
}
