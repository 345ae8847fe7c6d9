// The order of hypervisor operations through the effect pipeline over a real Kafka broker
// (STRATUS_TEST_KAFKA, started by `npm run test:services`): one VM's operations in order,
// different VMs of a host at once, at most hostConcurrency per host. Skipped without a broker.
import { randomUUID } from 'node:crypto';
import { describe } from 'vitest';
import { createKafkaBus, parseKafkaUrl } from '../../adapters/bus/kafka.js';
import { effectsOrderContract } from '../contract/effects-order.contract.js';

const brokers = process.env.STRATUS_TEST_KAFKA;

describe.skipIf(!brokers)('effect order over Kafka (STRATUS_TEST_KAFKA)', () => {
  effectsOrderContract('kafka', async () => {
    const bus = createKafkaBus({
      brokers: parseKafkaUrl(`kafka://${brokers!}`),
      groupPrefix: `order-${randomUUID().slice(0, 8)}.`,
      numPartitions: 4,
      retryDelayMs: () => 20,
      topicRefreshMs: 500,
      sessionTimeoutMs: 10_000,
    });
    return { bus, close: () => bus.close() };
  }, { timeoutMs: 60_000 });
});
