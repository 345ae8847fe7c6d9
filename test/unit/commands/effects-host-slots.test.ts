// The per-host limit of operations running at once: first come, first served; a waiter that
// gives up leaves the queue; a changed limit applies to the waiters at once; hosts apart.
import { describe, expect, it } from 'vitest';
import { createHostSlots } from '../../../commands/effects/host-slots.js';

describe('host slots', () => {
  it('grants at most the limit per host, in order of asking, and other hosts apart', async () => {
    const slots = createHostSlots(2);
    const granted: string[] = [];
    const ask = (host: string, name: string, signal?: AbortSignal) => slots.acquire(host, signal).then((release) => { granted.push(name); return release; });
    const a = await ask('h', 'a');
    await ask('h', 'b');
    const c = ask('h', 'c');
    const d = ask('h', 'd');
    await ask('other', 'x');
    expect(granted).toEqual(['a', 'b', 'x']);
    expect(slots.usage('h')).toEqual({ running: 2, waiting: 2 });
    a();
    a(); // a second release changes nothing
    await c;
    expect(granted).toEqual(['a', 'b', 'x', 'c']);
    expect(slots.usage('h')).toEqual({ running: 2, waiting: 1 });
    slots.setLimit(3);
    await d;
    expect(slots.usage('h')).toEqual({ running: 3, waiting: 0 });
  });

  it('lets a waiter give up without taking a slot', async () => {
    const slots = createHostSlots(1);
    const first = await slots.acquire('h');
    const controller = new AbortController();
    const late = slots.acquire('h', controller.signal);
    const next = slots.acquire('h');
    controller.abort(new Error('deadline'));
    await expect(late).rejects.toThrow('deadline');
    expect(slots.usage('h')).toEqual({ running: 1, waiting: 1 });
    first();
    (await next)();
    expect(slots.usage('h')).toEqual({ running: 0, waiting: 0 });
    expect(() => slots.setLimit(0)).toThrow(/at least 1/);
  });
});
