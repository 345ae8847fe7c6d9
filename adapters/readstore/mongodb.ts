// MongoDB implementation of the read-store port (scale-out deployment, DESIGN.md §1, §4),
// through the official `mongodb` driver. Runs against MongoDB (a replica set in
// production) and MongoDB-wire servers such as FerretDB.
//
// Layout: one MongoDB collection per read-store collection, documents stored as they are
// plus `_id` (= id) and `_pos`, the position of the last commit that wrote the document.
// `_checkpoints` holds {_id: projection, position, version}; `_indexes` the declared index
// specs, so that `reset` (which drops collections) can create them again.
//
// No multi-document transactions (they need a replica set and FerretDB has none). A commit
// is made idempotent instead: the batch is buffered, coalesced into ONE write per document
// (replace, guarded update or delete), and every write of a commit at position p only
// applies to a document whose `_pos` is below p. The checkpoint is written after all the
// documents. A crash in between leaves some documents at p and the checkpoint before
// it; the runner then replays the same events, the writes already applied are skipped by
// the guard, and the others land. A commit at position 0 (the port allows it: outbox
// bookkeeping, copies into a fresh store) is not positioned: its writes are unguarded.
//
// Filters: the port's subset IS MongoDB's query language, so filters are validated
// (anything outside the subset is refused, as by the SQLite adapter) and passed through,
// with `id` mapped to `_id` so that lookups use the primary key.

import { MongoClient, MongoServerError, type AnyBulkWriteOperation, type Db, type Document } from 'mongodb';
import { applyPatch, parsePatch, type PatchPaths } from './patch-paths.js';
import type { Doc, FieldCondition, Filter, FindOptions, IndexSpec, Lease, ReadStore, WriteBatch } from './port.js';

export interface MongoReadStoreOptions {
  /** A `mongodb://` or `mongodb+srv://` connection string. */
  url: string;
  /** Database name; defaults to the one in the URL, else `stratus`. */
  database?: string;
  /** Share a client (tests, several stores over one connection pool); not closed by `close`. */
  client?: MongoClient;
}

export class MongoReadStoreQueryError extends Error {
  readonly code = 'READSTORE_QUERY_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'MongoReadStoreQueryError';
  }
}

const COLLECTION_NAME = /^[a-z][a-z0-9_]*$/;
const PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const CHECKPOINTS = '_checkpoints';
const INDEXES = '_indexes';
const LEASES = '_leases';
const DUPLICATE_KEY = 11000;
/** Versions of a lease kept behind the latest (older ones are removed after each change). */
const LEASE_HISTORY = 16;
/** Fields the adapter adds to every stored document, removed from every answer. */
const HIDDEN = { _id: 0, _pos: 0 } as const;
/** Documents per insert command and ids per `$in` read. */
const INSERT_CHUNK = 1000;
/**
 * Statements per update/delete command. FerretDB 1.24 (SQLite) stalls on update commands of
 * about a hundred statements; MongoDB takes 100,000, but 50 per round trip costs it little.
 */
const UPDATE_CHUNK = 50;
const NAMESPACE_NOT_FOUND = 26;
/** Top-level fields the adapter keeps beside a document's own: a patch may not set them. */
const MONGO_RESERVED = ['_id', '_pos'];

const SCALAR_OPERATORS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte']);
const LIST_OPERATORS = new Set(['$in', '$nin']);

export function openMongoReadStore(options: MongoReadStoreOptions): ReadStore {
  return new MongoReadStore(options);
}

function databaseFromUrl(url: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]*)/.exec(url);
  const name = match?.[1] ? decodeURIComponent(match[1]) : '';
  return name === '' ? undefined : name;
}

function assertCollection(name: string): void {
  if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) throw new MongoReadStoreQueryError(`invalid collection name ${JSON.stringify(name)}`);
}

function assertPath(path: string): void {
  if (typeof path !== 'string' || !PATH.test(path)) throw new MongoReadStoreQueryError(`invalid field path ${JSON.stringify(path)}`);
}

const mapPath = (path: string) => (path === 'id' ? '_id' : path);

function isScalar(value: unknown): value is string | number | boolean | null {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

/** Validates a port filter and returns it as a MongoDB query (id → _id). */
export function toMongoFilter(filter: Filter): Document {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) throw new MongoReadStoreQueryError('a filter is an object');
  const out: Document = {};
  for (const [key, value] of Object.entries(filter)) {
    if (value === undefined) continue;
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value) || value.length === 0) throw new MongoReadStoreQueryError(`${key} takes a non-empty array of filters`);
      out[key] = value.map((sub) => toMongoFilter(sub as Filter));
      continue;
    }
    if (key.startsWith('$')) throw new MongoReadStoreQueryError(`unknown operator ${key}`);
    assertPath(key);
    out[mapPath(key)] = toMongoCondition(key, value);
  }
  return out;
}

function toMongoCondition(path: string, value: unknown): unknown {
  if (isScalar(value)) return value;
  if (typeof value !== 'object' || Array.isArray(value)) throw new MongoReadStoreQueryError(`unsupported value for ${path}`);
  const condition = value as FieldCondition & Record<string, unknown>;
  const out: Document = {};
  for (const [op, operand] of Object.entries(condition)) {
    if (operand === undefined) continue;
    if (SCALAR_OPERATORS.has(op)) {
      if (!isScalar(operand)) throw new MongoReadStoreQueryError(`${op} on ${path} takes a scalar`);
      if (op !== '$eq' && op !== '$ne' && typeof operand !== 'string' && typeof operand !== 'number') {
        throw new MongoReadStoreQueryError(`${op} on ${path} takes a string or a number`);
      }
    } else if (LIST_OPERATORS.has(op)) {
      if (!Array.isArray(operand) || !operand.every(isScalar)) throw new MongoReadStoreQueryError(`${op} on ${path} takes an array of scalars`);
    } else if (op === '$exists') {
      if (typeof operand !== 'boolean') throw new MongoReadStoreQueryError(`$exists on ${path} takes a boolean`);
    } else if (op === '$regex') {
      if (typeof operand !== 'string') throw new MongoReadStoreQueryError(`$regex on ${path} takes a string`);
      try {
        new RegExp(operand);
      } catch {
        throw new MongoReadStoreQueryError(`invalid $regex on ${path}`);
      }
    } else if (op === '$options') {
      if (operand !== 'i' && operand !== '') throw new MongoReadStoreQueryError(`$options on ${path} may only be 'i'`);
      if (condition.$regex === undefined) throw new MongoReadStoreQueryError(`$options on ${path} needs $regex`);
    } else {
      throw new MongoReadStoreQueryError(`unknown operator ${op} on ${path}`);
    }
    out[op] = operand;
  }
  if (Object.keys(out).length === 0) throw new MongoReadStoreQueryError(`empty condition on ${path}`);
  return out;
}

function toMongoSort(sort: FindOptions['sort']): Array<[string, 1 | -1]> {
  const out: Array<[string, 1 | -1]> = [];
  for (const [path, direction] of sort ?? []) {
    assertPath(path);
    if (direction !== 1 && direction !== -1) throw new MongoReadStoreQueryError(`invalid sort direction for ${path}`);
    out.push([mapPath(path), direction]);
  }
  // Ties broken by id ascending (the port's rule); MongoDB's own order of ties is unspecified.
  if (!out.some(([path]) => path === '_id')) out.push(['_id', 1]);
  return out;
}

function strip(stored: Document | null): Doc | undefined {
  if (stored === null) return undefined;
  const { _id: _ignored, _pos: _position, ...doc } = stored;
  return doc as Doc;
}

const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

class MongoReadStore implements ReadStore {
  private readonly client: MongoClient;
  private readonly ownsClient: boolean;
  private readonly db: Db;

  constructor(options: MongoReadStoreOptions) {
    this.ownsClient = options.client === undefined;
    // ignoreUndefined: documents keep JSON semantics (an undefined field is absent, not null).
    this.client = options.client ?? new MongoClient(options.url, { ignoreUndefined: true });
    this.db = this.client.db(options.database ?? databaseFromUrl(options.url) ?? 'stratus', { ignoreUndefined: true });
  }

  collection(name: string) {
    assertCollection(name);
    return this.db.collection(name);
  }

  // --- reads ------------------------------------------------------------------------

  async get(collection: string, id: string): Promise<Doc | undefined> {
    return strip(await this.collection(collection).findOne({ _id: id as never }, { projection: HIDDEN }));
  }

  async find(collection: string, filter: Filter, options: FindOptions = {}): Promise<Doc[]> {
    const col = this.collection(collection);
    const query = toMongoFilter(filter);
    const cursor = col.find(query, { projection: HIDDEN, sort: toMongoSort(options.sort) });
    if (options.skip) cursor.skip(options.skip);
    if (options.limit) cursor.limit(options.limit); // 0: no limit, as in MongoDB
    return (await cursor.toArray()).map((d) => strip(d)!);
  }

  async count(collection: string, filter: Filter): Promise<number> {
    return this.collection(collection).countDocuments(toMongoFilter(filter));
  }

  async *scan(collection: string, batchSize = 500): AsyncIterable<Doc> {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
    const col = this.collection(collection);
    let after: string | undefined;
    for (;;) {
      // Pages by _id rather than one long cursor: no cursor timeout while a consumer is slow.
      const page = await col
        .find(after === undefined ? {} : { _id: { $gt: after as never } }, { projection: { _pos: 0 }, sort: [['_id', 1]], limit: batchSize })
        .toArray();
      for (const stored of page) yield strip(stored)!;
      if (page.length < batchSize) return;
      after = page[page.length - 1]!._id as unknown as string;
    }
  }

  async checkpoint(projection: string): Promise<{ position: number; version: number } | undefined> {
    const row = await this.db.collection(CHECKPOINTS).findOne({ _id: projection as never });
    return row === null ? undefined : { position: Number(row.position), version: Number(row.version) };
  }

  // --- writes -----------------------------------------------------------------------

  async ensureIndex(collection: string, spec: IndexSpec): Promise<void> {
    const col = this.collection(collection);
    if (!Array.isArray(spec.fields) || spec.fields.length === 0) throw new MongoReadStoreQueryError('an index needs fields');
    if (spec.multiValued && spec.fields.length !== 1) throw new MongoReadStoreQueryError('a multiValued index has exactly one field');
    const keys: Document = {};
    for (const [path, direction] of spec.fields) {
      assertPath(path);
      if (direction !== 1 && direction !== -1) throw new MongoReadStoreQueryError(`invalid index direction for ${path}`);
      keys[mapPath(path)] = direction;
    }
    // MongoDB indexes array elements by itself (a multikey index): multiValued changes nothing here.
    const name = Object.entries(keys).map(([path, direction]) => `${path}_${direction}`).join('_');
    await this.db.collection(INDEXES).updateOne(
      { _id: `${collection}/${name}` as never },
      { $set: { collection, name, keys: Object.entries(keys).map(([path, direction]) => ({ path, direction })) } },
      { upsert: true },
    );
    if (name !== '_id_1') await col.createIndex(keys, { name });
  }

  async commit(projection: string, position: number, work: (batch: WriteBatch) => Promise<void>): Promise<void> {
    if (!Number.isSafeInteger(position) || position < 0) throw new RangeError('position must be a non-negative integer');
    const batch = new MongoWriteBatch(this);
    try {
      await work(batch);
    } finally {
      batch.seal();
    }
    for (const [collection, entries] of batch.entries) {
      await this.resolvePending(collection, entries);
      const stored = await this.storedPositions(collection, entries);
      const { inserts, updates } = writeOperations(entries, stored, position);
      for (let i = 0; i < inserts.length; i += INSERT_CHUNK) await this.collection(collection).insertMany(inserts.slice(i, i + INSERT_CHUNK));
      for (let i = 0; i < updates.length; i += UPDATE_CHUNK) await this.collection(collection).bulkWrite(updates.slice(i, i + UPDATE_CHUNK));
    }
    await this.db.collection(CHECKPOINTS).updateOne(
      { _id: projection as never },
      { $set: { position }, $setOnInsert: { version: 0 } },
      { upsert: true },
    );
  }

  async reset(projection: string, collections: string[], version: number): Promise<void> {
    for (const name of collections) {
      const col = this.collection(name);
      try {
        await col.drop();
      } catch (error) {
        if (!(error instanceof MongoServerError && (error.code === NAMESPACE_NOT_FOUND || /ns not found/i.test(error.message)))) throw error;
      }
      // Dropping a collection drops its indexes: create the declared ones again.
      const declared = await this.db.collection(INDEXES).find({ collection: name }).toArray();
      for (const index of declared) {
        if (index.name === '_id_1') continue;
        const keys = Object.fromEntries((index.keys as Array<{ path: string; direction: 1 | -1 }>).map((k) => [k.path, k.direction]));
        await col.createIndex(keys, { name: index.name as string });
      }
    }
    await this.db.collection(CHECKPOINTS).updateOne({ _id: projection as never }, { $set: { position: 0, version } }, { upsert: true });
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }

  // --- leases ---------------------------------------------------------------------------
  //
  // A compare-and-set without transactions, and without trusting a conditional update to
  // re-check its filter as it writes (MongoDB does; FerretDB 1.x reads, changes in memory
  // and writes back): every change of a lease INSERTS a document `<name>@<version>`, one
  // version past the latest one read. The unique _id makes the insert the atomic step: of
  // two contenders that read the same latest version, one insert fails. The latest version
  // is the lease. Old versions are removed; a contender so slow that its version was
  // removed again before it inserted finds, reading back, that a later version exists.

  private leaseIndex: Promise<unknown> | undefined;

  private leases() {
    const col = this.db.collection(LEASES);
    this.leaseIndex ??= col.createIndex({ lease: 1, version: -1 }, { name: 'lease_1_version_-1' }).catch((error: unknown) => {
      this.leaseIndex = undefined;
      throw error;
    });
    return col;
  }

  async lease(name: string): Promise<Lease | undefined> {
    const col = this.leases();
    await this.leaseIndex;
    const [latest] = await col.find({ lease: name }, { sort: [['version', -1]], limit: 1 }).toArray();
    return latest === undefined ? undefined : { name, holder: String(latest.holder), expiresAt: Number(latest.expiresAt), version: Number(latest.version) };
  }

  private async writeLeaseVersion(next: Lease): Promise<boolean> {
    const col = this.leases();
    try {
      await col.insertOne({ _id: `${next.name}@${next.version}` as never, lease: next.name, holder: next.holder, expiresAt: next.expiresAt, version: next.version });
    } catch (error) {
      if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) return false;
      throw error;
    }
    const latest = await this.lease(next.name);
    if (latest?.version !== next.version) {
      await col.deleteOne({ _id: `${next.name}@${next.version}` as never });
      return false;
    }
    if (next.version % LEASE_HISTORY === 0) await col.deleteMany({ lease: next.name, version: { $lt: next.version - LEASE_HISTORY } }).catch(() => undefined);
    return true;
  }

  /** The last version of each lease this store wrote: a renewal tries the next one without reading first. */
  private readonly leasesWritten = new Map<string, Lease>();

  async acquireLease(name: string, holder: string, now: number, expiresAt: number): Promise<Lease> {
    if (typeof holder !== 'string' || holder === '') throw new TypeError('a lease holder is a non-empty string');
    const written = this.leasesWritten.get(name);
    const current = written?.holder === holder ? written : await this.lease(name);
    if (current && current.holder !== '' && current.holder !== holder && current.expiresAt > now) return current;
    const next: Lease = { name, holder, expiresAt, version: (current?.version ?? 0) + 1 };
    if (await this.writeLeaseVersion(next)) {
      this.leasesWritten.set(name, next);
      return next;
    }
    this.leasesWritten.delete(name);
    const latest = (await this.lease(name))!;
    // Our guess of the latest version was stale (another holder moved it): decide on the real one.
    if (written !== undefined && current === written && latest.holder !== holder && (latest.holder === '' || latest.expiresAt <= now)) return this.acquireLease(name, holder, now, expiresAt);
    return latest;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.leasesWritten.delete(name);
    const current = await this.lease(name);
    if (current?.holder !== holder) return;
    await this.writeLeaseVersion({ name, holder: '', expiresAt: 0, version: current.version + 1 });
  }

  /** Documents patched without being read: read them now and apply the patches here. */
  private async resolvePending(collection: string, entries: Map<string, Entry>): Promise<void> {
    const ids = [...entries].filter(([, entry]) => entry.state === PENDING && entry.patches!.length > 1).map(([id]) => id);
    for (let i = 0; i < ids.length; i += INSERT_CHUNK) {
      const chunk = ids.slice(i, i + INSERT_CHUNK);
      const stored = await this.collection(collection).find({ _id: { $in: chunk as never[] } }, { projection: { _pos: 0 } }).toArray();
      const byId = new Map(stored.map((d) => [d._id as unknown as string, strip(d)!]));
      for (const id of chunk) {
        const entry = entries.get(id)!;
        const doc = byId.get(id);
        if (doc === undefined) {
          entries.delete(id); // patching a missing document does nothing
          continue;
        }
        for (const changes of entry.patches!) applyPatch(doc, changes);
        entry.state = PRESENT;
        entry.doc = doc;
        entry.patches = undefined;
      }
    }
  }

  /** `_pos` of the stored documents the batch writes (0 for a document written unpositioned). */
  private async storedPositions(collection: string, entries: Map<string, Entry>): Promise<Map<string, number>> {
    const ids = [...entries].filter(([, entry]) => entry.dirty).map(([id]) => id);
    const positions = new Map<string, number>();
    for (let i = 0; i < ids.length; i += INSERT_CHUNK) {
      const chunk = ids.slice(i, i + INSERT_CHUNK);
      const rows = await this.collection(collection).find({ _id: { $in: chunk as never[] } }, { projection: { _pos: 1 } }).toArray();
      for (const row of rows) positions.set(row._id as unknown as string, typeof row._pos === 'number' ? row._pos : 0);
    }
    return positions;
  }
}

// ---------------------------------------------------------------------------------------
// Write batch: buffered in memory, one entry per document

const PRESENT = 0; // the batch knows the whole document
const ABSENT = 1; // the batch knows there is no document
const PENDING = 2; // patches of a document the batch has not read

interface Entry {
  state: typeof PRESENT | typeof ABSENT | typeof PENDING;
  /** Whether the entry changes the store (false: only a cached read). */
  dirty: boolean;
  doc: Doc | undefined;
  patches: PatchPaths[] | undefined;
}

class MongoWriteBatch implements WriteBatch {
  readonly entries = new Map<string, Map<string, Entry>>();
  private sealed = false;

  constructor(private readonly store: MongoReadStore) {}

  seal(): void {
    this.sealed = true;
  }

  async get(collection: string, id: string): Promise<Doc | undefined> {
    const entries = this.entriesOf(collection);
    let entry = entries.get(id);
    if (entry === undefined || entry.state === PENDING) {
      const stored = strip(await this.store.collection(collection).findOne({ _id: id as never }, { projection: { _pos: 0 } }));
      if (entry === undefined) {
        entry = { state: stored === undefined ? ABSENT : PRESENT, dirty: false, doc: stored, patches: undefined };
        entries.set(id, entry);
      } else if (stored === undefined) {
        Object.assign(entry, { state: ABSENT, dirty: false, doc: undefined, patches: undefined });
      } else {
        for (const changes of entry.patches!) applyPatch(stored, changes);
        Object.assign(entry, { state: PRESENT, doc: stored, patches: undefined });
      }
    }
    return entry.state === ABSENT ? undefined : copy(entry.doc!);
  }

  upsert(collection: string, doc: Doc): void {
    const entries = this.entriesOf(collection);
    if (typeof doc !== 'object' || doc === null || typeof doc.id !== 'string') throw new TypeError('a document needs a string id');
    entries.set(doc.id, { state: PRESENT, dirty: true, doc: copy(doc), patches: undefined });
  }

  patch(collection: string, id: string, fields: Record<string, unknown>): void {
    const entries = this.entriesOf(collection);
    const changes = parsePatch(fields, MONGO_RESERVED);
    const entry = entries.get(id);
    if (entry === undefined) entries.set(id, { state: PENDING, dirty: true, doc: undefined, patches: [changes] });
    else if (entry.state === PENDING) entry.patches!.push(changes);
    else if (entry.state === PRESENT) {
      applyPatch(entry.doc!, changes);
      entry.dirty = true;
    }
    // ABSENT: patching a missing document does nothing.
  }

  delete(collection: string, id: string): void {
    this.entriesOf(collection).set(id, { state: ABSENT, dirty: true, doc: undefined, patches: undefined });
  }

  private entriesOf(collection: string): Map<string, Entry> {
    if (this.sealed) throw new Error('this write batch is already committed');
    assertCollection(collection);
    let entries = this.entries.get(collection);
    if (entries === undefined) {
      entries = new Map();
      this.entries.set(collection, entries);
    }
    return entries;
  }
}

/**
 * One write per changed document: an insert for a new one; for a stored one, nothing when a
 * commit at this position or later already wrote it, else a write guarded by `_pos` (the
 * guard matters only if two writers race, which the projection lease prevents).
 */
function writeOperations(entries: Map<string, Entry>, stored: Map<string, number>, position: number) {
  const inserts: Document[] = [];
  const updates: AnyBulkWriteOperation[] = [];
  for (const [id, entry] of entries) {
    if (!entry.dirty) continue;
    const storedAt = stored.get(id);
    if (storedAt === undefined) {
      if (entry.state === PRESENT) inserts.push({ _id: id, ...entry.doc!, _pos: position });
      continue; // deleting or patching a missing document does nothing
    }
    if (position > 0 && storedAt >= position) continue; // already applied
    const filter: Document = position > 0 ? { _id: id, _pos: { $lt: position } } : { _id: id };
    if (entry.state === PRESENT) {
      updates.push({ replaceOne: { filter, replacement: { _id: id, ...entry.doc!, _pos: position } } });
    } else if (entry.state === ABSENT) {
      updates.push({ deleteOne: { filter } });
    } else {
      // A single patch of an unread document: a plain update, no read of the document needed.
      const set: Document = {};
      const unset: Document = {};
      for (const [segments, value] of entry.patches![0]!) {
        if (value === undefined) unset[segments.join('.')] = '';
        else set[segments.join('.')] = value;
      }
      if (position > 0) set._pos = position;
      const update: Document = {};
      if (Object.keys(set).length > 0) update.$set = set;
      if (Object.keys(unset).length > 0) update.$unset = unset;
      if (Object.keys(update).length > 0) updates.push({ updateOne: { filter, update } });
    }
  }
  return { inserts, updates };
}
