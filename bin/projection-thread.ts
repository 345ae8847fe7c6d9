// The projection thread of the embedded shape (entry of a worker_threads Worker started by
// projection-thread-runner.ts). Applying the projections — decoding events, building the
// documents, committing them with their checkpoints — is a third of the main thread's work
// under load; here it runs on another core, as `stratus project` does in the scale-out shape.
//
// It opens its own connections to the two SQLite files. The main thread tells it of every
// commit of the event store (so it wakes at once instead of at the next poll) and it posts
// back where the projections stand after each batch (the main thread answers `?after=` and
// `Prefer: wait` from that). The main thread writes other collections of the read store
// (outbox, process managers' checkpoints): SQLite serializes the two writers.
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteEventStore } from '../adapters/eventstore/sqlite.js';
import { openSqliteReadStore } from '../adapters/readstore/sqlite.js';
import { allProjections } from '../projections/index.js';
import { createProjectionRunner } from '../projections/shared/runner.js';

export interface ProjectionThreadData {
  eventStoreFile: string;
  readStoreFile: string;
}

export type ToProjectionThread = { kind: 'committed' } | { kind: 'stop' };

export type FromProjectionThread =
  | { kind: 'ready'; positions: Array<[string, number]> }
  | { kind: 'positions'; positions: Array<[string, number]> }
  | { kind: 'log'; level: 'info' | 'error'; details: Record<string, unknown>; message: string }
  | { kind: 'stopped' };

const port = parentPort!;
const data = workerData as ProjectionThreadData;
const post = (message: FromProjectionThread) => port.postMessage(message);

/** Errors travel as plain objects: a structured clone keeps little more than their message. */
function cloneable(details: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) {
    out[key] = value instanceof Error ? { name: value.name, message: value.message, stack: value.stack, code: (value as { code?: unknown }).code } : value;
  }
  return out;
}

const log = {
  info: (details: object, message: string) => post({ kind: 'log', level: 'info', details: cloneable(details), message }),
  error: (details: object, message: string) => post({ kind: 'log', level: 'error', details: cloneable(details), message }),
};

let wakeSubscriptions: () => void = () => undefined;
const eventStore = openSqliteEventStore({ file: data.eventStoreFile, tailEvents: 0, wakeOnCommits: (wake) => { wakeSubscriptions = wake; } });
const readStore = openSqliteReadStore({ file: data.readStoreFile });
const runner = createProjectionRunner({
  eventStore,
  readStore,
  projections: allProjections,
  log,
  onApplied: (positions) => post({ kind: 'positions', positions: [...positions] }),
});

port.on('message', (message: ToProjectionThread) => {
  if (message.kind === 'committed') wakeSubscriptions();
  else if (message.kind === 'stop') {
    void (async () => {
      await runner.stop();
      await eventStore.close();
      await readStore.close();
      post({ kind: 'stopped' });
      port.close();
    })();
  }
});

await runner.start();
post({ kind: 'ready', positions: [...runner.positions()] });
