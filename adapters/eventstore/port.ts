// The event-store port. It models what EventStoreDB/KurrentDB offers (stream revisions,
// expected-version checks, a global $all order with positions, catch-up subscriptions)
// so that the SQLite adapter and a KurrentDB adapter are interchangeable.

/** Metadata every event carries (DESIGN.md §3, event envelope). */
export interface EventMetadata {
  commandId?: string;
  correlationId?: string;
  causationId?: string;
  actor?: Actor;
  clientIp?: string;
  userAgent?: string;
  projectId?: string;
  schemaVersion?: number;
  [key: string]: unknown;
}

export interface Actor {
  kind: 'user' | 'accessKey' | 'system';
  id: string;
  name: string;
}

/** An event about to be written. `id` is optional: the store assigns a UUID if absent. */
export interface NewEvent {
  id?: string;
  type: string;
  data: unknown;
  metadata?: EventMetadata;
}

/** An event as stored: the envelope of DESIGN.md §3. */
export interface RecordedEvent<D = unknown> {
  id: string;
  stream: string;
  /** Revision of this event in its stream, from 0. */
  version: number;
  /** Position in the global order ($all); strictly increasing in commit order, from 1. */
  position: number;
  type: string;
  data: D;
  metadata: EventMetadata;
  /** Epoch milliseconds at which the store committed the event. */
  recordedAt: number;
}

/**
 * Expected state of the stream before an append:
 * - 'any': no check
 * - 'no_stream': the stream must not exist
 * - 'stream_exists': the stream must have at least one event
 * - a number: the revision of the stream's last event must be exactly this
 */
export type ExpectedVersion = 'any' | 'no_stream' | 'stream_exists' | number;

export interface AppendResult {
  /** Revision of the last event written (the stream's new version). */
  version: number;
  /** Global position of the last event written. */
  position: number;
  events: RecordedEvent[];
}

export class WrongExpectedVersionError extends Error {
  readonly code = 'WRONG_EXPECTED_VERSION';
  constructor(
    readonly stream: string,
    readonly expected: ExpectedVersion,
    /** Revision of the stream's last event, or -1 when the stream does not exist. */
    readonly actual: number,
  ) {
    super(`stream ${stream}: expected version ${String(expected)}, actual ${actual}`);
    this.name = 'WrongExpectedVersionError';
  }
}

export interface SubscriptionOptions {
  /** Deliver events after this global position (0 = from the beginning). */
  after: number;
  /** Called with each batch in commit order; the next batch waits for the returned promise. */
  onEvents: (events: RecordedEvent[]) => Promise<void> | void;
  /** Called once if delivery stops on an error (the handler's or the store's). */
  onError?: (error: unknown) => void;
  batchSize?: number;
}

export interface Subscription {
  /** Stops delivery; resolves once no handler call is in flight. */
  stop(): Promise<void>;
}

export interface EventStore {
  append(stream: string, events: NewEvent[], expected: ExpectedVersion): Promise<AppendResult>;
  /** Events of one stream in order, from revision `fromVersion` (inclusive). Empty if the stream does not exist. */
  readStream(stream: string, options?: { fromVersion?: number; limit?: number }): Promise<RecordedEvent[]>;
  /** Events of all streams in global order, after position `after` (exclusive), at most `limit`. */
  readAll(options: { after: number; limit: number }): Promise<RecordedEvent[]>;
  /** Position of the last committed event (0 when the store is empty). */
  headPosition(): Promise<number>;
  /** Catch up from `after`, then deliver live events: commit order, no gap, no duplicate. */
  subscribeToAll(options: SubscriptionOptions): Subscription;
  close(): Promise<void>;
}
