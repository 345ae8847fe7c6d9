// The bus contract against a real Kafka broker (the single KRaft node of `npm run
// test:services`, or any cluster): STRATUS_TEST_KAFKA=host:port[,host:port…]. Each bus gets
// a consumer-group prefix of its own and each test unique topics, so runs on a shared broker
// do not mix. Skipped when the variable is absent. Waiting is by polling what handlers saw.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createKafkaBus, parseKafkaUrl, type KafkaBusOptions } from '../../adapters/bus/kafka.js';
import { deadLetterTopic, type Bus, type BusSubscription, type DeliveredMessage } from '../../adapters/bus/port.js';
import { busContract } from '../contract/bus.contract.js';

const brokers = process.env.STRATUS_TEST_KAFKA;

const eventually = (assertion: () => void) => vi.waitFor(assertion, { timeout: 60_000, interval: 20 });

function openBus(groupPrefix = `test-${randomUUID().slice(0, 8)}.`, extra: Partial<KafkaBusOptions> = {}): Bus {
  return createKafkaBus({
    brokers: parseKafkaUrl(`kafka://${brokers!}`),
    groupPrefix,
    numPartitions: 4,
    retryDelayMs: () => 20,
    topicRefreshMs: 500,
    sessionTimeoutMs: 10_000,
    ...extra,
  });
}

describe.skipIf(!brokers)('kafka bus (STRATUS_TEST_KAFKA)', () => {
  busContract('kafka', async () => {
    const bus = openBus();
    return { bus, close: () => bus.close() };
  });

  describe('kafka-specific', () => {
    const buses: Bus[] = [];
    const subscriptions: BusSubscription[] = [];
    afterEach(async () => {
      await Promise.allSettled(subscriptions.splice(0).map((subscription) => subscription.stop()));
      await Promise.allSettled(buses.splice(0).map((bus) => bus.close()));
    });
    const bus = (prefix?: string) => {
      const opened = openBus(prefix);
      buses.push(opened);
      return opened;
    };
    const topicName = (label: string) => `kafka-test.${label}.${randomUUID().slice(0, 8)}`;

    it('keeps messages in the broker: a consumer in another process gets what was published before it existed', async () => {
      const topic = topicName('durable');
      const publisher = bus();
      await publisher.publish([{ topic, key: 'k', value: 1 }, { topic, key: 'k', value: 2 }]);
      await publisher.close();
      const seen: unknown[] = [];
      const consumer = bus();
      subscriptions.push(await consumer.subscribe({ topic, group: 'late', handler: async (message) => { seen.push(message.value); } }));
      await eventually(() => expect(seen).toEqual([1, 2]));
    });

    it('resumes a group after its committed offset: a restarted member gets only what it had not handled', async () => {
      const topic = topicName('resume');
      const prefix = `resume-${randomUUID().slice(0, 8)}.`;
      const first: unknown[] = [];
      const busA = bus(prefix);
      const subscription = await busA.subscribe({ topic, group: 'g', handler: async (message) => { first.push(message.value); } });
      await busA.publish([1, 2, 3].map((value) => ({ topic, key: 'k', value })));
      await eventually(() => expect(first).toEqual([1, 2, 3]));
      await subscription.stop();
      await busA.close();

      const publisher = bus();
      await publisher.publish([4, 5].map((value) => ({ topic, key: 'k', value })));
      const second: unknown[] = [];
      const busB = bus(prefix);
      subscriptions.push(await busB.subscribe({ topic, group: 'g', handler: async (message) => { second.push(message.value); } }));
      await eventually(() => expect(second).toEqual([4, 5]));
    });

    it('redelivers to another member what a member let go of before its handler succeeded (at least once)', async () => {
      const topic = topicName('handover');
      const prefix = `handover-${randomUUID().slice(0, 8)}.`;
      const busA = bus(prefix);
      const busB = bus(prefix);
      let attemptsOnA = 0;
      // A keeps failing the message (its retries block the key), then leaves the group.
      const onA = await busA.subscribe({ topic, group: 'g', maxAttempts: 1000, handler: async () => { attemptsOnA++; throw new Error('not now'); } });
      await busA.publish([{ topic, key: 'k', value: 'work' }]);
      await eventually(() => expect(attemptsOnA).toBeGreaterThan(0));
      const onB: DeliveredMessage[] = [];
      subscriptions.push(await busB.subscribe({ topic, group: 'g', handler: async (message) => { onB.push(message); } }));
      await onA.stop();
      await eventually(() => expect(onB.map((message) => message.value)).toEqual(['work']));
      expect(onB[0]!.attempt).toBe(1);
    });

    it('keeps each key\'s order across many keys and two members of a group', async () => {
      const topic = topicName('many-keys');
      const prefix = `many-${randomUUID().slice(0, 8)}.`;
      const seen = new Map<string, number[]>();
      const handler = async (message: DeliveredMessage) => {
        const list = seen.get(message.key) ?? [];
        list.push(message.value as number);
        seen.set(message.key, list);
      };
      subscriptions.push(await bus(prefix).subscribe({ topic, group: 'g', handler }));
      subscriptions.push(await bus(prefix).subscribe({ topic, group: 'g', handler }));
      const publisher = bus();
      const keys = Array.from({ length: 16 }, (_, index) => `host-${index}`);
      for (let round = 0; round < 10; round++) await publisher.publish(keys.map((key) => ({ topic, key, value: round })));
      await eventually(() => expect([...seen.values()].reduce((sum, list) => sum + list.length, 0)).toBe(160));
      for (const key of keys) expect(seen.get(key)).toEqual(Array.from({ length: 10 }, (_, round) => round));
    });

    it('keeps handling other keys of a partition published after a key got stuck', async () => {
      const topic = topicName('one-partition');
      const single = openBus(undefined, { numPartitions: 1 });
      buses.push(single);
      let release!: () => void;
      const stuck = new Promise<void>((resolve) => { release = resolve; });
      const seen: string[] = [];
      subscriptions.push(await single.subscribe({ topic, group: 'g', handler: async (message) => {
        seen.push(`start ${message.key}`);
        if (message.key === 'slow') await stuck;
      } }));
      await single.publish([{ topic, key: 'slow', value: 1 }]);
      await eventually(() => expect(seen).toEqual(['start slow']));
      await single.publish([{ topic, key: 'fast', value: 2 }, { topic, key: 'fast', value: 3 }]);
      await eventually(() => expect(seen).toEqual(['start slow', 'start fast', 'start fast']));
      release();
    });

    it('puts the reason and the attempt count on a dead letter', async () => {
      const topic = topicName('dead');
      const shared = bus();
      const dead: DeliveredMessage[] = [];
      subscriptions.push(await shared.subscribe({ topic: deadLetterTopic(topic), group: 'dlq', handler: async (message) => { dead.push(message); } }));
      subscriptions.push(await shared.subscribe({ topic, group: 'g', maxAttempts: 3, handler: async () => { throw new Error('bad input'); } }));
      await shared.publish([{ topic, key: 'k', value: { x: 1 }, headers: { operationId: 'op-9' } }]);
      await eventually(() => expect(dead).toHaveLength(1));
      expect(dead[0]).toMatchObject({ key: 'k', value: { x: 1 } });
      expect(dead[0]!.headers).toMatchObject({ operationId: 'op-9', 'x-original-topic': topic, 'x-error': 'bad input', 'x-attempts': '3' });
    });

    it('limits how many keys one subscriber handles at once when asked', async () => {
      const topic = topicName('concurrency');
      let active = 0;
      let peak = 0;
      let handled = 0;
      subscriptions.push(await bus().subscribe({
        topic,
        group: 'g',
        concurrency: 2,
        handler: async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((resolve) => setImmediate(resolve));
          active--;
          handled++;
        },
      }));
      await bus().publish(Array.from({ length: 40 }, (_, index) => ({ topic, key: `k${index}`, value: index })));
      await eventually(() => expect(handled).toBe(40));
      expect(peak).toBeLessThanOrEqual(2);
    });
  });
});

describe('kafka bus URL', () => {
  it('reads the broker list of kafka://host:port[,host:port…]', () => {
    expect(parseKafkaUrl('kafka://k1:9092,k2:9093')).toEqual(['k1:9092', 'k2:9093']);
    expect(parseKafkaUrl('kafka://127.0.0.1:19092/')).toEqual(['127.0.0.1:19092']);
  });

  it('refuses what is not one', () => {
    expect(() => parseKafkaUrl('kafka://')).toThrow();
    expect(() => parseKafkaUrl('kafka://k1')).toThrow(/host:port/);
    expect(() => parseKafkaUrl('nats://k1:4222')).toThrow(/kafka:\/\//);
  });
});
