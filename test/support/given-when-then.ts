import { expect } from 'vitest';
import type { Decider, DomainEvent } from '../../domain/shared/decider.js';
import { fold } from '../../domain/shared/decider.js';

/** Decider tests read as: given these events, when this command, then these events (or this error code). */
export function scenario<C, S, E extends DomainEvent>(decider: Decider<C, S, E>) {
  return {
    given(...events: E[]) {
      const state = fold(decider, events);
      return {
        when(command: C) {
          return {
            then(expected: E[]) {
              expect(decider.decide(command, state)).toEqual(expected);
            },
            thenFails(code: string) {
              expect(() => decider.decide(command, state)).toThrow(expect.objectContaining({ code }));
            },
          };
        },
      };
    },
  };
}
