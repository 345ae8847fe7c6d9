import type { Clock } from '../../adapters/clock/port.js';

/**
 * Work due later (expunge at, project deadlines, alarm evaluation, daily bills) is found by
 * jobs that read due-time read models: the loop calls each job with the clock's time.
 * Jobs must be idempotent — a tick may repeat work that a crash interrupted.
 */
export interface DueJob {
  name: string;
  run(now: number): Promise<void>;
}

export interface TimerLoop {
  /** Runs every job once, now. Tests drive the loop with a manual clock through this. */
  tick(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

export function createTimerLoop(deps: {
  clock: Clock;
  jobs: readonly DueJob[];
  intervalMs: number;
  log: { error(details: object, message: string): void };
}): TimerLoop {
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();

  async function tick() {
    const now = deps.clock.now();
    for (const job of deps.jobs) {
      try {
        await job.run(now);
      } catch (error) {
        deps.log.error({ err: error, job: job.name }, 'due job failed; it runs again on the next tick');
      }
    }
  }

  return {
    tick: () => (current = current.then(tick)),
    start() {
      if (timer) return;
      timer = setInterval(() => { current = current.then(tick); }, deps.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await current;
    },
  };
}
