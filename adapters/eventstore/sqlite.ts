// SQLite implementation of the event-store port (embedded deployment, DESIGN.md §1).
//
// Durability: WAL + synchronous=FULL, so an acknowledged append survives power loss.
// Throughput: appends are group-committed. Callers enqueue; a flush on setImmediate writes
// up to MAX_BATCH appends in ONE transaction (one fsync), checking each append's expected
// version against the stream as left by the earlier appends of the same batch. A failing
// append is rolled back to its own savepoint and rejected alone; the others commit.
// Promises settle only after COMMIT has returned.
//
// Positions are the INTEGER PRIMARY KEY of the events table, assigned under the write lock
// in commit order (head + 1, head + 2, ...), so $all is gapless and a reader's snapshot
// never shows a later position without the earlier ones.

import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  WrongExpectedVersionError,
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type ExpectedVersion,
  type NewEvent,
  type RecordedEvent,
  type Subscription,
  type SubscriptionOptions,
} from './port.js';

export interface SqliteEventStoreOptions {
  /** Path of the database file (its directory is created if missing), or ':memory:'. */
  file: string;
  clock?: { now(): number };
  /** Most appends written in one transaction. */
  maxBatch?: number;
  /** How often an idle subscription re-reads, to see writes made by another process. */
  pollIntervalMs?: number;
  /** How long BEGIN IMMEDIATE waits for another process's write lock. */
  busyTimeoutMs?: number;
}

/** An event id that is already stored, in a way that is not an idempotent retry. */
export class DuplicateEventIdError extends Error {
  readonly code = 'DUPLICATE_EVENT_ID';
  constructor(readonly stream: string, readonly eventId: string) {
    super(`stream ${stream}: event id ${eventId} already exists`);
    this.name = 'DuplicateEventIdError';
  }
}

export class EventStoreClosedError extends Error {
  readonly code = 'EVENT_STORE_CLOSED';
  constructor() {
    super('event store is closed');
    this.name = 'EventStoreClosedError';
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  position    INTEGER PRIMARY KEY,
  id          TEXT    NOT NULL UNIQUE,
  stream      TEXT    NOT NULL,
  version     INTEGER NOT NULL,
  type        TEXT    NOT NULL,
  data        TEXT    NOT NULL,
  metadata    TEXT    NOT NULL,
  recorded_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_stream_version ON events (stream, version);
CREATE TABLE IF NOT EXISTS streams (
  stream   TEXT    PRIMARY KEY,
  version  INTEGER NOT NULL,
  position INTEGER NOT NULL
) WITHOUT ROWID;
`;

const EVENT_COLUMNS = 'position, id, stream, version, type, data, metadata, recorded_at';
type EventRow = [number, string, string, number, string, string, string, number];

/** An append whose events are already serialized (so a bad payload fails before it is queued). */
interface PendingAppend {
  stream: string;
  events: SerializedEvent[];
  expected: ExpectedVersion;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

interface SerializedEvent {
  id: string;
  /** True when the caller chose the id (only then can the append be a retry). */
  idGiven: boolean;
  type: string;
  data: string;
  metadata: string;
}

const DEFAULT_MAX_BATCH = 1000;
const DEFAULT_POLL_MS = 250;
const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/** Opens (creating if needed) a SQLite event store. */
export function openSqliteEventStore(options: SqliteEventStoreOptions): EventStore {
  const clock = options.clock ?? { now: () => Date.now() };
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_MS;

  if (options.file !== ':memory:' && options.file !== '') {
    mkdirSync(dirname(options.file), { recursive: true });
  }
  const db = new Database(options.file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS))}`);
  db.pragma('cache_size = -65536'); // KiB
  // Checkpoint less often: fewer, larger copies of the WAL into the database file.
  db.pragma('wal_autocheckpoint = 10000');
  db.exec(SCHEMA);

  const stmt = {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    savepoint: db.prepare('SAVEPOINT append'),
    release: db.prepare('RELEASE append'),
    rollbackTo: db.prepare('ROLLBACK TO append'),
    head: db.prepare('SELECT max(position) FROM events').pluck(),
    streamHead: db.prepare('SELECT version, position FROM streams WHERE stream = ?').raw(),
    upsertStream: db.prepare(
      'INSERT INTO streams (stream, version, position) VALUES (?, ?, ?) ' +
        'ON CONFLICT (stream) DO UPDATE SET version = excluded.version, position = excluded.position',
    ),
    insert: db.prepare(
      `INSERT INTO events (${EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    eventById: db.prepare('SELECT stream, version FROM events WHERE id = ?').raw(),
    readAll: db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`).raw(),
    readStream: db
      .prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE stream = ? AND version >= ? ORDER BY version LIMIT ?`)
      .raw(),
  };

  let closed = false;
  let queue: PendingAppend[] = [];
  let flushScheduled: NodeJS.Immediate | undefined;
  /** Woken after every COMMIT that wrote events. */
  let commitWaiters = new Set<() => void>();
  const subscriptions = new Set<{ halt(): void }>();

  function scheduleFlush(): void {
    if (flushScheduled === undefined && queue.length > 0) {
      flushScheduled = setImmediate(() => {
        flushScheduled = undefined;
        flush();
        scheduleFlush();
      });
    }
  }

  /** Writes one batch in one transaction, then settles its promises. */
  function flush(): void {
    if (queue.length === 0) return;
    const batch = queue.length <= maxBatch ? queue : queue.slice(0, maxBatch);
    queue = queue.length <= maxBatch ? [] : queue.slice(maxBatch);

    const outcomes: Array<{ ok: true; result: AppendResult } | { ok: false; error: unknown }> = [];
    let wrote = false;
    try {
      stmt.begin.run();
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    try {
      const recordedAt = clock.now();
      let head = (stmt.head.get() as number | null) ?? 0;
      for (const pending of batch) {
        stmt.savepoint.run();
        try {
          const result = writeAppend(pending, head, recordedAt);
          stmt.release.run();
          if (result.events.length > 0 && result.position > head) {
            head = result.position;
            wrote = true;
          }
          outcomes.push({ ok: true, result });
        } catch (error) {
          stmt.rollbackTo.run();
          stmt.release.run();
          outcomes.push({ ok: false, error });
        }
      }
      stmt.commit.run();
    } catch (error) {
      // COMMIT (or a savepoint statement) failed: nothing of this batch is durable.
      if (db.inTransaction) {
        try {
          stmt.rollback.run();
        } catch {
          // the transaction is already gone
        }
      }
      for (const p of batch) p.reject(error);
      return;
    }
    for (let i = 0; i < batch.length; i++) {
      const outcome = outcomes[i]!;
      if (outcome.ok) batch[i]!.resolve(outcome.result);
      else batch[i]!.reject(outcome.error);
    }
    if (wrote) notifyCommit();
  }

  function notifyCommit(): void {
    if (commitWaiters.size === 0) return;
    const waiters = commitWaiters;
    commitWaiters = new Set();
    for (const wake of waiters) wake();
  }

  /** Checks and writes one append inside the batch transaction. Throws to reject it alone. */
  function writeAppend(pending: PendingAppend, head: number, recordedAt: number): AppendResult {
    const { stream, events, expected } = pending;

    const retried = idempotentRetry(pending);
    if (retried) return retried;

    const current = stmt.streamHead.get(stream) as [number, number] | undefined;
    const actual = current ? current[0] : -1;
    if (!matchesExpected(expected, actual)) {
      throw new WrongExpectedVersionError(stream, expected, actual);
    }
    if (events.length === 0) {
      return { version: actual, position: current ? current[1] : 0, events: [] };
    }

    const recorded: RecordedEvent[] = new Array(events.length);
    let version = actual;
    let position = head;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      version++;
      position++;
      try {
        stmt.insert.run(position, e.id, stream, version, e.type, e.data, e.metadata, recordedAt);
      } catch (error) {
        if (isUniqueViolation(error) && (stmt.eventById.get(e.id) as unknown) !== undefined) {
          throw new DuplicateEventIdError(stream, e.id);
        }
        throw error;
      }
      recorded[i] = {
        id: e.id,
        stream,
        version,
        position,
        type: e.type,
        // What a read would return, not the caller's (possibly non-JSON) object.
        data: JSON.parse(e.data) as unknown,
        metadata: parseMetadata(e.metadata),
        recordedAt,
      };
    }
    stmt.upsertStream.run(stream, version, position);
    return { version, position, events: recorded };
  }

  /**
   * Idempotent writes (a simple form of KurrentDB's): when every event id of the append is
   * already stored in this stream, consecutively and in the same order, and the expected
   * version is the one the original append had (or 'any' / 'stream_exists'), the append is a
   * retry of an acknowledged write: answer the original result and write nothing. Any other
   * reuse of an existing id goes through the normal checks and fails (version conflict or
   * DuplicateEventIdError).
   */
  function idempotentRetry(pending: PendingAppend): AppendResult | undefined {
    const { stream, events, expected } = pending;
    const first = events[0];
    if (!first || !first.idGiven) return undefined;
    const found = stmt.eventById.get(first.id) as [string, number] | undefined;
    if (!found || found[0] !== stream) return undefined;
    const firstVersion = found[1];
    if (expected === 'no_stream' && firstVersion !== 0) return undefined;
    if (typeof expected === 'number' && firstVersion !== expected + 1) return undefined;
    const rows = stmt.readStream.all(stream, firstVersion, events.length) as EventRow[];
    if (rows.length !== events.length) return undefined;
    for (let i = 0; i < rows.length; i++) {
      if (rows[i]![1] !== events[i]!.id) return undefined;
    }
    const stored = rows.map(rowToEvent);
    const last = stored[stored.length - 1]!;
    return { version: last.version, position: last.position, events: stored };
  }

  function readAllSync(after: number, limit: number): RecordedEvent[] {
    if (closed) throw new EventStoreClosedError();
    if (!(limit > 0)) return [];
    return rowsToEvents(stmt.readAll.all(after, Math.floor(limit)) as EventRow[]);
  }

  const store: EventStore = {
    append(stream, events, expected) {
      if (closed) return Promise.reject(new EventStoreClosedError());
      let serialized: SerializedEvent[];
      try {
        checkAppendArguments(stream, events, expected);
        serialized = events.map(serializeEvent);
      } catch (error) {
        return Promise.reject(error);
      }
      return new Promise<AppendResult>((resolve, reject) => {
        queue.push({ stream, events: serialized, expected, resolve, reject });
        scheduleFlush();
      });
    },

    async readStream(stream, readOptions = {}) {
      if (closed) throw new EventStoreClosedError();
      const fromVersion = Math.max(0, Math.floor(readOptions.fromVersion ?? 0));
      const limit = readOptions.limit === undefined ? -1 : Math.max(0, Math.floor(readOptions.limit));
      if (limit === 0) return [];
      return rowsToEvents(stmt.readStream.all(stream, fromVersion, limit) as EventRow[]);
    },

    async readAll({ after, limit }) {
      return readAllSync(after, limit);
    },

    async headPosition() {
      if (closed) throw new EventStoreClosedError();
      return (stmt.head.get() as number | null) ?? 0;
    },

    subscribeToAll(subscriptionOptions: SubscriptionOptions): Subscription {
      const { onEvents, onError } = subscriptionOptions;
      const batchSize = Math.max(1, Math.floor(subscriptionOptions.batchSize ?? 500));
      let checkpoint = subscriptionOptions.after;
      let stopped = false;
      let wakeIdle: (() => void) | undefined;

      const halt = (): void => {
        stopped = true;
        wakeIdle?.();
      };
      const handle = { halt };
      subscriptions.add(handle);

      /** Resolves after the next commit in this process, or after the poll interval. */
      const idle = (): Promise<void> =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(done, pollIntervalMs);
          function done(): void {
            clearTimeout(timer);
            commitWaiters.delete(done);
            if (wakeIdle === done) wakeIdle = undefined;
            resolve();
          }
          wakeIdle = done;
          commitWaiters.add(done);
        });

      const run = async (): Promise<void> => {
        await Promise.resolve(); // never call the handler before subscribeToAll returns
        try {
          while (!stopped) {
            const events = readAllSync(checkpoint, batchSize);
            if (events.length === 0) {
              // No await between the empty read and registering the waiter: a COMMIT in this
              // process cannot slip in between, and other processes are caught by the poll.
              await idle();
              continue;
            }
            await onEvents(events);
            checkpoint = events[events.length - 1]!.position;
          }
        } catch (error) {
          stopped = true;
          if (onError) onError(error);
        } finally {
          subscriptions.delete(handle);
        }
      };
      const running = run();

      return {
        async stop() {
          halt();
          await running;
        },
      };
    },

    async close() {
      if (closed) return;
      if (flushScheduled !== undefined) {
        clearImmediate(flushScheduled);
        flushScheduled = undefined;
      }
      while (queue.length > 0) flush();
      closed = true;
      // Subscription loops check `stopped` before touching the database again; not awaited,
      // so that a handler may close the store without deadlocking on itself.
      for (const s of [...subscriptions]) s.halt();
      notifyCommit();
      db.close();
    },
  };
  return store;
}

function matchesExpected(expected: ExpectedVersion, actual: number): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return actual === -1;
    case 'stream_exists':
      return actual >= 0;
    default:
      return actual === expected;
  }
}

function checkAppendArguments(stream: string, events: NewEvent[], expected: ExpectedVersion): void {
  if (typeof stream !== 'string' || stream.length === 0) {
    throw new TypeError('stream must be a non-empty string');
  }
  if (!Array.isArray(events)) throw new TypeError('events must be an array');
  if (
    expected !== 'any' &&
    expected !== 'no_stream' &&
    expected !== 'stream_exists' &&
    !(typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0)
  ) {
    throw new TypeError(`invalid expected version: ${String(expected)} (use 'no_stream' for a new stream)`);
  }
}

function serializeEvent(event: NewEvent): SerializedEvent {
  if (typeof event.type !== 'string' || event.type.length === 0) {
    throw new TypeError('event type must be a non-empty string');
  }
  const data = JSON.stringify(event.data);
  if (typeof data !== 'string') {
    throw new TypeError(`event ${event.type}: data is not JSON-serializable`);
  }
  const metadata = event.metadata === undefined ? '{}' : JSON.stringify(event.metadata);
  if (typeof metadata !== 'string') {
    throw new TypeError(`event ${event.type}: metadata is not JSON-serializable`);
  }
  const idGiven = event.id !== undefined;
  if (idGiven && (typeof event.id !== 'string' || event.id.length === 0)) {
    throw new TypeError('event id must be a non-empty string');
  }
  return { id: idGiven ? event.id! : timeOrderedUuid(), idGiven, type: event.type, data, metadata };
}

/**
 * A UUIDv7 (RFC 9562): 48-bit epoch milliseconds, then random bits. Ids the store assigns
 * grow with time, so inserts land at the right edge of the unique id index instead of on
 * random pages; that keeps the pages each COMMIT writes (and fsyncs) few.
 */
export function timeOrderedUuid(now: number = Date.now()): string {
  const random = randomUUID(); // xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx
  const time = now.toString(16).padStart(12, '0').slice(-12);
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}

function isUniqueViolation(error: unknown): boolean {
  return (
    error instanceof Database.SqliteError &&
    (error.code === 'SQLITE_CONSTRAINT_UNIQUE' || error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
  );
}

function parseMetadata(json: string): EventMetadata {
  // Most events of a replay share few shapes; '{}' is common enough to skip the parser.
  return json === '{}' ? {} : (JSON.parse(json) as EventMetadata);
}

function rowToEvent(r: EventRow): RecordedEvent {
  return {
    id: r[1],
    stream: r[2],
    version: r[3],
    position: r[0],
    type: r[4],
    data: JSON.parse(r[5]) as unknown,
    metadata: parseMetadata(r[6]),
    recordedAt: r[7],
  };
}

function rowsToEvents(rows: EventRow[]): RecordedEvent[] {
  const out: RecordedEvent[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = rowToEvent(rows[i]!);
  return out;
}
