// The Kafka bus (scale-out shape, DESIGN.md §1 and §6): the bus port over Apache Kafka with
// kafkajs. Chosen by STRATUS_BUS=kafka://host:9092[,host2:9092…].
//
// How the port's promises map onto Kafka:
// - Per-key order: the message key is the Kafka partition key (Java-compatible murmur2, so
//   other Kafka clients agree). kafkajs only fetches; each assigned partition feeds a
//   pipeline of per-key queues, a key's messages handled one at a time in offset order and
//   different keys in parallel, so a stuck key holds up neither other keys nor fetching.
//   At most 1000 unfinished messages of a partition wait in memory (then it is paused).
// - Consumer groups are Kafka consumer groups (ids prefixed by `groupPrefix`); one
//   subscription is one group member (its own kafkajs consumer).
// - At least once: an offset is committed (by this adapter, not kafkajs's auto-commit) only
//   after the handler of that message and of every earlier one in its partition finished
//   (or dead-lettered it); a slow key therefore holds the commit point back, so a crash
//   redelivers everything after it. A crash or a
//   rebalance redelivers what was not committed, possibly a message whose handler already
//   succeeded: handlers must be idempotent (effects carry an operation id, integration
//   events their event id); this adapter does not de-duplicate.
// - A failing handler is retried in place after a backoff (blocking its key, keeping the
//   order) up to `maxAttempts`, then the message goes to `<topic>.dead-letter` with the
//   headers x-original-topic, x-error and x-attempts. `attempt` counts deliveries in this
//   member: after a rebalance or a restart it starts at 1 again.
// - Topics the bus publishes to or subscribes to by name are created when missing (with
//   `numPartitions`, replication from the broker's default), so no broker-side
//   auto-creation is needed. A group with no committed offset starts at the earliest
//   retained message, so what was published before the first group subscribed is delivered.
// - Pattern subscriptions resolve against the topic list, and look again every
//   `topicRefreshMs` (and at once when this bus creates a topic): a matching topic that
//   appears later is added by restarting the member's consumer (offsets are committed, so
//   nothing is lost; a rebalance follows).
// - Values are JSON, serialized before anything is sent: a value that is not JSON fails the
//   whole publish call with nothing sent. A call to several topics is not atomic if the
//   broker fails part-way (the producer is idempotent per partition, not transactional).
import {
  CompressionTypes,
  Kafka,
  logLevel,
  Partitioners,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  type KafkaMessage,
  type LogEntry,
  type Producer,
} from 'kafkajs';
import {
  deadLetterTopic,
  type Bus,
  type BusSubscription,
  type DeliveredMessage,
  type OutgoingMessage,
  type SubscribeOptions,
} from './port.js';

export interface KafkaBusOptions {
  brokers: string[];
  clientId?: string;
  /** Prepended to every consumer group id: separates environments (and test runs) on one cluster. */
  groupPrefix?: string;
  /** Partitions of the topics this bus creates (default 12): the parallelism of one topic across a group. */
  numPartitions?: number;
  /** Delay before redelivering a message whose handler failed, by attempt (1, 2 …). */
  retryDelayMs?: (attempt: number) => number;
  /** How often pattern subscriptions look for new matching topics (default 5000 ms). */
  topicRefreshMs?: number;
  /** Kafka consumer session timeout (default 30 000 ms): how long a dead member holds its partitions. */
  sessionTimeoutMs?: number;
  log?: { warn(details: object, message: string): void; error(details: object, message: string): void };
}

/** The broker list of a `kafka://host:port[,host:port…]` URL. */
export function parseKafkaUrl(url: string): string[] {
  const match = /^kafka:\/\/(.+)$/.exec(url.trim());
  if (!match) throw new Error(`a Kafka bus URL looks like kafka://host:9092[,host2:9092…], not ${url}`);
  const brokers = match[1]!.replace(/\/+$/, '').split(',').map((broker) => broker.trim()).filter(Boolean);
  for (const broker of brokers) {
    if (!/^[^\s:/]+:\d{1,5}$/.test(broker) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(broker)) {
      throw new Error(`Kafka broker ${broker} in ${url} must be host:port`);
    }
  }
  if (brokers.length === 0) throw new Error(`no broker in ${url}`);
  return brokers;
}

const defaultRetryDelay = (attempt: number) => Math.min(30_000, 100 * 2 ** (attempt - 1));

const sleep = (ms: number) => new Promise<void>((resolve) => { setTimeout(resolve, ms).unref(); });

/** A counting semaphore: at most `limit` keys of one subscription handled at once. */
function semaphore(limit: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return {
    async acquire() {
      if (active < limit) { active++; return; }
      await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release() {
      const next = waiting.shift();
      if (next) next();
      else active--;
    },
  };
}

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) result[name] = first.toString();
  }
  return result;
}

export function createKafkaBus(options: KafkaBusOptions): Bus {
  const log = options.log;
  const retryDelay = options.retryDelayMs ?? defaultRetryDelay;
  const numPartitions = options.numPartitions ?? 12;
  const topicRefreshMs = options.topicRefreshMs ?? 5000;
  const groupPrefix = options.groupPrefix ?? '';
  const kafka = new Kafka({
    clientId: options.clientId ?? 'stratus',
    brokers: options.brokers,
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...details } = entry.log;
      if (entry.level <= logLevel.ERROR) log?.error({ kafka: entry.namespace, ...details }, `kafka: ${message}`);
      else if (entry.level <= logLevel.WARN) log?.warn({ kafka: entry.namespace, ...details }, `kafka: ${message}`);
    },
  });
  const producer: Producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    // Idempotent: a retried send is written once, and order per partition survives retries.
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  const admin: Admin = kafka.admin();
  const members = new Set<Member>();
  const knownTopics = new Set<string>();
  let connecting: Promise<void> | undefined;
  let closed = false;

  function connect(): Promise<void> {
    connecting ??= Promise.all([producer.connect(), admin.connect()]).then(() => undefined, (error: unknown) => {
      connecting = undefined;
      throw error;
    });
    return connecting;
  }

  /** Creates the topics that do not exist yet; tells pattern members when one was created. */
  async function ensureTopics(names: readonly string[]): Promise<void> {
    const unknown = [...new Set(names)].filter((name) => !knownTopics.has(name));
    if (unknown.length === 0) return;
    const existing = new Set(await admin.listTopics());
    const missing = unknown.filter((name) => !existing.has(name));
    await Promise.all(missing.map(async (topic) => {
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: false });
      } catch (error) {
        // Another process created it in between: fine. Anything else is a real failure.
        if ((error as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS' && !(await admin.listTopics()).includes(topic)) throw error;
      }
    }));
    // A new topic's metadata reaches the broker's cache a moment after its creation
    // ("does not host this topic-partition"): wait until every partition has a leader.
    if (missing.length > 0) {
      for (let attempt = 1; ; attempt++) {
        try {
          const { topics } = await admin.fetchTopicMetadata({ topics: missing });
          if (topics.every((topic) => topic.partitions.length > 0 && topic.partitions.every((partition) => partition.leader >= 0))) break;
        } catch (error) {
          if (attempt >= 100) throw error;
        }
        if (attempt >= 100) throw new Error(`topics ${missing.join(', ')} have no leader after their creation`);
        await sleep(50);
      }
    }
    for (const name of unknown) knownTopics.add(name);
    if (missing.length > 0) for (const member of members) member.topicsAppeared(missing);
  }

  async function publishSerialized(messages: Array<{ topic: string; key: string; value: string; headers: Record<string, string> }>) {
    await connect();
    await ensureTopics(messages.map((message) => message.topic));
    const byTopic = new Map<string, Array<{ key: string; value: string; headers: Record<string, string> }>>();
    for (const { topic, ...message } of messages) {
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      list.push(message);
    }
    await producer.sendBatch({
      acks: -1,
      compression: CompressionTypes.None,
      topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })),
    });
  }

  // --- subscriptions ------------------------------------------------------------------

  interface Member {
    topicsAppeared(names: string[]): void;
    stop(): Promise<void>;
  }

  async function subscribe<V>(subscription: SubscribeOptions<V>): Promise<BusSubscription> {
    if (closed) throw new Error('the bus is closed');
    await connect();
    const selector = subscription.topic;
    const matches = typeof selector === 'string'
      ? (topic: string) => topic === selector
      : ((pattern: RegExp) => (topic: string) => pattern.test(topic))(new RegExp(selector.pattern));
    const handler = subscription.handler as (message: DeliveredMessage) => Promise<void>;
    const maxAttempts = Math.max(1, subscription.maxAttempts ?? 5);
    const slots = semaphore(Math.max(1, subscription.concurrency ?? Number.POSITIVE_INFINITY));
    const groupId = `${groupPrefix}${subscription.group}`;

    let stopped = false;
    /** The current consumer is being replaced: its batches let go after their current message. */
    let releasing = false;
    let consumer: Consumer | undefined;
    let topics: string[] = [];
    /** Restarts and stops run one after the other. */
    let chain: Promise<void> = Promise.resolve();
    let refreshTimer: NodeJS.Timeout | undefined;

    async function deadLetter(topic: string, message: KafkaMessage, key: string, error: unknown, attempts: number, alive: () => boolean) {
      const reason = error instanceof Error ? error.message : String(error);
      if (topic.endsWith('.dead-letter')) {
        log?.error({ topic, key, attempts }, 'dead-letter handler failed; message dropped');
        return true;
      }
      log?.error({ topic, key, attempts, reason }, 'bus message dead-lettered');
      const headers = { ...headersOf(message.headers), 'x-original-topic': topic, 'x-error': reason.slice(0, 500), 'x-attempts': String(attempts) };
      // The message is committed only once its dead letter is safe: keep trying.
      for (let attempt = 1; ; attempt++) {
        try {
          await publishSerialized([{ topic: deadLetterTopic(topic), key, value: message.value?.toString() ?? 'null', headers }]);
          return true;
        } catch (publishError) {
          if (!alive()) return false;
          log?.error({ err: publishError, topic, key, attempt }, 'could not publish a dead letter; retrying');
          await sleep(Math.min(5000, 100 * 2 ** Math.min(attempt, 6)));
        }
      }
    }

    /** Handles one message until it succeeded or was dead-lettered (true), or the member let go of it (false). */
    async function deliver(topic: string, message: KafkaMessage, alive: () => boolean): Promise<boolean> {
      const key = message.key?.toString() ?? '';
      const headers = headersOf(message.headers);
      for (let attempt = 1; ; attempt++) {
        try {
          const value = JSON.parse(message.value?.toString() ?? 'null') as unknown;
          await handler({ topic, key, value, headers: { ...headers }, attempt });
          return true;
        } catch (error) {
          if (attempt >= maxAttempts) return deadLetter(topic, message, key, error, attempt, alive);
          log?.warn({ err: error, topic, key, attempt }, 'bus handler failed; redelivering later');
          await sleep(retryDelay(attempt));
          if (!alive()) return false;
        }
      }
    }

    /**
     * One partition as this member handles it in one group generation: its messages in
     * offset order, per-key queues drained in parallel, and the commit watermark (the
     * oldest message not finished). It is independent of kafkajs's fetch loop, which only
     * hands messages over: a stuck key never stops the fetching of other keys.
     */
    interface Pipeline {
      topic: string;
      partition: number;
      generation: number;
      /** Offsets (as bigint) in arrival order, and which of them are finished. */
      offsets: bigint[];
      done: Set<bigint>;
      keys: Map<string, KafkaMessage[]>;
      running: Set<string>;
      paused: boolean;
      /** The previous generation's work on this partition: a key's messages never overlap. */
      after: Promise<void>;
      inFlight: Set<Promise<void>>;
      committing: Promise<void>;
    }

    const maxBuffered = 1000;
    let generation = 0;
    const pipelines = new Map<string, Pipeline>();
    const pipelineId = (topic: string, partition: number) => `${topic}\u0000${partition}`;

    const pipelineAlive = (pipeline: Pipeline) => !stopped && !releasing && !closed && pipeline.generation === generation;

    function pipelineFor(topic: string, partition: number): Pipeline {
      const id = pipelineId(topic, partition);
      const existing = pipelines.get(id);
      if (existing && existing.generation === generation) return existing;
      const previous = existing ? Promise.allSettled([...existing.inFlight]).then(() => undefined) : Promise.resolve();
      const pipeline: Pipeline = {
        topic, partition, generation, offsets: [], done: new Set(), keys: new Map(), running: new Set(), paused: false,
        after: previous, inFlight: new Set(), committing: Promise.resolve(),
      };
      pipelines.set(id, pipeline);
      return pipeline;
    }

    /** Commits up to the oldest unfinished message (commits of one pipeline in order). */
    function advance(pipeline: Pipeline) {
      let count = 0;
      while (count < pipeline.offsets.length && pipeline.done.has(pipeline.offsets[count]!)) count++;
      if (count === 0) return;
      const last = pipeline.offsets[count - 1]!;
      for (const offset of pipeline.offsets.splice(0, count)) pipeline.done.delete(offset);
      const current = consumer;
      if (pipeline.paused && pipeline.offsets.length < maxBuffered / 2 && current) {
        pipeline.paused = false;
        current.resume([{ topic: pipeline.topic, partitions: [pipeline.partition] }]);
      }
      pipeline.committing = pipeline.committing.then(async () => {
        // A partition handed to another member is not ours to commit any more.
        if (!current || pipeline.generation !== generation) return;
        await current.commitOffsets([{ topic: pipeline.topic, partition: pipeline.partition, offset: (last + 1n).toString() }]);
      }).catch((error: unknown) => {
        // Not fatal: a later commit covers it, or the message is delivered again.
        log?.warn({ err: error, topic: pipeline.topic, partition: pipeline.partition }, 'could not commit an offset');
      });
    }

    function drainKey(pipeline: Pipeline, key: string) {
      if (pipeline.running.has(key)) return;
      pipeline.running.add(key);
      const alive = () => pipelineAlive(pipeline);
      const run = (async () => {
        await pipeline.after;
        await slots.acquire();
        try {
          for (;;) {
            const queue = pipeline.keys.get(key);
            const message = queue?.[0];
            if (!message || !alive()) return;
            if (!(await deliver(pipeline.topic, message, alive))) return;
            queue!.shift();
            if (queue!.length === 0) pipeline.keys.delete(key);
            pipeline.done.add(BigInt(message.offset));
            advance(pipeline);
          }
        } finally {
          slots.release();
          pipeline.running.delete(key);
        }
      })();
      pipeline.inFlight.add(run);
      void run.finally(() => pipeline.inFlight.delete(run));
    }

    async function eachBatch(payload: EachBatchPayload) {
      const { batch } = payload;
      if (stopped || releasing || closed || batch.messages.length === 0) return;
      const pipeline = pipelineFor(batch.topic, batch.partition);
      for (const message of batch.messages) {
        const key = message.key?.toString() ?? '';
        pipeline.offsets.push(BigInt(message.offset));
        let queue = pipeline.keys.get(key);
        if (!queue) pipeline.keys.set(key, (queue = []));
        queue.push(message);
      }
      for (const key of pipeline.keys.keys()) drainKey(pipeline, key);
      // Backpressure: stop fetching this partition while too much of it waits in memory.
      if (pipeline.offsets.length >= maxBuffered && !pipeline.paused) {
        pipeline.paused = true;
        payload.pause();
      }
    }

    async function startConsumer() {
      if (topics.length === 0 || stopped) return;
      const next = kafka.consumer({
        groupId,
        sessionTimeout: options.sessionTimeoutMs ?? 30_000,
        heartbeatInterval: 3000,
        maxWaitTimeInMs: 500,
        allowAutoTopicCreation: false,
      });
      // A new generation: partitions may have moved, and kafkajs fetches again from the
      // committed offsets, so what was buffered is dropped (it comes again).
      next.on(next.events.GROUP_JOIN, () => {
        generation++;
        for (const pipeline of pipelines.values()) {
          if (pipeline.paused) next.resume([{ topic: pipeline.topic, partitions: [pipeline.partition] }]);
          pipeline.paused = false;
        }
      });
      await next.connect();
      await next.subscribe({ topics, fromBeginning: true });
      consumer = next;
      await next.run({
        // Offsets are committed by the pipelines only (handled messages); kafkajs only fetches.
        autoCommit: false,
        eachBatchAutoResolve: true,
        partitionsConsumedConcurrently: Math.max(1, numPartitions),
        eachBatch,
      });
    }

    async function stopConsumer() {
      const current = consumer;
      if (!current) return;
      // The pipelines let go after their current message and commit what they finished;
      // then disconnect() leaves the group, so the partitions move on at once.
      releasing = true;
      try {
        const all = [...pipelines.values()];
        await Promise.allSettled(all.flatMap((pipeline) => [...pipeline.inFlight]));
        await Promise.allSettled(all.map((pipeline) => pipeline.committing));
        pipelines.clear();
        consumer = undefined;
        await current.disconnect();
      } finally {
        releasing = false;
      }
    }

    const enqueue = (work: () => Promise<void>) => {
      const result = chain.then(work);
      chain = result.catch((error: unknown) => log?.error({ err: error, group: groupId }, 'bus subscription could not restart its consumer'));
      return result;
    };

    async function addTopics(candidates: readonly string[]) {
      const fresh = candidates.filter((topic) => matches(topic) && !topics.includes(topic));
      if (fresh.length === 0 || stopped) return;
      await stopConsumer();
      topics = [...topics, ...fresh];
      await startConsumer();
    }

    const member: Member = {
      topicsAppeared(names) {
        if (typeof selector !== 'string') void enqueue(() => addTopics(names));
      },
      async stop() {
        if (stopped) return chain;
        stopped = true;
        if (refreshTimer) clearInterval(refreshTimer);
        members.delete(member);
        await enqueue(stopConsumer);
      },
    };

    if (typeof selector === 'string') {
      await ensureTopics([selector]);
      topics = [selector];
    } else {
      topics = (await admin.listTopics()).filter(matches);
      refreshTimer = setInterval(() => {
        void enqueue(async () => addTopics(await admin.listTopics()));
      }, topicRefreshMs);
      refreshTimer.unref();
    }
    members.add(member);
    await enqueue(startConsumer);
    return { stop: () => member.stop() };
  }

  return {
    async publish(messages: readonly OutgoingMessage[]) {
      if (closed) throw new Error('the bus is closed');
      // Serialize everything first: a value that is not JSON fails the whole call, publishing nothing.
      const serialized = messages.map((message) => ({
        topic: message.topic,
        key: message.key,
        value: JSON.stringify(message.value) ?? 'null',
        headers: { ...(message.headers ?? {}) },
      }));
      if (serialized.length === 0) return;
      await publishSerialized(serialized);
    },

    subscribe,

    async close() {
      if (closed) return;
      await Promise.allSettled([...members].map((member) => member.stop()));
      closed = true;
      if (connecting) {
        await connecting.catch(() => undefined);
        await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
      }
    },
  };
}
