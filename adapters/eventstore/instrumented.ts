import type { EventStore } from './port.js';

/** The same store, reporting how many events each successful append wrote. */
export function instrumentEventStore(store: EventStore, onAppended: (count: number) => void): EventStore {
  return {
    ...store,
    append: async (stream, events, expected) => {
      const result = await store.append(stream, events, expected);
      onAppended(result.events.length);
      return result;
    },
    readStream: (stream, options) => store.readStream(stream, options),
    readAll: (options) => store.readAll(options),
    headPosition: () => store.headPosition(),
    subscribeToAll: (options) => store.subscribeToAll(options),
    close: () => store.close(),
  };
}
