import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { imageDecider, imageStream } from '../../domain/compute/image.js';
import { handleCommand } from '../shared/handle-command.js';

// Expunging an image removes it for good. Today that is one event: the image's bits live in
// an image store that has no driver yet (nothing to delete outside the event store). It is
// idempotent (an expunged image expunges again as a no-op) and so resumable: a crash before
// the event leaves the image Destroyed and due, and the next run of the expunger
// (expunger.ts, shared by VMs, volumes and images) expunges it.

export async function expungeImage(deps: { store: EventStore; clock: Clock }, imageId: string, metadata: EventMetadata): Promise<{ expunged: boolean; position: number }> {
  const outcome = await handleCommand(deps.store, imageDecider, imageStream(imageId), { type: 'ExpungeImage', now: deps.clock.now() }, metadata);
  return { expunged: outcome.events.length > 0, position: outcome.position };
}
