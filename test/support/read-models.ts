import { expect } from 'vitest';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { openSqliteReadStore } from '../../adapters/readstore/sqlite.js';
import { allProjections } from '../../projections/index.js';
import { compareProjection } from '../../projections/shared/compare.js';
import type { Projection } from '../../projections/shared/projection.js';
import { rebuildProjection } from '../../projections/shared/runner.js';

// DESIGN.md §4: any projection rebuilt from position zero equals the live one. The tests that
// check it after a story or a crash rebuild into a scratch SQLite file and compare.

/**
 * Rebuilds each projection (all by default, or those named) from the events up to `until` into
 * a scratch read store at `scratchFile`, and expects it equal to the live read model.
 */
export async function expectReadModelsEqualRebuild(
  stratus: { eventStore: EventStore; readStore: ReadStore },
  options: { scratchFile: string; until: number; projections?: ReadonlyArray<string | Projection> },
): Promise<void> {
  const projections = (options.projections ?? allProjections).map((wanted) =>
    (typeof wanted === 'string' ? allProjections.find((candidate) => candidate.name === wanted) ?? missing(wanted) : wanted));
  const scratch = openSqliteReadStore({ file: options.scratchFile });
  try {
    for (const projection of projections) {
      await rebuildProjection({ eventStore: stratus.eventStore, target: scratch, projection, until: options.until });
      const name = projection.name;
      expect({ name, differences: await compareProjection(projection, stratus.readStore, scratch) }).toEqual({ name, differences: [] });
    }
  } finally {
    await scratch.close();
  }
}

function missing(name: string): never {
  throw new Error(`no projection ${name}`);
}
