// Which bus adapter STRATUS_BUS picks (DESIGN.md §1): `local` (in-process, the embedded
// default) or `kafka://host:9092[,host2:9092…]` (scale-out), and whether integration events
// are published (STRATUS_INTEGRATION_EVENTS).
import { createKafkaBus, parseKafkaUrl } from '../adapters/bus/kafka.js';
import { createLocalBus } from '../adapters/bus/local.js';
import type { Bus } from '../adapters/bus/port.js';
import { integrationEventsTopic } from '../commands/effects/integration-events.js';

type BusLog = { warn(details: object, message: string): void; error(details: object, message: string): void };

/** Throws, naming the variable, when STRATUS_BUS is neither `local` nor a Kafka URL. */
export function checkBusUrl(url: string): void {
  if (url === 'local') return;
  if (url.startsWith('kafka://')) {
    parseKafkaUrl(url);
    return;
  }
  throw new Error(`STRATUS_BUS ${url} is not supported: use local (in-process) or kafka://host:9092[,host2:9092…]`);
}

export function createBus(url: string, options: { log: BusLog; clientId?: string; sessionTimeoutMs?: number | undefined }): Bus {
  checkBusUrl(url);
  if (url === 'local') return createLocalBus({ log: options.log });
  return createKafkaBus({
    brokers: parseKafkaUrl(url),
    clientId: options.clientId ?? 'stratus',
    log: options.log,
    ...(options.sessionTimeoutMs ? { sessionTimeoutMs: options.sessionTimeoutMs } : {}),
  });
}

/**
 * The integration-event topic: on by default with Kafka (outside consumers read it at their
 * own pace), off with the local bus (nobody outside the process could read it, and the
 * in-process bus would keep every event in memory for want of a subscriber).
 * STRATUS_INTEGRATION_EVENTS=off turns it off, any other value names the topic.
 */
export function integrationEventsTopicOf(env: NodeJS.ProcessEnv, busUrl: string): string | undefined {
  const value = env.STRATUS_INTEGRATION_EVENTS?.trim();
  if (value === 'off') return undefined;
  if (busUrl === 'local') {
    if (value) throw new Error('STRATUS_INTEGRATION_EVENTS needs a broker: set STRATUS_BUS=kafka://… (or leave it unset)');
    return undefined;
  }
  if (value && !/^[a-zA-Z0-9._-]{1,249}$/.test(value)) throw new Error(`STRATUS_INTEGRATION_EVENTS must be a topic name ([a-zA-Z0-9._-]) or off, not ${value}`);
  return value || integrationEventsTopic;
}
