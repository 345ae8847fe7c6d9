import { describe, expect, it } from 'vitest';
import { createLocalBus } from '../../adapters/bus/local.js';
import { busContract } from './bus.contract.js';

busContract('local', async () => {
  const bus = createLocalBus({ retryDelayMs: () => 1 });
  return { bus, close: () => bus.close() };
});

describe('local bus', () => {
  it('idle() resolves once everything published has been handled', async () => {
    const bus = createLocalBus({ retryDelayMs: () => 1 });
    const handled: number[] = [];
    let failOnce = true;
    await bus.subscribe({
      topic: 't',
      group: 'g',
      handler: async (message) => {
        await new Promise((resolve) => setImmediate(resolve));
        if (message.value === 3 && failOnce) {
          failOnce = false;
          throw new Error('once');
        }
        handled.push(message.value as number);
      },
    });
    await bus.publish([1, 2, 3, 4].map((value) => ({ topic: 't', key: String(value % 2), value })));
    await bus.idle();
    expect(handled.sort()).toEqual([1, 2, 3, 4]);
    await bus.close();
  });

  it('limits how many keys one subscriber handles at once when asked', async () => {
    const bus = createLocalBus();
    let active = 0;
    let peak = 0;
    await bus.subscribe({
      topic: 't',
      group: 'g',
      concurrency: 2,
      handler: async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((resolve) => setImmediate(resolve));
        active--;
      },
    });
    await bus.publish(Array.from({ length: 20 }, (_, index) => ({ topic: 't', key: `k${index}`, value: index })));
    await bus.idle();
    expect(peak).toBe(2);
    await bus.close();
  });
});
