import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { adminPassword } from './stratus.js';

// A real `stratus serve` process on a free loopback port, for the tests that kill it.

/** Starts `stratus serve` on `dataDir`; answers once it listens, with its base URL. */
export function startServerProcess(dataDir: string): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/stratus.ts', 'serve'], {
    env: { ...process.env, STRATUS_DATA_DIR: dataDir, STRATUS_PORT: '0', STRATUS_HOST: '127.0.0.1', STRATUS_ADMIN_PASSWORD: adminPassword, STRATUS_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited early with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /listening on http:\/\/[^:]+:(\d+)/.exec(line);
      if (match) resolve({ child, base: `http://127.0.0.1:${match[1]}` });
    });
  });
}
