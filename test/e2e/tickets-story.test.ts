import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, startStratus, type TestStratus } from '../support/stratus.js';
import { buildVmInventory, postWith, GiB, type VmInventory } from '../support/vm-inventory.js';

// The story of issue 7 over HTTP: a project with a quota of 2 VMs and a two-step process
// (project admin, then admin); a member files three apply-for-VM tickets; the approvals
// create two running VMs in the project and the third fails with QUOTA_EXCEEDED, recorded
// on the ticket; the member sees the project's VMs only; the audit log shows every step.

let stratus: TestStratus;
let admin: string;
let inventory: VmInventory;
const password = 'a long enough password 1';

beforeAll(async () => {
  stratus = await startStratus();
  admin = await stratus.login();
  inventory = await buildVmInventory(postWith(stratus.app, admin), {
    dir: join(stratus.dataDir, 'images'), hosts: 2, hostCapacity: { cpuCount: 32, memoryBytes: 64 * GiB },
    ipRange: { startIp: '10.40.0.10', endIp: '10.40.0.60', gateway: '10.40.0.1', netmask: '255.255.255.0' },
  });
});
afterAll(async () => { await stratus.stop(); removeDir(stratus.dataDir); });

const http = () => request(stratus.app);

async function waitForTicket(auth: string, ticketId: string, done: (body: any) => boolean) {
  for (let attempt = 0; attempt < 600; attempt++) {
    const response = await http().get(`/v1/tickets/${ticketId}`).set('Authorization', auth).expect(200);
    if (done(response.body)) return response.body;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`ticket ${ticketId} never got there`);
}

describe('tickets with a two-step process in a project', () => {
  it('runs approved requests in the project, under its quota, and audits every step', async () => {
    const offering = await http().post('/v1/instance-offerings').set('Authorization', admin).send({ name: 'one', cpuCount: 1, memoryBytes: GiB }).expect(201);
    const mia = await http().post('/v1/users').set('Authorization', admin).send({ username: 'mia', password }).expect(201);
    const pat = await http().post('/v1/users').set('Authorization', admin).send({ username: 'pat', password }).expect(201);
    const project = await http().post('/v1/projects').set('Authorization', admin).send({ name: 'alpha', quotas: { 'vm.num': 2 } }).expect(201);
    const projectId = project.body.id as string;
    expect(project.body.quotas).toMatchObject({ 'vm.num': 2, 'vm.cpuNum': 80 });
    await http().post(`/v1/projects/${projectId}/members`).set('Authorization', admin).send({ userId: mia.body.id, role: 'member' }).expect(200);
    await http().post(`/v1/projects/${projectId}/members`).set('Authorization', admin).send({ userId: pat.body.id, role: 'project-admin' }).expect(200);
    await http().post('/v1/ticket-processes').set('Authorization', admin).send({
      projectId, name: 'two steps', ticketTypes: ['ApplyVm'],
      steps: [{ name: 'project admin', approver: { kind: 'project-admin' } }, { name: 'admin', approver: { kind: 'admin' } }],
    }).expect(201);
    // A VM outside the project, which its members must not see.
    const outside = await http().post('/v1/vm-instances').set('Authorization', admin).set('Prefer', 'wait=60')
      .send({ name: 'outside', instanceOfferingId: offering.body.id, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId] }).expect(201);

    // Project logins: membership is checked.
    const loginTo = async (username: string) => `Bearer ${(await http().post('/v1/sessions').send({ username, password, projectId }).expect(201)).body.token as string}`;
    const member = await loginTo('mia');
    const projectAdmin = await loginTo('pat');
    await http().post('/v1/sessions').send({ username: 'admin', password: 'correct horse battery staple', projectId }).expect(403)
      .expect((response) => expect(response.body.code).toBe('NOT_A_MEMBER'));

    // A member cannot create VMs directly, only ask by ticket.
    await http().post('/v1/vm-instances').set('Authorization', member)
      .send({ name: 'direct', instanceOfferingId: offering.body.id, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId] }).expect(403);
    await stratus.runner.waitFor(await stratus.eventStore.headPosition(), 10_000);
    const tickets: string[] = [];
    for (const name of ['vm-a', 'vm-b', 'vm-c']) {
      const filed = await http().post('/v1/tickets').set('Authorization', member)
        .send({ type: 'ApplyVm', request: { name, instanceOfferingId: offering.body.id, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId] } }).expect(201);
      expect(filed.body).toMatchObject({ state: 'Pending', projectId, steps: [{ approver: { kind: 'project-admin' } }, { approver: { kind: 'admin' } }] });
      tickets.push(filed.body.id);
    }

    // Approvals in order: the admin cannot approve before the project admin.
    await http().post(`/v1/tickets/${tickets[0]}/approve`).set('Authorization', admin).send({}).expect(403)
      .expect((response) => expect(response.body.code).toBe('NOT_STEP_APPROVER'));
    await stratus.runner.waitFor(await stratus.eventStore.headPosition(), 10_000);
    const pending = await http().get('/v1/approvals?view=pending').set('Authorization', projectAdmin).expect(200);
    expect(pending.body.items.map((item: { id: string }) => item.id).sort()).toEqual([...tickets].sort());
    for (const ticketId of tickets) {
      const step1 = await http().post(`/v1/tickets/${ticketId}/approve`).set('Authorization', projectAdmin).send({ remarks: 'ok' }).expect(200);
      expect(step1.body.state).toBe('IntermediateApproved');
    }
    await stratus.runner.waitFor(await stratus.eventStore.headPosition(), 10_000);
    const adminPending = await http().get('/v1/approvals?view=pending').set('Authorization', admin).expect(200);
    expect(adminPending.body.items).toHaveLength(3);
    for (const ticketId of tickets) {
      const step2 = await http().post(`/v1/tickets/${ticketId}/approve`).set('Authorization', admin).send({}).expect(200);
      expect(step2.body.state).toBe('FinalApproved');
    }
    await http().post(`/v1/tickets/${tickets[0]}/approve`).set('Authorization', admin).send({}).expect(409)
      .expect((response) => expect(response.body.code).toBe('TICKET_NOT_PENDING'));

    const outcomes = await Promise.all(tickets.map((ticketId) => waitForTicket(member, ticketId, (body) => body.outcome !== null)));
    const ok = outcomes.filter((ticket) => ticket.outcome.ok);
    const failed = outcomes.filter((ticket) => !ticket.outcome.ok);
    expect(ok).toHaveLength(2);
    expect(failed).toHaveLength(1);
    expect(failed[0].outcome.error.code).toBe('QUOTA_EXCEEDED');

    // The VMs run in the project; the member sees those and nothing else.
    const vmIds = ok.map((ticket) => ticket.outcome.resourceIds[0] as string);
    await stratus.runner.waitFor(await stratus.eventStore.headPosition(), 10_000);
    const seen = await http().get('/v1/vm-instances').set('Authorization', member).expect(200);
    expect(seen.body.items.map((vm: { id: string }) => vm.id).sort()).toEqual([...vmIds].sort());
    expect(seen.body.items.every((vm: { state: string; projectId: string }) => vm.state === 'Running' && vm.projectId === projectId)).toBe(true);
    await http().get(`/v1/vm-instances/${outside.body.id}`).set('Authorization', member).expect(404);
    const usage = await http().get(`/v1/projects/${projectId}`).set('Authorization', member).expect(200);
    expect(usage.body.usage).toMatchObject({ 'vm.num': 2, 'vm.cpuNum': 2, 'vm.memorySize': 2 * GiB });

    // The resolved view of each approver, and the audit log with every step and its operator.
    const resolved = await http().get('/v1/approvals?view=resolved').set('Authorization', projectAdmin).expect(200);
    expect(resolved.body.items).toHaveLength(3);
    const fullAudit = (await http().get('/v1/audit-log?limit=1000').set('Authorization', admin).expect(200)).body.items as Array<{ action: string; operator: { name: string }; resourceIds: string[]; result: string }>;
    const steps = fullAudit.filter((entry) => entry.resourceIds.includes(tickets[0]!)).map((entry) => `${entry.action} by ${entry.operator.name}: ${entry.result}`);
    expect(steps).toEqual(expect.arrayContaining(['SubmitTicket by mia: success', 'ApproveTicket by pat: success', 'ApproveTicket by admin: success']));
    expect(fullAudit.filter((entry) => entry.action === 'CreateVmInstance' && entry.operator.name.startsWith('system for mia'))).toHaveLength(3);
  });
});
