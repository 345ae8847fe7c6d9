// Integration events (issue 5): every committed domain event, published to one bus topic for
// consumers outside Stratus (billing, CMDB, SIEM …), keyed by its stream so that one
// aggregate's events arrive in order. The message is the event's envelope (DESIGN.md §3).
//
// A checkpointed subscription to $all (commands/shared/checkpointed-subscriber.ts), like the
// effect dispatcher: a batch is published,
// then its position is committed in the read store. Delivery is at least once — after a
// crash between the two, the batch is published again — so outside consumers de-duplicate
// by the event id (or by stream and version, which only grow). Fields whose names suggest a
// secret (password hashes, sealed secrets, tokens) are redacted before they leave: events
// carry no plaintext secret, but ciphertext and hashes are not for outside consumers either.
// Only the bus port is used, so the embedded local bus works too (tests); in production it
// runs with Kafka, where the topic is durable and consumers read it at their own pace.
import type { Bus } from '../../adapters/bus/port.js';
import type { EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { createCheckpointedSubscriber } from '../shared/checkpointed-subscriber.js';
import { redactSecrets } from '../shared/redact.js';
import type { EffectLogger } from './effect.js';

/** Default topic of integration events. */
export const integrationEventsTopic = 'stratus.integration-events';
/** Its checkpoint in the read store (a position in $all). */
export const integrationEventsCheckpoint = 'integration-events';

/** What outside consumers get: the envelope, secrets redacted. */
export interface IntegrationEvent {
  id: string;
  stream: string;
  version: number;
  position: number;
  type: string;
  data: unknown;
  metadata: Record<string, unknown>;
  recordedAt: number;
}

export interface IntegrationEventPublisher {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves true once every event up to `position` is published and checkpointed (false on timeout). */
  waitForPosition(position: number, timeoutMs: number): Promise<boolean>;
}

export function integrationEventOf(event: RecordedEvent): IntegrationEvent {
  return {
    id: event.id,
    stream: event.stream,
    version: event.version,
    position: event.position,
    type: event.type,
    data: redactSecrets(event.data),
    metadata: redactSecrets(event.metadata) as Record<string, unknown>,
    recordedAt: event.recordedAt,
  };
}

export function createIntegrationEventPublisher(deps: {
  eventStore: EventStore;
  readStore: ReadStore;
  bus: Bus;
  log: EffectLogger;
  topic?: string;
  batchSize?: number;
}): IntegrationEventPublisher {
  const { eventStore, readStore, bus, log } = deps;
  const topic = deps.topic ?? integrationEventsTopic;

  async function onEvents(events: RecordedEvent[]) {
    const messages = events.map((event) => ({
      topic,
      key: event.stream,
      value: integrationEventOf(event),
      headers: { eventId: event.id, eventType: event.type, stream: event.stream },
    }));
    // The events are safe in the store: if the bus refuses, keep trying (the subscription
    // waits), rather than skip them.
    for (let attempt = 1; ; attempt++) {
      try {
        await bus.publish(messages);
        break;
      } catch (error) {
        if (subscriber.stopped()) return;
        log.error({ err: error, attempt, count: messages.length }, 'could not publish integration events; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 50 * 2 ** Math.min(attempt, 7))));
      }
    }
    await readStore.commit(integrationEventsCheckpoint, events[events.length - 1]!.position, async () => undefined);
  }

  const subscriber = createCheckpointedSubscriber({
    eventStore,
    readStore,
    checkpoint: integrationEventsCheckpoint,
    onEvents,
    name: 'integration-event publisher',
    log,
    batchSize: deps.batchSize ?? 500,
  });

  return {
    async start() {
      await subscriber.start();
    },
    stop: () => subscriber.stop(),
    waitForPosition: (target, timeoutMs) => subscriber.waitForPosition(target, timeoutMs),
  };
}
