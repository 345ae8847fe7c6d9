import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { caughtUp, removeDir, startStratus, type TestStratus } from '../support/stratus.js';
import { loginToProject, memberPassword as password } from '../support/tenancy.js';

// Process management over HTTP (reference/002): open tickets follow their process — an edit
// resubmits them through the new steps, a deletion through the default process, a disable
// freezes them until the enable — and the views: my tickets, my approvals (pending,
// resolved, archived).

let stratus: TestStratus;
let admin: string;
const users: Record<string, string> = {};
// Each test works in a project of its own (with its own processes), as mia (member) and pat (project admin).
let projectId: string;
let member: string;
let projectAdmin: string;
const http = () => request(stratus.app);

beforeAll(async () => {
  stratus = await startStratus();
  admin = await stratus.login();
  for (const username of ['mia', 'pat']) users[username] = (await http().post('/v1/users').set('Authorization', admin).send({ username, password }).expect(201)).body.id;
});
afterAll(async () => { await stratus.stop(); removeDir(stratus.dataDir); });

beforeEach(async () => {
  projectId = (await http().post('/v1/projects').set('Authorization', admin).send({ name: `processes-${Object.keys(users).length}-${Date.now()}` }).expect(201)).body.id;
  await http().post(`/v1/projects/${projectId}/members`).set('Authorization', admin).send({ userId: users.mia, role: 'member' }).expect(200);
  await http().post(`/v1/projects/${projectId}/members`).set('Authorization', admin).send({ userId: users.pat, role: 'project-admin' }).expect(200);
  member = await loginToProject(stratus, 'mia', projectId);
  projectAdmin = await loginToProject(stratus, 'pat', projectId);
});

const twoSteps = [{ name: 'project admin', approver: { kind: 'project-admin' } }, { name: 'admin', approver: { kind: 'admin' } }];
const adminOnly = [{ name: 'admin only', approver: { kind: 'admin' } }];

async function createProcess(name: string, steps: object[]) {
  await caughtUp(stratus);
  const created = await http().post('/v1/ticket-processes').set('Authorization', admin).send({ projectId, name, ticketTypes: ['DeleteVm'], steps }).expect(201);
  await caughtUp(stratus);
  return created.body.id as string;
}

/** A delete-VM ticket: it is only approved here, never fulfilled, so the VM need not exist. */
async function fileTicket(): Promise<string> {
  const filed = await http().post('/v1/tickets').set('Authorization', member).send({ type: 'DeleteVm', request: { vmId: 'no-such-vm' } }).expect(201);
  return filed.body.id as string;
}

/** Polls the ticket (read from its stream) until the process follower has done its part. */
async function ticketWhen(ticketId: string, done: (body: any) => boolean) {
  for (let attempt = 0; attempt < 500; attempt++) {
    const response = await http().get(`/v1/tickets/${ticketId}`).set('Authorization', admin).expect(200);
    if (done(response.body)) return response.body;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`ticket ${ticketId} never got there`);
}

async function historyOf(ticketId: string): Promise<Array<{ action: string; reason?: string }>> {
  await caughtUp(stratus);
  const listed = await http().get(`/v1/tickets?q=id=${ticketId}`).set('Authorization', admin).expect(200);
  return listed.body.items[0].history;
}

async function pendingIds(auth: string): Promise<string[]> {
  await caughtUp(stratus);
  return (await http().get('/v1/approvals?view=pending').set('Authorization', auth).expect(200)).body.items.map((item: { id: string }) => item.id);
}

describe('tickets follow their process', () => {
  it('are resubmitted through an edited process from its first step, with the reason in their history', async () => {
    const processId = await createProcess('edited', twoSteps);
    const halfway = await fileTicket();
    const fresh = await fileTicket();
    await http().post(`/v1/tickets/${halfway}/approve`).set('Authorization', projectAdmin).send({}).expect(200)
      .expect((response) => expect(response.body).toMatchObject({ state: 'IntermediateApproved', step: 1 }));

    await http().patch(`/v1/ticket-processes/${processId}`).set('Authorization', admin).send({ steps: adminOnly }).expect(200);
    for (const ticketId of [halfway, fresh]) {
      const ticket = await ticketWhen(ticketId, (body) => body.steps[0].name === 'admin only');
      expect(ticket).toMatchObject({ state: 'Pending', step: 0, processId, steps: adminOnly });
    }
    expect(await historyOf(halfway)).toEqual(expect.arrayContaining([
      expect.objectContaining({ action: 'approved' }),
      expect.objectContaining({ action: 'resubmitted', reason: 'process "edited" changed: resubmitted through its new steps' }),
    ]));
    // The new first step awaits the admin: the project admin's earlier approval no longer counts.
    await http().post(`/v1/tickets/${halfway}/approve`).set('Authorization', projectAdmin).send({}).expect(403)
      .expect((response) => expect(response.body.code).toBe('NOT_STEP_APPROVER'));
    expect(await pendingIds(projectAdmin)).not.toContain(halfway);
    expect(await pendingIds(admin)).toEqual(expect.arrayContaining([halfway, fresh]));
    await http().post(`/v1/tickets/${halfway}/reject`).set('Authorization', admin).send({ remarks: 'not now' }).expect(200)
      .expect((response) => expect(response.body.state).toBe('Rejected'));

    // The audit log shows the resubmission, by the system.
    const audit = (await http().get('/v1/audit-log?limit=1000').set('Authorization', admin).expect(200)).body.items as Array<{ action: string; operator: { name: string }; resourceIds: string[]; result: string }>;
    expect(audit.filter((entry) => entry.resourceIds.includes(halfway)).map((entry) => `${entry.action} by ${entry.operator.name}: ${entry.result}`))
      .toEqual(expect.arrayContaining(['SubmitTicket by mia: success', 'ApproveTicket by pat: success', 'ResubmitTicket by system: success']));

    // A rename leaves the steps alone: nothing is resubmitted.
    await http().patch(`/v1/ticket-processes/${processId}`).set('Authorization', admin).send({ name: 'renamed' }).expect(200);
    await caughtUp(stratus);
    expect((await historyOf(fresh)).filter((entry) => entry.action === 'resubmitted')).toHaveLength(1);
  });

  it('go back through the default process when their process is deleted', async () => {
    const processId = await createProcess('deleted', twoSteps);
    const ticketId = await fileTicket();
    await http().post(`/v1/tickets/${ticketId}/approve`).set('Authorization', projectAdmin).send({}).expect(200);
    await http().delete(`/v1/ticket-processes/${processId}`).set('Authorization', admin).expect(200);
    const ticket = await ticketWhen(ticketId, (body) => body.processId === null);
    expect(ticket).toMatchObject({ state: 'Pending', step: 0, steps: [{ approver: { kind: 'admin' } }] });
    expect(await historyOf(ticketId)).toContainEqual(expect.objectContaining({ action: 'resubmitted', reason: 'process "deleted" was deleted: resubmitted through the default process' }));
    // New tickets follow the default process too.
    const next = await fileTicket();
    expect((await http().get(`/v1/tickets/${next}`).set('Authorization', member).expect(200)).body).toMatchObject({ processId: null, steps: [{ approver: { kind: 'admin' } }] });
    await http().post(`/v1/tickets/${ticketId}/approve`).set('Authorization', admin).send({}).expect(200)
      .expect((response) => expect(response.body.state).toBe('FinalApproved'));
  });

  it('are frozen while their process is disabled, and can be decided again once it is enabled', async () => {
    const processId = await createProcess('disabled', twoSteps);
    const ticketId = await fileTicket();
    await http().post(`/v1/ticket-processes/${processId}/disable`).set('Authorization', admin).expect(200);
    await ticketWhen(ticketId, (body) => body.frozen === true);
    await http().post(`/v1/tickets/${ticketId}/approve`).set('Authorization', projectAdmin).send({}).expect(409)
      .expect((response) => expect(response.body.code).toBe('TICKET_FROZEN'));
    await http().post(`/v1/tickets/${ticketId}/reject`).set('Authorization', projectAdmin).send({ remarks: 'no' }).expect(409)
      .expect((response) => expect(response.body.code).toBe('TICKET_FROZEN'));
    expect(await pendingIds(projectAdmin)).not.toContain(ticketId);

    await http().post(`/v1/ticket-processes/${processId}/enable`).set('Authorization', admin).expect(200);
    await ticketWhen(ticketId, (body) => body.frozen === false);
    expect(await pendingIds(projectAdmin)).toContain(ticketId);
    await http().post(`/v1/tickets/${ticketId}/approve`).set('Authorization', projectAdmin).send({}).expect(200)
      .expect((response) => expect(response.body).toMatchObject({ state: 'IntermediateApproved', frozen: false }));
    expect((await historyOf(ticketId)).map((entry) => entry.action)).toEqual(['submitted', 'frozen', 'unfrozen', 'approved']);
    const audit = (await http().get('/v1/audit-log?limit=1000').set('Authorization', admin).expect(200)).body.items as Array<{ action: string; resourceIds: string[]; result: string }>;
    expect(audit.filter((entry) => entry.resourceIds.includes(ticketId)).map((entry) => `${entry.action}: ${entry.result}`))
      .toEqual(expect.arrayContaining(['FreezeTicket: success', 'ApproveTicket: failure', 'RejectTicket: failure', 'UnfreezeTicket: success', 'ApproveTicket: success']));
  });
});

describe('views', () => {
  it('show my tickets, and my approvals pending, resolved and archived', async () => {
    await caughtUp(stratus);
    const ticketId = await fileTicket();
    await caughtUp(stratus);
    const mine = (await http().get('/v1/tickets').set('Authorization', member).expect(200)).body.items.map((item: { id: string }) => item.id);
    expect(mine).toContain(ticketId);
    expect((await http().get('/v1/tickets?mine=true').set('Authorization', member).expect(200)).body.items).toHaveLength(mine.length);
    // The admin sees every ticket, and with mine=true only the ones it filed: none.
    expect((await http().get('/v1/tickets').set('Authorization', admin).expect(200)).body.items.length).toBeGreaterThanOrEqual(mine.length);
    expect((await http().get('/v1/tickets?mine=true').set('Authorization', admin).expect(200)).body.items).toEqual([]);
    // A project admin's own tickets are not the member's.
    expect((await http().get('/v1/tickets?mine=true').set('Authorization', projectAdmin).expect(200)).body.items).toEqual([]);

    expect(await pendingIds(admin)).toContain(ticketId);
    await http().post(`/v1/tickets/${ticketId}/reject`).set('Authorization', admin).send({ remarks: 'no budget' }).expect(200);
    await caughtUp(stratus);
    expect(await pendingIds(admin)).not.toContain(ticketId);
    const resolved = (await http().get('/v1/approvals?view=resolved').set('Authorization', admin).expect(200)).body.items;
    expect(resolved.find((item: { id: string }) => item.id === ticketId)).toMatchObject({ state: 'Rejected', history: expect.arrayContaining([expect.objectContaining({ action: 'rejected', remarks: 'no budget' })]) });

    // The member deletes the resolved ticket: gone from their list and the admin's resolved view, archived for the admin.
    await http().delete(`/v1/tickets/${ticketId}`).set('Authorization', member).expect(200);
    await caughtUp(stratus);
    expect((await http().get('/v1/tickets').set('Authorization', member).expect(200)).body.items.map((item: { id: string }) => item.id)).not.toContain(ticketId);
    expect((await http().get('/v1/approvals?view=resolved').set('Authorization', admin).expect(200)).body.items.map((item: { id: string }) => item.id)).not.toContain(ticketId);
    const archived = (await http().get('/v1/approvals?view=archived').set('Authorization', admin).expect(200)).body.items;
    expect(archived.map((item: { id: string }) => item.id)).toEqual([ticketId]);
    await http().post(`/v1/tickets/${ticketId}/reopen`).set('Authorization', member).send({}).expect(410)
      .expect((response) => expect(response.body.code).toBe('TICKET_ARCHIVED'));
  });
});

describe('a department-manager step', () => {
  it('awaits the manager of the project\'s department (an upper department\'s manager counts), who approves it', async () => {
    const dora = (await http().post('/v1/users').set('Authorization', admin).send({ username: `dora-${Date.now()}`, password }).expect(201)).body;
    const team = await http().post('/v1/organizations').set('Authorization', admin).send({ name: 'Sales' }).expect(201);
    const department = await http().post('/v1/organizations').set('Authorization', admin).send({ name: 'Sales East', parentId: team.body.id }).expect(201);
    await http().post(`/v1/organizations/${team.body.id}/managers`).set('Authorization', admin).send({ userId: dora.id }).expect(200);
    await http().patch(`/v1/projects/${projectId}`).set('Authorization', admin).send({ departmentId: department.body.id }).expect(200);
    await createProcess('manager, then admin', [{ name: 'department manager', approver: { kind: 'department-manager' } }, { name: 'admin', approver: { kind: 'admin' } }]);
    const manager = await stratus.login(dora.username, password);
    const patOutside = await stratus.login('pat', password);

    const ticketId = await fileTicket();
    expect(await pendingIds(manager)).toEqual([ticketId]);
    expect(await pendingIds(admin)).not.toContain(ticketId);
    await http().post(`/v1/tickets/${ticketId}/approve`).set('Authorization', projectAdmin).send({}).expect(403)
      .expect((response) => expect(response.body.code).toBe('NOT_STEP_APPROVER'));
    // Outside a project session and managing nothing, pat holds no ticket permission at all.
    await http().post(`/v1/tickets/${ticketId}/approve`).set('Authorization', patOutside).send({}).expect(403)
      .expect((response) => expect(response.body.code).toBe('FORBIDDEN'));
    await http().post(`/v1/tickets/${ticketId}/approve`).set('Authorization', manager).send({ remarks: 'budget is there' }).expect(200)
      .expect((response) => expect(response.body).toMatchObject({ state: 'IntermediateApproved', step: 1 }));
    // The next step is the admin's, not the manager's.
    await http().post(`/v1/tickets/${ticketId}/approve`).set('Authorization', manager).send({}).expect(403)
      .expect((response) => expect(response.body.code).toBe('NOT_STEP_APPROVER'));
    expect(await pendingIds(manager)).toEqual([]);
    expect(await pendingIds(admin)).toContain(ticketId);
    expect((await http().get('/v1/approvals?view=resolved').set('Authorization', manager).expect(200)).body.items.map((item: { id: string }) => item.id)).toEqual([ticketId]);
    // What a manager may do ends at tickets, and at their departments' tickets.
    await http().get('/v1/vm-instances').set('Authorization', manager).expect(403);
    expect((await http().get(`/v1/tickets/${ticketId}`).set('Authorization', manager).expect(200)).body.state).toBe('IntermediateApproved');
    const elsewhere = (await http().post('/v1/projects').set('Authorization', admin).send({ name: `elsewhere-${Date.now()}` }).expect(201)).body.id;
    const foreign = await http().post('/v1/tickets').set('Authorization', admin).send({ type: 'DeleteVm', projectId: elsewhere, request: { vmId: 'no-such-vm' } }).expect(201);
    await http().get(`/v1/tickets/${foreign.body.id}`).set('Authorization', manager).expect(404);
  });
});
