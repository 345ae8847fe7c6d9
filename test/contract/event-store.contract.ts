// The event-store contract (DESIGN.md §3): every adapter — SQLite now, KurrentDB later —
// runs this suite unchanged. Nothing here may depend on how an adapter stores events.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  WrongExpectedVersionError,
  type EventStore,
  type RecordedEvent,
  type Subscription,
} from '../../adapters/eventstore/port.js';

export interface EventStoreFixture {
  store: EventStore;
  /** Closes the store and opens it again on the same data: a process restart. */
  reopen(): Promise<EventStore>;
  cleanup(): Promise<void>;
}

export type OpenEventStore = () => Promise<EventStoreFixture>;

/** Resolves once `condition` holds; re-checked after each delivery, never on a timer. */
function deliveries() {
  let waiters: Array<() => void> = [];
  return {
    notify() {
      const current = waiters;
      waiters = [];
      for (const wake of current) wake();
    },
    async until(condition: () => boolean): Promise<void> {
      while (!condition()) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

const event = (type: string, data: unknown = {}) => ({ type, data });

export function eventStoreContract(name: string, open: OpenEventStore): void {
  describe(`event store contract: ${name}`, () => {
    let fixture: EventStoreFixture;
    let store: EventStore;
    // Streams are prefixed per test so that a shared server (KurrentDB) needs no wiping.
    let prefix: string;
    let counter = 0;

    beforeEach(async () => {
      fixture = await open();
      store = fixture.store;
      prefix = `t${Date.now().toString(36)}${(counter++).toString(36)}`;
    });

    afterEach(async () => {
      await store.close();
      await fixture.cleanup();
    });

    const s = (stream: string) => `${prefix}-${stream}`;

    describe('append and read', () => {
      it('gives stream versions from 0 and increasing global positions', async () => {
        const head = await store.headPosition();
        const first = await store.append(s('a'), [event('Created', { n: 1 }), event('Renamed', { n: 2 })], 'no_stream');
        expect(first.version).toBe(1);
        expect(first.events.map((e) => e.version)).toEqual([0, 1]);
        expect(first.events[1]!.position).toBeGreaterThan(first.events[0]!.position);
        expect(first.events[0]!.position).toBeGreaterThan(head);
        expect(first.position).toBe(first.events[1]!.position);

        const read = await store.readStream(s('a'));
        expect(read.map((e) => [e.type, e.data, e.version, e.stream])).toEqual([
          ['Created', { n: 1 }, 0, s('a')],
          ['Renamed', { n: 2 }, 1, s('a')],
        ]);
        expect(read.map((e) => e.position)).toEqual(first.events.map((e) => e.position));
        expect(await store.headPosition()).toBe(first.position);
      });

      it('keeps the envelope: id, metadata and the time of recording', async () => {
        const id = crypto.randomUUID();
        const metadata = { correlationId: 'c-1', actor: { kind: 'user' as const, id: 'u1', name: 'alice' }, schemaVersion: 1 };
        await store.append(s('env'), [{ id, type: 'Happened', data: { ok: true }, metadata }], 'any');
        const [recorded] = await store.readStream(s('env'));
        expect(recorded!.id).toBe(id);
        expect(recorded!.metadata).toMatchObject(metadata);
        expect(typeof recorded!.recordedAt).toBe('number');
        expect(recorded!.recordedAt).toBeGreaterThan(0);
      });

      it('reads a stream from a version, with a limit, and an absent stream as empty', async () => {
        await store.append(s('r'), [0, 1, 2, 3, 4].map((n) => event('N', { n })), 'no_stream');
        expect((await store.readStream(s('r'), { fromVersion: 2 })).map((e) => e.data)).toEqual([{ n: 2 }, { n: 3 }, { n: 4 }]);
        expect((await store.readStream(s('r'), { fromVersion: 1, limit: 2 })).map((e) => e.version)).toEqual([1, 2]);
        expect(await store.readStream(s('absent'))).toEqual([]);
      });

      it('reads all streams in global order, in batches, after a position', async () => {
        const start = await store.headPosition();
        await store.append(s('x'), [event('X1')], 'no_stream');
        await store.append(s('y'), [event('Y1')], 'no_stream');
        await store.append(s('x'), [event('X2')], 0);
        const all = await readAllFrom(store, start, 2);
        const mine = all.filter((e) => e.stream.startsWith(prefix));
        expect(mine.map((e) => e.type)).toEqual(['X1', 'Y1', 'X2']);
        expect(isStrictlyIncreasing(all.map((e) => e.position))).toBe(true);
        const afterFirst = await store.readAll({ after: mine[0]!.position, limit: 10 });
        expect(afterFirst.filter((e) => e.stream.startsWith(prefix)).map((e) => e.type)).toEqual(['Y1', 'X2']);
      });
    });

    describe('expected version', () => {
      it('no_stream refuses an existing stream and writes nothing', async () => {
        await store.append(s('e'), [event('A')], 'no_stream');
        const error = await store.append(s('e'), [event('B')], 'no_stream').catch((e: unknown) => e);
        expect(error).toBeInstanceOf(WrongExpectedVersionError);
        expect(error).toMatchObject({ stream: s('e'), expected: 'no_stream', actual: 0 });
        expect((await store.readStream(s('e'))).map((e) => e.type)).toEqual(['A']);
      });

      it('stream_exists refuses a missing stream', async () => {
        const error = await store.append(s('missing'), [event('A')], 'stream_exists').catch((e: unknown) => e);
        expect(error).toMatchObject({ expected: 'stream_exists', actual: -1 });
        expect(error).toBeInstanceOf(WrongExpectedVersionError);
        await store.append(s('present'), [event('A')], 'any');
        await expect(store.append(s('present'), [event('B')], 'stream_exists')).resolves.toMatchObject({ version: 1 });
      });

      it('an exact version must be the last revision; a mismatch writes nothing', async () => {
        await store.append(s('v'), [event('A'), event('B')], 'no_stream');
        await expect(store.append(s('v'), [event('C')], 0)).rejects.toMatchObject({ expected: 0, actual: 1 });
        await expect(store.append(s('v'), [event('C')], 5)).rejects.toBeInstanceOf(WrongExpectedVersionError);
        await expect(store.append(s('v'), [event('C')], 1)).resolves.toMatchObject({ version: 2 });
        expect((await store.readStream(s('v'))).map((e) => e.type)).toEqual(['A', 'B', 'C']);
      });

      it('any appends whatever the stream holds', async () => {
        await store.append(s('any'), [event('A')], 'any');
        await expect(store.append(s('any'), [event('B')], 'any')).resolves.toMatchObject({ version: 1 });
      });
    });

    describe('concurrency', () => {
      it('of two conflicting appends in flight together, one wins and the other gets the conflict error', async () => {
        await store.append(s('c'), [event('Opened')], 'no_stream');
        const results = await Promise.allSettled([
          store.append(s('c'), [event('ByAlice')], 0),
          store.append(s('c'), [event('ByBob')], 0),
        ]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect(lost[0]!.reason).toBeInstanceOf(WrongExpectedVersionError);
        expect(lost[0]!.reason).toMatchObject({ expected: 0, actual: 1 });
        expect(await store.readStream(s('c'))).toHaveLength(2);
      });

      it('a refused append does not disturb the others written with it', async () => {
        const results = await Promise.allSettled([
          store.append(s('g1'), [event('A')], 'no_stream'),
          store.append(s('g2'), [event('A')], 3),
          store.append(s('g3'), [event('A'), event('B')], 'no_stream'),
        ]);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
        expect(await store.readStream(s('g1'))).toHaveLength(1);
        expect(await store.readStream(s('g2'))).toHaveLength(0);
        expect(await store.readStream(s('g3'))).toHaveLength(2);
      });

      it('1,000 concurrent appends lose and duplicate nothing and get gapless global positions', async () => {
        const start = await store.headPosition();
        const writers = 50;
        const perWriter = 20;
        await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            for (let n = 0; n < perWriter; n++) {
              await store.append(s(`w${w}`), [event('Step', { w, n })], n === 0 ? 'no_stream' : n - 1);
            }
          }),
        );
        const all = (await readAllFrom(store, start, 300)).filter((e) => e.stream.startsWith(prefix));
        expect(all).toHaveLength(writers * perWriter);
        // Gapless: this test is the only writer, so its positions are consecutive.
        expect(all.map((e) => e.position)).toEqual(Array.from({ length: all.length }, (_, i) => all[0]!.position + i));
        expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
        for (let w = 0; w < writers; w++) {
          const stream = await store.readStream(s(`w${w}`));
          expect(stream.map((e) => (e.data as { n: number }).n)).toEqual(Array.from({ length: perWriter }, (_, n) => n));
          expect(stream.map((e) => e.version)).toEqual(Array.from({ length: perWriter }, (_, n) => n));
        }
      });

      it('appends racing for the same versions: every version is written exactly once', async () => {
        const attempts = 300;
        let written = 0;
        let conflicts = 0;
        await Promise.all(
          Array.from({ length: attempts }, async (_, i) => {
            const stream = s(`race${i % 10}`);
            for (;;) {
              const current = await store.readStream(stream);
              try {
                await store.append(stream, [event('Won', { i })], current.length === 0 ? 'no_stream' : current.length - 1);
                written++;
                return;
              } catch (error) {
                if (!(error instanceof WrongExpectedVersionError)) throw error;
                conflicts++;
              }
            }
          }),
        );
        expect(written).toBe(attempts);
        expect(conflicts).toBeGreaterThan(0);
        const winners = new Set<number>();
        for (let k = 0; k < 10; k++) {
          const stream = await store.readStream(s(`race${k}`));
          expect(stream.map((e) => e.version)).toEqual(Array.from({ length: stream.length }, (_, v) => v));
          for (const e of stream) winners.add((e.data as { i: number }).i);
        }
        expect(winners.size).toBe(attempts);
      });
    });

    describe('idempotent retries', () => {
      it('repeating an acknowledged append with the same event ids writes nothing and answers the first result', async () => {
        const events = [
          { id: crypto.randomUUID(), type: 'A', data: {} },
          { id: crypto.randomUUID(), type: 'B', data: {} },
        ];
        const first = await store.append(s('idem'), events, 'no_stream');
        const again = await store.append(s('idem'), events, 'no_stream');
        expect(again.position).toBe(first.position);
        expect(again.version).toBe(first.version);
        expect(await store.readStream(s('idem'))).toHaveLength(2);
      });
    });

    describe('subscriptions', () => {
      let subscription: Subscription | undefined;
      afterEach(async () => {
        await subscription?.stop();
        subscription = undefined;
      });

      it('catches up, then delivers live events, in order, exactly once', async () => {
        const start = await store.headPosition();
        await store.append(s('sub'), [event('Before1'), event('Before2')], 'no_stream');
        const seen: RecordedEvent[] = [];
        const signal = deliveries();
        subscription = store.subscribeToAll({
          after: start,
          batchSize: 1,
          onEvents(events) {
            seen.push(...events.filter((e) => e.stream.startsWith(prefix)));
            signal.notify();
          },
        });
        await signal.until(() => seen.length >= 2);
        await store.append(s('sub'), [event('Live1')], 1);
        await store.append(s('other'), [event('Live2')], 'no_stream');
        await signal.until(() => seen.length >= 4);
        expect(seen.map((e) => e.type)).toEqual(['Before1', 'Before2', 'Live1', 'Live2']);
        expect(isStrictlyIncreasing(seen.map((e) => e.position))).toBe(true);
      });

      it('a subscription started mid-load sees every event exactly once, in order', async () => {
        const start = await store.headPosition();
        const writers = 20;
        const perWriter = 25;
        const total = writers * perWriter;
        const seen: RecordedEvent[] = [];
        const signal = deliveries();
        let loadHalfDone!: () => void;
        const halfway = new Promise<void>((resolve) => (loadHalfDone = resolve));
        let appended = 0;
        const load = Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            for (let n = 0; n < perWriter; n++) {
              await store.append(s(`load${w}`), [event('Load', { w, n })], n === 0 ? 'no_stream' : n - 1);
              if (++appended === total / 2) loadHalfDone();
            }
          }),
        );
        await halfway;
        subscription = store.subscribeToAll({
          after: start,
          batchSize: 37,
          onEvents(events) {
            seen.push(...events.filter((e) => e.stream.startsWith(prefix)));
            signal.notify();
          },
        });
        await load;
        await signal.until(() => seen.length >= total);
        expect(seen).toHaveLength(total);
        expect(new Set(seen.map((e) => e.id)).size).toBe(total);
        expect(isStrictlyIncreasing(seen.map((e) => e.position))).toBe(true);
        const byStream = new Map<string, number[]>();
        for (const e of seen) byStream.set(e.stream, [...(byStream.get(e.stream) ?? []), e.version]);
        for (const versions of byStream.values()) expect(versions).toEqual(versions.map((_, i) => i));
      });

      it('resumes after a restart from a checkpoint with no gap and no duplicate', async () => {
        const start = await store.headPosition();
        await store.append(s('restart'), [event('One'), event('Two')], 'no_stream');
        const seen: RecordedEvent[] = [];
        const signal = deliveries();
        let checkpoint = start;
        subscription = store.subscribeToAll({
          after: start,
          onEvents(events) {
            seen.push(...events.filter((e) => e.stream.startsWith(prefix)));
            checkpoint = events[events.length - 1]!.position;
            signal.notify();
          },
        });
        await signal.until(() => seen.length >= 2);
        await subscription.stop();
        subscription = undefined;

        store = await fixture.reopen();
        await store.append(s('restart'), [event('Three')], 1);
        const resumed = deliveries();
        subscription = store.subscribeToAll({
          after: checkpoint,
          onEvents(events) {
            seen.push(...events.filter((e) => e.stream.startsWith(prefix)));
            resumed.notify();
          },
        });
        await resumed.until(() => seen.length >= 3);
        expect(seen.map((e) => e.type)).toEqual(['One', 'Two', 'Three']);
      });

      it('waits for the handler before delivering the next batch', async () => {
        const start = await store.headPosition();
        await store.append(s('slow'), [event('A'), event('B'), event('C')], 'no_stream');
        let inFlight = 0;
        let overlapped = false;
        const seen: string[] = [];
        const signal = deliveries();
        subscription = store.subscribeToAll({
          after: start,
          batchSize: 1,
          async onEvents(events) {
            inFlight++;
            if (inFlight > 1) overlapped = true;
            await new Promise((resolve) => setImmediate(resolve));
            seen.push(...events.filter((e) => e.stream.startsWith(prefix)).map((e) => e.type));
            inFlight--;
            signal.notify();
          },
        });
        await signal.until(() => seen.length >= 3);
        expect(overlapped).toBe(false);
        expect(seen).toEqual(['A', 'B', 'C']);
      });

      it('reports a failing handler through onError and stops delivering', async () => {
        const start = await store.headPosition();
        await store.append(s('fail'), [event('A')], 'no_stream');
        let reported: unknown;
        const signal = deliveries();
        subscription = store.subscribeToAll({
          after: start,
          onEvents() {
            throw new Error('handler broke');
          },
          onError(error) {
            reported = error;
            signal.notify();
          },
        });
        await signal.until(() => reported !== undefined);
        expect((reported as Error).message).toBe('handler broke');
      });
    });

    describe('durability', () => {
      it('keeps acknowledged events across a restart', async () => {
        const written = await store.append(s('durable'), [event('Kept', { n: 1 })], 'no_stream');
        store = await fixture.reopen();
        const read = await store.readStream(s('durable'));
        expect(read.map((e) => [e.type, e.position])).toEqual([['Kept', written.position]]);
        await expect(store.append(s('durable'), [event('Next')], 0)).resolves.toMatchObject({ version: 1 });
      });
    });
  });
}

async function readAllFrom(store: EventStore, after: number, batch: number): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  let position = after;
  for (;;) {
    const page = await store.readAll({ after: position, limit: batch });
    if (page.length === 0) return all;
    all.push(...page);
    position = page[page.length - 1]!.position;
  }
}

function isStrictlyIncreasing(values: number[]): boolean {
  return values.every((value, i) => i === 0 || value > values[i - 1]!);
}
