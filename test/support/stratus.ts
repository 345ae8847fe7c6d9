import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import request from 'supertest';
import type { Clock } from '../../adapters/clock/port.js';
import { composeStratus, type Stratus } from '../../bin/compose.js';
import { loadConfig } from '../../bin/config.js';

export const adminPassword = 'correct horse battery staple';

export interface TestStratus extends Stratus {
  dataDir: string;
  http: ReturnType<typeof request>;
  /** Logs in and gives the bearer header. */
  login(username?: string, password?: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A whole Stratus on its embedded default, in a fresh data directory. The projections run
 * in-process unless `projectionThread` (the default of `stratus serve`) is asked for: a thread
 * per test Stratus would cost each test its start-up, and test/e2e/projection-thread.test.ts
 * and the crash tests (real serve processes) cover the threaded shape.
 */
export async function startStratus(options: { clock?: Clock; dataDir?: string; projectionThread?: boolean } = {}): Promise<TestStratus> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'stratus-test-'));
  const config = loadConfig({
    STRATUS_DATA_DIR: dataDir,
    STRATUS_ADMIN_PASSWORD: adminPassword,
    STRATUS_TRUSTED_PROXIES: '127.0.0.1,::1,::ffff:127.0.0.1',
    STRATUS_PROJECTION_THREAD: options.projectionThread ? 'on' : 'off',
  });
  const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
  const composeOptions: Parameters<typeof composeStratus>[1] = { log };
  if (options.clock) composeOptions.clock = options.clock;
  const stratus = await composeStratus(config, composeOptions);
  const http = request(stratus.app);
  return {
    ...stratus,
    dataDir,
    http,
    async login(username = 'admin', password = adminPassword) {
      const response = await request(stratus.app).post('/v1/sessions').send({ username, password }).expect(201);
      return `Bearer ${response.body.token as string}`;
    },
    async stop() {
      await stratus.close();
    },
  };
}

export function removeDir(dir: string) {
  rmSync(dir, { recursive: true, force: true });
}

/** Once every projection has applied all that is in the event store. */
export async function caughtUp(stratus: Pick<Stratus, 'runner' | 'eventStore'>): Promise<void> {
  await stratus.runner.waitFor(await stratus.eventStore.headPosition(), 10_000);
}
