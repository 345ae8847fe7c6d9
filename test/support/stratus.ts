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

/** A whole Stratus on its embedded default, in a fresh data directory. */
export async function startStratus(options: { clock?: Clock; dataDir?: string } = {}): Promise<TestStratus> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'stratus-test-'));
  const config = loadConfig({ STRATUS_DATA_DIR: dataDir, STRATUS_ADMIN_PASSWORD: adminPassword, STRATUS_TRUSTED_PROXIES: '127.0.0.1,::1,::ffff:127.0.0.1' });
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
