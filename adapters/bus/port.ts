// The bus port (DESIGN.md §6): topics of keyed JSON messages with consumer groups and
// at-least-once delivery. The embedded shape uses the in-process adapter (local.ts); the
// scale-out shape uses Kafka behind the same port, so nothing here may assume that the
// publisher and the consumer share a process:
// - values are JSON (serialized on publish; a consumer gets its own copy);
// - delivery is at least once: a handler that throws gets the message again later (after
//   `maxAttempts` the message goes to the dead-letter topic), and a message may be
//   delivered twice even when the handler succeeded (a consumer crash, a rebalance), so
//   consumers de-duplicate (effects carry an operation id);
// - order is kept per (topic, key): a key's next message is delivered to a group only
//   after the handler finished with the previous one; different keys run in parallel;
// - each message goes to every group, and within a group to one subscriber.

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface OutgoingMessage<V = unknown> {
  topic: string;
  /** Partitioning key: messages with the same key keep their order. */
  key: string;
  /** Any JSON-serializable value. */
  value: V;
  headers?: Record<string, string>;
}

export interface DeliveredMessage<V = unknown> extends OutgoingMessage<V> {
  headers: Record<string, string>;
  /** 1 on the first delivery to this group, more on redeliveries after a handler failure. */
  attempt: number;
}

/**
 * What to subscribe to: one topic by name, or every topic whose name matches a regular
 * expression (given as source text so that it can cross a process boundary; Kafka clients
 * take it as a RegExp). A topic created later that matches is included.
 */
export type TopicSelector = string | { pattern: string };

export interface SubscribeOptions<V = unknown> {
  topic: TopicSelector;
  /** Consumer group: the members of a group share the messages; each group gets all of them. */
  group: string;
  handler: (message: DeliveredMessage<V>) => Promise<void>;
  /** Deliveries of one message before it is dead-lettered (default 5). */
  maxAttempts?: number;
  /** How many keys a subscriber handles at the same time (default unbounded in-process). */
  concurrency?: number;
}

export interface BusSubscription {
  /** Stops taking messages; resolves once no handler call of this subscription is in flight. */
  stop(): Promise<void>;
}

export interface Bus {
  /** Resolves once the bus has accepted the messages (durably, for a broker). */
  publish(messages: readonly OutgoingMessage[]): Promise<void>;
  subscribe<V = unknown>(options: SubscribeOptions<V>): Promise<BusSubscription>;
  /** Resolves once every message published so far has been handled or dead-lettered (tests, shutdown). */
  idle?(): Promise<void>;
  close(): Promise<void>;
}

/** The topic a message goes to after `maxAttempts` failed deliveries. */
export const deadLetterTopic = (topic: string) => `${topic}.dead-letter`;
