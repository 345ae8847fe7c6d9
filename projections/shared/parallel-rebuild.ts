// A rebuild spread over worker threads, for projections that only write by id
// (`parallelRebuild` on the Projection). The log up to `until` is cut into ranges; each
// worker (bin/rebuild-worker.ts, given as `workerEntry`) reads a range with its own connection to the SQLite event store,
// decodes it and applies the projection into an in-memory state (range-batch.ts), and posts
// the range's documents back already serialized. The main thread only merges and writes:
// ranges are committed to the target in log order, each one held until the next arrives so
// that the next one's patches of documents it created are applied to them before they are
// written (a task's start and end often straddle two ranges). Patches of older documents
// go to the store, which applies them to the stored document, as a sequential rebuild does;
// they are carried forward and committed together (DeferredPatches), so the target's
// checkpoint is only exact once the rebuild is done — a rebuild's target is used only then.
//
// Decoding (JSON.parse of the events) and building documents are most of a rebuild's CPU;
// this spreads them over the cores, while the target's own background writer
// (adapters/readstore/sqlite-bulk-writer.ts) writes the rows.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ReadStore } from '../../adapters/readstore/port.js';
import type { Projection } from './projection.js';
import { DeferredPatches, mergePending, writeRange, type RangeWrites } from './range-batch.js';
import type { FromRebuildWorker, RangeRequest, RebuildWorkerData } from './rebuild-messages.js';

export interface ParallelRebuildOptions {
  /** The SQLite event store's file, which the workers open read-only. */
  eventsFile: string;
  /** The workers' entry module (bin/rebuild-options.ts gives bin/rebuild-worker.ts; see thread-entry.ts). */
  workerEntry: URL;
  /** Worker threads (default: the cores, at most 4). */
  workers?: number;
  /**
   * Events per range (default 2,000). Given, it also lowers the least number of events
   * rebuilt in parallel to two ranges (tests use small ranges on small logs).
   */
  rangeEvents?: number;
  /** Patches of older documents carried forward before they are committed (default 50,000; see range-batch.ts). */
  maxDeferredPatches?: number;
}

/**
 * A range's state lives until the range is done: small ranges keep it young (the scavenger
 * frees it instead of promoting it to the old generation). Measured on the audit log's
 * bench, ranges of 25,000 events cost ~20% more CPU than ranges of 1,000-2,000, mostly in
 * the garbage collector's threads.
 */
const DEFAULT_RANGE_EVENTS = 2_000;
/** Below this many events, starting threads costs more than it saves. */
const MIN_PARALLEL_EVENTS = 100_000;
const MAX_DEFAULT_WORKERS = 4;
/** Events per read of a worker (one SQL query, one JSON text). */
const READ_BATCH = 1000;
const MAX_DEFERRED_PATCHES = 50_000;
/** Ranges handed out ahead of the next one to commit, per worker (bounds the memory held). */
const RANGES_AHEAD_PER_WORKER = 4;

/** Whether `rebuildInParallel` may rebuild this projection over this many events. */
export function canRebuildInParallel(projection: Projection, until: number, options: ParallelRebuildOptions | undefined): options is ParallelRebuildOptions {
  if (options === undefined || projection.parallelRebuild === undefined) return false;
  const file = options.eventsFile;
  if (file === '' || file === ':memory:' || file.startsWith('file:')) return false;
  // Fewer than two ranges is a sequential rebuild with a thread's start-up added.
  return until >= (options.rangeEvents === undefined ? MIN_PARALLEL_EVENTS : 2 * options.rangeEvents);
}

interface Range {
  after: number;
  until: number;
}

function planRanges(until: number, rangeEvents: number): Range[] {
  const ranges: Range[] = [];
  for (let after = 0; after < until; after += rangeEvents) ranges.push({ after, until: Math.min(until, after + rangeEvents) });
  // A short last range joins the one before (fewer commits, none tiny).
  if (ranges.length > 1 && ranges[ranges.length - 1]!.until - ranges[ranges.length - 1]!.after < rangeEvents / 2) {
    const short = ranges.pop()!;
    ranges[ranges.length - 1]!.until = short.until;
  }
  return ranges;
}

/**
 * Applies the projection to the events after 0 up to `until` into `target` (already reset),
 * committing in log order; returns the last position applied. The caller checks the
 * target's checkpoint and builds the indexes, as for a sequential rebuild.
 */
export async function rebuildInParallel(deps: {
  target: ReadStore;
  projection: Projection;
  until: number;
  options: ParallelRebuildOptions;
  onProgress?: (position: number) => void;
}): Promise<number> {
  const { target, projection, until, options } = deps;
  const module = projection.parallelRebuild?.module;
  if (module === undefined) throw new Error(`projection ${projection.name} does not declare parallelRebuild`);
  const ranges = planRanges(until, options.rangeEvents ?? DEFAULT_RANGE_EVENTS);
  const workerCount = Math.max(1, Math.min(ranges.length, options.workers ?? Math.min(availableParallelism(), MAX_DEFAULT_WORKERS)));
  const data: RebuildWorkerData = { eventsFile: options.eventsFile, module, projection: projection.name, readBatch: READ_BATCH };

  const workers: Worker[] = [];
  const results = new Map<number, { last: number; writes: RangeWrites[] }>();
  let failure: Error | undefined;
  let finished = false;
  let wake: (() => void) | undefined;
  const signal = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const fail = (error: Error) => {
    failure ??= error;
    signal();
  };

  let nextRange = 0;
  let nextToCommit = 0;
  const idle: Worker[] = [];
  const dispatch = () => {
    while (idle.length > 0 && nextRange < ranges.length && nextRange < nextToCommit + workerCount * RANGES_AHEAD_PER_WORKER) {
      const range = nextRange++;
      idle.pop()!.postMessage({ range, ...ranges[range]! } satisfies RangeRequest);
    }
  };

  try {
    for (let i = 0; i < workerCount; i++) {
      // Only --cpu-prof passes on, so that a profile of a rebuild covers its workers.
      const execArgv = process.execArgv.filter((arg) => arg.startsWith('--cpu-prof'));
      const worker = new Worker(options.workerEntry, { workerData: data, execArgv });
      workers.push(worker);
      worker.on('message', (message: FromRebuildWorker) => {
        if (message.kind === 'error') {
          fail(new Error(`parallel rebuild of ${projection.name}${message.range === undefined ? '' : `, range ${message.range}`}: ${message.message}`));
          return;
        }
        if (message.kind === 'range') {
          results.set(message.range, { last: message.last, writes: message.writes });
          signal();
        }
        idle.push(worker);
        dispatch();
      });
      worker.on('error', (error) => fail(error));
      worker.on('exit', (code) => {
        if (nextToCommit < ranges.length) fail(new Error(`parallel rebuild of ${projection.name}: a worker exited (code ${code})`));
      });
    }

    const next = async (): Promise<{ last: number; writes: RangeWrites[] }> => {
      for (;;) {
        if (failure !== undefined) throw failure;
        const result = results.get(nextToCommit);
        if (result !== undefined) {
          results.delete(nextToCommit);
          nextToCommit++;
          dispatch();
          return result;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    };

    let after = 0;
    let held: { last: number; writes: RangeWrites[] } | undefined;
    const commit = async (range: { last: number; writes: RangeWrites[] }) => {
      await target.commit(projection.name, range.last, async (batch) => writeRange(batch, range.writes));
      after = range.last;
      deps.onProgress?.(after);
    };
    const deferred = new DeferredPatches();
    for (const range of ranges) {
      const result = await next();
      if (result.last === range.after) continue; // read nothing: past the end of the log
      if (held !== undefined) mergePending(held.writes, result.writes);
      deferred.absorb(result.writes);
      if (held !== undefined) {
        if (deferred.size >= (options.maxDeferredPatches ?? MAX_DEFERRED_PATCHES)) deferred.drainInto(held.writes);
        await commit(held);
      }
      held = result;
    }
    if (held !== undefined) {
      deferred.drainInto(held.writes);
      await commit(held);
    }
    if (failure !== undefined) throw failure;
    finished = true;
    return after;
  } finally {
    // Done: let the workers end on their own; failed: stop them.
    await Promise.all(workers.map((worker) => {
      if (!finished) return worker.terminate();
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage({ kind: 'close' });
      return exited;
    }));
  }
}
