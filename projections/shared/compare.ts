import type { Doc, ReadStore } from '../../adapters/readstore/port.js';
import type { Projection } from './projection.js';

const maxReported = 10;

/** JSON with object keys in order, so that equal documents give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, inner]) => inner !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Differences between two stores' copies of a projection's collections (empty: equal). */
export async function compareProjection(projection: Projection, left: ReadStore, right: ReadStore): Promise<string[]> {
  const differences: string[] = [];
  for (const collection of projection.collections) {
    const a = left.scan(collection)[Symbol.asyncIterator]();
    const b = right.scan(collection)[Symbol.asyncIterator]();
    let x = await a.next();
    let y = await b.next();
    while (!x.done || !y.done) {
      if (differences.length >= maxReported) return differences;
      const docA: Doc | undefined = x.done ? undefined : x.value;
      const docB: Doc | undefined = y.done ? undefined : y.value;
      if (docA && (!docB || docA.id < docB.id)) {
        differences.push(`${collection}/${docA.id}: only in the live model`);
        x = await a.next();
      } else if (docB && (!docA || docB.id < docA.id)) {
        differences.push(`${collection}/${docB.id}: only in the rebuild`);
        y = await b.next();
      } else {
        if (canonicalJson(docA) !== canonicalJson(docB)) differences.push(`${collection}/${docA!.id}: differs`);
        x = await a.next();
        y = await b.next();
      }
    }
  }
  return differences;
}

/** Replaces a projection's documents in `target` by those of `source`, checkpoint `position`. */
export async function copyProjection(projection: Projection, source: ReadStore, target: ReadStore, position: number, batchSize = 5000) {
  await target.reset(projection.name, projection.collections, projection.version);
  for (const collection of projection.collections) {
    let batch: Doc[] = [];
    const flush = async () => {
      const docs = batch;
      batch = [];
      await target.commit(projection.name, 0, async (writes) => { for (const doc of docs) writes.upsert(collection, doc); });
    };
    for await (const doc of source.scan(collection)) {
      batch.push(doc);
      if (batch.length >= batchSize) await flush();
    }
    await flush();
  }
  await target.commit(projection.name, position, async () => {});
  for (const { collection, ...spec } of projection.indexes) await target.ensureIndex(collection, spec);
}
