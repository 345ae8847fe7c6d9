// Read-ahead for bulk reads of the SQLite event store: `readAll` called batch after batch,
// as a rebuild does. When a read returns a full batch, a worker thread with its own
// read-only connection reads the next one while the caller works on this one, so that the
// SQLite half of the next read costs the caller's thread nothing. (Subscriptions read
// synchronously: their batches are mostly small, and they must not race their idle wait.)
//
// The worker answers with the batch as ONE JSON text (built by SQLite from the stored JSON
// of data and metadata, see `batchJsonSql`): a string is cheap to pass between threads,
// while posting decoded objects costs more than parsing them (structured clone).
//
// Correctness rests on the log being append-only with positions assigned in commit order:
// the events after a position, as any snapshot shows them, are a prefix of what a later
// snapshot shows. A read-ahead batch is therefore a valid answer, possibly shorter than one
// read now; an empty read-ahead is not used (events may have been appended since).

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Batches of at least this many events are read ahead; for smaller ones it is not worth a thread hop. */
export const READ_AHEAD_MIN = 256;

/**
 * SQL that returns the events after `?` (at most `?` of them), in position order, as one
 * JSON array text of envelopes (`null` when there are none). `data` and `metadata` are stored
 * as JSON.stringify output, so they are embedded as they are. The order is that of the
 * subquery, which SQLite runs as a co-routine feeding the aggregate row by row (a subquery
 * with LIMIT under an aggregate is never flattened); an ORDER BY inside group_concat would
 * sort the texts again and cost 40% more. Readers check the order anyway (`parseBatch`).
 */
export const batchJsonSql =
  `SELECT '[' || group_concat('{"id":' || json_quote(id) || ',"stream":' || json_quote(stream) || ',"version":' || version ||
    ',"position":' || position || ',"type":' || json_quote(type) || ',"data":' || data || ',"metadata":' || metadata ||
    ',"recordedAt":' || recorded_at || '}', ',') || ']' ` +
  'FROM (SELECT * FROM events WHERE position > ? ORDER BY position LIMIT ?)';

// Plain JavaScript evaluated in the worker, so that it runs the same under tsx, vitest and
// the compiled build (a worker file would need a TypeScript loader in two of them).
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
let read;
try {
  const db = new Database(workerData.file, { readonly: true, fileMustExist: true, timeout: 5000 });
  read = db.prepare(workerData.sql).pluck();
} catch (error) {
  read = () => { throw error; };
}
parentPort.on('message', (request) => {
  try {
    parentPort.postMessage({ id: request.id, text: read.get(request.after, request.limit) });
  } catch (error) {
    parentPort.postMessage({ id: request.id, error: String(error && error.message || error) });
  }
});
`;

interface Pending {
  id: number;
  after: number;
  limit: number;
  promise: Promise<string | null>;
}

export class ReadAhead {
  private worker: Worker | undefined;
  private failed = false;
  private nextId = 1;
  private pending: Pending | undefined;
  private readonly waiting = new Map<number, { resolve: (text: string | null) => void; reject: (error: Error) => void }>();

  constructor(private readonly file: string) {}

  /** Starts reading the batch after `after` in the background (replacing any other). */
  start(after: number, limit: number): void {
    if (this.failed) return;
    const worker = this.ensureWorker();
    if (worker === undefined) return;
    const id = this.nextId++;
    const promise = new Promise<string | null>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    promise.catch(() => undefined); // an unclaimed read-ahead may fail unobserved
    this.pending = { id, after, limit, promise };
    worker.postMessage({ id, after, limit });
  }

  /** The read-ahead batch for exactly this read, if one was started. */
  take(after: number, limit: number): Promise<string | null> | undefined {
    const pending = this.pending;
    this.pending = undefined;
    return pending !== undefined && pending.after === after && pending.limit === limit ? pending.promise : undefined;
  }

  close(): void {
    this.failed = true;
    this.pending = undefined;
    const worker = this.worker;
    this.worker = undefined;
    for (const { reject } of this.waiting.values()) reject(new Error('read-ahead closed'));
    this.waiting.clear();
    if (worker !== undefined) void worker.terminate();
  }

  private ensureWorker(): Worker | undefined {
    if (this.worker !== undefined) return this.worker;
    try {
      const driver = createRequire(import.meta.url).resolve('better-sqlite3');
      const worker = new Worker(workerSource, { eval: true, workerData: { driver, file: this.file, sql: batchJsonSql } });
      worker.unref(); // never keeps the process alive
      worker.on('message', (message: { id: number; text?: string | null; error?: string }) => {
        const waiter = this.waiting.get(message.id);
        if (waiter === undefined) return;
        this.waiting.delete(message.id);
        if (message.error !== undefined) waiter.reject(new Error(message.error));
        else waiter.resolve(message.text ?? null);
      });
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', () => this.fail(new Error('read-ahead worker exited')));
      this.worker = worker;
      return worker;
    } catch {
      this.failed = true;
      return undefined;
    }
  }

  /** A broken worker only costs the read-ahead: readers fall back to reading themselves. */
  private fail(error: Error): void {
    this.failed = true;
    this.worker = undefined;
    this.pending = undefined;
    for (const { reject } of this.waiting.values()) reject(error);
    this.waiting.clear();
  }
}
