// What a parallel rebuild (parallel-rebuild.ts) and its worker threads (bin/rebuild-worker.ts)
// say to each other.
import type { RangeWrites } from './range-batch.js';

export interface RebuildWorkerData {
  eventsFile: string;
  /** URL of the module exporting the projection, and its name. */
  module: string;
  projection: string;
  /** Events per read. */
  readBatch: number;
}

/** Main thread → worker: apply the events after `after` up to `until`. */
export interface RangeRequest {
  range: number;
  after: number;
  until: number;
}

export type FromRebuildWorker =
  | { kind: 'ready' }
  | { kind: 'range'; range: number; last: number; writes: RangeWrites[] }
  | { kind: 'error'; range: number | undefined; message: string };
