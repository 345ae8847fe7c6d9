// Background writes for a scratch SQLite read store (a rebuild's target, see sqlite.ts): the
// rows of a commit are written by a worker thread with its own connection, while the
// caller's thread goes on applying the next batch of events. Only for scratch stores,
// because a commit returns before its rows are on disk: a failed write is reported by the
// next call on the store, and the store is unusable after it.
//
// The rows travel as arrays of strings (ids, documents' JSON): the structured clone of a
// string array costs the sender little more than a copy (less than joining it into one).

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** The statements of one collection, as the store prepares them (the worker runs the same SQL). */
export interface BulkTableSql {
  upsert: string;
  upsertChunk: string;
  remove: string;
}

export interface BulkCollectionWrites {
  sql: BulkTableSql;
  /** Ids of upserted documents. */
  ids: string[];
  /** The upserted documents' JSON, in the order of `ids`. */
  docs: string[];
  /** Ids of deleted documents. */
  deletes: string[];
}

export interface BulkCommit {
  collections: BulkCollectionWrites[];
  projection: string;
  position: number;
}

/** Commits written or queued before `write` waits: one being written, one waiting. */
const MAX_IN_FLIGHT = 2;

// Plain JavaScript evaluated in the worker (no TypeScript loader there under tsx or vitest).
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const { file, pragmas, checkpointSql, chunk } = workerData;
let db;
let failed;
const prepared = new Map();
function statement(sql) {
  let st = prepared.get(sql);
  if (st === undefined) { st = db.prepare(sql); prepared.set(sql, st); }
  return st;
}
function apply(commit) {
  const args = new Array(chunk * 2);
  for (const writes of commit.collections) {
    const { ids, docs } = writes;
    const one = statement(writes.sql.upsert);
    const many = statement(writes.sql.upsertChunk);
    let i = 0;
    for (; i + chunk <= ids.length; i += chunk) {
      for (let j = 0; j < chunk; j++) { args[2 * j] = ids[i + j]; args[2 * j + 1] = docs[i + j]; }
      many.run(args);
    }
    for (; i < ids.length; i++) one.run(ids[i], docs[i]);
    const remove = statement(writes.sql.remove);
    for (const id of writes.deletes) remove.run(id);
  }
  statement(checkpointSql).run(commit.projection, commit.position);
}
let transaction;
try {
  db = new Database(file, { timeout: 5000, fileMustExist: true });
  for (const pragma of pragmas) db.pragma(pragma);
  transaction = db.transaction(apply).immediate;
} catch (error) {
  failed = error;
}
parentPort.on('message', (message) => {
  if (message.close) {
    if (db !== undefined && db.open) db.close();
    parentPort.close();
    return;
  }
  // After a failure nothing more is written: later commits must not land without it.
  if (failed === undefined) {
    try { transaction(message.commit); } catch (error) { failed = error; }
  }
  if (failed === undefined) parentPort.postMessage({ seq: message.seq });
  else parentPort.postMessage({ seq: message.seq, error: String((failed && failed.message) || failed), code: failed && failed.code });
});
`;

export class BulkWriter {
  private worker: Worker | undefined;
  private nextSeq = 1;
  private readonly inFlight = new Map<number, { promise: Promise<void>; settle: () => void }>();
  private failure: Error | undefined;

  constructor(
    private readonly options: { file: string; pragmas: string[]; checkpointSql: string; chunk: number },
  ) {}

  /** Queues a commit; waits while MAX_IN_FLIGHT commits are unwritten. Throws an earlier failure. */
  async write(commit: BulkCommit): Promise<void> {
    this.throwIfFailed();
    while (this.inFlight.size >= MAX_IN_FLIGHT) {
      await this.inFlight.values().next().value!.promise;
      this.throwIfFailed();
    }
    const worker = this.ensureWorker();
    const seq = this.nextSeq++;
    let settle!: () => void;
    const promise = new Promise<void>((resolve) => (settle = resolve));
    this.inFlight.set(seq, { promise, settle });
    worker.ref(); // an awaited write keeps the process alive; an idle writer does not
    worker.postMessage({ seq, commit });
  }

  /** Whether commits are unwritten (or one failed). */
  busy(): boolean {
    return this.inFlight.size > 0 || this.failure !== undefined;
  }

  /** Resolves once every queued commit is written; throws if one failed. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await this.inFlight.values().next().value!.promise;
    this.throwIfFailed();
  }

  async close(): Promise<void> {
    try {
      await this.drain();
    } finally {
      const worker = this.worker;
      this.worker = undefined;
      if (worker !== undefined) {
        const exited = new Promise((resolve) => worker.once('exit', resolve));
        // An idle writer is unref'd: waiting for its exit must keep the process alive, or a
        // process with nothing else to do ends right here, its caller's work unfinished.
        worker.ref();
        worker.postMessage({ close: true });
        await exited;
      }
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private ensureWorker(): Worker {
    if (this.worker !== undefined) return this.worker;
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(workerSource, { eval: true, workerData: { driver, ...this.options } });
    worker.on('message', (message: { seq: number; error?: string; code?: string }) => {
      if (message.error !== undefined && this.failure === undefined) {
        this.failure = Object.assign(new Error(`background write of a scratch read store failed: ${message.error}`), {
          code: message.code,
        });
      }
      this.finish(message.seq);
    });
    const broken = (error: Error) => {
      this.failure ??= error;
      this.worker = undefined;
      for (const seq of [...this.inFlight.keys()]) this.finish(seq);
    };
    worker.on('error', broken);
    worker.on('exit', () => {
      if (this.inFlight.size > 0) broken(new Error('the background writer of a scratch read store exited'));
    });
    this.worker = worker;
    return worker;
  }

  private finish(seq: number): void {
    const entry = this.inFlight.get(seq);
    if (entry === undefined) return;
    this.inFlight.delete(seq);
    if (this.inFlight.size === 0) this.worker?.unref();
    entry.settle();
  }
}
