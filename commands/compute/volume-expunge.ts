import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import { volumeDecider, volumeStream, type VolumeEvent } from '../../domain/compute/volume.js';
import { DomainError } from '../../domain/shared/errors.js';
import { handleCommand } from '../shared/handle-command.js';
import { newId } from '../shared/ids.js';
import { releasePrimaryStorage } from './primary-storage-capacity.js';
import { discardSnapshotsOf } from './snapshot-discard.js';
import { loadVolume } from './volume-facts.js';
import { awaitOutcome, operationFailed } from './volume-outcome.js';

// Expunging a destroyed volume: its file is deleted on its host (effect volume.delete, see
// volume-effect-routes.ts), then its snapshots and primary-storage bytes are given back,
// then VolumeExpunged is recorded. Resumable and idempotent (CloudStack's volumes stuck in
// Expunging are the lesson): each step is safe to repeat, and the state says which remain —
// Destroyed: start; Expunging with a file: the host is being asked (the effect outbox
// survives a crash and asks again); Expunging without a file: finish here; Expunged: done.

type Deps = { store: EventStore; clock: Clock };

export interface ExpungeOutcome {
  id: string;
  /** False when the host's deletion is still under way (wait: false, or it outlasted the wait). */
  expunged: boolean;
  position: number;
}

export async function expungeVolume(deps: Deps, volumeId: string, metadata: EventMetadata, options: { wait?: boolean } = {}): Promise<ExpungeOutcome> {
  const started = await handleCommand(deps.store, volumeDecider, volumeStream(volumeId), { type: 'StartExpunge', operationId: newId(), now: deps.clock.now() }, metadata);
  const state = started.state;
  if (state.status === 'None') throw new DomainError('VOLUME_NOT_FOUND', `no volume ${volumeId}`, 'not_found');
  if (state.status === 'Expunged') return { id: volumeId, expunged: true, position: started.position };
  if (state.status !== 'Expunging' || !state.expungeId) return { id: volumeId, expunged: false, position: started.position };
  if (!state.instantiated) {
    // Nothing on any host: finish here.
    const finished = await finishExpunge(deps, volumeId, state.expungeId, metadata);
    return { id: volumeId, expunged: true, position: finished || started.position };
  }
  if (!options.wait) return { id: volumeId, expunged: false, position: started.position };
  const expungeId = state.expungeId;
  return awaitOutcome(deps.store, volumeStream(volumeId), Math.max(0, started.version), (recorded: RecordedEvent) => {
    const event = recorded as unknown as VolumeEvent;
    if (event.type === 'VolumeExpunged') return { id: volumeId, expunged: true, position: recorded.position };
    if (event.type === 'VolumeExpungeFailed' && event.data.operationId === expungeId) throw operationFailed(event.data.error);
    return undefined;
  });
}

/**
 * The host has deleted the file (or there was none): snapshots go, the bytes go back, and
 * the volume is recorded expunged — in that order, so that a repeat after a crash redoes
 * only what is left. Returns the position written (0 if it was done already).
 */
export async function finishExpunge(deps: Deps, volumeId: string, operationId: string, metadata: EventMetadata): Promise<number> {
  const { state } = await loadVolume(deps.store, volumeId);
  if (state.status !== 'Expunging' || state.expungeId !== operationId) return 0;
  await discardSnapshotsOf(deps, volumeId, 'VolumeExpunged', metadata);
  if (state.capacityReserved && state.primaryStorageId) await releasePrimaryStorage(deps.store, state.primaryStorageId, volumeId, metadata);
  const outcome = await handleCommand(deps.store, volumeDecider, volumeStream(volumeId), { type: 'CompleteExpunge', operationId, outcome: { ok: true }, now: deps.clock.now() }, metadata);
  return outcome.position;
}

export async function failExpunge(deps: Deps, volumeId: string, operationId: string, error: { code: string; message: string }, metadata: EventMetadata) {
  await handleCommand(deps.store, volumeDecider, volumeStream(volumeId), { type: 'CompleteExpunge', operationId, outcome: { ok: false, error }, now: deps.clock.now() }, metadata);
}
