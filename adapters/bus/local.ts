// The in-process bus (embedded shape, DESIGN.md §1): the semantics of the bus port without a
// broker. Messages are serialized on publish and parsed per delivery, so a consumer never
// shares an object with its publisher (the Kafka adapter behaves the same way).
//
// Model: a topic has consumer groups; each group keeps one FIFO queue per message key and
// drains it with one of its members (chosen by the key's hash among the members whose
// selector matches the topic), one message at a time. A failed handler is retried after a
// backoff, blocking its key (order is kept), then dead-lettered after `maxAttempts`.
// A message published to a topic no group listens to waits in the topic's backlog and goes
// to the first group that subscribes (like a new Kafka group reading from the earliest
// offset); later groups get only what is published after they subscribe. Nothing survives
// the process: the outbox makes effects durable, not the bus.
import {
  deadLetterTopic,
  type Bus,
  type BusSubscription,
  type DeliveredMessage,
  type OutgoingMessage,
  type SubscribeOptions,
  type TopicSelector,
} from './port.js';

export interface LocalBusOptions {
  /** Delay before redelivering a message whose handler failed, by attempt (1, 2 …). */
  retryDelayMs?: (attempt: number) => number;
  log?: { warn(details: object, message: string): void; error(details: object, message: string): void };
}

export interface LocalBus extends Bus {
  idle(): Promise<void>;
}

interface Stored {
  topic: string;
  key: string;
  json: string;
  headers: Record<string, string>;
}

interface Member {
  matches: (topic: string) => boolean;
  handler: (message: DeliveredMessage) => Promise<void>;
  maxAttempts: number;
  concurrency: number;
  active: number;
  parked: KeyQueue[];
  stopped: boolean;
  inFlight: Set<Promise<void>>;
}

interface Group {
  name: string;
  members: Member[];
  queues: Map<string, KeyQueue>;
}

interface KeyQueue {
  group: Group;
  topic: string;
  key: string;
  hash: number;
  items: Stored[];
  head: number;
  attempt: number;
  running: boolean;
  /** A retry timer is pending. */
  waiting: boolean;
}

interface Topic {
  name: string;
  groups: Group[];
  backlog: Stored[];
}

const defaultRetryDelay = (attempt: number) => Math.min(2000, 10 * 2 ** (attempt - 1));

export function createLocalBus(options: LocalBusOptions = {}): LocalBus {
  const retryDelay = options.retryDelayMs ?? defaultRetryDelay;
  const topics = new Map<string, Topic>();
  const groups = new Map<string, Group>();
  const timers = new Set<NodeJS.Timeout>();
  let idleWaiters: Array<() => void> = [];
  let closed = false;

  function matcherOf(selector: TopicSelector): (topic: string) => boolean {
    if (typeof selector === 'string') return (topic) => topic === selector;
    const pattern = new RegExp(selector.pattern);
    return (topic) => pattern.test(topic);
  }

  function topicNamed(name: string): Topic {
    let topic = topics.get(name);
    if (topic) return topic;
    topic = { name, groups: [], backlog: [] };
    topics.set(name, topic);
    for (const group of groups.values()) {
      if (group.members.some((member) => member.matches(name))) topic.groups.push(group);
    }
    return topic;
  }

  function queueOf(group: Group, topic: string, key: string): KeyQueue {
    const id = `${topic}\u0000${key}`;
    let queue = group.queues.get(id);
    if (!queue) {
      queue = { group, topic, key, hash: hashOf(id), items: [], head: 0, attempt: 1, running: false, waiting: false };
      group.queues.set(id, queue);
    }
    return queue;
  }

  function enqueue(group: Group, message: Stored) {
    const queue = queueOf(group, message.topic, message.key);
    queue.items.push(message);
    pump(queue);
  }

  function memberFor(queue: KeyQueue): Member | undefined {
    const candidates = queue.group.members.filter((member) => !member.stopped && member.matches(queue.topic));
    if (candidates.length === 0) return undefined;
    return candidates[queue.hash % candidates.length];
  }

  function pump(queue: KeyQueue) {
    if (closed || queue.running || queue.waiting || queue.head >= queue.items.length) return;
    const member = memberFor(queue);
    if (!member) return; // waits for a member of its group
    if (member.active >= member.concurrency) {
      if (!member.parked.includes(queue)) member.parked.push(queue);
      return;
    }
    queue.running = true;
    member.active++;
    const run = drain(queue, member).finally(() => {
      member.inFlight.delete(run);
      member.active--;
      queue.running = false;
      const parked = member.parked.shift();
      if (parked) pump(parked);
      if (queue.head >= queue.items.length && !queue.waiting) queue.group.queues.delete(`${queue.topic}\u0000${queue.key}`);
      else pump(queue);
      checkIdle();
    });
    member.inFlight.add(run);
  }

  async function drain(queue: KeyQueue, member: Member) {
    while (!closed && !member.stopped && queue.head < queue.items.length) {
      const stored = queue.items[queue.head]!;
      const attempt = queue.attempt;
      try {
        await member.handler({
          topic: stored.topic,
          key: stored.key,
          value: JSON.parse(stored.json) as unknown,
          headers: { ...stored.headers },
          attempt,
        });
      } catch (error) {
        if (attempt < member.maxAttempts) {
          queue.attempt++;
          options.log?.warn({ err: error, topic: stored.topic, key: stored.key, attempt }, 'bus handler failed; redelivering later');
          scheduleRetry(queue, retryDelay(attempt));
          return;
        }
        deadLetter(stored, error, attempt);
      }
      queue.attempt = 1;
      queue.head++;
      if (queue.head > 1024 && queue.head * 2 > queue.items.length) {
        queue.items = queue.items.slice(queue.head);
        queue.head = 0;
      }
    }
  }

  function scheduleRetry(queue: KeyQueue, delayMs: number) {
    queue.waiting = true;
    const timer = setTimeout(() => {
      timers.delete(timer);
      queue.waiting = false;
      pump(queue);
      checkIdle();
    }, delayMs);
    timer.unref();
    timers.add(timer);
  }

  function deadLetter(stored: Stored, error: unknown, attempts: number) {
    const reason = error instanceof Error ? error.message : String(error);
    if (stored.topic.endsWith('.dead-letter')) {
      options.log?.error({ topic: stored.topic, key: stored.key, attempts }, 'dead-letter handler failed; message dropped');
      return;
    }
    options.log?.error({ topic: stored.topic, key: stored.key, attempts, reason }, 'bus message dead-lettered');
    route({
      topic: deadLetterTopic(stored.topic),
      key: stored.key,
      json: stored.json,
      headers: { ...stored.headers, 'x-original-topic': stored.topic, 'x-error': reason.slice(0, 500), 'x-attempts': String(attempts) },
    });
  }

  function route(stored: Stored) {
    const topic = topicNamed(stored.topic);
    if (topic.groups.length === 0) {
      topic.backlog.push(stored);
      return;
    }
    for (const group of topic.groups) enqueue(group, stored);
  }

  function isIdle(): boolean {
    for (const group of groups.values()) {
      for (const queue of group.queues.values()) {
        if (queue.running || queue.waiting) return false;
        if (queue.head < queue.items.length && memberFor(queue)) return false;
      }
    }
    return true;
  }

  function checkIdle() {
    if (idleWaiters.length === 0 || !isIdle()) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  return {
    async publish(messages: readonly OutgoingMessage[]) {
      if (closed) throw new Error('the bus is closed');
      // Serialize everything first: a value that is not JSON fails the whole call, publishing nothing.
      const stored = messages.map((message): Stored => ({
        topic: message.topic,
        key: message.key,
        json: JSON.stringify(message.value) ?? 'null',
        headers: { ...(message.headers ?? {}) },
      }));
      for (const message of stored) route(message);
    },

    async subscribe<V>(subscription: SubscribeOptions<V>): Promise<BusSubscription> {
      if (closed) throw new Error('the bus is closed');
      const member: Member = {
        matches: matcherOf(subscription.topic),
        handler: subscription.handler as (message: DeliveredMessage) => Promise<void>,
        maxAttempts: Math.max(1, subscription.maxAttempts ?? 5),
        concurrency: Math.max(1, subscription.concurrency ?? Number.POSITIVE_INFINITY),
        active: 0,
        parked: [],
        stopped: false,
        inFlight: new Set(),
      };
      let group = groups.get(subscription.group);
      if (!group) {
        group = { name: subscription.group, members: [], queues: new Map() };
        groups.set(group.name, group);
      }
      group.members.push(member);
      for (const topic of topics.values()) {
        if (!member.matches(topic.name) || topic.groups.includes(group)) continue;
        topic.groups.push(group);
        if (topic.groups.length === 1) {
          const backlog = topic.backlog;
          topic.backlog = [];
          for (const stored of backlog) enqueue(group, stored);
        }
      }
      for (const queue of group.queues.values()) pump(queue);
      const joined = group;
      return {
        async stop() {
          if (member.stopped) return;
          member.stopped = true;
          joined.members = joined.members.filter((other) => other !== member);
          await Promise.allSettled([...member.inFlight]);
          // What this member held goes to the remaining members, or waits for a new one.
          for (const queue of [...member.parked, ...joined.queues.values()]) pump(queue);
          member.parked = [];
          checkIdle();
        },
      };
    },

    idle() {
      if (isIdle()) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },

    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const inFlight: Promise<void>[] = [];
      for (const group of groups.values()) {
        for (const member of group.members) {
          member.stopped = true;
          inFlight.push(...member.inFlight);
        }
      }
      await Promise.allSettled(inFlight);
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const resolve of waiters) resolve();
    },
  };
}

/** FNV-1a: a stable spread of keys over a group's members. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
