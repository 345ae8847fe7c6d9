// A checkpointed subscription to $all (DESIGN.md §3, process managers; §6, the effect
// outbox): start from the checkpoint stored in the read store under `checkpoint`, hand each
// batch to `onEvents`, and let callers wait until a position has been handled. Storing the
// checkpoint is `onEvents`'s business, because what must be committed with it differs (the
// effect dispatcher commits its outbox documents in the same commit; the integration-event
// publisher commits after the bus accepted the batch): the subscriber only moves its
// in-memory position once `onEvents` resolved.
import type { EventStore, RecordedEvent, Subscription } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';

export interface CheckpointedSubscriber {
  /** Reads the stored checkpoint, subscribes after it, and resolves with it. */
  start(): Promise<number>;
  /** Stops delivery (a batch under way finishes); waiters get false. */
  stop(): Promise<void>;
  /** Whether `stop` was called since the last `start` (loops that retry check it). */
  stopped(): boolean;
  /** The position of the last batch handled. */
  position(): number;
  /** Resolves true once every event up to `target` has been handled, false after `timeoutMs` or on stop. */
  waitForPosition(target: number, timeoutMs: number): Promise<boolean>;
}

export function createCheckpointedSubscriber(deps: {
  eventStore: EventStore;
  readStore: ReadStore;
  /** The checkpoint's name in the read store. */
  checkpoint: string;
  /** Handles a batch (and stores the checkpoint as it sees fit). */
  onEvents(events: RecordedEvent[]): Promise<void>;
  /** What this subscriber is, for the log line when delivery stops on an error. */
  name: string;
  log: { error(details: object, message: string): void };
  batchSize?: number;
}): CheckpointedSubscriber {
  let subscription: Subscription | undefined;
  let stopped = false;
  let position = 0;
  let waiters: Array<{ position: number; resolve: (reached: boolean) => void }> = [];

  function notify() {
    if (waiters.length === 0) return;
    waiters = waiters.filter((waiter) => {
      if (position < waiter.position) return true;
      waiter.resolve(true);
      return false;
    });
  }

  return {
    async start() {
      stopped = false;
      position = (await deps.readStore.checkpoint(deps.checkpoint))?.position ?? 0;
      const from = position;
      subscription = deps.eventStore.subscribeToAll({
        after: from,
        batchSize: deps.batchSize ?? 1000,
        onEvents: async (events) => {
          await deps.onEvents(events);
          // A batch cut short by a stop (a publish abandoned) is not handled.
          if (stopped) return;
          position = events[events.length - 1]!.position;
          notify();
        },
        onError: (error) => deps.log.error({ err: error }, `${deps.name} stopped on an error`),
      });
      return from;
    },

    async stop() {
      stopped = true;
      await subscription?.stop();
      subscription = undefined;
      for (const waiter of waiters) waiter.resolve(false);
      waiters = [];
    },

    stopped: () => stopped,
    position: () => position,

    waitForPosition(target, timeoutMs) {
      if (position >= target) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const waiter = { position: target, resolve };
        waiters.push(waiter);
        setTimeout(() => {
          waiters = waiters.filter((entry) => entry !== waiter);
          resolve(position >= target);
        }, timeoutMs).unref();
      });
    },
  };
}
