import type { Clock } from './port.js';

/** A clock that moves only when told to: for tests of work due later. */
export interface ManualClock extends Clock {
  set(epochMs: number): void;
  advance(ms: number): void;
}

export function manualClock(start = Date.UTC(2026, 0, 1)): ManualClock {
  let current = start;
  return {
    now: () => current,
    set: (epochMs) => { current = epochMs; },
    advance: (ms) => { current += ms; },
  };
}
