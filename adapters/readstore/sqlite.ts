// SQLite implementation of the read-store port (embedded deployment, DESIGN.md §1, §4).
//
// Layout: one table `c_<collection>(id TEXT PRIMARY KEY, doc TEXT)` per collection, created
// on first write (or ensureIndex); a missing table reads as an empty collection.
// `checkpoints` holds each projection's position and version; `read_indexes` the declared
// index specs, so that multi-valued declarations survive a reopen and a table dropped by
// `reset` gets its indexes back when it is created again.
//
// Durability: WAL + synchronous=NORMAL. A crash may lose the last commits, never tear one:
// documents and checkpoint change in the same transaction, so a read model is always the
// state at its checkpoint, and a rebuild can start over from zero anyway.
//
// Writes: `commit` buffers the batch in memory (documents serialized once, when written),
// then applies it plus the checkpoint in ONE synchronous transaction with cached prepared
// statements. A patch of a document the batch has not read is kept as a list of field
// changes and applied to the stored document inside that transaction.
//
// Scratch stores (the target of a rebuild, thrown away or moved into place when complete):
// no journal on disk, no syncs, and a commit that only upserts and deletes documents in
// existing tables is handed to a background writer (sqlite-bulk-writer.ts) and returns at
// once, so that the rows of one batch are written while the next batch is being applied.
// Every other call first waits for the background writes, so the store reads its writes; a
// failed background write is thrown by the next call.
//
// Bulk loads: a table created by a write (a new collection, or one dropped by `reset` for a
// rebuild) gets its declared secondary indexes only when it is first queried (find, count,
// explain) or when a commit writes fewer than BULK_WRITES documents to it (the projection
// has caught up). Maintaining several expression indexes row by row during a replay costs
// several times more than building them once with CREATE INDEX afterwards. Lookups by id
// never wait for this: the primary key always exists.

import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { applyPatch, parsePatch, type PatchPaths } from './patch-paths.js';
import type { Doc, Filter, FindOptions, IndexSpec, Lease, ReadStore, WriteBatch } from './port.js';
import {
  assertPath,
  compileFilter,
  compileOrderBy,
  indexColumns,
  ReadStoreQueryError,
  sqlRegexp,
  type PathKind,
  type SqlValue,
} from './sqlite-filter.js';
import { BulkWriter, type BulkCollectionWrites, type BulkTableSql } from './sqlite-bulk-writer.js';

export { ReadStoreQueryError } from './sqlite-filter.js';

export interface SqliteReadStoreOptions {
  /** Path of the database file (its directory is created if missing), or ':memory:'. */
  file: string;
  /**
   * A scratch store, filled in bulk by a rebuild and then read (compared, copied) or moved into
   * place once complete: no journal on disk and no syncs, so a crash while it is open may
   * leave the file corrupt, and large commits are written in the background (see "Scratch
   * stores" above). Never for a live read model.
   */
  scratch?: boolean;
}

export interface QueryExplanation {
  sql: string;
  params: SqlValue[];
  /** The `detail` column of EXPLAIN QUERY PLAN, one line per step. */
  plan: string[];
}

export interface SqliteReadStore extends ReadStore {
  /** The SQL `find` would run for this query, with SQLite's plan for it. */
  explain(collection: string, filter: Filter, options?: FindOptions): QueryExplanation;
}

export function openSqliteReadStore(options: SqliteReadStoreOptions): SqliteReadStore {
  return new SqliteReadStoreImpl(options.file, options.scratch === true);
}

type Statement = Database.Statement<unknown[], unknown>;

const COLLECTION_NAME = /^[a-z][a-z0-9_]*$/;
const QUERY_CACHE_LIMIT = 500;
/** A commit with fewer writes to a collection than this builds its pending indexes. */
const BULK_WRITES = 256;
/** Documents per multi-row upsert (2 values each, far below SQLite's variable limit). */
const UPSERT_CHUNK = 64;

const CHECKPOINT_ADVANCE_SQL = `INSERT INTO checkpoints (projection, position, version) VALUES (?, ?, 0)
  ON CONFLICT (projection) DO UPDATE SET position = excluded.position`;
/** Connection settings of a scratch store (its background writer's connection included). */
const SCRATCH_PRAGMAS = ['journal_mode = MEMORY', 'synchronous = OFF', 'temp_store = MEMORY', 'cache_size = -65536'];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS checkpoints (
  projection TEXT PRIMARY KEY,
  position   INTEGER NOT NULL,
  version    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS read_indexes (
  collection TEXT NOT NULL,
  name       TEXT NOT NULL,
  spec       TEXT NOT NULL,
  PRIMARY KEY (collection, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
  name       TEXT PRIMARY KEY,
  holder     TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  version    INTEGER NOT NULL
) WITHOUT ROWID;
`;

interface DocStatements {
  sql: BulkTableSql;
  get: Statement;
  upsert: Statement;
  upsertChunk: Statement;
  update: Statement;
  remove: Statement;
}

class Collection {
  readonly table: string;
  exists = false;
  /** Declared indexes may be missing from the table (see "Bulk loads" above). */
  indexesPending = false;
  /** Declared indexes by name. */
  readonly specs = new Map<string, IndexSpec>();
  kinds = new Map<string, PathKind>();
  statements: DocStatements | undefined;

  constructor(readonly name: string) {
    this.table = `c_${name}`;
  }

  declare(name: string, spec: IndexSpec): void {
    this.specs.set(name, spec);
    const kinds = new Map<string, PathKind>();
    for (const s of this.specs.values()) {
      for (const [path] of s.fields) {
        if (path === 'id') continue;
        if (s.multiValued) kinds.set(path, 'multi');
        else if (!kinds.has(path)) kinds.set(path, 'scalar');
      }
    }
    this.kinds = kinds;
  }
}

function indexName(collection: string, spec: IndexSpec): string {
  const fields = spec.fields.map(([path, direction]) => `${path}${direction === -1 ? ' desc' : ''}`).join(',');
  return `${spec.multiValued ? 'mv' : 'ix'}_${collection}(${fields})`;
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

class SqliteReadStoreImpl implements SqliteReadStore {
  private readonly db: Database.Database;
  private readonly collections = new Map<string, Collection>();
  private readonly queries = new Map<string, Statement>();
  private createdTables: Collection[] = [];
  private readonly checkpointGet: Statement;
  private readonly checkpointAdvance: Statement;
  private readonly checkpointReset: Statement;
  private readonly indexInsert: Statement;
  private readonly tableExists: Statement;
  private readonly applyBatch: (buffer: BatchBuffer, projection: string, position: number) => void;
  private readonly bulk: BulkWriter | undefined;

  constructor(file: string, scratch: boolean) {
    if (file !== ':memory:' && !file.startsWith('file:')) mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file, { timeout: 5000 });
    if (scratch) {
      // Each page written once (no WAL to copy back) and never synced; larger pages mean
      // fewer B-tree splits per document. The page size only applies to a new file.
      this.db.pragma('page_size = 8192');
      for (const pragma of SCRATCH_PRAGMAS) this.db.pragma(pragma);
    } else {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('temp_store = MEMORY');
      this.db.pragma('cache_size = -65536');
    }
    // Fewer, larger checkpoints (each one syncs the database file); the WAL is truncated
    // back to journal_size_limit after each.
    this.db.pragma('wal_autocheckpoint = 10000');
    this.db.pragma('journal_size_limit = 67108864');
    this.db.function('regexp', { deterministic: true, varargs: true }, (pattern, value, flags) =>
      sqlRegexp(pattern, value, flags),
    );
    this.db.exec(SCHEMA);

    this.checkpointGet = this.db.prepare('SELECT position, version FROM checkpoints WHERE projection = ?');
    this.checkpointAdvance = this.db.prepare(CHECKPOINT_ADVANCE_SQL);
    this.checkpointReset = this.db.prepare(
      `INSERT INTO checkpoints (projection, position, version) VALUES (?, 0, ?)
       ON CONFLICT (projection) DO UPDATE SET position = 0, version = excluded.version`,
    );
    this.tableExists = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").pluck();
    this.indexInsert = this.db.prepare(
      'INSERT INTO read_indexes (collection, name, spec) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    );

    const tables = this.db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 2) = 'c_'")
      .pluck()
      .all() as string[];
    for (const table of tables) {
      const name = table.slice(2);
      if (COLLECTION_NAME.test(name)) {
        const col = this.collection(name);
        col.exists = true;
        col.indexesPending = true; // a previous process may have left them pending
      }
    }
    const declared = this.db.prepare('SELECT collection, name, spec FROM read_indexes').raw().all() as Array<
      [string, string, string]
    >;
    for (const [collection, name, spec] of declared) {
      if (COLLECTION_NAME.test(collection)) this.collection(collection).declare(name, JSON.parse(spec) as IndexSpec);
    }

    const apply = this.db.transaction((buffer: BatchBuffer, projection: string, position: number) => {
      for (const [collection, entries] of buffer) this.applyEntries(collection, entries);
      this.checkpointAdvance.run(projection, position);
    });
    this.applyBatch = (buffer, projection, position) => {
      // IMMEDIATE: take the write lock first (waiting for another connection's commit, e.g. the
      // projection thread's) rather than fail on upgrading a read snapshot another commit outdated.
      this.inTransaction(() => apply.immediate(buffer, projection, position));
      for (const [col, entries] of buffer) {
        if (col.indexesPending && entries.size < BULK_WRITES) this.buildIndexes(col);
      }
    };
    this.bulk =
      scratch && file !== ':memory:' && file !== '' && !file.startsWith('file:')
        ? new BulkWriter({ file, pragmas: SCRATCH_PRAGMAS, checkpointSql: CHECKPOINT_ADVANCE_SQL, chunk: UPSERT_CHUNK })
        : undefined;
  }

  /** Waits for the background writes of a scratch store (see "Scratch stores" above). */
  async settle(): Promise<void> {
    if (this.bulk !== undefined) await this.bulk.drain();
  }

  /** Whether a scratch store has commits not yet written (or a failed one to report). */
  writingInBackground(): boolean {
    return this.bulk !== undefined && this.bulk.busy();
  }

  // --- reads ------------------------------------------------------------------------

  async get(collection: string, id: string): Promise<Doc | undefined> {
    await this.settle();
    const json = this.readJson(this.collection(collection), id);
    return json === undefined ? undefined : (JSON.parse(json) as Doc);
  }

  async find(collection: string, filter: Filter, options: FindOptions = {}): Promise<Doc[]> {
    await this.settle();
    const col = this.collection(collection);
    const { sql, params } = this.selectSql(col, filter, options);
    if (!this.present(col)) return [];
    this.buildIndexes(col);
    const rows = this.whileTableExists(col, () => this.query(sql, 'pluck').all(...params) as string[], []);
    return rows.map((json) => JSON.parse(json) as Doc);
  }

  async count(collection: string, filter: Filter): Promise<number> {
    await this.settle();
    const col = this.collection(collection);
    const where = compileFilter(filter, col.kinds);
    if (!this.present(col)) return 0;
    this.buildIndexes(col);
    return this.whileTableExists(col, () => this.query(`SELECT count(*) FROM ${quote(col.table)} WHERE ${where.sql}`, 'pluck').get(
      ...where.params,
    ) as number, 0);
  }

  explain(collection: string, filter: Filter, options: FindOptions = {}): QueryExplanation {
    const col = this.collection(collection);
    const { sql, params } = this.selectSql(col, filter, options);
    if (!this.present(col)) return { sql, params, plan: [] };
    this.buildIndexes(col);
    const rows = this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>;
    return { sql, params, plan: rows.map((r) => r.detail) };
  }

  async *scan(collection: string, batchSize = 500): AsyncIterable<Doc> {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
    const col = this.collection(collection);
    let after: string | undefined;
    for (;;) {
      await this.settle();
      if (!this.present(col)) return;
      const table = quote(col.table);
      const rows = this.whileTableExists(col, () => (
        after === undefined
          ? this.query(`SELECT id, doc FROM ${table} ORDER BY id LIMIT ?`, 'raw').all(batchSize)
          : this.query(`SELECT id, doc FROM ${table} WHERE id > ? ORDER BY id LIMIT ?`, 'raw').all(after, batchSize)
      ) as Array<[string, string]>, []);
      for (const [, json] of rows) yield JSON.parse(json) as Doc;
      if (rows.length < batchSize) return;
      after = rows[rows.length - 1]![0];
    }
  }

  async checkpoint(projection: string): Promise<{ position: number; version: number } | undefined> {
    await this.settle();
    const row = this.checkpointGet.get(projection) as { position: number; version: number } | undefined;
    return row === undefined ? undefined : { position: row.position, version: row.version };
  }

  // --- writes -----------------------------------------------------------------------

  async ensureIndex(collection: string, spec: IndexSpec): Promise<void> {
    await this.settle();
    const col = this.collection(collection);
    if (!Array.isArray(spec.fields) || spec.fields.length === 0) throw new ReadStoreQueryError('an index needs fields');
    for (const [path] of spec.fields) assertPath(path);
    if (spec.multiValued && spec.fields.length !== 1) {
      throw new ReadStoreQueryError('a multiValued index has exactly one field');
    }
    const normalized: IndexSpec = {
      fields: spec.fields.map(([path, direction]): [string, 1 | -1] => [path, direction]),
      ...(spec.multiValued ? { multiValued: true } : {}),
    };
    const columns = indexColumns(normalized.fields); // validates directions
    const name = indexName(col.name, normalized);
    this.inTransaction(
      this.db.transaction(() => {
        this.indexInsert.run(col.name, name, JSON.stringify(normalized));
        this.createTable(col);
        // SQLite cannot index the elements of a JSON array: a multi-valued declaration only
        // changes how filters on the path are written. A table with pending indexes gets
        // this one with the others.
        if (!normalized.multiValued && !col.indexesPending) {
          this.db.exec(`CREATE INDEX IF NOT EXISTS ${quote(name)} ON ${quote(col.table)} (${columns})`);
        }
      }),
    );
    col.declare(name, normalized);
  }

  async commit(projection: string, position: number, work: (batch: WriteBatch) => Promise<void>): Promise<void> {
    if (!Number.isSafeInteger(position) || position < 0) throw new RangeError('position must be a non-negative integer');
    const batch = new SqliteWriteBatch(this);
    try {
      await work(batch);
    } finally {
      batch.seal();
    }
    if (this.bulk !== undefined) {
      const writes = this.backgroundWrites(batch.buffer);
      if (writes !== undefined) return this.bulk.write({ collections: writes, projection, position });
      await this.bulk.drain();
    }
    this.applyBatch(batch.buffer, projection, position);
  }

  /**
   * The batch as rows for the background writer, or undefined when it must be applied here:
   * it creates a table, patches documents it has not read (the patch needs the stored
   * document), or is small enough to build a table's pending indexes.
   */
  private backgroundWrites(buffer: BatchBuffer): BulkCollectionWrites[] | undefined {
    const out: BulkCollectionWrites[] = [];
    for (const [col, entries] of buffer) {
      if (!col.exists || (col.indexesPending && entries.size < BULK_WRITES)) return undefined;
      const ids: string[] = [];
      const docs: string[] = [];
      const deletes: string[] = [];
      for (const [id, entry] of entries) {
        if (!entry.dirty) continue;
        if (entry.state === PRESENT) {
          ids.push(id);
          docs.push(entry.json ?? JSON.stringify(entry.doc));
        } else if (entry.state === ABSENT) {
          deletes.push(id);
        } else {
          return undefined;
        }
      }
      out.push({ sql: this.statements(col).sql, ids, docs, deletes });
    }
    return out;
  }

  // --- leases: one row per lease, changed under SQLite's write lock (BEGIN IMMEDIATE), which
  // also serializes the processes that share the file.

  async acquireLease(name: string, holder: string, now: number, expiresAt: number): Promise<Lease> {
    if (typeof holder !== 'string' || holder === '') throw new TypeError('a lease holder is a non-empty string');
    await this.settle();
    const take = this.db.transaction((): Lease => {
      const current = this.leaseRow(name);
      if (current && current.holder !== '' && current.holder !== holder && current.expiresAt > now) return current;
      const next: Lease = { name, holder, expiresAt, version: (current?.version ?? 0) + 1 };
      this.db.prepare('INSERT INTO leases (name, holder, expires_at, version) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, version = excluded.version')
        .run(name, holder, expiresAt, next.version);
      return next;
    });
    return take.immediate();
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.settle();
    this.db.prepare("UPDATE leases SET holder = '', expires_at = 0, version = version + 1 WHERE name = ? AND holder = ?").run(name, holder);
  }

  async lease(name: string): Promise<Lease | undefined> {
    await this.settle();
    return this.leaseRow(name);
  }

  private leaseRow(name: string): Lease | undefined {
    const row = this.db.prepare('SELECT holder, expires_at AS expiresAt, version FROM leases WHERE name = ?').get(name) as Omit<Lease, 'name'> | undefined;
    return row === undefined ? undefined : { name, ...row };
  }

  async reset(projection: string, collections: string[], version: number): Promise<void> {
    if (!Number.isSafeInteger(version)) throw new RangeError('version must be an integer');
    await this.settle();
    const cols = collections.map((c) => this.collection(c));
    this.db.transaction(() => {
      for (const col of cols) this.db.exec(`DROP TABLE IF EXISTS ${quote(col.table)}`);
      this.checkpointReset.run(projection, version);
    })();
    for (const col of cols) {
      col.exists = false;
      col.indexesPending = false;
      col.statements = undefined;
    }
    this.queries.clear();
  }

  async close(): Promise<void> {
    try {
      await this.bulk?.close();
    } finally {
      if (this.db.open) this.db.close();
    }
  }

  // --- internals used by the write batch ------------------------------------------------

  /** The collection's metadata; validates the name. */
  collection(name: string): Collection {
    let col = this.collections.get(name);
    if (col === undefined) {
      if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) {
        throw new ReadStoreQueryError(`invalid collection name ${JSON.stringify(name)}`);
      }
      col = new Collection(name);
      this.collections.set(name, col);
    }
    return col;
  }

  readJson(col: Collection, id: string): string | undefined {
    if (!this.present(col)) return undefined;
    return this.whileTableExists(col, () => this.statements(col).get.get(id) as string | undefined, undefined);
  }

  /**
   * Runs a read of the collection's table; if another connection dropped the table (the
   * projection thread resetting a projection this connection only reads), the collection
   * reads as empty until the table is back.
   */
  private whileTableExists<T>(col: Collection, read: () => T, absent: T): T {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('no such table')) throw error;
      col.exists = false;
      col.indexesPending = false;
      col.statements = undefined;
      this.queries.clear();
      return absent;
    }
  }

  private applyEntries(col: Collection, entries: Map<string, Entry>): void {
    let st: DocStatements | undefined;
    // Upserts go in multi-row statements (one per UPSERT_CHUNK documents); each id has one
    // entry, so their order relative to the deletes and patches does not matter.
    const rows: string[] = [];
    const chunkValues = UPSERT_CHUNK * 2;
    for (const [id, entry] of entries) {
      if (!entry.dirty) continue;
      switch (entry.state) {
        case PRESENT:
          if (st === undefined) {
            this.createTable(col);
            st = this.statements(col);
          }
          rows.push(id, entry.json ?? JSON.stringify(entry.doc));
          if (rows.length === chunkValues) {
            st.upsertChunk.run(rows);
            rows.length = 0;
          }
          break;
        case ABSENT:
          if (!this.present(col)) break;
          st ??= this.statements(col);
          st.remove.run(id);
          break;
        case PENDING: {
          if (!this.present(col)) break;
          st ??= this.statements(col);
          const json = st.get.get(id) as string | undefined;
          if (json === undefined) break; // patching a missing document does nothing
          const doc = JSON.parse(json) as Doc;
          for (const changes of entry.patches!) applyPatch(doc, changes);
          st.update.run(JSON.stringify(doc), id);
          break;
        }
      }
    }
    for (let i = 0; i < rows.length; i += 2) st!.upsert.run(rows[i], rows[i + 1]);
  }

  /** Runs a transaction; if it rolls back, forgets the tables it created. */
  private inTransaction(transaction: () => void): void {
    this.createdTables = [];
    try {
      transaction();
    } catch (error) {
      for (const col of this.createdTables) {
        col.exists = false;
        col.indexesPending = false;
        col.statements = undefined;
      }
      throw error;
    } finally {
      this.createdTables = [];
    }
  }

  /**
   * Whether the collection's table exists. One that did not may have been created since by
   * another connection (another process sharing the file): look again before answering.
   */
  private present(col: Collection): boolean {
    if (col.exists) return true;
    if (this.tableExists.get(col.table) === undefined) return false;
    col.exists = true;
    col.indexesPending = true;
    return true;
  }

  private createTable(col: Collection): void {
    if (col.exists) return;
    this.createdTables.push(col);
    this.db.exec(`CREATE TABLE IF NOT EXISTS ${quote(col.table)} (id TEXT PRIMARY KEY, doc TEXT NOT NULL)`);
    col.exists = true;
    col.indexesPending = true;
  }

  /** Creates the declared indexes a table may lack (see "Bulk loads" above). */
  private buildIndexes(col: Collection): void {
    if (!col.exists || !col.indexesPending) return;
    this.db.transaction(() => {
      for (const [name, spec] of col.specs) {
        if (spec.multiValued) continue;
        this.db.exec(`CREATE INDEX IF NOT EXISTS ${quote(name)} ON ${quote(col.table)} (${indexColumns(spec.fields)})`);
      }
    })();
    col.indexesPending = false;
  }

  private statements(col: Collection): DocStatements {
    if (col.statements === undefined) {
      const table = quote(col.table);
      const sql: BulkTableSql = {
        upsert: `INSERT INTO ${table} (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`,
        upsertChunk:
          `INSERT INTO ${table} (id, doc) VALUES ${Array.from({ length: UPSERT_CHUNK }, () => '(?, ?)').join(', ')} ` +
          'ON CONFLICT (id) DO UPDATE SET doc = excluded.doc',
        remove: `DELETE FROM ${table} WHERE id = ?`,
      };
      col.statements = {
        sql,
        get: this.db.prepare(`SELECT doc FROM ${table} WHERE id = ?`).pluck(),
        upsert: this.db.prepare(sql.upsert),
        upsertChunk: this.db.prepare(sql.upsertChunk),
        update: this.db.prepare(`UPDATE ${table} SET doc = ? WHERE id = ?`),
        remove: this.db.prepare(sql.remove),
      };
    }
    return col.statements;
  }

  private selectSql(col: Collection, filter: Filter, options: FindOptions): { sql: string; params: SqlValue[] } {
    const where = compileFilter(filter, col.kinds);
    let sql = `SELECT doc FROM ${quote(col.table)} WHERE ${where.sql} ${compileOrderBy(options.sort)}`;
    const params = [...where.params];
    const skip = options.skip ?? 0;
    const limit = options.limit ?? 0;
    if (!Number.isInteger(skip) || skip < 0) throw new ReadStoreQueryError('skip must be a non-negative integer');
    if (!Number.isInteger(limit) || limit < 0) throw new ReadStoreQueryError('limit must be a non-negative integer');
    // As in MongoDB, limit 0 means no limit.
    if (limit > 0 || skip > 0) {
      sql += ' LIMIT ? OFFSET ?';
      params.push(limit > 0 ? limit : -1, skip);
    }
    return { sql, params };
  }

  private query(sql: string, mode: 'pluck' | 'raw'): Statement {
    const key = `${mode}:${sql}`;
    let stmt = this.queries.get(key);
    if (stmt === undefined) {
      stmt = this.db.prepare(sql);
      if (mode === 'pluck') stmt.pluck();
      else stmt.raw();
      if (this.queries.size >= QUERY_CACHE_LIMIT) this.queries.clear();
      this.queries.set(key, stmt);
    }
    return stmt;
  }
}

// ---------------------------------------------------------------------------------------
// Write batch

const PRESENT = 0; // the batch knows the document (json and/or doc)
const ABSENT = 1; // the batch knows there is no document
const PENDING = 2; // patches of a document the batch has not read

interface Entry {
  state: typeof PRESENT | typeof ABSENT | typeof PENDING;
  /** Whether the entry changes the store (false: only a cached read). */
  dirty: boolean;
  /** Serialized document; undefined when `doc` changed since. */
  json: string | undefined;
  /** Working copy owned by the batch, parsed lazily. */
  doc: Doc | undefined;
  patches: PatchPaths[] | undefined;
}

type BatchBuffer = Map<Collection, Map<string, Entry>>;

class SqliteWriteBatch implements WriteBatch {
  readonly buffer: BatchBuffer = new Map();
  private sealed = false;
  private lastCollection: Collection | undefined;
  private lastEntries: Map<string, Entry> | undefined;

  constructor(private readonly store: SqliteReadStoreImpl) {}

  seal(): void {
    this.sealed = true;
  }

  async get(collection: string, id: string): Promise<Doc | undefined> {
    if (this.store.writingInBackground()) await this.store.settle();
    const entries = this.entries(collection);
    const col = this.lastCollection!;
    let entry = entries.get(id);
    if (entry === undefined) {
      const json = this.store.readJson(col, id);
      entry =
        json === undefined
          ? { state: ABSENT, dirty: false, json: undefined, doc: undefined, patches: undefined }
          : { state: PRESENT, dirty: false, json, doc: undefined, patches: undefined };
      entries.set(id, entry);
    } else if (entry.state === PENDING) {
      const json = this.store.readJson(col, id);
      if (json === undefined) {
        entry.state = ABSENT;
        entry.dirty = false;
      } else {
        const doc = JSON.parse(json) as Doc;
        for (const changes of entry.patches!) applyPatch(doc, changes);
        entry.state = PRESENT;
        entry.doc = doc;
      }
      entry.patches = undefined;
    }
    if (entry.state === ABSENT) return undefined;
    // A fresh copy, so that the caller's changes only count once written back.
    entry.json ??= JSON.stringify(entry.doc);
    return JSON.parse(entry.json) as Doc;
  }

  upsert(collection: string, doc: Doc): void {
    const entries = this.entries(collection);
    if (typeof doc !== 'object' || doc === null || typeof doc.id !== 'string') {
      throw new TypeError('a document needs a string id');
    }
    entries.set(doc.id, { state: PRESENT, dirty: true, json: JSON.stringify(doc), doc: undefined, patches: undefined });
  }

  upsertJson(collection: string, id: string, json: string): void {
    if (typeof id !== 'string' || typeof json !== 'string') throw new TypeError('upsertJson takes a string id and JSON text');
    this.entries(collection).set(id, { state: PRESENT, dirty: true, json, doc: undefined, patches: undefined });
  }

  patch(collection: string, id: string, fields: Record<string, unknown>): void {
    const entries = this.entries(collection);
    const changes = parsePatch(fields);
    const entry = entries.get(id);
    if (entry === undefined) {
      entries.set(id, { state: PENDING, dirty: true, json: undefined, doc: undefined, patches: [changes] });
    } else if (entry.state === PENDING) {
      entry.patches!.push(changes);
    } else if (entry.state === PRESENT) {
      const doc = entry.doc ?? (JSON.parse(entry.json!) as Doc);
      applyPatch(doc, changes);
      entry.doc = doc;
      entry.json = undefined;
      entry.dirty = true;
    }
    // ABSENT: patching a missing document does nothing.
  }

  delete(collection: string, id: string): void {
    this.entries(collection).set(id, { state: ABSENT, dirty: true, json: undefined, doc: undefined, patches: undefined });
  }

  private entries(collection: string): Map<string, Entry> {
    if (this.sealed) throw new Error('this write batch is already committed');
    if (this.lastCollection !== undefined && this.lastCollection.name === collection) return this.lastEntries!;
    const col = this.store.collection(collection);
    let entries = this.buffer.get(col);
    if (entries === undefined) {
      entries = new Map();
      this.buffer.set(col, entries);
    }
    this.lastCollection = col;
    this.lastEntries = entries;
    return entries;
  }
}
