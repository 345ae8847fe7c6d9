// The read-store contract (DESIGN.md §4): every adapter runs this suite unchanged.
// Semantics are MongoDB's: typed equality, null matches missing, $ne/$nin match missing,
// range operators compare within a type, equality on arrays matches an element.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Doc, Filter, FindOptions, ReadStore } from '../../adapters/readstore/port.js';

export type OpenReadStore = () => Promise<{
  store: ReadStore;
  cleanup: () => Promise<void>;
  /** Another connection to the same store (another process's view), closed by the suite; the same store when absent. */
  another?: () => ReadStore;
}>;

export function readStoreContract(name: string, open: OpenReadStore): void {
  describe(`read store contract: ${name}`, () => {
    let store: ReadStore;
    let cleanup: () => Promise<void>;
    let another: (() => ReadStore) | undefined;
    let others: ReadStore[] = [];

    beforeEach(async () => {
      ({ store, cleanup, another } = await open());
    });

    afterEach(async () => {
      for (const other of others.splice(0)) await other.close();
      await store.close();
      await cleanup();
    });

    const otherConnection = () => {
      if (!another) return store;
      const other = another();
      others.push(other);
      return other;
    };

    const put = (collection: string, docs: Doc[], position = 1, projection = 'test') =>
      store.commit(projection, position, async (batch) => {
        for (const doc of docs) batch.upsert(collection, doc);
      });

    const ids = async (collection: string, filter: Filter, options?: FindOptions) =>
      (await store.find(collection, filter, options)).map((d) => d.id);

    describe('documents', () => {
      it('upserts, gets and replaces documents', async () => {
        await put('items', [{ id: 'a', name: 'alpha', nested: { k: 1 } }]);
        expect(await store.get('items', 'a')).toEqual({ id: 'a', name: 'alpha', nested: { k: 1 } });
        await put('items', [{ id: 'a', name: 'again' }], 2);
        expect(await store.get('items', 'a')).toEqual({ id: 'a', name: 'again' });
        expect(await store.get('items', 'missing')).toBeUndefined();
      });

      it('patches by dotted path, creating intermediate objects and removing fields set to undefined', async () => {
        await put('items', [{ id: 'a', name: 'alpha', keep: true, nested: { k: 1, drop: 'x' }, gone: 5 }]);
        await store.commit('test', 2, async (batch) => {
          batch.patch('items', 'a', { name: 'beta', 'nested.k': 2, 'nested.drop': undefined, gone: undefined });
          batch.patch('items', 'a', { 'deep.er.value': [1, 2], 'nested.list': { x: 1 } });
        });
        expect(await store.get('items', 'a')).toEqual({
          id: 'a',
          name: 'beta',
          keep: true,
          nested: { k: 2, list: { x: 1 } },
          deep: { er: { value: [1, 2] } },
        });
      });

      it('ignores a patch of a missing document and an unset of a missing path', async () => {
        await put('items', [{ id: 'a', n: 1 }]);
        await store.commit('test', 2, async (batch) => {
          batch.patch('items', 'missing', { n: 2 });
          batch.patch('items', 'a', { 'no.such.path': undefined, other: undefined });
        });
        expect(await store.get('items', 'missing')).toBeUndefined();
        expect(await store.get('items', 'a')).toEqual({ id: 'a', n: 1 });
      });

      it('deletes documents', async () => {
        await put('items', [
          { id: 'a', n: 1 },
          { id: 'b', n: 2 },
        ]);
        await store.commit('test', 2, async (batch) => {
          batch.delete('items', 'a');
          batch.delete('items', 'never-existed');
        });
        expect(await store.get('items', 'a')).toBeUndefined();
        expect(await ids('items', {})).toEqual(['b']);
      });

      it('does not share objects with the caller', async () => {
        const doc = { id: 'a', nested: { k: 1 } };
        await store.commit('test', 1, async (batch) => {
          batch.upsert('items', doc);
          doc.nested.k = 99; // after upsert: not stored
          const seen = await batch.get('items', 'a');
          seen!.nested = 'changed in the copy';
        });
        const got = await store.get('items', 'a');
        expect(got).toEqual({ id: 'a', nested: { k: 1 } });
        (got!.nested as { k: number }).k = 5;
        expect(await store.get('items', 'a')).toEqual({ id: 'a', nested: { k: 1 } });
      });

      it('treats an unknown collection as empty', async () => {
        expect(await store.get('nothing_here', 'a')).toBeUndefined();
        expect(await store.find('nothing_here', { x: 1 }, { sort: [['x', 1]] })).toEqual([]);
        expect(await store.count('nothing_here', {})).toBe(0);
        const scanned: Doc[] = [];
        for await (const doc of store.scan('nothing_here')) scanned.push(doc);
        expect(scanned).toEqual([]);
        await store.commit('test', 1, async (batch) => {
          expect(await batch.get('nothing_here', 'a')).toBeUndefined();
          batch.delete('nothing_here', 'a');
          batch.patch('nothing_here', 'a', { x: 1 });
        });
        expect(await store.count('nothing_here', {})).toBe(0);
      });
    });

    describe('write batches', () => {
      it('sees its own writes', async () => {
        await put('items', [
          { id: 'stored', n: 1, sub: { a: 1 } },
          { id: 'doomed', n: 2 },
        ]);
        await store.commit('test', 2, async (batch) => {
          batch.upsert('items', { id: 'new', n: 10 });
          expect(await batch.get('items', 'new')).toEqual({ id: 'new', n: 10 });

          batch.patch('items', 'new', { n: 11, 'sub.x': 'y' });
          expect(await batch.get('items', 'new')).toEqual({ id: 'new', n: 11, sub: { x: 'y' } });

          // patch before any read of a stored document, then read it
          batch.patch('items', 'stored', { 'sub.b': 2 });
          expect(await batch.get('items', 'stored')).toEqual({ id: 'stored', n: 1, sub: { a: 1, b: 2 } });
          batch.patch('items', 'stored', { n: 3 });
          expect(await batch.get('items', 'stored')).toEqual({ id: 'stored', n: 3, sub: { a: 1, b: 2 } });

          batch.delete('items', 'doomed');
          expect(await batch.get('items', 'doomed')).toBeUndefined();
          batch.patch('items', 'doomed', { n: 4 }); // no-op: deleted
          expect(await batch.get('items', 'doomed')).toBeUndefined();

          batch.upsert('items', { id: 'doomed', n: 5 });
          expect(await batch.get('items', 'doomed')).toEqual({ id: 'doomed', n: 5 });

          // nothing is visible outside the batch before commit
          expect(await store.get('items', 'new')).toBeUndefined();
          expect((await store.get('items', 'stored'))?.n).toBe(1);
        });
        expect(await store.find('items', {}, { sort: [['id', 1]] })).toEqual([
          { id: 'doomed', n: 5 },
          { id: 'new', n: 11, sub: { x: 'y' } },
          { id: 'stored', n: 3, sub: { a: 1, b: 2 } },
        ]);
      });

      it('applies patches of documents it has not read to the stored documents', async () => {
        await put('items', [{ id: 'a', counter: 1, tags: ['x'] }]);
        await store.commit('test', 2, async (batch) => {
          batch.patch('items', 'a', { counter: 2 });
          batch.patch('items', 'a', { 'meta.by': 'me' });
          batch.patch('items', 'b', { counter: 1 }); // missing: no-op
        });
        expect(await store.get('items', 'a')).toEqual({ id: 'a', counter: 2, tags: ['x'], meta: { by: 'me' } });
        expect(await store.get('items', 'b')).toBeUndefined();
      });

      it('commits a large batch', async () => {
        await store.commit('test', 7, async (batch) => {
          for (let i = 0; i < 5000; i++) batch.upsert('bulk', { id: `d${i}`, i, kind: i % 2 ? 'odd' : 'even' });
        });
        expect(await store.count('bulk', {})).toBe(5000);
        expect(await store.count('bulk', { kind: 'odd' })).toBe(2500);
        expect(await store.checkpoint('test')).toEqual({ position: 7, version: 0 });
      });
    });

    describe('checkpoints', () => {
      it('is undefined before the first commit, then follows commits', async () => {
        expect(await store.checkpoint('proj')).toBeUndefined();
        await store.commit('proj', 5, async () => {});
        expect(await store.checkpoint('proj')).toEqual({ position: 5, version: 0 });
        await put('items', [{ id: 'a' }], 9, 'proj');
        expect(await store.checkpoint('proj')).toEqual({ position: 9, version: 0 });
        expect(await store.checkpoint('other')).toBeUndefined();
      });

      it('changes neither documents nor checkpoint when the work fails', async () => {
        await put('items', [{ id: 'a', n: 1 }], 3, 'proj');
        const failure = new Error('projection bug');
        await expect(
          store.commit('proj', 4, async (batch) => {
            batch.upsert('items', { id: 'b', n: 2 });
            batch.patch('items', 'a', { n: 5 });
            batch.delete('items', 'a');
            batch.upsert('fresh_collection', { id: 'x' });
            throw failure;
          }),
        ).rejects.toBe(failure);
        expect(await store.checkpoint('proj')).toEqual({ position: 3, version: 0 });
        expect(await store.find('items', {})).toEqual([{ id: 'a', n: 1 }]);
        expect(await store.count('fresh_collection', {})).toBe(0);
      });

      it('reset drops the collections and records the version at position 0', async () => {
        await put('items', [{ id: 'a' }, { id: 'b' }], 3, 'proj');
        await put('kept', [{ id: 'k' }], 4, 'other');
        await store.reset('proj', ['items', 'never_written'], 2);
        expect(await store.checkpoint('proj')).toEqual({ position: 0, version: 2 });
        expect(await store.count('items', {})).toBe(0);
        expect(await store.get('items', 'a')).toBeUndefined();
        expect(await store.get('kept', 'k')).toEqual({ id: 'k' });
        expect(await store.checkpoint('other')).toEqual({ position: 4, version: 0 });

        await put('items', [{ id: 'c' }], 1, 'proj');
        expect(await ids('items', {})).toEqual(['c']);
        expect(await store.checkpoint('proj')).toEqual({ position: 1, version: 2 });
      });

      it('reset of a projection never committed creates its checkpoint', async () => {
        await store.reset('brand_new', [], 7);
        expect(await store.checkpoint('brand_new')).toEqual({ position: 0, version: 7 });
      });
    });

    describe('filters', () => {
      const things: Doc[] = [
        {
          id: 'a',
          name: 'alpha',
          n: 1,
          s: '10',
          active: true,
          tags: ['x', 'y'],
          labels: ['red'],
          nested: { k: 'v1', deep: { z: 1 } },
          maybe: null,
          created: 100,
        },
        { id: 'b', name: 'Beta', n: 2, s: '9', active: false, tags: ['y'], labels: [], nested: { k: 'v2' }, created: 200 },
        { id: 'c', name: 'gamma', n: 10, active: true, tags: [], labels: ['blue', 'red'], nested: { k: 'v1' }, maybe: 'here', created: 300 },
        { id: 'd', name: 'delta', n: '5', flag: 1, tags: 'x', labels: 'green', created: 400, list: [null, 3] },
        { id: 'e', name: 'alphabet', n: 2.5, active: false, flag: true, maybe: 0, created: 500, list: ['[1]', 0] },
      ];

      const cases: Array<[string, Filter, string[]]> = [
        ['empty filter', {}, ['a', 'b', 'c', 'd', 'e']],
        ['string equality', { name: 'alpha' }, ['a']],
        ['$eq', { name: { $eq: 'gamma' } }, ['c']],
        ['number equality', { n: 10 }, ['c']],
        ['integer equals float', { n: 2.5 }, ['e']],
        ['number does not equal string', { n: 5 }, []],
        ['string does not equal number', { n: '10' }, []],
        ['string equality on numeric-looking string', { s: '10' }, ['a']],
        ['boolean true', { active: true }, ['a', 'c']],
        ['boolean false', { active: false }, ['b', 'e']],
        ['number 1 does not match true', { flag: 1 }, ['d']],
        ['true does not match number 1', { flag: true }, ['e']],
        ['number 0 does not match false', { active: 0 }, []],
        ['null matches missing and null', { maybe: null }, ['a', 'b', 'd']],
        ['null does not match 0', { maybe: { $eq: null } }, ['a', 'b', 'd']],
        ['$ne null means present and not null', { maybe: { $ne: null } }, ['c', 'e']],
        ['$ne matches missing fields', { flag: { $ne: 1 } }, ['a', 'b', 'c', 'e']],
        ['$ne string', { name: { $ne: 'alpha' } }, ['b', 'c', 'd', 'e']],
        ['$ne boolean', { active: { $ne: true } }, ['b', 'd', 'e']],
        ['$in mixed types', { n: { $in: [1, 10, '5'] } }, ['a', 'c', 'd']],
        ['$in with null', { maybe: { $in: [null, 'here'] } }, ['a', 'b', 'c', 'd']],
        ['$in booleans', { flag: { $in: [true] } }, ['e']],
        ['$in number 1 vs boolean', { flag: { $in: [1, 'x'] } }, ['d']],
        ['$in empty', { name: { $in: [] } }, []],
        ['$nin matches missing fields', { flag: { $nin: [1] } }, ['a', 'b', 'c', 'e']],
        ['$nin numbers', { n: { $nin: [1, 2] } }, ['c', 'd', 'e']],
        ['$nin with null', { maybe: { $nin: [null] } }, ['c', 'e']],
        ['$nin empty', { name: { $nin: [] } }, ['a', 'b', 'c', 'd', 'e']],
        ['$gt number ignores strings', { n: { $gt: 1 } }, ['b', 'c', 'e']],
        ['$gte number', { n: { $gte: 2 } }, ['b', 'c', 'e']],
        ['$lt number ignores booleans and strings', { n: { $lt: 3 } }, ['a', 'b', 'e']],
        ['$lte number', { flag: { $lte: 1 } }, ['d']],
        ['range on booleans does not match', { active: { $gte: 0 } }, []],
        ['$gt string ignores numbers', { s: { $gt: '0' } }, ['a', 'b']],
        ['string ranges are byte order', { name: { $gte: 'b', $lt: 'e' } }, ['d']],
        ['uppercase sorts before lowercase', { name: { $lt: 'a' } }, ['b']],
        ['$lt string ignores numbers', { n: { $lt: 'zzz' } }, ['d']],
        ['range with both bounds', { created: { $gt: 100, $lte: 400 } }, ['b', 'c', 'd']],
        ['$exists true includes null', { maybe: { $exists: true } }, ['a', 'c', 'e']],
        ['$exists false', { maybe: { $exists: false } }, ['b', 'd']],
        ['nested equality', { 'nested.k': 'v1' }, ['a', 'c']],
        ['deeply nested', { 'nested.deep.z': 1 }, ['a']],
        ['nested $exists', { 'nested.deep': { $exists: true } }, ['a']],
        ['nested $ne', { 'nested.k': { $ne: 'v1' } }, ['b', 'd', 'e']],
        ['nested null', { 'nested.k': null }, ['d', 'e']],
        ['object field does not equal a scalar', { nested: 'v1' }, []],
        ['$regex prefix', { name: { $regex: '^alpha' } }, ['a', 'e']],
        ['$regex contains', { name: { $regex: 'et' } }, ['b', 'e']],
        ['$regex is case-sensitive', { name: { $regex: '^b' } }, []],
        ['$regex case-insensitive', { name: { $regex: '^b', $options: 'i' } }, ['b']],
        ['$regex anchored both ends', { name: { $regex: '^[a-d]e?l[a-z]+a$' } }, ['a', 'd']],
        ['$regex prefix with quantifier', { name: { $regex: '^alphab?e' } }, ['e']],
        ['$regex only matches strings', { n: { $regex: '^[0-9.]+$' } }, ['d']],
        ['$regex with other operators', { name: { $regex: 'a$', $ne: 'alpha' } }, ['b', 'c', 'd']],
        ['implicit AND', { active: false, n: { $gt: 2 } }, ['e']],
        ['$or', { $or: [{ name: 'alpha' }, { n: { $gte: 10 } }] }, ['a', 'c']],
        ['$and', { $and: [{ created: { $gt: 100 } }, { created: { $lt: 500 } }] }, ['b', 'c', 'd']],
        [
          'nested $and/$or',
          { $and: [{ active: true }, { $or: [{ 'nested.k': 'v1' }, { maybe: 'here' }] }], created: { $gte: 300 } },
          ['c'],
        ],
        ['$or with implicit AND inside', { $or: [{ active: false, n: 2 }, { flag: 1 }] }, ['b', 'd']],
        ['id equality', { id: 'c' }, ['c']],
        ['id $in', { id: { $in: ['a', 'e', 'zz'] } }, ['a', 'e']],
        ['id range', { id: { $gt: 'b', $lte: 'd' } }, ['c', 'd']],
        ['id $ne', { id: { $ne: 'a' } }, ['b', 'c', 'd', 'e']],
        ['id $regex', { id: { $regex: '^[ab]' } }, ['a', 'b']],
        ['id is never a number', { id: { $in: [1] } }, []],
      ];

      // Array fields: equality, $in, ranges and $regex match an element.
      const arrayCases: Array<[string, Filter, string[]]> = [
        ['element equality', { tags: 'y' }, ['a', 'b']],
        ['element equality or scalar', { tags: 'x' }, ['a', 'd']],
        ['element $in', { tags: { $in: ['x', 'nope'] } }, ['a', 'd']],
        ['element $ne', { tags: { $ne: 'y' } }, ['c', 'd', 'e']],
        ['element $nin', { tags: { $nin: ['x', 'y'] } }, ['c', 'e']],
        ['element $regex', { tags: { $regex: '^x' } }, ['a', 'd']],
        ['element equality, several', { labels: 'red' }, ['a', 'c']],
        ['element $in, several', { labels: { $in: ['blue', 'green'] } }, ['c', 'd']],
        ['element $gt', { labels: { $gt: 'm' } }, ['a', 'c']],
        ['empty array is not null', { labels: null }, ['e']],
        ['element null', { list: null }, ['a', 'b', 'c', 'd']],
        ['element number', { list: 3 }, ['d']],
        ['element 0 is not false', { list: false }, []],
        ['element 0', { list: 0 }, ['e']],
        ['element string that looks like JSON', { list: '[1]' }, ['e']],
        ['element $lt', { list: { $lt: 1 } }, ['e']],
      ];

      const modes: Array<[string, (store: ReadStore) => Promise<void>]> = [
        ['no indexes', async () => {}],
        [
          'scalar fields indexed',
          async (s) => {
            await s.ensureIndex('things', { fields: [['name', 1]] });
            await s.ensureIndex('things', { fields: [['n', 1], ['s', -1]] });
            await s.ensureIndex('things', { fields: [['active', 1], ['created', -1]] });
            await s.ensureIndex('things', { fields: [['flag', 1]] });
            await s.ensureIndex('things', { fields: [['maybe', 1]] });
            await s.ensureIndex('things', { fields: [['nested.k', 1]] });
            await s.ensureIndex('things', { fields: [['nested.deep.z', -1]] });
          },
        ],
        [
          'array fields declared multiValued',
          async (s) => {
            await s.ensureIndex('things', { fields: [['tags', 1]], multiValued: true });
            await s.ensureIndex('things', { fields: [['labels', 1]], multiValued: true });
            await s.ensureIndex('things', { fields: [['list', 1]], multiValued: true });
          },
        ],
      ];

      for (const [mode, prepare] of modes) {
        describe(mode, () => {
          beforeEach(async () => {
            await prepare(store);
            await put('things', things);
          });

          const all = mode === 'scalar fields indexed' ? cases : [...cases, ...arrayCases];
          it.each(all)('%s', async (_label, filter, expected) => {
            expect(await ids('things', filter, { sort: [['id', 1]] })).toEqual(expected);
            expect(await store.count('things', filter)).toBe(expected.length);
          });
        });
      }

      it('rejects unknown operators', async () => {
        await put('things', things);
        await expect(store.find('things', { n: { $foo: 1 } } as unknown as Filter)).rejects.toThrow();
        await expect(store.find('things', { $nor: [{ n: 1 }] } as unknown as Filter)).rejects.toThrow();
      });
    });

    describe('sort, skip, limit', () => {
      const docs: Doc[] = [
        { id: 'a', active: true, created: 100, group: { k: 'v1' } },
        { id: 'b', active: false, created: 300, group: { k: 'v2' } },
        { id: 'c', active: true, created: 300, group: { k: 'v1' } },
        { id: 'd', created: 200 },
        { id: 'e', active: false, created: 500 },
      ];

      beforeEach(async () => {
        await put('sorted', docs);
      });

      it('sorts by id when no sort is given', async () => {
        expect(await ids('sorted', {})).toEqual(['a', 'b', 'c', 'd', 'e']);
      });

      it('sorts ascending and descending, ties by id ascending', async () => {
        expect(await ids('sorted', {}, { sort: [['created', 1]] })).toEqual(['a', 'd', 'b', 'c', 'e']);
        expect(await ids('sorted', {}, { sort: [['created', -1]] })).toEqual(['e', 'b', 'c', 'd', 'a']);
      });

      it('sorts missing fields first ascending and last descending', async () => {
        expect(await ids('sorted', {}, { sort: [['group.k', 1]] })).toEqual(['d', 'e', 'a', 'c', 'b']);
        expect(await ids('sorted', {}, { sort: [['group.k', -1]] })).toEqual(['b', 'a', 'c', 'd', 'e']);
      });

      it('sorts by several keys', async () => {
        expect(await ids('sorted', {}, { sort: [['active', -1], ['created', 1]] })).toEqual(['a', 'c', 'b', 'e', 'd']);
        expect(await ids('sorted', {}, { sort: [['created', -1], ['id', -1]] })).toEqual(['e', 'c', 'b', 'd', 'a']);
      });

      it('skips and limits after sorting and filtering', async () => {
        expect(await ids('sorted', {}, { sort: [['created', 1]], skip: 1, limit: 2 })).toEqual(['d', 'b']);
        expect(await ids('sorted', {}, { sort: [['created', 1]], skip: 3 })).toEqual(['c', 'e']);
        expect(await ids('sorted', {}, { sort: [['created', 1]], limit: 1 })).toEqual(['a']);
        expect(await ids('sorted', { created: { $gte: 300 } }, { sort: [['created', -1]], limit: 2 })).toEqual(['e', 'b']);
        expect(await ids('sorted', {}, { skip: 10 })).toEqual([]);
      });

      it('treats limit 0 as no limit, as MongoDB does', async () => {
        expect(await ids('sorted', {}, { limit: 0 })).toEqual(['a', 'b', 'c', 'd', 'e']);
      });

      it('counts with a filter', async () => {
        expect(await store.count('sorted', {})).toBe(5);
        expect(await store.count('sorted', { created: 300 })).toBe(2);
        expect(await store.count('sorted', { active: { $exists: false } })).toBe(1);
      });

      it('uses indexes without changing results', async () => {
        await store.ensureIndex('sorted', { fields: [['active', 1], ['created', -1]] });
        await store.ensureIndex('sorted', { fields: [['created', 1]] });
        expect(await ids('sorted', {}, { sort: [['active', -1], ['created', 1]] })).toEqual(['a', 'c', 'b', 'e', 'd']);
        expect(await ids('sorted', { active: true }, { sort: [['created', -1]] })).toEqual(['c', 'a']);
        expect(await ids('sorted', { created: { $gte: 200 } }, { sort: [['created', -1]], limit: 3 })).toEqual([
          'e',
          'b',
          'c',
        ]);
      });
    });

    describe('indexes', () => {
      it('ensureIndex is idempotent and may precede any document', async () => {
        const spec = { fields: [['action', 1], ['time', -1]] as Array<[string, 1 | -1]> };
        await store.ensureIndex('audit', spec);
        await store.ensureIndex('audit', spec);
        await store.ensureIndex('audit', { fields: [['tags', 1]], multiValued: true });
        await store.ensureIndex('audit', { fields: [['tags', 1]], multiValued: true });
        expect(await store.count('audit', {})).toBe(0);
        await put('audit', [
          { id: '1', action: 'login', time: 10, tags: ['a'] },
          { id: '2', action: 'login', time: 20, tags: ['b'] },
          { id: '3', action: 'logout', time: 30, tags: ['a', 'b'] },
        ]);
        expect(await ids('audit', { action: 'login', time: { $gte: 10, $lt: 30 } }, { sort: [['time', -1]] })).toEqual([
          '2',
          '1',
        ]);
        expect(await ids('audit', { tags: 'a' })).toEqual(['1', '3']);
      });

      it('keeps working after reset', async () => {
        await store.ensureIndex('audit', { fields: [['action', 1], ['time', -1]] });
        await put('audit', [{ id: '1', action: 'login', time: 10 }], 1, 'audit');
        await store.reset('audit', ['audit'], 2);
        await put('audit', [{ id: '2', action: 'login', time: 20 }], 1, 'audit');
        expect(await ids('audit', { action: 'login' }, { sort: [['time', -1]] })).toEqual(['2']);
      });
    });

    describe('leases', () => {
      it('of contenders at the same moment exactly one wins, and all see the same holder', async () => {
        const stores = [store, otherConnection()];
        const contenders = Array.from({ length: 12 }, (_, i) => `worker-${i}`);
        const results = await Promise.all(contenders.map((holder, i) => stores[i % 2]!.acquireLease('projection:audit', holder, 1_000, 31_000)));
        const winners = results.filter((lease, i) => lease.holder === contenders[i]);
        expect(winners).toHaveLength(1);
        for (const lease of results) expect(lease).toMatchObject({ name: 'projection:audit', holder: winners[0]!.holder, expiresAt: 31_000 });
        expect(await stores[1]!.lease('projection:audit')).toEqual(winners[0]);
        expect(await store.lease('never-taken')).toBeUndefined();
      });

      it('is taken over once its time has passed, not before', async () => {
        const other = otherConnection();
        expect((await store.acquireLease('l', 'a', 0, 1_000)).holder).toBe('a');
        expect(await other.acquireLease('l', 'b', 999, 2_000)).toMatchObject({ holder: 'a', expiresAt: 1_000 });
        const taken = await other.acquireLease('l', 'b', 1_000, 2_000);
        expect(taken).toMatchObject({ holder: 'b', expiresAt: 2_000 });
        // The old holder cannot renew a lease it has lost.
        expect(await store.acquireLease('l', 'a', 1_001, 3_000)).toMatchObject({ holder: 'b', expiresAt: 2_000 });
      });

      it('is renewed by its holder only, and each change moves its version', async () => {
        const other = otherConnection();
        const first = await store.acquireLease('l', 'a', 0, 1_000);
        const renewed = await store.acquireLease('l', 'a', 500, 2_000);
        expect(renewed).toMatchObject({ holder: 'a', expiresAt: 2_000 });
        expect(renewed.version).toBeGreaterThan(first.version);
        // Past the first term but within the renewed one: still a's.
        expect(await other.acquireLease('l', 'b', 1_500, 3_000)).toEqual(renewed);
        expect((await other.acquireLease('l', 'b', 2_000, 3_000)).holder).toBe('b');
      });

      it('released by its holder is free at once; a release by anyone else changes nothing', async () => {
        const other = otherConnection();
        await store.acquireLease('l', 'a', 0, 10_000);
        await other.releaseLease('l', 'b');
        expect((await other.acquireLease('l', 'b', 1, 10_000)).holder).toBe('a');
        await store.releaseLease('l', 'a');
        expect(await other.lease('l')).toMatchObject({ holder: '' });
        expect((await other.acquireLease('l', 'b', 1, 10_000)).holder).toBe('b');
      });

      it('many rounds of contention never give one version two holders', async () => {
        const stores = [store, otherConnection()];
        let now = 0;
        for (let round = 0; round < 15; round++) {
          now += 1_000;
          const results = await Promise.all(['a', 'b', 'c'].map((holder, i) => stores[i % 2]!.acquireLease('l', holder, now, now + 1_000)));
          const winners = results.filter((lease, i) => lease.holder === ['a', 'b', 'c'][i]);
          expect(winners).toHaveLength(1);
          expect(await store.lease('l')).toEqual(winners[0]);
        }
      });
    });

    describe('scan', () => {
      it('iterates in id order across batch boundaries', async () => {
        const idsInOrder = Array.from({ length: 23 }, (_, i) => `k${String(i).padStart(2, '0')}`);
        const extra = ['B', 'a', 'k', 'k100', 'Z'];
        const shuffled = [...idsInOrder, ...extra].sort(() => Math.random() - 0.5);
        await put(
          'scanned',
          shuffled.map((id) => ({ id, v: id.length })),
        );
        const expected = [...idsInOrder, ...extra].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
        for (const batchSize of [1, 7, 23, 28, 1000]) {
          const seen: string[] = [];
          for await (const doc of store.scan('scanned', batchSize)) seen.push(doc.id);
          expect(seen).toEqual(expected);
        }
        const docs: Doc[] = [];
        for await (const doc of store.scan('scanned')) docs.push(doc);
        expect(docs[0]).toEqual({ id: 'B', v: 1 });
      });
    });
  });
}
