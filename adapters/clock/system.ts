import type { Clock } from './port.js';

export const systemClock: Clock = { now: () => Date.now() };
