import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { caughtUp, removeDir, startStratus } from '../support/stratus.js';

// The tickets read model (inboxes, histories with resubmissions and freezes) is a function of
// the events: `stratus replay tickets` rebuilds it from position zero equal to the live one.

describe('stratus replay tickets', () => {
  it('rebuilds the ticket inboxes equal to the live model', async () => {
    const stratus = await startStratus();
    const admin = await stratus.login();
    const http = stratus.http;
    const projectId = (await http.post('/v1/projects').set('Authorization', admin).send({ name: 'replayed' }).expect(201)).body.id as string;
    const steps = [{ name: 'admin', approver: { kind: 'admin' } }, { name: 'admin again', approver: { kind: 'admin' } }];
    const processId = (await http.post('/v1/ticket-processes').set('Authorization', admin).send({ projectId, name: 'p', ticketTypes: ['DeleteVm'], steps }).expect(201)).body.id as string;
    await caughtUp(stratus);
    const file = async () => (await http.post('/v1/tickets').set('Authorization', admin).send({ type: 'DeleteVm', projectId, request: { vmId: 'no-such-vm' } }).expect(201)).body.id as string;
    const [first, second] = [await file(), await file()];
    await http.post(`/v1/tickets/${first}/approve`).set('Authorization', admin).send({ remarks: 'one' }).expect(200);
    await http.post(`/v1/ticket-processes/${processId}/disable`).set('Authorization', admin).expect(200);
    await http.post(`/v1/ticket-processes/${processId}/enable`).set('Authorization', admin).expect(200);
    await http.patch(`/v1/ticket-processes/${processId}`).set('Authorization', admin).send({ steps: steps.slice(0, 1) }).expect(200);
    await http.post(`/v1/tickets/${second}/cancel`).set('Authorization', admin).expect(200);
    await http.delete(`/v1/tickets/${second}`).set('Authorization', admin).expect(200);
    // Let the process follower finish with the first ticket before stopping.
    for (let attempt = 0; attempt < 500; attempt++) {
      const ticket = (await http.get(`/v1/tickets/${first}`).set('Authorization', admin).expect(200)).body;
      if (ticket.steps.length === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await caughtUp(stratus);
    await stratus.stop();

    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bin/stratus.ts', 'replay', 'tickets'], {
      env: { ...process.env, STRATUS_DATA_DIR: stratus.dataDir, STRATUS_LOG_LEVEL: 'silent' }, encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/tickets: rebuilt \d+ events .*equal to the live model/);
    removeDir(stratus.dataDir);
  });
});
