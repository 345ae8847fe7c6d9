// Where each projection stands and who waits for it: shared by the in-process runner and the
// projection thread's client, which learn positions differently (applied here, posted by
// the thread) but answer `waitFor` and `positions` alike.

export interface PositionWaiters {
  /** Records a projection's position without waking anyone. */
  set(projection: string, position: number): void;
  /** Resolves the waiters whose positions are now reached. */
  notify(): void;
  hasReached(position: number, projection?: string): boolean;
  /** Resolves true once every projection (or the named one) has reached `position`, false on timeout. */
  waitFor(position: number, timeoutMs: number, projection?: string): Promise<boolean>;
  /** Resolves every waiter with false (on stop). */
  releaseAll(): void;
  positions(): Map<string, number>;
}

interface Waiter {
  position: number;
  projection: string | undefined;
  resolve: (reached: boolean) => void;
}

export function createPositionWaiters(names: readonly string[]): PositionWaiters {
  const reached = new Map<string, number>(names.map((name) => [name, 0]));
  let waiters: Waiter[] = [];

  const hasReached = (position: number, projection?: string) =>
    (projection ? [projection] : [...reached.keys()]).every((name) => (reached.get(name) ?? 0) >= position);

  return {
    set(projection, position) {
      reached.set(projection, position);
    },
    notify() {
      if (waiters.length === 0) return;
      waiters = waiters.filter((waiter) => {
        if (!hasReached(waiter.position, waiter.projection)) return true;
        waiter.resolve(true);
        return false;
      });
    },
    hasReached,
    waitFor(position, timeoutMs, projection) {
      if (hasReached(position, projection)) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const waiter: Waiter = { position, projection, resolve };
        waiters.push(waiter);
        setTimeout(() => {
          waiters = waiters.filter((w) => w !== waiter);
          resolve(hasReached(position, projection));
        }, timeoutMs).unref();
      });
    },
    releaseAll() {
      for (const waiter of waiters) waiter.resolve(false);
      waiters = [];
    },
    positions: () => new Map(reached),
  };
}
