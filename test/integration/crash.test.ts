import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectReadModelsEqualRebuild } from '../support/read-models.js';
import { startServerProcess } from '../support/server-process.js';
import { adminPassword, removeDir, startStratus } from '../support/stratus.js';

// A Stratus process under write load is killed with SIGKILL. After a restart, every command
// it acknowledged must be there, and every projection, caught up, must equal a rebuild.

const dataDir = mkdtempSync(join(tmpdir(), 'stratus-crash-'));
afterAll(() => removeDir(dataDir));

interface Acknowledged { kind: 'setting' | 'login'; taskId?: string; sessionId?: string }

describe('crash safety', () => {
  it('keeps every acknowledged command across SIGKILL, and projections equal a rebuild', async () => {
    const { child, base } = await startServerProcess(dataDir);
    const login = await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: adminPassword }) });
    const token = ((await login.json()) as { token: string }).token;
    const acknowledged: Acknowledged[] = [];
    let killed = false;
    const killAfter = 300;

    const writer = async (id: number) => {
      for (let i = 0; !killed; i++) {
        try {
          if (i % 4 === 3) {
            // A login is a write too (a session stream and an audit entry).
            const response = await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: adminPassword }) });
            if (response.status === 201) {
              const body = (await response.json()) as { token: string };
              acknowledged.push({ kind: 'login', sessionId: body.token.split('.')[0]! });
            }
          } else {
            const response = await fetch(`${base}/v1/settings/session.timeout`, {
              method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
              body: JSON.stringify({ value: 600 + id * 1000 + i }),
            });
            if (response.status === 200) acknowledged.push({ kind: 'setting', taskId: ((await response.json()) as { taskId: string }).taskId });
          }
        } catch {
          return; // the server is gone
        }
        if (acknowledged.length >= killAfter && !killed) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, id) => writer(id)));
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('exit', resolve)));
    expect(child.signalCode).toBe('SIGKILL');
    expect(acknowledged.length).toBeGreaterThanOrEqual(killAfter);

    const stratus = await startStratus({ dataDir });
    try {
      for (const ack of acknowledged) {
        const stream = ack.kind === 'setting' ? `task-${ack.taskId}` : `session-${ack.sessionId}`;
        const events = await stratus.eventStore.readStream(stream);
        expect(events.map((event) => event.type)).toEqual(ack.kind === 'setting' ? ['TaskStarted', 'TaskSucceeded'] : ['UserLoggedIn']);
      }
      const head = await stratus.eventStore.headPosition();
      expect(await stratus.runner.waitFor(head, 30_000)).toBe(true);
      await expectReadModelsEqualRebuild(stratus, { scratchFile: join(dataDir, 'rebuild.db'), until: head });
    } finally {
      await stratus.stop();
    }
    // A guard, not an assertion: a loaded CI machine can be slow to write 300 commands.
  }, 300_000);
});
