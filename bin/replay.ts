import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import type { EventStore } from '../adapters/eventstore/port.js';
import type { ReadStore } from '../adapters/readstore/port.js';
import { openSqliteReadStore } from '../adapters/readstore/sqlite.js';
import type { ParallelRebuildOptions } from '../projections/shared/parallel-rebuild.js';
import type { Projection } from '../projections/shared/projection.js';
import { rebuildProjection } from '../projections/shared/runner.js';
import { compareProjection, copyProjection } from '../projections/shared/compare.js';

export interface ReplayReport {
  projection: string;
  events: number;
  seconds: number;
  equal: boolean;
  differences: string[];
}

/**
 * Rebuilds projections from position zero into a scratch store, up to the position the live
 * model has reached, and compares the two. With `apply`, the rebuilt model replaces the live
 * one (run it with the server stopped).
 */
export async function replay(deps: {
  eventStore: EventStore;
  live: ReadStore;
  projections: readonly Projection[];
  scratchDir: string;
  apply: boolean;
  out: NodeJS.WritableStream;
  /** Where worker threads can read the event store (a SQLite file): see rebuildProjection. */
  parallel?: ParallelRebuildOptions;
}): Promise<ReplayReport[]> {
  const reports: ReplayReport[] = [];
  for (const projection of deps.projections) {
    const scratchFile = resolve(deps.scratchDir, `replay-${projection.name}-${process.pid}.db`);
    const scratch = openSqliteReadStore({ file: scratchFile, scratch: true });
    try {
      const checkpoint = await deps.live.checkpoint(projection.name);
      const liveIsCurrent = checkpoint?.version === projection.version;
      const until = liveIsCurrent ? checkpoint!.position : await deps.eventStore.headPosition();
      const bar = new cliProgress.SingleBar({
        format: `${projection.name.padEnd(12)} [{bar}] {percentage}% | {value}/{total} events | {eta_formatted} left`,
        stream: deps.out as NodeJS.WriteStream,
        noTTYOutput: true,
        notTTYSchedule: 2000,
      }, cliProgress.Presets.shades_classic);
      bar.start(until, 0);
      const started = process.hrtime.bigint();
      await rebuildProjection({ eventStore: deps.eventStore, target: scratch, projection, until, parallel: deps.parallel, onProgress: (position) => bar.update(position) });
      bar.update(until);
      bar.stop();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const differences = liveIsCurrent
        ? await compareProjection(projection, deps.live, scratch)
        : [`the live model was built by version ${checkpoint?.version ?? 'none'}, not ${projection.version}`];
      reports.push({ projection: projection.name, events: until, seconds, equal: differences.length === 0, differences });
      if (deps.apply) await copyProjection(projection, scratch, deps.live, until);
    } finally {
      await scratch.close();
      for (const suffix of ['', '-wal', '-shm']) rmSync(scratchFile + suffix, { force: true });
    }
  }
  return reports;
}
