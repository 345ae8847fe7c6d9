import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminPassword, caughtUp as caughtUpOf, type TestStratus } from '../support/stratus.js';
import { startStratusWithVms, stopStratus } from '../support/stratus-with-vms.js';
import { loginToProject, memberPassword as password, ticketWithOutcome } from '../support/tenancy.js';
import { GiB, type VmInventory } from '../support/vm-inventory.js';

// The story of issue 7, end to end over HTTP: an admin builds an organization, a project in
// one of its departments with a quota of 2 VMs and a two-step process (project admin, then
// admin); a member files three apply-for-VM tickets; the approvals create two running VMs in
// the project and the third fails with QUOTA_EXCEEDED, recorded on the ticket; the member sees
// only the project's resources; the audit log shows every step with its operator.

let stratus: TestStratus;
let admin: string;
let inventory: VmInventory;
const http = () => request(stratus.app);

beforeAll(async () => {
  ({ stratus, admin, inventory } = await startStratusWithVms({
    hosts: 2, hostCapacity: { cpuCount: 32, memoryBytes: 64 * GiB },
    ipRange: { startIp: '10.42.0.10', endIp: '10.42.0.60', gateway: '10.42.0.1', netmask: '255.255.255.0' },
  }));
});
afterAll(() => stopStratus(stratus));

const caughtUp = () => caughtUpOf(stratus);
const idsOf = (items: Array<{ id: string }>) => items.map((item) => item.id).sort();

describe('tenant management, the story', () => {
  it('organization → project with quota and process → tickets → approvals → two VMs and a QUOTA_EXCEEDED → scoped views → audit', async () => {
    // The admin builds the organization: a team, a department under it, their people.
    const users: Record<string, string> = {};
    for (const username of ['mia', 'pat', 'dora']) users[username] = (await http().post('/v1/users').set('Authorization', admin).send({ username, password }).expect(201)).body.id;
    const team = await http().post('/v1/organizations').set('Authorization', admin).send({ name: 'Engineering' }).expect(201);
    const department = await http().post('/v1/organizations').set('Authorization', admin).send({ name: 'Platform', parentId: team.body.id }).expect(201);
    expect(department.body).toMatchObject({ parentId: team.body.id, ancestorIds: [team.body.id] });
    await http().post(`/v1/organizations/${department.body.id}/users`).set('Authorization', admin).send({ userId: users.mia }).expect(200);
    await http().post(`/v1/organizations/${department.body.id}/users`).set('Authorization', admin).send({ userId: users.pat }).expect(200);
    await http().post(`/v1/organizations/${team.body.id}/managers`).set('Authorization', admin).send({ userId: users.dora }).expect(200);

    // A project of the department, with a quota of 2 VMs, its members and a two-step process.
    const offering = await http().post('/v1/instance-offerings').set('Authorization', admin).send({ name: 'one', cpuCount: 1, memoryBytes: GiB }).expect(201);
    const project = await http().post('/v1/projects').set('Authorization', admin).send({ name: 'story', quotas: { 'vm.num': 2 }, departmentId: department.body.id }).expect(201);
    const projectId = project.body.id as string;
    expect(project.body).toMatchObject({ departmentId: department.body.id, quotas: { 'vm.num': 2, 'vm.cpuNum': 80 } }); // the rest at their defaults
    await http().post(`/v1/projects/${projectId}/members`).set('Authorization', admin).send({ userId: users.mia, role: 'member' }).expect(200);
    await http().post(`/v1/projects/${projectId}/members`).set('Authorization', admin).send({ userId: users.pat, role: 'project-admin' }).expect(200);
    const process = await http().post('/v1/ticket-processes').set('Authorization', admin).send({
      projectId, name: 'project admin, then admin', ticketTypes: ['ApplyVm'],
      steps: [{ name: 'project admin', approver: { kind: 'project-admin' } }, { name: 'admin', approver: { kind: 'admin' } }],
    }).expect(201);
    // Something outside the project that its members must not see.
    const outside = await http().post('/v1/vm-instances').set('Authorization', admin).set('Prefer', 'wait=60')
      .send({ name: 'outside', instanceOfferingId: offering.body.id, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId] }).expect(201);
    await caughtUp();

    // The member and the project admin log in to the project; membership is checked (the admin is none).
    const member = await loginToProject(stratus, 'mia', projectId);
    const projectAdmin = await loginToProject(stratus, 'pat', projectId);
    await http().post('/v1/sessions').send({ username: 'admin', password: adminPassword, projectId }).expect(403)
      .expect((response) => expect(response.body.code).toBe('NOT_A_MEMBER'));

    // A member cannot create VMs directly, only ask by ticket.
    await http().post('/v1/vm-instances').set('Authorization', member)
      .send({ name: 'direct', instanceOfferingId: offering.body.id, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId] }).expect(403);

    // The member files three apply-for-VM tickets: each follows the project's process.
    const tickets: string[] = [];
    for (const name of ['vm-a', 'vm-b', 'vm-c']) {
      const filed = await http().post('/v1/tickets').set('Authorization', member)
        .send({ type: 'ApplyVm', request: { name, instanceOfferingId: offering.body.id, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId] } }).expect(201);
      expect(filed.body).toMatchObject({
        state: 'Pending', projectId, processId: process.body.id, step: 0, steps: [{ approver: { kind: 'project-admin' } }, { approver: { kind: 'admin' } }],
      });
      tickets.push(filed.body.id);
    }
    await caughtUp();
    expect(idsOf((await http().get('/v1/tickets?mine=true').set('Authorization', member).expect(200)).body.items)).toEqual([...tickets].sort());

    // Step 1, the project admin; the admin cannot go first.
    await http().post(`/v1/tickets/${tickets[0]}/approve`).set('Authorization', admin).send({}).expect(403)
      .expect((response) => expect(response.body.code).toBe('NOT_STEP_APPROVER'));
    expect(idsOf((await http().get('/v1/approvals?view=pending').set('Authorization', projectAdmin).expect(200)).body.items)).toEqual([...tickets].sort());
    for (const ticketId of tickets) {
      await http().post(`/v1/tickets/${ticketId}/approve`).set('Authorization', projectAdmin).send({ remarks: 'fine by the project' }).expect(200)
        .expect((response) => expect(response.body).toMatchObject({ state: 'IntermediateApproved', step: 1 }));
    }
    await caughtUp();
    expect((await http().get('/v1/approvals?view=pending').set('Authorization', projectAdmin).expect(200)).body.items).toEqual([]);
    expect(idsOf((await http().get('/v1/approvals?view=pending').set('Authorization', admin).expect(200)).body.items)).toEqual([...tickets].sort());

    // Step 2, the admin: each final approval runs the request for the member, in the project.
    for (const ticketId of tickets) {
      await http().post(`/v1/tickets/${ticketId}/approve`).set('Authorization', admin).send({}).expect(200)
        .expect((response) => expect(response.body.state).toBe('FinalApproved'));
    }
    await http().post(`/v1/tickets/${tickets[0]}/approve`).set('Authorization', admin).send({}).expect(409)
      .expect((response) => expect(response.body.code).toBe('TICKET_NOT_PENDING'));
    const outcomes = [];
    for (const ticketId of tickets) outcomes.push(await ticketWithOutcome(stratus, member, ticketId));
    const created = outcomes.filter((ticket) => ticket.outcome.ok);
    const failed = outcomes.filter((ticket) => !ticket.outcome.ok);
    expect(created).toHaveLength(2);
    expect(failed).toHaveLength(1);
    expect(failed[0].outcome).toMatchObject({ ok: false, error: { code: 'QUOTA_EXCEEDED' }, taskId: expect.any(String) });
    const vmIds = created.map((ticket) => ticket.outcome.resourceIds[0] as string).sort();

    // The member sees the project's resources and nothing else.
    await caughtUp();
    const seen = (await http().get('/v1/vm-instances').set('Authorization', member).expect(200)).body.items as Array<{ id: string; state: string; projectId: string }>;
    expect(idsOf(seen)).toEqual(vmIds);
    expect(seen.every((vm) => vm.state === 'Running' && vm.projectId === projectId)).toBe(true);
    await http().get(`/v1/vm-instances/${outside.body.id}`).set('Authorization', member).expect(404);
    expect((await http().get(`/v1/projects/${projectId}`).set('Authorization', member).expect(200)).body.usage).toMatchObject({ 'vm.num': 2, 'vm.cpuNum': 2, 'vm.memorySize': 2 * GiB });
    // The admin sees both the project's VMs and the one outside.
    expect(idsOf((await http().get('/v1/vm-instances').set('Authorization', admin).expect(200)).body.items)).toEqual([...vmIds, outside.body.id].sort());

    // Resolved for both approvers.
    expect(idsOf((await http().get('/v1/approvals?view=resolved').set('Authorization', projectAdmin).expect(200)).body.items)).toEqual([...tickets].sort());
    expect(idsOf((await http().get('/v1/approvals?view=resolved').set('Authorization', admin).expect(200)).body.items)).toEqual(expect.arrayContaining(tickets));

    // The audit log: every step with its operator.
    const audit = (await http().get('/v1/audit-log?limit=1000').set('Authorization', admin).expect(200)).body.items as Array<{ action: string; operator: { name: string }; resourceIds: string[]; result: string; error?: { code: string } | null }>;
    const line = (entry: (typeof audit)[number]) => `${entry.action} by ${entry.operator.name}: ${entry.result}`;
    const about = (id: string) => audit.filter((entry) => entry.resourceIds.includes(id)).map(line);
    expect(about(team.body.id)).toContain('CreateOrganization by admin: success');
    expect(about(department.body.id)).toEqual(expect.arrayContaining(['CreateOrganization by admin: success', 'AddOrganizationUser by admin: success']));
    expect(about(projectId)).toEqual(expect.arrayContaining(['CreateProject by admin: success']));
    expect(about(process.body.id)).toEqual(['CreateTicketProcess by admin: success']);
    for (const ticketId of tickets) {
      expect(about(ticketId)).toEqual(expect.arrayContaining(['SubmitTicket by mia: success', 'ApproveTicket by pat: success', 'ApproveTicket by admin: success']));
    }
    const runs = audit.filter((entry) => entry.action === 'CreateVmInstance' && entry.operator.name.startsWith('system for mia'));
    expect(runs.map((entry) => entry.result).sort()).toEqual(['failure', 'success', 'success']);
    expect(runs.find((entry) => entry.result === 'failure')?.error?.code).toBe('QUOTA_EXCEEDED');
    // The admin's two refused approvals: out of turn, then of a ticket already approved.
    expect(audit.filter((entry) => entry.action === 'ApproveTicket' && entry.operator.name === 'admin' && entry.result === 'failure').map((entry) => entry.error?.code).sort())
      .toEqual(['NOT_STEP_APPROVER', 'TICKET_NOT_PENDING']);
  });
});
