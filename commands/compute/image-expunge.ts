import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { imageDecider, imageStream } from '../../domain/compute/image.js';
import { handleCommand } from '../shared/handle-command.js';
import { systemActor } from '../shared/request-context.js';
import type { DueJob } from '../shared/timer-loop.js';
import type { Tasks } from '../tasks/tasks.js';

// Expunging an image removes it for good. Today that is one event: the image's bits live in
// an image store that has no driver yet (nothing to delete outside the event store). It is
// idempotent (an expunged image expunges again as a no-op) and so resumable: a crash before
// the event leaves the image Destroyed and due, and the next run expunges it.

export async function expungeImage(deps: { store: EventStore; clock: Clock }, imageId: string, metadata: EventMetadata): Promise<{ expunged: boolean; position: number }> {
  const outcome = await handleCommand(deps.store, imageDecider, imageStream(imageId), { type: 'ExpungeImage', now: deps.clock.now() }, metadata);
  return { expunged: outcome.events.length > 0, position: outcome.position };
}

/**
 * The due-time job for images (DESIGN.md §3): Destroyed images whose `expungeAt` has passed,
 * read from the `images` read model, each expunged as a system task so that the audit log
 * shows it. A lagging read model only delays an expunge: the decider re-checks the state.
 */
export function imageExpungeJob(deps: { store: EventStore; readStore: ReadStore; clock: Clock; tasks: Tasks }): DueJob {
  return {
    name: 'image-expunge',
    async run(now) {
      const due = await deps.readStore.find('images', { state: 'Destroyed', expungeAt: { $lte: new Date(now).toISOString() } }, { sort: [['expungeAt', 1]], limit: 500 });
      for (const image of due) {
        const started = await deps.tasks.start(
          { actor: systemActor, correlationId: `image-expunge-${image.id}` },
          { action: 'ExpungeImage', resourceType: 'image', resourceIds: [image.id], request: { imageId: image.id, reason: 'expunge period passed' } },
          async ({ metadata }) => ({ result: { id: image.id, ...(await expungeImage(deps, image.id, metadata)) } }),
        );
        await deps.tasks.wait(started.taskId, 60_000);
      }
    },
  };
}
