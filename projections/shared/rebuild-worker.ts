// A worker thread of a parallel rebuild (parallel-rebuild.ts): reads ranges of the SQLite
// event store with its own read-only connection, decodes them and applies the projection
// into a RangeBatch, and posts each range's writes back (documents already serialized).
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import { batchJsonSql } from '../../adapters/eventstore/sqlite-read-ahead.js';
import type { Projection } from './projection.js';
import { RangeBatch, type RangeWrites } from './range-batch.js';

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

function isProjection(value: unknown, name: string): value is Projection {
  return typeof value === 'object' && value !== null && (value as Projection).name === name && typeof (value as Projection).apply === 'function';
}

async function main() {
  const port = parentPort!;
  const data = workerData as RebuildWorkerData;
  let projection: Projection;
  let db: Database.Database;
  let read: Database.Statement<unknown[], unknown>;
  try {
    const found = Object.values(await import(data.module) as Record<string, unknown>).find((value) => isProjection(value, data.projection));
    if (found === undefined) throw new Error(`${data.module} exports no projection named ${data.projection}`);
    projection = found;
    db = new Database(data.eventsFile, { readonly: true, fileMustExist: true, timeout: 5000 });
    read = db.prepare(batchJsonSql).pluck();
  } catch (error) {
    port.postMessage({ kind: 'error', range: undefined, message: String((error as Error)?.message ?? error) } satisfies FromRebuildWorker);
    return;
  }
  const handles = new Set(projection.handles);

  async function applyRange({ range, after, until }: RangeRequest): Promise<FromRebuildWorker> {
    const batch = new RangeBatch(projection.name);
    let last = after;
    while (last < until) {
      const text = read.get(last, Math.min(data.readBatch, until - last)) as string | null;
      if (text === null) break; // the end of the log
      const events = JSON.parse(text) as RecordedEvent[];
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
      db.close();
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
