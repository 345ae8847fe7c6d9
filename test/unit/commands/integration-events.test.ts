// The integration-event publisher on in-memory stores and the local bus: every committed
// event reaches the topic once per checkpoint, keyed by stream with its envelope, secrets
// redacted; a restart resumes after the checkpoint; a refusing bus holds the events back
// instead of losing them. (Against Kafka it is the same code: only the bus port is used.)
import { describe, expect, it } from 'vitest';
import { createLocalBus } from '../../../adapters/bus/local.js';
import type { Bus, DeliveredMessage } from '../../../adapters/bus/port.js';
import { manualClock } from '../../../adapters/clock/manual.js';
import { openSqliteEventStore } from '../../../adapters/eventstore/sqlite.js';
import { openSqliteReadStore } from '../../../adapters/readstore/sqlite.js';
import { createIntegrationEventPublisher, integrationEventsTopic, type IntegrationEvent } from '../../../commands/effects/integration-events.js';

const silent = { info() {}, warn() {}, error() {} };

async function setup() {
  const clock = manualClock();
  const eventStore = openSqliteEventStore({ file: ':memory:', clock });
  const readStore = openSqliteReadStore({ file: ':memory:' });
  const bus = createLocalBus({ retryDelayMs: () => 1 });
  const seen: Array<DeliveredMessage<IntegrationEvent>> = [];
  await bus.subscribe<IntegrationEvent>({ topic: integrationEventsTopic, group: 'outside', handler: async (message) => { seen.push(message); } });
  return { clock, eventStore, readStore, bus, seen };
}

describe('integration-event publisher', () => {
  it('publishes every committed event, keyed by its stream, as its envelope with secrets redacted', async () => {
    const t = await setup();
    const publisher = createIntegrationEventPublisher({ eventStore: t.eventStore, readStore: t.readStore, bus: t.bus, log: silent });
    await publisher.start();
    await t.eventStore.append('user-1', [{ type: 'UserCreated', data: { name: 'ada', passwordHash: 'scrypt$abc' }, metadata: { correlationId: 'c-1' } }], 'no_stream');
    await t.eventStore.append('vm-1', [{ type: 'VmRequested', data: { cpu: 2 } }], 'no_stream');
    const last = await t.eventStore.append('user-1', [{ type: 'UserRenamed', data: { name: 'ada l.' } }], 0);
    expect(await publisher.waitForPosition(last.position, 10_000)).toBe(true);
    await t.bus.idle();

    expect(t.seen).toHaveLength(3);
    const byStream = (stream: string) => t.seen.filter((message) => message.key === stream).map((message) => message.value.type);
    expect(byStream('user-1')).toEqual(['UserCreated', 'UserRenamed']);
    expect(byStream('vm-1')).toEqual(['VmRequested']);
    const created = t.seen.find((message) => message.value.type === 'UserCreated')!;
    expect(created.value).toMatchObject({ stream: 'user-1', version: 0, data: { name: 'ada', passwordHash: '***' }, metadata: { correlationId: 'c-1' } });
    expect(created.value.position).toBeGreaterThan(0);
    expect(created.headers).toMatchObject({ eventType: 'UserCreated', stream: 'user-1', eventId: created.value.id });
    await publisher.stop();
    await t.bus.close();
  });

  it('resumes after its checkpoint when started again', async () => {
    const t = await setup();
    const first = createIntegrationEventPublisher({ eventStore: t.eventStore, readStore: t.readStore, bus: t.bus, log: silent });
    await first.start();
    const one = await t.eventStore.append('s-1', [{ type: 'A', data: {} }, { type: 'B', data: {} }], 'any');
    expect(await first.waitForPosition(one.position, 10_000)).toBe(true);
    await first.stop();

    await t.eventStore.append('s-1', [{ type: 'C', data: {} }], 'any');
    const second = createIntegrationEventPublisher({ eventStore: t.eventStore, readStore: t.readStore, bus: t.bus, log: silent });
    await second.start();
    const two = await t.eventStore.append('s-2', [{ type: 'D', data: {} }], 'any');
    expect(await second.waitForPosition(two.position, 10_000)).toBe(true);
    await t.bus.idle();
    expect(t.seen.map((message) => message.value.type)).toEqual(['A', 'B', 'C', 'D']);
    await second.stop();
    await t.bus.close();
  });

  it('holds events back while the bus refuses them, and publishes them once it accepts', async () => {
    const t = await setup();
    let refusals = 2;
    const flaky: Bus = {
      ...t.bus,
      publish: async (messages) => {
        if (refusals-- > 0) throw new Error('broker unavailable');
        await t.bus.publish(messages);
      },
    };
    const publisher = createIntegrationEventPublisher({ eventStore: t.eventStore, readStore: t.readStore, bus: flaky, log: silent });
    await publisher.start();
    const written = await t.eventStore.append('s-1', [{ type: 'A', data: {} }], 'any');
    expect(await publisher.waitForPosition(written.position, 10_000)).toBe(true);
    await t.bus.idle();
    expect(refusals).toBeLessThan(0);
    expect(t.seen.map((message) => message.value.type)).toEqual(['A']);
    expect((await t.readStore.checkpoint('integration-events'))?.position).toBe(written.position);
    await publisher.stop();
    await t.bus.close();
  });
});
