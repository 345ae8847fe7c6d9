// The read-store contract against a real MongoDB-wire server (FerretDB in `npm run
// test:services`, or any MongoDB): STRATUS_TEST_MONGODB=mongodb://host:port/. Each test
// gets a database of its own, dropped afterwards. Skipped when the variable is absent.

import { MongoClient } from 'mongodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openMongoReadStore } from '../../adapters/readstore/mongodb.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { readStoreContract } from '../contract/read-store.contract.js';

const url = process.env.STRATUS_TEST_MONGODB;

const freshDatabase = () => `stratus_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;

async function dropDatabase(database: string): Promise<void> {
  const client = new MongoClient(url!);
  try {
    await client.db(database).dropDatabase();
  } finally {
    await client.close();
  }
}

describe.skipIf(!url)('mongodb read store (STRATUS_TEST_MONGODB)', () => {
  readStoreContract('mongodb', async () => {
    const database = freshDatabase();
    const store = openMongoReadStore({ url: url!, database });
    return { store, cleanup: () => dropDatabase(database), another: () => openMongoReadStore({ url: url!, database }) };
  });

  describe('idempotent projection writes', () => {
    let database: string;
    let store: ReadStore;

    beforeEach(() => {
      database = freshDatabase();
      store = openMongoReadStore({ url: url!, database });
    });

    afterEach(async () => {
      await store.close();
      await dropDatabase(database);
    });

    // What a projection does with an event: read, change, write back (a counter here), so
    // that applying a batch twice would count twice without the position guard.
    const countBatch = (position: number, ids: string[]) =>
      store.commit('counter', position, async (batch) => {
        for (const id of ids) {
          const doc = await batch.get('counts', id);
          batch.upsert('counts', { id, n: ((doc?.n as number | undefined) ?? 0) + 1 });
          batch.patch('counts', id, { last: position });
        }
      });

    it('a batch replayed after its documents were written (crash before the checkpoint) changes nothing', async () => {
      await countBatch(10, ['a', 'b']);
      await countBatch(11, ['a', 'c']);
      const before = await store.find('counts', {});
      // The runner replays from the checkpoint: here the last batch, as after a crash
      // between its documents and its checkpoint.
      await countBatch(11, ['a', 'c']);
      // A document the batch wrote is not deleted by a replayed delete either.
      await store.commit('counter', 11, async (batch) => batch.delete('counts', 'a'));
      expect(await store.find('counts', {})).toEqual(before);
      expect(before).toEqual([
        { id: 'a', n: 2, last: 11 },
        { id: 'b', n: 1, last: 10 },
        { id: 'c', n: 1, last: 11 },
      ]);
      await countBatch(12, ['b']);
      expect(await store.get('counts', 'b')).toEqual({ id: 'b', n: 2, last: 12 });
      expect(await store.checkpoint('counter')).toEqual({ position: 12, version: 0 });
    });

    it('applies the rest of a partly applied batch on replay', async () => {
      await countBatch(10, ['a', 'b']);
      // A crash left 'a' written at 11 but not 'b' nor the checkpoint.
      await store.commit('other', 11, async (batch) => batch.patch('counts', 'a', { n: 2, last: 11 }));
      await countBatch(11, ['a', 'b']);
      expect(await store.find('counts', {})).toEqual([
        { id: 'a', n: 2, last: 11 },
        { id: 'b', n: 2, last: 11 },
      ]);
    });

    it('writes at position 0 are not positioned: they always apply', async () => {
      await countBatch(10, ['a']);
      await store.commit('bookkeeping', 0, async (batch) => batch.patch('counts', 'a', { done: true }));
      expect(await store.get('counts', 'a')).toEqual({ id: 'a', n: 1, last: 10, done: true });
      await countBatch(11, ['a']);
      expect(await store.get('counts', 'a')).toEqual({ id: 'a', n: 2, last: 11 });
    });
  });
});

describe.skipIf(url)('mongodb read store', () => {
  it.skip('needs STRATUS_TEST_MONGODB (run `npm run test:services`)', () => {});
});
