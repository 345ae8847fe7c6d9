// The state a parallel rebuild builds from one range of the log (parallel-rebuild.ts): the
// projection's writes applied in memory, with the semantics of the read store's write batch
// (adapters/readstore/sqlite.ts), so that ranges applied apart and merged in order give what
// one sequential rebuild gives, byte for byte.
//
// Per document id, a range ends in one of three states:
// - present: the range upserted it (then maybe patched it): its final JSON is known;
// - absent: the range deleted it (or patched it after deleting it: a no-op);
// - pending: the range only patched it, so its document comes from an earlier range. The
//   patches are kept in order and applied to that document when the ranges are merged.
// A range that has no id in common with another commutes with it; merging is therefore only
// about the pending ids (mergePending).
import type { Doc, WriteBatch } from '../../adapters/readstore/port.js';
import { applyPatch, parsePatch, type PatchPaths } from '../../adapters/readstore/patch-paths.js';

const PRESENT = 0;
const ABSENT = 1;
const PENDING = 2;

interface Entry {
  state: typeof PRESENT | typeof ABSENT | typeof PENDING;
  /** Serialized document (present); undefined when `doc` changed since. */
  json: string | undefined;
  /** Working copy, parsed on the first patch (present). */
  doc: Doc | undefined;
  patches: PatchPaths[] | undefined;
}

/** What one range did to one collection; sent between threads (structured clone). */
export interface RangeWrites {
  collection: string;
  /** Ids of present documents, and their JSON in the same order. */
  ids: string[];
  jsons: string[];
  /** Ids of absent documents. */
  deletes: string[];
  /** Ids of pending documents, and their patches (in order) in the same order. */
  pendingIds: string[];
  pendingPatches: PatchPaths[][];
}

export class ProjectionReadError extends Error {
  readonly code = 'PROJECTION_READ_IN_PARALLEL_REBUILD';
  constructor(projection: string) {
    super(`projection ${projection} read a document (batch.get) although it declares parallelRebuild: a parallel rebuild cannot answer reads`);
    this.name = 'ProjectionReadError';
  }
}

/** A write batch over one range's in-memory state (see the header). */
export class RangeBatch implements WriteBatch {
  private readonly collections = new Map<string, Map<string, Entry>>();
  private lastName: string | undefined;
  private lastEntries: Map<string, Entry> | undefined;

  constructor(private readonly projection: string) {}

  get(): Promise<Doc | undefined> {
    throw new ProjectionReadError(this.projection);
  }

  upsert(collection: string, doc: Doc): void {
    const entries = this.entries(collection);
    if (typeof doc !== 'object' || doc === null || typeof doc.id !== 'string') throw new TypeError('a document needs a string id');
    entries.set(doc.id, { state: PRESENT, json: JSON.stringify(doc), doc: undefined, patches: undefined });
  }

  patch(collection: string, id: string, fields: Record<string, unknown>): void {
    const entries = this.entries(collection);
    const changes = parsePatch(fields);
    const entry = entries.get(id);
    if (entry === undefined) {
      entries.set(id, { state: PENDING, json: undefined, doc: undefined, patches: [changes] });
    } else if (entry.state === PENDING) {
      entry.patches!.push(changes);
    } else if (entry.state === PRESENT) {
      const doc = entry.doc ?? (JSON.parse(entry.json!) as Doc);
      applyPatch(doc, changes);
      entry.doc = doc;
      entry.json = undefined;
    }
    // ABSENT: patching a missing document does nothing.
  }

  delete(collection: string, id: string): void {
    this.entries(collection).set(id, { state: ABSENT, json: undefined, doc: undefined, patches: undefined });
  }

  /** The range's writes, per collection written. */
  writes(): RangeWrites[] {
    const out: RangeWrites[] = [];
    for (const [collection, entries] of this.collections) {
      const writes: RangeWrites = { collection, ids: [], jsons: [], deletes: [], pendingIds: [], pendingPatches: [] };
      for (const [id, entry] of entries) {
        if (entry.state === PRESENT) {
          writes.ids.push(id);
          writes.jsons.push(entry.json ?? JSON.stringify(entry.doc));
        } else if (entry.state === ABSENT) {
          writes.deletes.push(id);
        } else {
          writes.pendingIds.push(id);
          writes.pendingPatches.push(entry.patches!);
        }
      }
      out.push(writes);
    }
    return out;
  }

  private entries(collection: string): Map<string, Entry> {
    if (collection === this.lastName) return this.lastEntries!;
    let entries = this.collections.get(collection);
    if (entries === undefined) {
      entries = new Map();
      this.collections.set(collection, entries);
    }
    this.lastName = collection;
    this.lastEntries = entries;
    return entries;
  }
}

/**
 * Resolves the pending ids of `later` against the range just before it, `earlier` (both
 * still uncommitted): a patch of a document `earlier` left present is applied to its JSON, of
 * one it deleted is dropped, of one it only patched is appended to those patches. Pending
 * ids that `earlier` did not touch stay in `later` (they go to the store, which applies them
 * to the stored document). Afterwards no id is written by both.
 */
export function mergePending(earlier: RangeWrites[], later: RangeWrites[]): void {
  for (const next of later) {
    if (next.pendingIds.length === 0) continue;
    const previous = earlier.find((writes) => writes.collection === next.collection);
    if (previous === undefined) continue;
    const present = new Map<string, number>();
    previous.ids.forEach((id, i) => present.set(id, i));
    const deleted = new Set(previous.deletes);
    const pending = new Map<string, number>();
    previous.pendingIds.forEach((id, i) => pending.set(id, i));
    const keptIds: string[] = [];
    const keptPatches: PatchPaths[][] = [];
    for (let i = 0; i < next.pendingIds.length; i++) {
      const id = next.pendingIds[i]!;
      const patches = next.pendingPatches[i]!;
      const at = present.get(id);
      if (at !== undefined) {
        const doc = JSON.parse(previous.jsons[at]!) as Doc;
        for (const changes of patches) applyPatch(doc, changes);
        previous.jsons[at] = JSON.stringify(doc);
      } else if (deleted.has(id)) {
        // patching a missing document does nothing
      } else if (pending.has(id)) {
        previous.pendingPatches[pending.get(id)!]!.push(...patches);
      } else {
        keptIds.push(id);
        keptPatches.push(patches);
      }
    }
    next.pendingIds = keptIds;
    next.pendingPatches = keptPatches;
  }
}

/**
 * Patches of documents written before the range just committed (a task that ends long after
 * it started), carried forward instead of being committed with their range: a commit with
 * patches of stored documents is applied by the read store on the caller's thread (it reads
 * the stored document), not by its background writer. They are committed together, with the
 * last range or when there are many. Until then, a later range that upserts or deletes such
 * a document makes its patches moot, and a later range's patches of it are appended to them.
 */
export class DeferredPatches {
  private readonly byCollection = new Map<string, Map<string, PatchPaths[]>>();
  size = 0;

  /** Takes the pending ids out of `writes` (already merged with the range before). */
  absorb(writes: RangeWrites[]): void {
    for (const range of writes) {
      let deferred = this.byCollection.get(range.collection);
      if (deferred !== undefined && deferred.size > 0) {
        for (const id of range.ids) this.forget(deferred, id);
        for (const id of range.deletes) this.forget(deferred, id);
      }
      if (range.pendingIds.length === 0) continue;
      if (deferred === undefined) {
        deferred = new Map();
        this.byCollection.set(range.collection, deferred);
      }
      for (let i = 0; i < range.pendingIds.length; i++) {
        const id = range.pendingIds[i]!;
        const earlier = deferred.get(id);
        if (earlier !== undefined) {
          earlier.push(...range.pendingPatches[i]!);
        } else {
          deferred.set(id, range.pendingPatches[i]!);
          this.size++;
        }
      }
      range.pendingIds = [];
      range.pendingPatches = [];
    }
  }

  /**
   * Moves every deferred patch into `writes` (a range absorbed before: its ids and these are
   * disjoint), to be committed with it.
   */
  drainInto(writes: RangeWrites[]): void {
    for (const [collection, deferred] of this.byCollection) {
      if (deferred.size === 0) continue;
      let range = writes.find((w) => w.collection === collection);
      if (range === undefined) {
        range = { collection, ids: [], jsons: [], deletes: [], pendingIds: [], pendingPatches: [] };
        writes.push(range);
      }
      for (const [id, patches] of deferred) {
        range.pendingIds.push(id);
        range.pendingPatches.push(patches);
      }
      deferred.clear();
    }
    this.size = 0;
  }

  private forget(deferred: Map<string, PatchPaths[]>, id: string): void {
    if (deferred.delete(id)) this.size--;
  }
}

/** A change set of a patch back as the `fields` argument of WriteBatch.patch. */
export function patchFields(changes: PatchPaths): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [segments, value] of changes) fields[segments.join('.')] = value;
  return fields;
}

/** Writes one range's (merged) writes through a read store's write batch. */
export function writeRange(batch: WriteBatch, writes: RangeWrites[]): void {
  for (const { collection, ids, jsons, deletes, pendingIds, pendingPatches } of writes) {
    if (batch.upsertJson !== undefined) {
      for (let i = 0; i < ids.length; i++) batch.upsertJson(collection, ids[i]!, jsons[i]!);
    } else {
      for (let i = 0; i < ids.length; i++) batch.upsert(collection, JSON.parse(jsons[i]!) as Doc);
    }
    for (const id of deletes) batch.delete(collection, id);
    for (let i = 0; i < pendingIds.length; i++) {
      for (const changes of pendingPatches[i]!) batch.patch(collection, pendingIds[i]!, patchFields(changes));
    }
  }
}
