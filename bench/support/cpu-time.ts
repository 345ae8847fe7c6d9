import { readFileSync } from 'node:fs';

// CPU seconds used by this process (all threads) and by its main thread, read from /proc:
// on a shared machine they vary much less than wall-clock time. Undefined where /proc is
// missing (not Linux).

export interface CpuTime {
  process: number;
  main: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux architecture Node supports

function ticks(path: string): number {
  const stat = readFileSync(path, 'utf8');
  // Fields after the command name (which may contain spaces), from field 3: utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** CPU time so far, or (given an earlier reading) since then. */
export function cpuTime(since?: CpuTime): CpuTime | undefined {
  try {
    const now = {
      process: ticks('/proc/self/stat') / TICKS_PER_SECOND,
      main: ticks(`/proc/self/task/${process.pid}/stat`) / TICKS_PER_SECOND,
    };
    return since ? { process: now.process - since.process, main: now.main - since.main } : now;
  } catch {
    return undefined;
  }
}
