import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caughtUp, type TestStratus } from '../support/stratus.js';
import { startStratusWithVms, stopStratus } from '../support/stratus-with-vms.js';
import { loginToProject, memberPassword as password, ticketWithOutcome } from '../support/tenancy.js';
import { GiB, type VmInventory } from '../support/vm-inventory.js';

// Each of the five ticket types, filed by a project member and approved by the admin (the
// default process), runs through the same command path as the direct API call, in the
// applicant's project: the ticket records the resources it touched or the failure code.

let stratus: TestStratus;
let admin: string;
let member: string;
let projectAdmin: string;
let projectId: string;
let inventory: VmInventory;
let small: string;
let large: string;
const http = () => request(stratus.app);

beforeAll(async () => {
  ({ stratus, admin, inventory } = await startStratusWithVms({
    hosts: 1, hostCapacity: { cpuCount: 32, memoryBytes: 64 * GiB },
    ipRange: { startIp: '10.41.0.10', endIp: '10.41.0.60', gateway: '10.41.0.1', netmask: '255.255.255.0' },
  }));
  small = (await http().post('/v1/instance-offerings').set('Authorization', admin).send({ name: 'small', cpuCount: 1, memoryBytes: GiB }).expect(201)).body.id;
  large = (await http().post('/v1/instance-offerings').set('Authorization', admin).send({ name: 'large', cpuCount: 2, memoryBytes: 2 * GiB }).expect(201)).body.id;
  const mia = await http().post('/v1/users').set('Authorization', admin).send({ username: 'mia', password }).expect(201);
  const pat = await http().post('/v1/users').set('Authorization', admin).send({ username: 'pat', password }).expect(201);
  projectId = (await http().post('/v1/projects').set('Authorization', admin).send({ name: 'five', quotas: { 'vm.num': 3 } }).expect(201)).body.id;
  await http().post(`/v1/projects/${projectId}/members`).set('Authorization', admin).send({ userId: mia.body.id, role: 'member' }).expect(200);
  await http().post(`/v1/projects/${projectId}/members`).set('Authorization', admin).send({ userId: pat.body.id, role: 'project-admin' }).expect(200);
  member = await loginToProject(stratus, 'mia', projectId);
  projectAdmin = await loginToProject(stratus, 'pat', projectId);
});
afterAll(() => stopStratus(stratus));

/** Files a ticket as the member, has the admin approve it, and waits for its outcome. */
async function fileAndApprove(type: string, body: object) {
  const filed = await http().post('/v1/tickets').set('Authorization', member).send({ type, request: body }).expect(201);
  expect(filed.body).toMatchObject({ state: 'Pending', processId: null, steps: [{ approver: { kind: 'admin' } }] });
  await http().post(`/v1/tickets/${filed.body.id}/approve`).set('Authorization', admin).send({}).expect(200)
    .expect((response) => expect(response.body.state).toBe('FinalApproved'));
  return ticketWithOutcome(stratus, member, filed.body.id);
}

const vmOf = async (vmId: string) => (await http().get(`/v1/vm-instances/${vmId}`).set('Authorization', admin).expect(200)).body;

describe('ticket fulfilment, type by type', () => {
  let vmId: string;

  it('apply for a VM: it is created and running in the project', async () => {
    const ticket = await fileAndApprove('ApplyVm', { name: 'asked', instanceOfferingId: small, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId] });
    expect(ticket.outcome).toMatchObject({ ok: true, resourceIds: [expect.any(String)] });
    vmId = ticket.outcome.resourceIds[0];
    expect(await vmOf(vmId)).toMatchObject({ state: 'Running', projectId, cpuCount: 1 });
  });

  it('modify a VM\'s configuration: refused while it runs (recorded), applied once it is stopped', async () => {
    const refused = await fileAndApprove('ModifyVmConfiguration', { vmId, instanceOfferingId: large });
    expect(refused.outcome).toMatchObject({ ok: false, error: { code: expect.stringMatching(/^VM_/) } });
    await http().post(`/v1/vm-instances/${vmId}/stop`).set('Authorization', projectAdmin).set('Prefer', 'wait=30').send({ type: 'cold' }).expect(200);
    const ticket = await fileAndApprove('ModifyVmConfiguration', { vmId, instanceOfferingId: large });
    expect(ticket.outcome).toMatchObject({ ok: true, resourceIds: [vmId] });
    expect(await vmOf(vmId)).toMatchObject({ cpuCount: 2, memoryBytes: 2 * GiB, instanceOfferingId: large });
  });

  it('delete a VM: the project\'s own VM only', async () => {
    const outside = await http().post('/v1/vm-instances').set('Authorization', admin).set('Prefer', 'wait=60')
      .send({ name: 'outside', instanceOfferingId: small, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId] }).expect(201);
    const refused = await fileAndApprove('DeleteVm', { vmId: outside.body.id });
    expect(refused.outcome).toMatchObject({ ok: false, error: { code: 'VM_NOT_FOUND' } });
    expect((await vmOf(outside.body.id)).state).toBe('Running');

    const ticket = await fileAndApprove('DeleteVm', { vmId });
    expect(ticket.outcome).toMatchObject({ ok: true, resourceIds: [vmId] });
    expect((await vmOf(vmId)).state).toBe('Destroyed');
  });

  it('modify the project quota and the project cycle', async () => {
    const quota = await fileAndApprove('ModifyProjectQuota', { quotas: { 'vm.num': 7 } });
    expect(quota.outcome).toMatchObject({ ok: true, resourceIds: [projectId] });
    const cycle = await fileAndApprove('ModifyProjectCycle', { reclaimPolicy: { kind: 'ByCost', spendingLimit: '250.5', action: 'DisableLogin' } });
    expect(cycle.outcome).toMatchObject({ ok: true, resourceIds: [projectId] });
    const project = (await http().get(`/v1/projects/${projectId}`).set('Authorization', admin).expect(200)).body;
    expect(project.quotas['vm.num']).toBe(7);
    expect(project.reclaimPolicy).toMatchObject({ kind: 'ByCost', spendingLimit: '250.5', action: 'DisableLogin' });
  });

  it('runs nothing for an applicant who has left the project since filing', async () => {
    const leo = (await http().post('/v1/users').set('Authorization', admin).send({ username: 'leo', password }).expect(201)).body.id;
    await http().post(`/v1/projects/${projectId}/members`).set('Authorization', admin).send({ userId: leo, role: 'member' }).expect(200);
    const leaving = await loginToProject(stratus, 'leo', projectId);
    const filed = await http().post('/v1/tickets').set('Authorization', leaving).send({ type: 'ModifyProjectQuota', request: { quotas: { 'vm.num': 50 } } }).expect(201);
    await http().delete(`/v1/projects/${projectId}/members/${leo}`).set('Authorization', admin).expect(200);
    await http().get(`/v1/projects/${projectId}`).set('Authorization', leaving).expect(401); // the session loses the project at once
    await http().post(`/v1/tickets/${filed.body.id}/approve`).set('Authorization', admin).send({}).expect(200);
    const ticket = await ticketWithOutcome(stratus, admin, filed.body.id);
    expect(ticket.outcome).toMatchObject({ ok: false, error: { code: 'NOT_A_MEMBER' } });
    expect((await http().get(`/v1/projects/${projectId}`).set('Authorization', admin).expect(200)).body.quotas['vm.num']).toBe(7);
  });

  it('audits each run as the system acting for the applicant', async () => {
    await caughtUp(stratus);
    const audit = (await http().get('/v1/audit-log?limit=1000').set('Authorization', admin).expect(200)).body.items as Array<{ action: string; operator: { name: string }; result: string }>;
    const runs = audit.filter((entry) => entry.operator.name.startsWith('system for mia')).map((entry) => `${entry.action}: ${entry.result}`);
    expect(runs).toEqual(expect.arrayContaining([
      'CreateVmInstance: success', 'ChangeVmInstanceOffering: failure', 'ChangeVmInstanceOffering: success', 'DestroyVmInstance: failure',
      'DestroyVmInstance: success', 'ChangeProjectQuotas: success', 'ChangeProjectReclaimPolicy: success',
    ]));
  });
});
