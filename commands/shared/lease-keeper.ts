// Keeps leases in the read store (ReadStore.acquireLease, a compare-and-set) for singletons
// that many processes could run but only one may: each projection on one `stratus project`
// worker, the command processes on one `stratus serve` node. Every `renewEveryMs` it renews
// what it holds and tries to take what it does not; a lease whose holder died (stopped
// renewing) is taken once its time has passed on the contender's clock.
//
// Safety: this process counts a lease as its own only until `expiresAt - marginMs` by its own
// clock (`holds`), so it stops before anyone else may start, as long as the clocks of the
// contenders differ by less than the margin. A renewal that fails (store unreachable) is not
// a loss yet; the lease just runs out. `onChange` hears of every change of the held set,
// losses included, and callers check `holds` before each write they guard.
import type { Clock } from '../../adapters/clock/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';

export interface LeaseKeeperLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface LeaseKeeper {
  /** Takes what it can at once, then keeps renewing in the background. */
  start(): Promise<void>;
  /** Stops renewing and releases every lease held, so that another process takes them at once. */
  stop(): Promise<void>;
  /** One round of renewals and acquisitions (the background loop calls it; tests too). */
  tick(): Promise<void>;
  /** Whether this process may act on `name` now. */
  holds(name: string): boolean;
  /** The names held now. */
  held(): string[];
}

export function createLeaseKeeper(deps: {
  readStore: ReadStore;
  clock: Clock;
  /** This process's identity in the leases (host name, pid, a random part). */
  holder: string;
  names: readonly string[];
  ttlMs: number;
  renewEveryMs?: number;
  /** How long before its expiry a lease stops counting here (default a fifth of the ttl). */
  marginMs?: number;
  onChange?: (held: ReadonlySet<string>) => Promise<void> | void;
  log: LeaseKeeperLogger;
}): LeaseKeeper {
  const { readStore, clock, holder, log } = deps;
  const renewEveryMs = deps.renewEveryMs ?? Math.max(50, Math.floor(deps.ttlMs / 3));
  const marginMs = deps.marginMs ?? Math.floor(deps.ttlMs / 5);
  /** Name → the time until which it counts as ours. */
  const until = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;
  let reported = '';

  const holds = (name: string) => (until.get(name) ?? 0) > clock.now();
  const held = () => deps.names.filter(holds);

  async function round() {
    // All at once: a worker may hold dozens of leases, and one round must end well within a lease's time.
    await Promise.all(deps.names.map(async (name) => {
      if (stopped) return;
      const now = clock.now();
      try {
        const lease = await readStore.acquireLease(name, holder, now, now + deps.ttlMs);
        if (stopped) return;
        if (lease.holder === holder) {
          if (!until.has(name)) log.info({ lease: name, holder }, 'lease taken');
          until.set(name, lease.expiresAt - marginMs);
        } else if (until.delete(name)) {
          log.warn({ lease: name, holder, now: lease.holder }, 'lease lost to another process');
        }
      } catch (error) {
        log.warn({ err: error, lease: name }, 'could not renew or take a lease; it runs out unless renewed in time');
      }
    }));
    for (const [name, time] of until) if (time <= clock.now()) { until.delete(name); log.warn({ lease: name, holder }, 'lease ran out before it could be renewed'); }
    await report();
  }

  async function report() {
    const now = held();
    const key = now.join(',');
    if (key === reported) return;
    reported = key;
    try {
      await deps.onChange?.(new Set(now));
    } catch (error) {
      // Told again on the next round.
      reported = '\u0000';
      log.warn({ err: error }, 'could not act on a change of the leases held; trying again on the next round');
    }
  }

  async function tick() {
    // One round at a time: a slow store must not pile rounds up.
    if (running) return running;
    running = round().finally(() => { running = undefined; });
    return running;
  }

  function schedule() {
    if (stopped) return;
    timer = setTimeout(() => {
      void tick().catch((error: unknown) => log.warn({ err: error }, 'lease round failed')).finally(schedule);
    }, renewEveryMs);
    timer.unref?.();
  }

  return {
    async start() {
      stopped = false;
      await tick();
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      const mine = [...until.keys()];
      until.clear();
      await report();
      for (const name of mine) await readStore.releaseLease(name, holder).catch(() => undefined);
    },
    tick,
    holds,
    held,
  };
}
