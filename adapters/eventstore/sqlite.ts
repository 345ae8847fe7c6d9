// SQLite implementation of the event-store port (embedded deployment, DESIGN.md §1).
//
// Durability: WAL + synchronous=FULL, so an acknowledged append survives power loss.
//
// Throughput: appends are group-committed. Callers enqueue; a flush on setImmediate writes
// up to MAX_BATCH appends in ONE transaction (one fsync), checking each append's expected
// version against the stream as left by the earlier appends of the same batch. A refused
// append is rejected alone; the others commit. Promises settle only after COMMIT returns.
//
// What a commit costs is the number of pages it dirties. A B-tree index on (stream, version)
// dirties one leaf page per stream touched — a hundred appends to a hundred streams wrote a
// hundred index pages and twelve data pages. So the per-stream index is kept like an LSM
// tree's: the `events` table is the log (appends touch only its right edge), the index of
// events written since the last index flush lives in memory (`recent`), and every
// INDEX_FLUSH_EVENTS events it is written to `stream_index` in one sorted bulk insert. The
// memory index is derived data: on open (and when another connection has written, seen
// through PRAGMA data_version) it is rebuilt from the log after `indexed_through`.
//
// If a write still fails (a duplicate event id), the transaction is rolled back and the
// batch is written again the careful way: each append in its own savepoint.
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
import { batchJsonSql, READ_AHEAD_MIN, ReadAhead } from './sqlite-read-ahead.js';
import { EventTail, type StoredRow } from './sqlite-tail.js';
import { WalSpace } from './sqlite-wal-space.js';

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
  /** Events indexed in memory before they are written to the on-disk stream index. */
  indexFlushEvents?: number;
  /** Last committed events kept decoded in memory for readers (0: none). */
  tailEvents?: number;
  /** Bytes of room made ahead at the end of the WAL whenever commits reach it (0: none; sqlite-wal-space.ts). */
  walRoomBytes?: number;
  /** Called after every COMMIT of this store that wrote events (e.g. to wake a reader in another thread). */
  onCommit?: () => void;
  /**
   * Lets another connection's commits wake this store's idle subscriptions at once instead of
   * at the next poll: called once with the wake-up function (e.g. wired to a thread's messages).
   */
  wakeOnCommits?: (wake: () => void) => void;
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
CREATE TABLE IF NOT EXISTS stream_index (
  stream   TEXT    NOT NULL,
  version  INTEGER NOT NULL,
  position INTEGER NOT NULL,
  PRIMARY KEY (stream, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS store_meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO store_meta (key, value) VALUES ('indexed_through', 0);
-- Layout of earlier versions: a per-event (stream, version) index and a heads table.
DROP INDEX IF EXISTS events_stream_version;
DROP TABLE IF EXISTS streams;
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
  original: { data: unknown; metadata: EventMetadata };
}

/** Positions of a stream's events not yet in `stream_index`: versions first..first+n-1. */
interface RecentStream {
  firstVersion: number;
  positions: number[];
}

interface StreamHead {
  version: number;
  position: number;
}

type Outcome = { ok: true; result: AppendResult } | { ok: false; error: unknown };

const DEFAULT_MAX_BATCH = 1000;
const DEFAULT_POLL_MS = 250;
const DEFAULT_BUSY_TIMEOUT_MS = 5000;
/** Rows per multi-row INSERT (8 values each, far below SQLite's variable limit). */
const INSERT_CHUNK = 64;
/** Events indexed in memory before they are written to `stream_index` in one go. */
const INDEX_FLUSH_EVENTS = 50_000;
const MAX_CACHED_HEADS = 100_000;
const WAL_ROOM_BYTES = 4 << 20;
/** Events of the log's tail kept decoded in memory (sqlite-tail.ts). */
const TAIL_EVENTS = 20_000;

/** Opens (creating if needed) a SQLite event store. */
export function openSqliteEventStore(options: SqliteEventStoreOptions): EventStore {
  const clock = options.clock ?? { now: () => Date.now() };
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_MS;
  const indexFlushEvents = options.indexFlushEvents ?? INDEX_FLUSH_EVENTS;

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
  const onDisk = options.file !== ':memory:' && options.file !== '' && !options.file.startsWith('file:');
  const walSpace = new WalSpace(`${options.file}-wal`, onDisk ? (options.walRoomBytes ?? WAL_ROOM_BYTES) : 0);

  const stmt = {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    savepoint: db.prepare('SAVEPOINT append'),
    release: db.prepare('RELEASE append'),
    rollbackTo: db.prepare('ROLLBACK TO append'),
    head: db.prepare('SELECT max(position) FROM events').pluck(),
    dataVersion: db.prepare('PRAGMA data_version').pluck(),
    indexedThrough: db.prepare("SELECT value FROM store_meta WHERE key = 'indexed_through'").pluck(),
    setIndexedThrough: db.prepare("UPDATE store_meta SET value = ? WHERE key = 'indexed_through'"),
    flushIndex: db.prepare(
      'INSERT INTO stream_index (stream, version, position) ' +
        'SELECT stream, version, position FROM events WHERE position > ? AND position <= ? ORDER BY stream, version',
    ),
    logTail: db.prepare('SELECT stream, version, position FROM events WHERE position > ? ORDER BY position').raw(),
    indexedHead: db
      .prepare('SELECT version, position FROM stream_index WHERE stream = ? ORDER BY version DESC LIMIT 1')
      .raw(),
    insert: db.prepare(`INSERT INTO events (${EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    insertChunk: db.prepare(
      `INSERT INTO events (${EVENT_COLUMNS}) VALUES ${Array.from({ length: INSERT_CHUNK }, () => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
    ),
    eventById: db.prepare('SELECT stream, version FROM events WHERE id = ?').raw(),
    eventByIdFull: db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE id = ?`).raw(),
    eventAt: db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE position = ?`).raw(),
    readAll: db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`).raw(),
    readAllJson: db.prepare(batchJsonSql).pluck(),
    readIndexed: db
      .prepare(
        `SELECT ${EVENT_COLUMNS.split(', ').map((c) => `e.${c}`).join(', ')} FROM stream_index s ` +
          'JOIN events e ON e.position = s.position WHERE s.stream = ? AND s.version >= ? ORDER BY s.version LIMIT ?',
      )
      .raw(),
  };

  // --- the in-memory part of the stream index ------------------------------------------

  let indexedThrough = 0;
  /** Highest position reflected in `recent`. */
  let recentThrough = 0;
  let recentCount = 0;
  const recent = new Map<string, RecentStream>();
  /** Heads of streams found in `stream_index`, so that a busy stream is looked up once. */
  const indexedHeads = new Map<string, StreamHead>();
  let knownDataVersion = -1;
  const tail = new EventTail(Math.max(0, Math.floor(options.tailEvents ?? TAIL_EVENTS)));
  const tailEnabled = (options.tailEvents ?? TAIL_EVENTS) > 0;

  function addRecent(stream: string, version: number, position: number): void {
    const entry = recent.get(stream);
    if (entry) entry.positions.push(position);
    else recent.set(stream, { firstVersion: version, positions: [position] });
    recentCount++;
    recentThrough = position;
  }

  /** Rebuilds the memory index from the log: on open, and after another connection wrote. */
  function reloadRecent(): void {
    recent.clear();
    indexedHeads.clear();
    recentCount = 0;
    indexedThrough = stmt.indexedThrough.get() as number;
    recentThrough = indexedThrough;
    for (const [stream, version, position] of stmt.logTail.iterate(indexedThrough) as Iterable<[string, number, number]>) {
      addRecent(stream, version, position);
    }
  }

  let lookedThisTurn = false;
  const lookNextTurn = () => { lookedThisTurn = false; };

  /** Call with or without a transaction; inside one, the answer holds until it ends. */
  function syncWithOtherConnections(): void {
    // Outside a transaction, one look per turn of the event loop: a commit by another process
    // during a turn is concurrent with all of the turn's reads (nothing outside can tell this
    // process about it before its next I/O callback), and reads are most of the calls.
    const inTransaction = db.inTransaction;
    if (!inTransaction && lookedThisTurn) return;
    if (!inTransaction) {
      lookedThisTurn = true;
      setImmediate(lookNextTurn);
    }
    const dataVersion = stmt.dataVersion.get() as number;
    if (dataVersion === knownDataVersion) return;
    knownDataVersion = dataVersion;
    // Another connection committed: the tail no longer reaches the head of the log.
    tail.clear();
    if ((stmt.indexedThrough.get() as number) !== indexedThrough) {
      reloadRecent();
      return;
    }
    // Only appended: index the new tail of the log.
    for (const [stream, version, position] of stmt.logTail.iterate(recentThrough) as Iterable<[string, number, number]>) {
      addRecent(stream, version, position);
      indexedHeads.delete(stream);
    }
  }

  function streamHead(stream: string): StreamHead | undefined {
    const entry = recent.get(stream);
    if (entry) {
      const count = entry.positions.length;
      return { version: entry.firstVersion + count - 1, position: entry.positions[count - 1]! };
    }
    const cached = indexedHeads.get(stream);
    if (cached) return cached;
    const row = stmt.indexedHead.get(stream) as [number, number] | undefined;
    if (!row) return undefined;
    const head = { version: row[0], position: row[1] };
    if (indexedHeads.size >= MAX_CACHED_HEADS) indexedHeads.clear();
    indexedHeads.set(stream, head);
    return head;
  }

  /** Moves the memory index into `stream_index`: one sorted bulk insert. In a transaction. */
  function flushIndex(): void {
    if (recentCount === 0) return;
    stmt.flushIndex.run(indexedThrough, recentThrough);
    stmt.setIndexedThrough.run(recentThrough);
  }

  reloadRecent();
  knownDataVersion = stmt.dataVersion.get() as number;

  // --- writing ----------------------------------------------------------------------------

  let closed = false;
  let queue: PendingAppend[] = [];
  let flushScheduled: NodeJS.Immediate | undefined;
  /** Woken after every COMMIT that wrote events. */
  let commitWaiters = new Set<() => void>();
  const subscriptions = new Set<{ halt(): void }>();
  options.wakeOnCommits?.(() => notifyCommit());

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
    if (!writeBatch(batch, false)) writeBatch(batch, true);
  }

  /**
   * One transaction for the whole batch. Fast mode checks every append before writing and
   * inserts all rows at the end; it returns false (rolled back) when the batch needs the
   * careful mode, which gives each append its own savepoint.
   */
  function writeBatch(batch: PendingAppend[], careful: boolean): boolean {
    try {
      stmt.begin.run();
    } catch (error) {
      for (const p of batch) p.reject(error);
      return true;
    }
    walSpace.ensureRoom();
    /** Heads of the streams this batch wrote, as left by its appends so far. */
    const touched = new Map<string, StreamHead>();
    const written: Array<[string, number, number]> = [];
    const stored: StoredRow[] = [];
    try {
      syncWithOtherConnections();
      const recordedAt = clock.now();
      let head = (stmt.head.get() as number | null) ?? 0;
      const rows: unknown[] = [];
      const givenIds = new Set<string>();
      const outcomes: Outcome[] = [];

      for (const pending of batch) {
        const { stream, events, expected } = pending;
        if (!careful && events.some((e) => e.idGiven)) {
          // A retry of an append already stored or still in this batch is decided in careful
          // mode, where each earlier append's rows are visible.
          if (events.some((e) => e.idGiven && (givenIds.has(e.id) || stmt.eventById.get(e.id) !== undefined))) {
            stmt.rollback.run();
            return false;
          }
          for (const e of events) if (e.idGiven) givenIds.add(e.id);
        }
        if (careful) stmt.savepoint.run();
        const storedBefore = stored.length;
        try {
          const retried = careful ? idempotentRetry(pending) : undefined;
          if (retried) {
            if (careful) stmt.release.run();
            outcomes.push({ ok: true, result: retried });
            continue;
          }
          const current = touched.get(stream) ?? streamHead(stream);
          const actual = current ? current.version : -1;
          if (!matchesExpected(expected, actual)) throw new WrongExpectedVersionError(stream, expected, actual);
          if (events.length === 0) {
            if (careful) stmt.release.run();
            outcomes.push({ ok: true, result: { version: actual, position: current ? current.position : 0, events: [] } });
            continue;
          }
          const recorded: RecordedEvent[] = new Array(events.length);
          let version = actual;
          let position = head;
          for (let i = 0; i < events.length; i++) {
            const e = events[i]!;
            version++;
            position++;
            if (careful) {
              try {
                stmt.insert.run(position, e.id, stream, version, e.type, e.data, e.metadata, recordedAt);
              } catch (error) {
                if (isUniqueViolation(error) && stmt.eventById.get(e.id) !== undefined) {
                  throw new DuplicateEventIdError(stream, e.id);
                }
                throw error;
              }
            } else {
              rows.push(position, e.id, stream, version, e.type, e.data, e.metadata, recordedAt);
            }
            // The caller's own objects (they passed JSON.stringify): parsing back what was
            // just serialized cost more than the insert.
            recorded[i] = { id: e.id, stream, version, position, type: e.type, data: e.original.data, metadata: e.original.metadata, recordedAt };
            if (tailEnabled) stored.push({ id: e.id, stream, version, position, type: e.type, data: e.data, metadata: e.metadata, recordedAt });
          }
          if (careful) stmt.release.run();
          for (let i = 0; i < events.length; i++) written.push([stream, actual + 1 + i, head + 1 + i]);
          head = position;
          touched.set(stream, { version, position });
          outcomes.push({ ok: true, result: { version, position, events: recorded } });
        } catch (error) {
          if (!careful) {
            if (error instanceof WrongExpectedVersionError) {
              outcomes.push({ ok: false, error });
              continue;
            }
            throw error;
          }
          stmt.rollbackTo.run();
          stmt.release.run();
          stored.length = storedBefore;
          outcomes.push({ ok: false, error });
        }
      }

      const chunkValues = INSERT_CHUNK * 8;
      let offset = 0;
      for (; offset + chunkValues <= rows.length; offset += chunkValues) stmt.insertChunk.run(rows.slice(offset, offset + chunkValues));
      for (; offset < rows.length; offset += 8) stmt.insert.run(rows.slice(offset, offset + 8));

      // The memory index now covers this batch; flush it to disk now and then.
      for (const [stream, version, position] of written) addRecent(stream, version, position);
      let flushedIndex = false;
      if (recentCount >= indexFlushEvents) {
        flushIndex();
        flushedIndex = true;
      }
      stmt.commit.run();
      knownDataVersion = stmt.dataVersion.get() as number;
      tail.add(stored);
      if (flushedIndex) {
        indexedThrough = recentThrough;
        recent.clear();
        recentCount = 0;
        indexedHeads.clear();
      }
      settle(batch, outcomes, written.length > 0);
      return true;
    } catch (error) {
      if (db.inTransaction) {
        try {
          stmt.rollback.run();
        } catch {
          // the transaction is already gone
        }
      }
      // The memory index may hold rows that were rolled back: rebuild it from the log.
      reloadRecent();
      knownDataVersion = stmt.dataVersion.get() as number;
      if (!careful && isUniqueViolation(error)) return false;
      for (const p of batch) p.reject(error);
      return true;
    }
  }

  function settle(batch: PendingAppend[], outcomes: Outcome[], wrote: boolean): void {
    for (let i = 0; i < batch.length; i++) {
      const outcome = outcomes[i]!;
      if (outcome.ok) batch[i]!.resolve(outcome.result);
      else batch[i]!.reject(outcome.error);
    }
    if (wrote) {
      notifyCommit();
      options.onCommit?.();
    }
  }

  function notifyCommit(): void {
    if (commitWaiters.size === 0) return;
    const waiters = commitWaiters;
    commitWaiters = new Set();
    for (const wake of waiters) wake();
  }

  /**
   * Idempotent writes (a simple form of KurrentDB's): when every event id of the append is
   * already stored in this stream, consecutively and in the same order, and the expected
   * version is the one the original append had (or 'any' / 'stream_exists'), the append is a
   * retry of an acknowledged write: answer the original result and write nothing. Any other
   * reuse of an existing id goes through the normal checks and fails (version conflict or
   * DuplicateEventIdError). Runs inside the careful batch, so earlier appends of the batch count.
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
    const stored: RecordedEvent[] = [];
    for (let i = 0; i < events.length; i++) {
      const byId = stmt.eventByIdFull.get(events[i]!.id) as EventRow | undefined;
      if (!byId || byId[2] !== stream || byId[3] !== firstVersion + i) return undefined;
      stored.push(rowToEvent(byId));
    }
    const last = stored[stored.length - 1]!;
    return { version: last.version, position: last.position, events: stored };
  }

  // --- reading ----------------------------------------------------------------------------

  function readStreamSync(stream: string, fromVersion: number, limit: number): RecordedEvent[] {
    syncWithOtherConnections();
    const wanted = limit < 0 ? Number.POSITIVE_INFINITY : limit;
    const entry = recent.get(stream);
    // Versions from the memory index's first on are not in `stream_index`: no query for them.
    const out = entry && fromVersion >= entry.firstVersion ? [] : rowsToEvents(stmt.readIndexed.all(stream, fromVersion, limit) as EventRow[]);
    if (!entry || out.length >= wanted) return out;
    const start = Math.max(0, fromVersion - entry.firstVersion);
    for (let i = start; i < entry.positions.length && out.length < wanted; i++) {
      const position = entry.positions[i]!;
      out.push(tail.at(position) ?? rowToEvent(stmt.eventAt.get(position) as EventRow));
    }
    return out;
  }

  function readAllSync(after: number, limit: number): RecordedEvent[] {
    if (closed) throw new EventStoreClosedError();
    if (!(limit > 0)) return [];
    limit = Math.floor(limit);
    const fromTail = readTail(after, limit);
    if (fromTail !== undefined) return fromTail;
    const text = stmt.readAllJson.get(after, limit) as string | null;
    if (text === null) return [];
    return parseBatch(text, after, limit) ?? rowsToEvents(stmt.readAll.all(after, limit) as EventRow[]);
  }

  /**
   * The events after `after` from the tail, when it holds them or knows there are none
   * (it reaches the head of the log unless another connection committed since); undefined:
   * read the database.
   */
  function readTail(after: number, limit: number): RecordedEvent[] | undefined {
    if (!tailEnabled) return undefined;
    syncWithOtherConnections();
    const last = tail.last();
    if (last === 0) return undefined;
    if (after >= last) return [];
    return tail.after(after, limit);
  }

  /** Bulk reads through the port are read ahead in a worker (see sqlite-read-ahead.ts). */
  const readAhead = options.file !== ':memory:' && options.file !== '' && !options.file.startsWith('file:')
    ? new ReadAhead(options.file)
    : undefined;

  async function readAllAhead(after: number, limit: number): Promise<RecordedEvent[]> {
    if (closed) throw new EventStoreClosedError();
    if (!(limit > 0)) return [];
    limit = Math.floor(limit);
    const fromTail = readTail(after, limit);
    if (fromTail !== undefined) return fromTail;
    let events: RecordedEvent[] | undefined;
    const ahead = readAhead?.take(after, limit);
    if (ahead !== undefined) {
      const text = await ahead.catch(() => null);
      if (text !== null) events = parseBatch(text, after, limit);
    }
    events ??= readAllSync(after, limit);
    if (readAhead !== undefined && !closed && limit >= READ_AHEAD_MIN && events.length === limit) {
      readAhead.start(events[events.length - 1]!.position, limit);
    }
    return events;
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
      return readStreamSync(stream, fromVersion, limit);
    },

    readAll({ after, limit }) {
      return readAllAhead(after, limit);
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
      readAhead?.close();
      walSpace.close();
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
  return {
    id: idGiven ? event.id! : timeOrderedUuid(),
    idGiven,
    type: event.type,
    data,
    metadata,
    original: { data: event.data, metadata: event.metadata ?? {} },
  };
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

/**
 * A batch read as one JSON text (sqlite-read-ahead.ts, `batchJsonSql`): one JSON.parse
 * instead of eight values per row from the driver plus two parses. Undefined when the text
 * is not what that query gives (say, a stored payload that is not JSON), for the caller to
 * read row by row instead, which reports the bad row as before.
 */
function parseBatch(text: string, after: number, limit: number): RecordedEvent[] | undefined {
  let events: RecordedEvent[];
  try {
    events = JSON.parse(text) as RecordedEvent[];
  } catch {
    return undefined;
  }
  if (!Array.isArray(events) || events.length > limit) return undefined;
  let previous = after;
  for (const event of events) {
    if (typeof event !== 'object' || event === null || !(event.position > previous)) return undefined;
    previous = event.position;
  }
  return events;
}

function rowsToEvents(rows: EventRow[]): RecordedEvent[] {
  const out: RecordedEvent[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = rowToEvent(rows[i]!);
  return out;
}
