import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { primaryStorageDecider, primaryStorageStream } from '../../domain/compute/primary-storage.js';
import { createAggregateCache } from '../shared/cached-command.js';

// A volume's bytes are reserved in its primary storage's stream before it is created.

export const primaryStorageAggregates = createAggregateCache(primaryStorageDecider);

/** Idempotent by `volumeId`. Refusals: PRIMARY_STORAGE_NOT_FOUND, PRIMARY_STORAGE_CAPACITY_EXCEEDED. */
export async function reservePrimaryStorage(
  store: EventStore,
  primaryStorageId: string,
  request: { volumeId: string; sizeBytes: number },
  metadata: EventMetadata,
): Promise<{ position: number }> {
  const outcome = await primaryStorageAggregates.handle(store, primaryStorageStream(primaryStorageId), {
    type: 'ReservePrimaryStorage', volumeId: request.volumeId, sizeBytes: request.sizeBytes,
  }, metadata);
  return { position: outcome.position };
}

/** Releases a volume's reservation; nothing reserved is not an error. */
export async function releasePrimaryStorage(store: EventStore, primaryStorageId: string, volumeId: string, metadata: EventMetadata): Promise<{ position: number }> {
  const outcome = await primaryStorageAggregates.handle(store, primaryStorageStream(primaryStorageId), { type: 'ReleasePrimaryStorage', volumeId }, metadata);
  return { position: outcome.position };
}
