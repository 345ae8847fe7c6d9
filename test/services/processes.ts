// Real `stratus` processes for the scale-out scenario: each runs bin/stratus.ts through tsx
// (no build step), with its own environment, its output kept in a log file of the test's
// directory (shown when a test fails) and in memory (last lines).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

export interface StratusProcess {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<string>;
  running(): boolean;
  /** The last lines it printed. */
  tail(lines?: number): string;
  /** SIGKILL: a crash, nothing cleaned up. */
  kill(): Promise<string>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<string>;
}

export function startProcess(name: string, args: string[], env: Record<string, string>, logDir: string): StratusProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/stratus.ts', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: WriteStream = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    log.write(chunk);
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    if (lines.length > 400) lines.splice(0, lines.length - 400);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let alive = true;
  const exited = new Promise<string>((resolvePromise) => {
    child.on('exit', (code, signal) => {
      alive = false;
      log.end();
      resolvePromise(signal ?? String(code));
    });
  });
  const handle: StratusProcess = {
    name,
    pid: child.pid!,
    child,
    exited,
    running: () => alive,
    tail: (count = 40) => lines.slice(-count).join('\n'),
    async kill() {
      if (alive) child.kill('SIGKILL');
      return exited;
    },
    async stop() {
      if (alive) child.kill('SIGTERM');
      const timer = setTimeout(() => { if (alive) child.kill('SIGKILL'); }, 30_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  return handle;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePromise(port));
    });
  });
}

/** Polls `condition` until it returns a value other than undefined/false (generous overall timeout; no timed assertion). */
export async function eventually<T>(what: string, condition: () => Promise<T | undefined | false>, timeoutMs = 180_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((resolvePromise) => setTimeout(resolvePromise, intervalMs));
  }
}
