// The effect outbox, kept in the read store: one document per effect, written as `pending`
// in the same commit as the dispatcher's checkpoint (so an effect exists if and only if the
// events before the checkpoint were seen), marked `done` once its result was handled.
import type { Doc, IndexSpec } from '../../adapters/readstore/port.js';
import type { HypervisorErrorInfo } from '../../adapters/hypervisor/port.js';
import type { RecordedEffect } from './effect.js';

export const outboxCollection = 'effect_outbox';
/** The dispatcher's checkpoint (a position in $all), stored with the outbox documents. */
export const dispatcherCheckpoint = 'effect-dispatcher';
/** The "checkpoint" of result commits: they follow no stream, so its position means nothing. */
export const resultsCheckpoint = 'effect-results';

export const outboxIndexes: IndexSpec[] = [
  { fields: [['state', 1], ['deadline', 1]] },
  { fields: [['state', 1], ['sequence', 1]] },
  { fields: [['state', 1], ['completedAt', 1]] },
];

/** How long a done effect stays in the outbox, for inspection (like ZStack's finished API jobs). */
export const doneRetentionMs = 10_800_000;

/** Effects one event may ask for (their ranks fit in the sequence after the position). */
export const maxEffectsPerEvent = 1024;

export type OutboxState = 'pending' | 'done';

export type OutboxDoc = Doc & RecordedEffect & {
  state: OutboxState;
  completedAt?: number;
  /** How it ended (the result itself is the route's business). */
  ok?: boolean;
  error?: HypervisorErrorInfo;
};

export function outboxDoc(effect: RecordedEffect): OutboxDoc {
  return { ...effect, id: effect.operationId, state: 'pending' } as OutboxDoc;
}

export function effectOf(doc: OutboxDoc): RecordedEffect {
  const { id: _id, state: _state, completedAt: _completedAt, ok: _ok, error: _error, ...effect } = doc;
  return effect as RecordedEffect;
}
