// The event-store contract against a real KurrentDB/EventStoreDB server:
// STRATUS_TEST_KURRENTDB=kurrentdb://host:2113?tls=false. None can be installed on the
// machine this was written on (no Docker engine, no package in these registries), so
// `npm run test:services` skips it unless the variable is set. Streams are prefixed per
// test by the suite, so a shared server needs no wiping.

import { describe, it } from 'vitest';
import { openKurrentEventStore } from '../../adapters/eventstore/kurrentdb.js';
import { eventStoreContract } from '../contract/event-store.contract.js';

const url = process.env.STRATUS_TEST_KURRENTDB;

describe.skipIf(!url)('kurrentdb event store (STRATUS_TEST_KURRENTDB)', () => {
  eventStoreContract('kurrentdb', async () => {
    let store = openKurrentEventStore({ url: url! });
    return {
      store,
      async reopen() {
        await store.close();
        store = openKurrentEventStore({ url: url! });
        return store;
      },
      cleanup: async () => {},
    };
  });
});

describe.skipIf(url)('kurrentdb event store', () => {
  it.skip('needs STRATUS_TEST_KURRENTDB=kurrentdb://host:2113?tls=false (no server on this machine)', () => {});
});
