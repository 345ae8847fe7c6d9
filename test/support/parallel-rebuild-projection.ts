import type { EventStore, NewEvent } from '../../adapters/eventstore/port.js';
import type { Projection } from '../../projections/shared/projection.js';
import { seededRandom } from './seeded-random.js';

// A projection that writes every way a projection may write by id — upserts, patches by
// dotted path (set and unset, into nested objects and arrays), deletes, in two collections —
// and a generated history whose writes reach across the whole log: documents patched and
// deleted long after they were created, patched after deletion, patched without ever having
// been created, created again. A parallel rebuild must give exactly what a sequential one
// gives for it. In a module of its own: the rebuild's worker threads import it.

export const thingsCollection = 'things';
export const notesCollection = 'notes';

export const parallelTestProjection: Projection = {
  name: 'parallel-test',
  version: 1,
  collections: [thingsCollection, notesCollection],
  indexes: [{ collection: thingsCollection, fields: [['name', 1]] }],
  handles: ['ThingCreated', 'ThingRenamed', 'ThingTagged', 'ThingMetaChanged', 'ThingMetaCleared', 'ThingRemoved', 'NoteWritten', 'NoteErased'],
  parallelRebuild: { module: import.meta.url },
  apply(event, batch) {
    const data = event.data as { id: string; name?: string; index?: number; tag?: string; value?: unknown; text?: string };
    switch (event.type) {
      case 'ThingCreated':
        batch.upsert(thingsCollection, { id: data.id, name: data.name, createdAt: event.recordedAt, tags: [], meta: { origin: event.stream, version: event.version } });
        return;
      case 'ThingRenamed':
        batch.patch(thingsCollection, data.id, { name: data.name, 'meta.renamedBy': event.metadata.correlationId ?? null });
        return;
      case 'ThingTagged':
        batch.patch(thingsCollection, data.id, { [`tags.${data.index}`]: data.tag });
        return;
      case 'ThingMetaChanged':
        batch.patch(thingsCollection, data.id, { 'meta.value': data.value, 'meta.deep.position': event.position });
        return;
      case 'ThingMetaCleared':
        batch.patch(thingsCollection, data.id, { 'meta.value': undefined, 'meta.deep': undefined });
        return;
      case 'ThingRemoved':
        batch.delete(thingsCollection, data.id);
        return;
      case 'NoteWritten':
        batch.upsert(notesCollection, { id: data.id, text: data.text, about: event.id });
        return;
      case 'NoteErased':
        batch.delete(notesCollection, data.id);
        return;
    }
  },
};

/**
 * Appends `count` events of random writes to `things` ids (a few of them never created) and
 * `notes`, plus events the projection ignores; appends of one to three events, so that
 * related events sometimes share a commit.
 */
export async function appendParallelTestHistory(events: EventStore, count: number, seed = 7): Promise<void> {
  const next = seededRandom(seed);
  const pick = (n: number) => Math.floor(next() * n);
  let written = 0;
  let pending: Array<Promise<unknown>> = [];
  while (written < count) {
    const batch: NewEvent[] = [];
    const size = Math.min(count - written, 1 + pick(3));
    for (let i = 0; i < size; i++) {
      const id = `thing-${pick(120)}`;
      const roll = next();
      const correlationId = `c-${written + i}`;
      const metadata = { correlationId };
      if (roll < 0.2) batch.push({ type: 'ThingCreated', data: { id, name: `Thing ${pick(1000)} "é"` }, metadata });
      else if (roll < 0.35) batch.push({ type: 'ThingRenamed', data: { id, name: `renamed ${pick(1000)}` }, metadata });
      else if (roll < 0.45) batch.push({ type: 'ThingTagged', data: { id, index: pick(4), tag: `t${pick(10)}` }, metadata });
      else if (roll < 0.58) batch.push({ type: 'ThingMetaChanged', data: { id, value: next() < 0.5 ? { nested: [pick(9), null, 'x'] } : pick(100) }, metadata });
      else if (roll < 0.65) batch.push({ type: 'ThingMetaCleared', data: { id }, metadata });
      else if (roll < 0.73) batch.push({ type: 'ThingRemoved', data: { id }, metadata });
      else if (roll < 0.78) batch.push({ type: 'ThingRenamed', data: { id: `ghost-${pick(10)}`, name: 'never created' }, metadata });
      else if (roll < 0.88) batch.push({ type: 'NoteWritten', data: { id: `note-${pick(60)}`, text: `note ${written + i}` }, metadata });
      else if (roll < 0.93) batch.push({ type: 'NoteErased', data: { id: `note-${pick(60)}` }, metadata });
      else batch.push({ type: 'SomethingElse', data: { n: written + i }, metadata });
    }
    written += batch.length;
    pending.push(events.append(`stream-${pick(50)}`, batch, 'any'));
    if (pending.length >= 50) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
}
