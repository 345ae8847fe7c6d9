// KurrentDB / EventStoreDB implementation of the event-store port (scale-out deployment,
// DESIGN.md §1), through the official client `@kurrent/kurrentdb-client` (gRPC; KurrentDB
// 25.x and EventStoreDB 21.10+ servers). UNTESTED against a server on the machine it was
// written on: test/services/event-store.kurrentdb.test.ts runs the contract suite when
// STRATUS_TEST_KURRENTDB names one.
//
// Positions. The port's global position is a dense ordinal: the n-th non-system event of
// $all has position n (the contract suite asserts consecutive positions for one writer, and
// projection lag is head − checkpoint, a count of events). KurrentDB positions are
// (commit, prepare) byte offsets in its log, so each process keeps a translation table,
// ordinal → $all position, filled by reading $all forwards from the start (once, on first
// use; afterwards incrementally). Every process derives the same ordinals because $all's
// order is fixed. This holds as long as no event before the end is ever removed: Stratus
// never deletes, truncates ($maxAge/$maxCount/$tb) or scavenges its streams; doing so
// would renumber everything after. Cost: 16 bytes of memory per event and a full read of
// $all at start (a persisted table is the next step for very large stores).
//
// System events (type or stream starting with '$': stats, metadata, projections' links)
// are not ours: they get no ordinal and are never delivered.
//
// Subscriptions are client-side checkpointed catch-up subscriptions on $all: delivery
// starts after the ordinal given, each event is numbered through the table, anything at or
// below the last delivered ordinal is skipped, and when the connection drops the
// subscription is opened again from the last delivered position: nothing lost, nothing twice.

import {
  ANY,
  FORWARDS,
  KurrentDBClient,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamNotFoundError,
  WrongExpectedVersionError as KurrentWrongExpectedVersionError,
  jsonEvent,
  type AllStreamRecordedEvent,
  type AppendStreamState,
  type Position,
} from '@kurrent/kurrentdb-client';
import {
  WrongExpectedVersionError,
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type ExpectedVersion,
  type NewEvent,
  type RecordedEvent,
  type Subscription,
  type SubscriptionOptions,
} from './port.js';

export interface KurrentEventStoreOptions {
  /** `kurrentdb://host:2113?tls=false` (or `esdb://`, `kdb://`), as the client takes it. */
  url: string;
}

const READ_PAGE = 1000;
/** Events remembered by id, so that an append (or its idempotent repeat) finds its positions. */
const RECENT_EVENTS = 50_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function openKurrentEventStore(options: KurrentEventStoreOptions): EventStore {
  return new KurrentEventStore(KurrentDBClient.connectionString(options.url));
}

const isSystem = (e: { type: string; streamId: string }) => e.type.startsWith('$') || e.streamId.startsWith('$');

function compare(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  return a.prepare === b.prepare ? 0 : a.prepare < b.prepare ? -1 : 1;
}

/** Ordinal ↔ $all position, for the non-system events of $all read so far. */
class PositionTable {
  private readonly commits: bigint[] = [];
  private readonly prepares: bigint[] = [];

  get length(): number {
    return this.commits.length;
  }

  tail(): Position | undefined {
    const n = this.commits.length;
    return n === 0 ? undefined : { commit: this.commits[n - 1]!, prepare: this.prepares[n - 1]! };
  }

  /** The caller read `position` from a contiguous read of $all that started at or before the tail. */
  add(position: Position): void {
    const tail = this.tail();
    if (tail !== undefined && compare(position, tail) <= 0) return;
    this.commits.push(position.commit);
    this.prepares.push(position.prepare);
  }

  positionOf(ordinal: number): Position | undefined {
    if (ordinal < 1 || ordinal > this.commits.length) return undefined;
    return { commit: this.commits[ordinal - 1]!, prepare: this.prepares[ordinal - 1]! };
  }

  /** The ordinal of a position already in the table, else undefined. */
  ordinalOf(position: Position): number | undefined {
    let low = 0;
    let high = this.commits.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const c = compare({ commit: this.commits[mid]!, prepare: this.prepares[mid]! }, position);
      if (c === 0) return mid + 1;
      if (c < 0) low = mid + 1;
      else high = mid - 1;
    }
    return undefined;
  }
}

function toExpected(expected: ExpectedVersion): AppendStreamState {
  if (expected === 'any') return ANY;
  if (expected === 'no_stream') return NO_STREAM;
  if (expected === 'stream_exists') return STREAM_EXISTS;
  if (!Number.isSafeInteger(expected) || expected < 0) throw new RangeError(`invalid expected version ${String(expected)}`);
  return BigInt(expected);
}

class KurrentEventStore implements EventStore {
  private readonly table = new PositionTable();
  private readonly recent = new Map<string, RecordedEvent>();
  private syncing: Promise<void> | undefined;

  constructor(readonly client: KurrentDBClient) {}

  async append(stream: string, events: NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    if (events.length === 0) throw new RangeError('append needs at least one event');
    const data = events.map((e) => {
      const id = e.id ?? crypto.randomUUID();
      if (!UUID.test(id)) throw new TypeError(`event id ${id} is not a UUID (KurrentDB requires one)`);
      if (e.data === undefined) throw new TypeError(`event ${e.type}: data is not JSON-serializable`);
      return jsonEvent({ id, type: e.type, data: e.data as Record<string, unknown>, metadata: (e.metadata ?? {}) as Record<string, unknown> });
    });
    let result;
    try {
      result = await this.client.appendToStream(stream, data, { streamState: toExpected(expected) });
    } catch (error) {
      if (error instanceof KurrentWrongExpectedVersionError) {
        const actual = error.actualState === NO_STREAM ? -1 : Number(error.actualState);
        throw new WrongExpectedVersionError(stream, expected, actual);
      }
      throw error;
    }
    if (result.position !== undefined) await this.syncUntil(result.position);
    const version = Number(result.nextExpectedRevision);
    let recorded = data.map((e) => this.recent.get(e.id));
    if (recorded.some((e) => e === undefined)) {
      // Not seen by the table's reads (an idempotent repeat of an old append): read them back.
      await this.syncUntil(undefined);
      const byId = new Map((await this.readStream(stream, { fromVersion: Math.max(0, version - data.length + 1), limit: data.length })).map((e) => [e.id, e]));
      recorded = data.map((e) => byId.get(e.id));
    }
    if (recorded.some((e) => e === undefined)) throw new Error(`stream ${stream}: appended events not found in $all`);
    const written = recorded as RecordedEvent[];
    return { version: written[written.length - 1]!.version, position: written[written.length - 1]!.position, events: written };
  }

  async readStream(stream: string, options: { fromVersion?: number; limit?: number } = {}): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    try {
      const read = this.client.readStream(stream, {
        fromRevision: BigInt(options.fromVersion ?? 0),
        direction: FORWARDS,
        ...(options.limit !== undefined ? { maxCount: options.limit } : {}),
      });
      for await (const resolved of read) {
        const e = resolved.event;
        if (e === undefined) continue;
        if (e.position === undefined) throw new Error('the server gives no $all position on stream reads (KurrentDB/EventStoreDB 21.10+ needed)');
        out.push(await this.toRecorded(e as AllStreamRecordedEvent));
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return out;
  }

  async readAll(options: { after: number; limit: number }): Promise<RecordedEvent[]> {
    if (options.limit <= 0) return [];
    if (options.after > this.table.length) await this.syncUntil(undefined);
    if (options.after > this.table.length) return [];
    const from = options.after === 0 ? undefined : this.table.positionOf(options.after)!;
    const out: RecordedEvent[] = [];
    let cursor = from;
    for (;;) {
      let read = 0;
      for await (const resolved of this.client.readAll({ fromPosition: cursor ?? START, maxCount: READ_PAGE, direction: FORWARDS })) {
        const e = resolved.event;
        if (e === undefined) continue;
        read++;
        if (cursor !== undefined && compare(e.position, cursor) <= 0) continue; // fromPosition is inclusive
        cursor = e.position;
        if (isSystem(e)) continue;
        this.table.add(e.position);
        out.push(this.remember(this.convert(e, this.table.ordinalOf(e.position)!)));
        if (out.length >= options.limit) return out;
      }
      if (read < READ_PAGE) return out;
    }
  }

  async headPosition(): Promise<number> {
    await this.syncUntil(undefined);
    return this.table.length;
  }

  subscribeToAll(options: SubscriptionOptions): Subscription {
    return new KurrentSubscription(this, options);
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }

  /** Extends the table to `target` (undefined: to the end of $all). Calls share one read. */
  async syncUntil(target: Position | undefined): Promise<void> {
    for (;;) {
      const tail = this.table.tail();
      if (target !== undefined && tail !== undefined && compare(tail, target) >= 0) return;
      if (this.syncing === undefined) {
        this.syncing = this.readToEnd().finally(() => (this.syncing = undefined));
        await this.syncing;
        return;
      }
      await this.syncing; // someone else's read may have stopped before `target`: check again
      if (target === undefined) continue;
    }
  }

  private async readToEnd(): Promise<void> {
    let cursor = this.table.tail();
    for (;;) {
      let read = 0;
      for await (const resolved of this.client.readAll({ fromPosition: cursor ?? START, maxCount: READ_PAGE, direction: FORWARDS })) {
        const e = resolved.event;
        if (e === undefined) continue;
        read++;
        if (cursor !== undefined && compare(e.position, cursor) <= 0) continue;
        cursor = e.position;
        if (isSystem(e)) continue;
        this.table.add(e.position);
        this.remember(this.convert(e, this.table.ordinalOf(e.position)!));
      }
      if (read < READ_PAGE) return;
    }
  }

  /** Where to start reading $all to get the events after `ordinal`. */
  readPositionOf(ordinal: number): Position | typeof START {
    if (ordinal === 0) return START;
    return this.table.positionOf(ordinal) ?? this.table.tail() ?? START;
  }

  /** Numbers an event read from a stream or a subscription (the table is extended if needed). */
  async toRecorded(e: AllStreamRecordedEvent): Promise<RecordedEvent> {
    let ordinal = this.table.ordinalOf(e.position);
    if (ordinal === undefined) {
      await this.syncUntil(e.position);
      ordinal = this.table.ordinalOf(e.position);
    }
    if (ordinal === undefined) throw new Error(`event ${e.id} of ${e.streamId} is not in $all as read`);
    return this.convert(e, ordinal);
  }

  private convert(e: AllStreamRecordedEvent, position: number): RecordedEvent {
    return {
      id: e.id,
      stream: e.streamId,
      version: Number(e.revision),
      position,
      type: e.type,
      data: e.isJson ? e.data : Buffer.from(e.data as Uint8Array).toString('base64'),
      metadata: (e.metadata !== undefined && !(e.metadata instanceof Uint8Array) ? e.metadata : {}) as EventMetadata,
      recordedAt: e.created.getTime(),
    };
  }

  private remember(event: RecordedEvent): RecordedEvent {
    this.recent.set(event.id, event);
    if (this.recent.size > RECENT_EVENTS) this.recent.delete(this.recent.keys().next().value!);
    return event;
  }
}

class HandlerError {
  constructor(readonly error: unknown) {}
}

/** Catch-up subscription to $all with a client-side checkpoint; reopened after a dropped connection. */
class KurrentSubscription implements Subscription {
  private stopped = false;
  private current: { unsubscribe(): Promise<void> } | undefined;
  private readonly done: Promise<void>;
  private delivered: number;

  constructor(
    private readonly store: KurrentEventStore,
    private readonly options: SubscriptionOptions,
  ) {
    this.delivered = options.after;
    this.done = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.current?.unsubscribe().catch(() => {});
    await this.done;
  }

  private async run(): Promise<void> {
    const batchSize = Math.max(1, this.options.batchSize ?? 500);
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        if (this.delivered > 0) await this.store.syncUntil(undefined);
        const from = this.store.readPositionOf(this.delivered);
        const subscription = this.store.client.subscribeToAll({ fromPosition: from });
        this.current = subscription;
        if (this.stopped) {
          await subscription.unsubscribe();
          return;
        }
        let batch: RecordedEvent[] = [];
        for await (const resolved of subscription) {
          if (this.stopped) break;
          attempt = 0;
          const e = resolved.event;
          if (e !== undefined && !isSystem(e)) {
            const event = await this.store.toRecorded(e);
            const last = batch.length > 0 ? batch[batch.length - 1]!.position : this.delivered;
            if (event.position > last) batch.push(event);
          }
          // Deliver when the batch is full or nothing more is waiting in the buffer.
          if (batch.length > 0 && (batch.length >= batchSize || subscription.readableLength === 0)) {
            const events = batch;
            batch = [];
            try {
              await this.options.onEvents(events);
            } catch (error) {
              throw new HandlerError(error);
            }
            this.delivered = events[events.length - 1]!.position;
          }
        }
        if (this.stopped) return;
      } catch (error) {
        if (this.stopped) return;
        if (error instanceof HandlerError) {
          this.stopped = true;
          await this.current?.unsubscribe().catch(() => {});
          this.options.onError?.(error.error);
          return;
        }
        // A dropped connection or a server restart: open again from the last delivered event.
        if (attempt >= 30) {
          this.stopped = true;
          this.options.onError?.(error);
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** Math.min(attempt, 6))));
    }
  }
}
