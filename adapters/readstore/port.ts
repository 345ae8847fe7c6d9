// The read-store port (DESIGN.md §4): collections of JSON documents keyed by `id`,
// queried with a small MongoDB-style filter subset that a MongoDB adapter passes through
// and the SQLite adapter translates to SQL.

export type Doc = { id: string } & Record<string, unknown>;

type Scalar = string | number | boolean | null;

export interface FieldCondition {
  $eq?: Scalar;
  $ne?: Scalar;
  $in?: Scalar[];
  $nin?: Scalar[];
  $gt?: string | number;
  $gte?: string | number;
  $lt?: string | number;
  $lte?: string | number;
  $exists?: boolean;
  /** A JavaScript/PCRE-compatible pattern; `$options: 'i'` for case-insensitive. */
  $regex?: string;
  $options?: 'i' | '';
}

/**
 * Filter on dotted paths. A plain value means equality; on an array field equality and
 * `$in` match when any element matches (MongoDB semantics).
 */
export type Filter = {
  $and?: Filter[];
  $or?: Filter[];
} & { [path: string]: Scalar | FieldCondition | Filter[] | undefined };

export interface FindOptions {
  /** Field path → 1 ascending, -1 descending, applied in order; ties broken by id ascending. */
  sort?: Array<[string, 1 | -1]>;
  skip?: number;
  limit?: number;
}

export interface IndexSpec {
  /** Field paths of a compound index, each with its direction. */
  fields: Array<[string, 1 | -1]>;
  /** Declares that the (single) field holds an array, so that equality matches elements. */
  multiValued?: boolean;
}

/** A set of changes applied atomically with a projection checkpoint. */
export interface WriteBatch {
  /** The document as this batch sees it (its own earlier writes included). */
  get(collection: string, id: string): Promise<Doc | undefined>;
  upsert(collection: string, doc: Doc): void;
  /**
   * Optional: upserts a document given as `JSON.stringify(doc)` (whose `id` is `id`), for a
   * rebuild that serialized its documents in other threads (projections/shared/parallel-rebuild.ts).
   * Stores the same as `upsert(collection, JSON.parse(json))`, without parsing and serializing again.
   */
  upsertJson?(collection: string, id: string, json: string): void;
  /** Sets fields by dotted path (`undefined` removes the field). No-op if the document is absent. */
  patch(collection: string, id: string, fields: Record<string, unknown>): void;
  delete(collection: string, id: string): void;
}

/**
 * A lease: who may run a singleton (a projection on one worker of many) until when. Times
 * are epoch milliseconds from the callers' clocks, so the lease time must be far longer than
 * the clock skew between the processes that contend.
 */
export interface Lease {
  name: string;
  /** Empty when released. */
  holder: string;
  /** The holder may act until this time; from then on anyone may take the lease. */
  expiresAt: number;
  /** Grows by one with every change of the lease (acquire, renewal, release). */
  version: number;
}

export interface ReadStore {
  get(collection: string, id: string): Promise<Doc | undefined>;
  find(collection: string, filter: Filter, options?: FindOptions): Promise<Doc[]>;
  count(collection: string, filter: Filter): Promise<number>;
  ensureIndex(collection: string, spec: IndexSpec): Promise<void>;
  /**
   * Runs `work` against a write batch and commits its changes together with the checkpoint
   * of `projection` at `position`. Either everything is applied or nothing.
   */
  commit(projection: string, position: number, work: (batch: WriteBatch) => Promise<void>): Promise<void>;
  /** Last position committed for a projection, with the version it was built by; undefined if never. */
  checkpoint(projection: string): Promise<{ position: number; version: number } | undefined>;
  /** Removes the collections and the checkpoint of a projection, recording its new version. */
  reset(projection: string, collections: string[], version: number): Promise<void>;
  /**
   * Compare-and-set on a lease: `holder` gets `name` until `expiresAt` if nobody holds it,
   * the last holder's time has passed at `now`, or `holder` holds it already (a renewal;
   * nobody else can renew it). Atomic across processes: of contenders at the same time, at
   * most one wins. Resolves with the lease as it stands afterwards: won when its holder is
   * `holder`.
   */
  acquireLease(name: string, holder: string, now: number, expiresAt: number): Promise<Lease>;
  /** Gives the lease up at once if `holder` still holds it (a graceful stop); else nothing. */
  releaseLease(name: string, holder: string): Promise<void>;
  /** The lease as it stands, undefined if never taken. */
  lease(name: string): Promise<Lease | undefined>;
  /** Iterates a collection in id order (for comparisons and exports). */
  scan(collection: string, batchSize?: number): AsyncIterable<Doc>;
  close(): Promise<void>;
}
