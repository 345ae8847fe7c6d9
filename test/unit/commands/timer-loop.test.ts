import { describe, expect, it } from 'vitest';
import { manualClock } from '../../../adapters/clock/manual.js';
import { createTimerLoop } from '../../../commands/shared/timer-loop.js';

describe('timer loop', () => {
  it('runs due work once its time has come, by the clock', async () => {
    const clock = manualClock(0);
    const dueAt = [1000, 5000];
    const done: number[] = [];
    const loop = createTimerLoop({
      clock,
      intervalMs: 60_000,
      log: { error: () => {} },
      jobs: [{ name: 'due', run: async (now) => { while (dueAt.length && dueAt[0]! <= now) done.push(dueAt.shift()!); } }],
    });
    await loop.tick();
    expect(done).toEqual([]);
    clock.advance(1000);
    await loop.tick();
    expect(done).toEqual([1000]);
    clock.advance(10_000);
    await loop.tick();
    expect(done).toEqual([1000, 5000]);
  });

  it('keeps running the other jobs when one fails', async () => {
    const ran: string[] = [];
    const errors: string[] = [];
    const loop = createTimerLoop({
      clock: manualClock(),
      intervalMs: 60_000,
      log: { error: (details) => errors.push((details as { job: string }).job) },
      jobs: [
        { name: 'broken', run: async () => { throw new Error('boom'); } },
        { name: 'fine', run: async () => { ran.push('fine'); } },
      ],
    });
    await loop.tick();
    expect(ran).toEqual(['fine']);
    expect(errors).toEqual(['broken']);
  });
});
