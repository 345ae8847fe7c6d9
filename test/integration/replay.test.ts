import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { adminPassword, caughtUp, removeDir, startStratus } from '../support/stratus.js';

// `stratus replay` as an operator runs it: against a stopped server's data directory.

function replay(dataDir: string, ...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'bin/stratus.ts', 'replay', ...args], {
    env: { ...process.env, STRATUS_DATA_DIR: dataDir, STRATUS_LOG_LEVEL: 'silent' },
    encoding: 'utf8',
  });
}

describe('stratus replay', () => {
  it('rebuilds every projection from position zero and reports it equal to the live model', async () => {
    const stratus = await startStratus();
    await stratus.login();
    await stratus.http.post('/v1/sessions').send({ username: 'admin', password: 'wrong password' }).expect(401);
    const token = await stratus.login('admin', adminPassword);
    await stratus.http.put('/v1/settings/session.timeout').set('Authorization', token).set('Prefer', 'wait=5').send({ value: 3600 }).expect(200);
    await caughtUp(stratus);
    await stratus.stop();

    const run = replay(stratus.dataDir, 'all');
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/audit-log: rebuilt \d+ events .*equal to the live model/);
    expect(run.stdout).toMatch(/tasks: rebuilt \d+ events .*equal to the live model/);
    expect(run.stderr).toMatch(/100%/);
    removeDir(stratus.dataDir);
  });

  it('refuses an unknown projection name with the list of names', () => {
    const run = replay('/nonexistent-stratus-dir', 'no-such-model');
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/name a projection \(.*audit-log.*\) or all/);
  });
});
