import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { IndexSpec, WriteBatch } from '../../adapters/readstore/port.js';

/**
 * A read-model definition (DESIGN.md §4). `apply` must be deterministic — a function of the
 * events alone (times come from the events, never a clock) — so that a rebuild from
 * position zero gives the live model byte for byte.
 */
export interface Projection {
  name: string;
  /** Bump when `apply` changes meaning: the runner rebuilds the model from zero. */
  version: number;
  collections: string[];
  indexes: Array<{ collection: string } & IndexSpec>;
  /** Event types `apply` reads; others only advance the checkpoint. */
  handles: readonly string[];
  apply(event: RecordedEvent, batch: WriteBatch): Promise<void> | void;
}

/** Epoch milliseconds as the ISO-8601 UTC string the API shows. */
export const isoTime = (epochMs: number) => new Date(epochMs).toISOString();
