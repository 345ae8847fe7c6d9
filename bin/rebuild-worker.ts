// A worker thread of a parallel rebuild (projections/shared/parallel-rebuild.ts): reads ranges
// of the SQLite event store with its own read-only connection, decodes them and applies the
// projection into a RangeBatch, and posts each range's writes back (documents already
// serialized). Here in bin/ because it opens the store's file itself.
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteRangeReader, type SqliteRangeReader } from '../adapters/eventstore/sqlite-range-reader.js';
import type { Projection } from '../projections/shared/projection.js';
import { RangeBatch } from '../projections/shared/range-batch.js';
import type { FromRebuildWorker, RangeRequest, RebuildWorkerData } from '../projections/shared/rebuild-messages.js';

function isProjection(value: unknown, name: string): value is Projection {
  return typeof value === 'object' && value !== null && (value as Projection).name === name && typeof (value as Projection).apply === 'function';
}

async function main() {
  const port = parentPort!;
  const data = workerData as RebuildWorkerData;
  let projection: Projection;
  let reader: SqliteRangeReader;
  try {
    const found = Object.values(await import(data.module) as Record<string, unknown>).find((value) => isProjection(value, data.projection));
    if (found === undefined) throw new Error(`${data.module} exports no projection named ${data.projection}`);
    projection = found;
    reader = openSqliteRangeReader(data.eventsFile);
  } catch (error) {
    port.postMessage({ kind: 'error', range: undefined, message: String((error as Error)?.message ?? error) } satisfies FromRebuildWorker);
    return;
  }
  const handles = new Set(projection.handles);

  async function applyRange({ range, after, until }: RangeRequest): Promise<FromRebuildWorker> {
    const batch = new RangeBatch(projection.name);
    let last = after;
    while (last < until) {
      const events = reader.read(last, Math.min(data.readBatch, until - last));
      if (events.length === 0) break; // the end of the log
      for (const event of events) {
        // The SQL orders by position; check it, as the store's own reader does.
        if (!(event.position > last)) throw new Error(`events out of order after position ${last}`);
        if (event.position > until) break;
        last = event.position;
        if (!handles.has(event.type)) continue;
        const applied = projection.apply(event, batch);
        if (applied !== undefined) await applied;
      }
    }
    return { kind: 'range', range, last, writes: batch.writes() };
  }

  port.on('message', (request: RangeRequest | { kind: 'close' }) => {
    if ('kind' in request) {
      reader.close();
      port.close();
      return;
    }
    applyRange(request).then(
      (answer) => port.postMessage(answer),
      (error: unknown) => port.postMessage({ kind: 'error', range: request.range, message: String((error as Error)?.message ?? error) } satisfies FromRebuildWorker),
    );
  });
  port.postMessage({ kind: 'ready' } satisfies FromRebuildWorker);
}

void main();
