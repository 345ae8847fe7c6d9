// The bus contract: what every adapter behind adapters/bus/port.ts must do (the local bus
// now, Kafka in the scale-out shape). Nothing here assumes the adapter runs in-process:
// waiting is done by polling for what the handlers saw, never by timing.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { deadLetterTopic, type Bus, type BusSubscription, type DeliveredMessage } from '../../adapters/bus/port.js';

export interface BusFixture {
  bus: Bus;
  close(): Promise<void>;
}

const eventually = (assertion: () => void) => vi.waitFor(assertion, { timeout: 20_000, interval: 5 });

export function busContract(name: string, setup: () => Promise<BusFixture>) {
  describe(`bus contract: ${name}`, () => {
    const fixtures: BusFixture[] = [];
    const subscriptions: BusSubscription[] = [];

    async function open() {
      const fixture = await setup();
      fixtures.push(fixture);
      return fixture.bus;
    }

    afterEach(async () => {
      await Promise.all(subscriptions.splice(0).map((subscription) => subscription.stop()));
      await Promise.all(fixtures.splice(0).map((fixture) => fixture.close()));
    });

    /** A unique topic name per test, so a broker shared between tests does not mix them. */
    const topicName = (label: string) => `contract.${label}.${randomUUID().slice(0, 8)}`;

    function collector() {
      const seen: DeliveredMessage[] = [];
      return { seen, handler: async (message: DeliveredMessage) => { seen.push(message); } };
    }

    async function subscribe(bus: Bus, options: Parameters<Bus['subscribe']>[0]) {
      const subscription = await bus.subscribe(options);
      subscriptions.push(subscription);
      return subscription;
    }

    it('delivers a message with its topic, key, value and headers', async () => {
      const bus = await open();
      const topic = topicName('basic');
      const { seen, handler } = collector();
      await subscribe(bus, { topic, group: 'g', handler });
      await bus.publish([{ topic, key: 'k1', value: { n: 1, nested: { list: [1, 'two', null] } }, headers: { operationId: 'op-1' } }]);
      await eventually(() => expect(seen).toHaveLength(1));
      expect(seen[0]).toMatchObject({ topic, key: 'k1', value: { n: 1, nested: { list: [1, 'two', null] } }, attempt: 1 });
      expect(seen[0]!.headers.operationId).toBe('op-1');
    });

    it('hands each consumer its own copy of the value (it crosses a process boundary in other adapters)', async () => {
      const bus = await open();
      const topic = topicName('copy');
      const value = { items: [1] };
      const first = collector();
      const second = collector();
      await subscribe(bus, { topic, group: 'mutator', handler: async (message) => { (message.value as { items: number[] }).items.push(99); await first.handler(message); } });
      await subscribe(bus, { topic, group: 'reader', handler: second.handler });
      await bus.publish([{ topic, key: 'k', value }]);
      await eventually(() => expect(second.seen).toHaveLength(1));
      await eventually(() => expect(first.seen).toHaveLength(1));
      expect(second.seen[0]!.value).toEqual({ items: [1] });
      expect(value).toEqual({ items: [1] });
    });

    it('refuses a value that is not JSON-serializable, publishing nothing of the call', async () => {
      const bus = await open();
      const topic = topicName('json');
      const { seen, handler } = collector();
      await subscribe(bus, { topic, group: 'g', handler });
      await expect(bus.publish([{ topic, key: 'a', value: { ok: true } }, { topic, key: 'b', value: { big: 1n } }])).rejects.toThrow();
      await bus.publish([{ topic, key: 'c', value: 'after' }]);
      await eventually(() => expect(seen.map((message) => message.value)).toContain('after'));
      expect(seen.map((message) => message.value)).toEqual(['after']);
    });

    it('gives every group every message, and each message to one member of a group', async () => {
      const bus = await open();
      const topic = topicName('groups');
      const a1 = collector();
      const a2 = collector();
      const b = collector();
      await subscribe(bus, { topic, group: 'a', handler: a1.handler });
      await subscribe(bus, { topic, group: 'a', handler: a2.handler });
      await subscribe(bus, { topic, group: 'b', handler: b.handler });
      const messages = Array.from({ length: 40 }, (_, index) => ({ topic, key: `key-${index % 8}`, value: index }));
      await bus.publish(messages);
      await eventually(() => expect(b.seen).toHaveLength(40));
      await eventually(() => expect(a1.seen.length + a2.seen.length).toBe(40));
      const inA = [...a1.seen, ...a2.seen].map((message) => message.value as number).sort((x, y) => x - y);
      expect(inA).toEqual(messages.map((message) => message.value));
    });

    it('keeps the order of one key, handling its next message only after the previous one', async () => {
      const bus = await open();
      const topic = topicName('order');
      const order: number[] = [];
      let active = 0;
      let overlapped = false;
      await subscribe(bus, {
        topic,
        group: 'g',
        handler: async (message) => {
          active++;
          if (active > 1) overlapped = true;
          await new Promise((resolve) => setImmediate(resolve));
          order.push(message.value as number);
          active--;
        },
      });
      for (let i = 0; i < 50; i++) await bus.publish([{ topic, key: 'same', value: i }]);
      await eventually(() => expect(order).toHaveLength(50));
      expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect(overlapped).toBe(false);
    });

    it('does not let a stuck key hold up other keys', async () => {
      const bus = await open();
      const topic = topicName('parallel');
      let release!: () => void;
      const stuck = new Promise<void>((resolve) => { release = resolve; });
      const seen: string[] = [];
      await subscribe(bus, {
        topic,
        group: 'g',
        handler: async (message) => {
          if (message.key === 'slow') await stuck;
          seen.push(message.key);
        },
      });
      await bus.publish([{ topic, key: 'slow', value: 1 }, { topic, key: 'fast', value: 2 }]);
      await eventually(() => expect(seen).toEqual(['fast']));
      release();
      await eventually(() => expect(seen).toEqual(['fast', 'slow']));
    });

    it('redelivers a message whose handler failed, keeping the key\'s order', async () => {
      const bus = await open();
      const topic = topicName('retry');
      const deliveries: Array<[number, number]> = [];
      let failures = 2;
      await subscribe(bus, {
        topic,
        group: 'g',
        handler: async (message) => {
          deliveries.push([message.value as number, message.attempt]);
          if (message.value === 1 && failures-- > 0) throw new Error('transient');
        },
      });
      await bus.publish([{ topic, key: 'k', value: 1 }, { topic, key: 'k', value: 2 }]);
      await eventually(() => expect(deliveries.some(([value]) => value === 2)).toBe(true));
      expect(deliveries).toEqual([[1, 1], [1, 2], [1, 3], [2, 1]]);
    });

    it('dead-letters a message after maxAttempts failed deliveries and goes on', async () => {
      const bus = await open();
      const topic = topicName('dead');
      const dead = collector();
      const handled: number[] = [];
      await subscribe(bus, { topic: deadLetterTopic(topic), group: 'dlq', handler: dead.handler });
      await subscribe(bus, {
        topic,
        group: 'g',
        maxAttempts: 2,
        handler: async (message) => {
          if (message.value === 'poison') throw new Error('cannot handle this');
          handled.push(message.value as number);
        },
      });
      await bus.publish([{ topic, key: 'k', value: 'poison' }, { topic, key: 'k', value: 7 }]);
      await eventually(() => expect(dead.seen).toHaveLength(1));
      await eventually(() => expect(handled).toEqual([7]));
      expect(dead.seen[0]!.value).toBe('poison');
      expect(dead.seen[0]!.headers['x-original-topic']).toBe(topic);
    });

    it('subscribes by pattern, including topics that appear later, and nothing else', async () => {
      const bus = await open();
      const prefix = `contract.pattern${randomUUID().slice(0, 8)}`;
      const { seen, handler } = collector();
      await subscribe(bus, { topic: { pattern: `^${prefix.replace(/\./g, '\\.')}\\.host-[^.]+$` }, group: 'g', handler });
      await bus.publish([
        { topic: `${prefix}.host-a`, key: 'a', value: 'a' },
        { topic: `${prefix}.host-b`, key: 'b', value: 'b' },
        { topic: `${prefix}.results`, key: 'r', value: 'not mine' },
      ]);
      await eventually(() => expect(seen.map((message) => message.value).sort()).toEqual(['a', 'b']));
    });

    it('delivers messages published before anyone subscribed to the first group that does', async () => {
      const bus = await open();
      const topic = topicName('early');
      await bus.publish([{ topic, key: 'k', value: 'early' }]);
      const { seen, handler } = collector();
      await subscribe(bus, { topic, group: 'late', handler });
      await eventually(() => expect(seen.map((message) => message.value)).toEqual(['early']));
    });

    it('stops a subscriber: nothing reaches it afterwards, its group\'s other members take over', async () => {
      const bus = await open();
      const topic = topicName('stop');
      const first = collector();
      const second = collector();
      const subscription = await subscribe(bus, { topic, group: 'g', handler: first.handler });
      await bus.publish([{ topic, key: 'k', value: 1 }]);
      await eventually(() => expect(first.seen).toHaveLength(1));
      await subscribe(bus, { topic, group: 'g', handler: second.handler });
      await subscription.stop();
      await bus.publish([{ topic, key: 'k', value: 2 }, { topic, key: 'other', value: 3 }]);
      await eventually(() => expect(second.seen.map((message) => message.value).sort()).toEqual([2, 3]));
      expect(first.seen.map((message) => message.value)).toEqual([1]);
    });
  });
}
