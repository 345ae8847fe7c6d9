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
  /**
   * Set when `apply` only writes by id (upsert, patch, delete) and never reads (`batch.get`):
   * a rebuild may then apply ranges of the log in worker threads at once and merge them in
   * order (parallel-rebuild.ts). `module` is the URL of the module that exports this
   * projection (its `import.meta.url`), which those threads import.
   */
  parallelRebuild?: { module: string };
}

const MAX_TIME = 8.64e15; // the range of Date
const MILLIS = Array.from({ length: 1000 }, (_, ms) => `${String(ms).padStart(3, '0')}Z`);
let cachedSecond = Number.NaN;
let cachedPrefix = '';

/**
 * Epoch milliseconds as the ISO-8601 UTC string the API shows (as Date#toISOString, which
 * is slow enough to show in a replay's profile). Consecutive calls mostly fall in the same
 * second (events committed together share their time; a task ends soon after it starts):
 * the text up to the second is kept from the last call, so those only add the milliseconds.
 */
export function isoTime(epochMs: number): string {
  if (!Number.isInteger(epochMs) || epochMs > MAX_TIME || epochMs < -MAX_TIME) return new Date(epochMs).toISOString();
  const second = Math.floor(epochMs / 1000);
  if (second !== cachedSecond) {
    const full = new Date(epochMs).toISOString();
    cachedSecond = second;
    cachedPrefix = full.slice(0, -4); // '…:SS.' (the year may have more than four digits)
    return full;
  }
  return cachedPrefix + MILLIS[epochMs - second * 1000]!;
}
