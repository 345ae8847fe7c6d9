import type { ParallelRebuildOptions } from '../projections/shared/parallel-rebuild.js';
import { threadEntry } from '../projections/shared/thread-entry.js';

/** Parallel rebuild over a SQLite event store's file, its workers running bin/rebuild-worker.ts. */
export function sqliteParallelRebuild(options: Omit<ParallelRebuildOptions, 'workerEntry'>): ParallelRebuildOptions {
  return { ...options, workerEntry: threadEntry(import.meta.url, 'rebuild-worker') };
}
