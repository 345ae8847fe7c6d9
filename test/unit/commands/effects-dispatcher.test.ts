// The dispatcher's own rules, on in-memory stores and the local bus with no agent: routes are
// registered once by name, a failing route does not stop the others, an operation id is
// recorded once, and the registry of routes holds unique, stable names.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLocalBus } from '../../../adapters/bus/local.js';
import { manualClock } from '../../../adapters/clock/manual.js';
import { openSqliteEventStore } from '../../../adapters/eventstore/sqlite.js';
import { openSqliteReadStore } from '../../../adapters/readstore/sqlite.js';
import { createEffectDispatcher } from '../../../commands/effects/dispatcher.js';
import { allHostTopicsPattern, hostTopic, operationIdFor, resultsTopic, type EffectCommand, type EffectRoute } from '../../../commands/effects/effect.js';
import { outboxCollection, type OutboxDoc } from '../../../commands/effects/outbox.js';
import { effectRoutes } from '../../../commands/effects/routes.js';

const silent = { info() {}, warn() {}, error() {} };

function route(name: string, handles: string[], effectsOf: EffectRoute['effectsOf']): EffectRoute {
  return { name, handles, effectsOf, onResult: async () => undefined };
}

async function setup(routes: EffectRoute[]) {
  const clock = manualClock();
  const eventStore = openSqliteEventStore({ file: ':memory:', clock });
  const readStore = openSqliteReadStore({ file: ':memory:' });
  const bus = createLocalBus();
  const published: EffectCommand[] = [];
  await bus.subscribe<EffectCommand>({ topic: { pattern: allHostTopicsPattern }, group: 'spy', handler: async (message) => { published.push(message.value); } });
  const dispatcher = createEffectDispatcher({ eventStore, readStore, bus, clock, routes, log: silent });
  await dispatcher.start();
  return {
    clock, eventStore, readStore, bus, dispatcher, published,
    async close() {
      await dispatcher.stop();
      await bus.close();
      await eventStore.close();
      await readStore.close();
    },
  };
}

const probeOf = (hostId: string): EffectRoute['effectsOf'] => (event) => [{ operationId: operationIdFor(event, 'probe'), hostId, operation: { op: 'host.probe' } }];

describe('effect dispatcher', () => {
  it('refuses two routes with the same name', () => {
    const a = route('same', ['A'], () => []);
    expect(() => createEffectDispatcher({
      eventStore: openSqliteEventStore({ file: ':memory:' }), readStore: openSqliteReadStore({ file: ':memory:' }),
      bus: createLocalBus(), clock: manualClock(), routes: [a, { ...a }], log: silent,
    })).toThrow(/two effect routes are named same/);
  });

  it('derives effects only from the event types a route handles, publishing each to its host with its deadline', async () => {
    const hostId = randomUUID();
    const t = await setup([route('probe', ['ProbeRequested'], probeOf(hostId))]);
    await t.eventStore.append('s-1', [{ type: 'Unrelated', data: {} }], 'any');
    const written = await t.eventStore.append('s-1', [{ type: 'ProbeRequested', data: {}, metadata: { correlationId: 'c-1' } }], 'any');
    expect(await t.dispatcher.waitForPosition(written.position, 10_000)).toBe(true);
    await t.bus.idle();
    expect(t.published).toEqual([{
      operationId: operationIdFor(written.events[0]!, 'probe'),
      route: 'probe',
      hostId,
      operation: { op: 'host.probe' },
      deadline: t.clock.now() + 300_000,
      correlationId: 'c-1',
    }]);
    expect(hostTopic(hostId)).toMatch(new RegExp(allHostTopicsPattern));
    expect(resultsTopic).not.toMatch(new RegExp(allHostTopicsPattern));
    await t.close();
  });

  it('skips an event for a route whose effectsOf throws, and goes on with the other routes and events', async () => {
    const hostId = randomUUID();
    const t = await setup([
      route('broken', ['ProbeRequested'], (event) => { if ((event.data as { bad?: boolean }).bad) throw new Error('bug'); return []; }),
      route('probe', ['ProbeRequested'], probeOf(hostId)),
    ]);
    const written = await t.eventStore.append('s', [{ type: 'ProbeRequested', data: { bad: true } }, { type: 'ProbeRequested', data: {} }], 'any');
    expect(await t.dispatcher.waitForPosition(written.position, 10_000)).toBe(true);
    expect(await t.readStore.count(outboxCollection, { route: 'probe' })).toBe(2);
    await t.close();
  });

  it('records an operation id once, even if a later event derives it again', async () => {
    const hostId = randomUUID();
    const fixedId = randomUUID();
    const t = await setup([route('fixed', ['Again'], () => [{ operationId: fixedId, hostId, operation: { op: 'host.probe' } }])]);
    const first = await t.eventStore.append('s', [{ type: 'Again', data: {} }], 'any');
    await t.dispatcher.waitForPosition(first.position, 10_000);
    const second = await t.eventStore.append('s', [{ type: 'Again', data: {} }], 'any');
    await t.dispatcher.waitForPosition(second.position, 10_000);
    const docs = await t.readStore.find(outboxCollection, {}) as OutboxDoc[];
    expect(docs).toHaveLength(1);
    expect(docs[0]!.causationId).toBe(first.events[0]!.id);
    await t.close();
  });

  it('derives deterministic operation ids from the causing event', () => {
    const event = { id: randomUUID() };
    expect(operationIdFor(event, 'start')).toBe(operationIdFor({ ...event }, 'start'));
    expect(operationIdFor(event, 'start')).not.toBe(operationIdFor(event, 'stop'));
    expect(operationIdFor(event, 'start')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('registry of effect routes', () => {
  it('has unique route names, each handling at least one event type', () => {
    const names = effectRoutes.map((entry) => entry.name);
    expect(new Set(names).size).toBe(names.length);
    for (const entry of effectRoutes) expect(entry.handles.length).toBeGreaterThan(0);
  });
});
