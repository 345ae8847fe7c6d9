import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../adapters/clock/manual.js';
import { eventually } from '../support/eventually.js';
import { allEventsText, readModelsText } from '../support/identity.js';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { adminPassword, removeDir, startStratus, type TestStratus } from '../support/stratus.js';
import { buildVmInventory, GiB, type VmInventory } from '../support/vm-inventory.js';

// Reclaim by time and notification e-mails over HTTP, time from a manual clock and e-mail
// through a real SMTP server on loopback: the expiry reminder is mailed once from 14 days
// before the deadline (and shown at login), at the deadline members are locked out and the
// project's VMs stopped; tickets mail their approvers and applicants.

const day = 24 * 60 * 60 * 1000;
const start = Date.parse('2026-03-02T09:00:00Z');
const clock = manualClock(start);
const smtpPassword = 'smtp secret for the relay';
const password = 'a long enough password 1';
let smtp: TestSmtpServer;
let stratus: TestStratus;
let inventory: VmInventory;

const http = () => request(stratus.app);
const admin = async () => `Bearer ${(await http().post('/v1/sessions').send({ username: 'admin', password: adminPassword }).expect(201)).body.token as string}`;

async function userWithEmail(auth: string, username: string, email: string): Promise<string> {
  const user = await http().post('/v1/users').set('Authorization', auth).send({ username, password }).expect(201);
  await http().put(`/v1/users/${user.body.id}/email`).set('Authorization', auth).send({ email }).expect(200);
  return user.body.id as string;
}

async function settle() {
  await stratus.runner.waitFor(await stratus.eventStore.headPosition(), 30_000);
  await stratus.notifier.drained(30_000);
}

beforeAll(async () => {
  smtp = await startSmtpServer({ username: 'stratus', password: smtpPassword });
  stratus = await startStratus({ clock });
  const auth = await admin();
  for (const [name, value] of [
    ['mail.smtp.host', '127.0.0.1'], ['mail.smtp.port', smtp.port], ['mail.smtp.username', 'stratus'], ['mail.smtp.password', smtpPassword],
    ['mail.smtp.from', 'Stratus <cloud@example.test>'],
  ] as const) {
    await http().put(`/v1/settings/${name}`).set('Authorization', auth).send({ value }).expect(200);
  }
  await http().put('/v1/users/me/email').set('Authorization', auth).send({ email: 'admin@example.test' }).expect(200);
  inventory = await buildVmInventory(async (path, body) => {
    const response = await http().post(path).set('Authorization', auth).send(body);
    return { status: response.status, body: response.body };
  }, {
    dir: join(stratus.dataDir, 'images'), hosts: 1, hostCapacity: { cpuCount: 16, memoryBytes: 32 * GiB },
    ipRange: { startIp: '10.41.0.10', endIp: '10.41.0.60', gateway: '10.41.0.1', netmask: '255.255.255.0' },
  });
});
afterAll(async () => { await stratus.stop(); await smtp.close(); removeDir(stratus.dataDir); });

describe('SMTP settings', () => {
  it('keep the password sealed: never shown, never in an event, a read model or a task', async () => {
    const shown = await http().get('/v1/settings/mail.smtp.password').set('Authorization', await admin()).expect(200);
    expect(shown.body).toMatchObject({ value: '***', sealed: true });
    await settle();
    expect(await allEventsText(stratus)).not.toContain(smtpPassword);
    expect(await readModelsText(stratus, ['tasks', 'audit_log'])).not.toContain(smtpPassword);
    // E-mail addresses are personal data: sealed in the user stream too.
    expect(await allEventsText(stratus)).not.toContain('admin@example.test');
  });
});

describe('reclaim by time', () => {
  it('reminds members from 14 days before the deadline (once), then locks them out and stops the VMs', async () => {
    let auth = await admin();
    const deadline = start + 20 * day;
    const lenaId = await userWithEmail(auth, 'lena', 'lena@example.test');
    const project = await http().post('/v1/projects').set('Authorization', auth).send({
      name: 'expiring', reclaimPolicy: { kind: 'ByTime', deadline: new Date(deadline).toISOString(), action: 'DisableLoginAndStopResources' },
    }).expect(201);
    const projectId = project.body.id as string;
    await http().post(`/v1/projects/${projectId}/members`).set('Authorization', auth).send({ userId: lenaId, role: 'member' }).expect(200);
    const vm = await http().post('/v1/vm-instances').set('Authorization', auth).set('Prefer', 'wait=60').send({
      name: 'in-project', projectId, instanceOfferingId: inventory.offerings.small, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId],
    });
    expect(vm.status, JSON.stringify(vm.body)).toBe(201);
    const vmId = vm.body.id as string;
    expect(vm.body.state).toBe('Running');
    const login = () => http().post('/v1/sessions').send({ username: 'lena', password, projectId });

    // 20 days before: nothing to remind of.
    await stratus.reclaim.timer.tick();
    await settle();
    expect(smtp.messages.filter((mail) => mail.to.includes('lena@example.test'))).toEqual([]);
    expect((await login().expect(201)).body.notices).toBeUndefined();

    // 14 days before (and a bit): the reminder, mailed once, and shown at login.
    clock.set(deadline - 14 * day + 60_000);
    await stratus.reclaim.timer.tick();
    await stratus.reclaim.timer.tick();
    await settle();
    const reminders = smtp.messages.filter((mail) => mail.to.includes('lena@example.test'));
    expect(reminders).toHaveLength(1);
    expect(reminders[0]!.subject).toContain('Project expiring expires on 2026-03-22');
    expect(reminders[0]!.text).toContain('its VM instances will be stopped');
    expect(reminders[0]!.from).toBe('cloud@example.test');
    const reminded = await login().expect(201);
    expect(reminded.body.notices).toEqual([expect.objectContaining({ code: 'PROJECT_EXPIRING', projectId, daysLeft: 14, deadline: new Date(deadline).toISOString() })]);

    // A restart does not mail again: the reminder is an event, the notifier is checkpointed.
    await stratus.stop();
    stratus = await startStratus({ clock, dataDir: stratus.dataDir });
    await stratus.reclaim.timer.tick();
    await settle();
    expect(smtp.messages.filter((mail) => mail.to.includes('lena@example.test'))).toHaveLength(1);

    // At the deadline the policy wins over login windows, even before the timer has run.
    auth = await admin();
    await http().put(`/v1/projects/${projectId}/login-windows`).set('Authorization', auth)
      .send({ loginWindows: { mode: 'Prohibited', timeZone: 'UTC', periods: [{ start: '00:00', end: '24:00' }] } }).expect(200);
    clock.set(deadline + 60_000);
    await login().expect(403).expect((response) => expect(response.body.code).toBe('PROJECT_LOGIN_EXPIRED'));

    // The timer runs the action: LoginExpired, and the VM stopped through the stop command, as the system.
    await stratus.reclaim.timer.tick();
    auth = await admin();
    const expired = await http().get(`/v1/projects/${projectId}`).set('Authorization', auth).expect(200);
    expect(expired.body.state).toBe('LoginExpired');
    const stopped = await eventually(() => http().get(`/v1/vm-instances/${vmId}`).set('Authorization', auth).then((response) => response.body), (body) => body.state === 'Stopped');
    expect(stopped.state).toBe('Stopped');
    await login().expect(403).expect((response) => expect(response.body.code).toBe('PROJECT_LOGIN_EXPIRED'));
    const vmEvents = await stratus.eventStore.readStream(`vm-${vmId}`);
    const stopEvent = vmEvents.find((event) => event.type === 'VmStopRequested' || /Stop/.test(event.type));
    expect(stopEvent?.metadata.actor?.kind).toBe('system');
    await settle();
    const tasks = await http().get('/v1/tasks?q=action=ReclaimProject').set('Authorization', auth).expect(200);
    expect(tasks.body.items).toEqual([expect.objectContaining({ state: 'succeeded', operator: expect.objectContaining({ kind: 'system' }) })]);

    // Restoring lets members in again (outside the windows); the action does not run again.
    await http().post(`/v1/projects/${projectId}/restore`).set('Authorization', auth).expect(200);
    await http().put(`/v1/projects/${projectId}/login-windows`).set('Authorization', auth).send({ loginWindows: null }).expect(200);
    await stratus.reclaim.timer.tick();
    await login().expect(201);
    expect((await http().get(`/v1/projects/${projectId}`).set('Authorization', auth).expect(200)).body.state).toBe('Enabled');
  });

  it('the delete action deletes the project at its deadline', async () => {
    const auth = await admin();
    const deadline = clock.now() + 2 * day;
    const project = await http().post('/v1/projects').set('Authorization', auth).send({
      name: 'short-lived', reclaimPolicy: { kind: 'ByTime', deadline: new Date(deadline).toISOString(), action: 'DeleteProject' },
    }).expect(201);
    clock.set(deadline);
    await stratus.reclaim.timer.tick();
    await http().get(`/v1/projects/${project.body.id}`).set('Authorization', await admin()).expect(404);
  });
});

describe('ticket e-mails', () => {
  it('tell the approvers of the current step, then the applicant of the approval or rejection', async () => {
    const auth = await admin();
    const mayaId = await userWithEmail(auth, 'maya', 'maya@example.test');
    const projectId = (await http().post('/v1/projects').set('Authorization', auth).send({ name: 'ticketing' }).expect(201)).body.id as string;
    await http().post(`/v1/projects/${projectId}/members`).set('Authorization', auth).send({ userId: mayaId, role: 'member' }).expect(200);
    const maya = `Bearer ${(await http().post('/v1/sessions').send({ username: 'maya', password, projectId }).expect(201)).body.token as string}`;
    const before = smtp.messages.length;
    // Members keep their own address; another user's is not theirs to change or read.
    await http().put('/v1/users/me/email').set('Authorization', maya).send({ email: 'maya@example.test' }).expect(200);
    expect((await http().get('/v1/users/me/email').set('Authorization', maya).expect(200)).body).toEqual({ userId: mayaId, email: 'maya@example.test' });
    const adminId = (await http().get('/v1/users?q=username=admin').set('Authorization', auth).expect(200)).body.items[0].id as string;
    await http().put(`/v1/users/${adminId}/email`).set('Authorization', maya).send({ email: 'evil@example.test' }).expect(403);
    await http().get(`/v1/users/${adminId}/email`).set('Authorization', maya).expect((response) => expect([403, 404]).toContain(response.status));

    const filed = await http().post('/v1/tickets').set('Authorization', maya).send({ type: 'ModifyProjectQuota', request: { quotas: { 'vm.num': 30 } } }).expect(201);
    await settle();
    const toAdmin = smtp.messages.slice(before).filter((mail) => mail.to.includes('admin@example.test'));
    expect(toAdmin).toHaveLength(1);
    expect(toAdmin[0]!.subject).toContain('Ticket to approve');
    expect(toAdmin[0]!.text).toContain(`Ticket ${filed.body.id as string}`);
    expect(toAdmin[0]!.text).toContain('filed by maya');

    await http().post(`/v1/tickets/${filed.body.id}/approve`).set('Authorization', auth).send({ remarks: 'fine' }).expect(200);
    await settle();
    const approved = smtp.messages.slice(before).filter((mail) => mail.to.includes('maya@example.test'));
    expect(approved).toHaveLength(1);
    expect(approved[0]!.subject).toContain('Ticket approved');
    expect(approved[0]!.text).toContain('Remarks: fine');

    const second = await http().post('/v1/tickets').set('Authorization', maya).send({ type: 'ModifyProjectQuota', request: { quotas: { 'vm.num': 99 } } }).expect(201);
    await http().post(`/v1/tickets/${second.body.id}/reject`).set('Authorization', auth).send({ remarks: 'too many VMs for this project' }).expect(200);
    await settle();
    const rejected = smtp.messages.slice(before).filter((mail) => mail.to.includes('maya@example.test') && mail.subject.includes('rejected'));
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.text).toContain('too many VMs for this project');
    // What was mailed is recorded without the addresses.
    const sent = (await stratus.eventStore.readAll({ after: 0, limit: 100_000 })).filter((event) => event.type === 'NotificationSent');
    expect(sent.length).toBeGreaterThanOrEqual(4);
    expect(JSON.stringify(sent)).not.toContain('@example.test');
  });

  it('a two-step process mails the approvers of each step in turn', async () => {
    const auth = await admin();
    const patId = await userWithEmail(auth, 'pat', 'pat@example.test');
    const ianId = await userWithEmail(auth, 'ian', 'ian@example.test');
    const projectId = (await http().post('/v1/projects').set('Authorization', auth).send({ name: 'stepped' }).expect(201)).body.id as string;
    await http().post(`/v1/projects/${projectId}/members`).set('Authorization', auth).send({ userId: ianId, role: 'member' }).expect(200);
    await http().post(`/v1/projects/${projectId}/members`).set('Authorization', auth).send({ userId: patId, role: 'project-admin' }).expect(200);
    await http().post('/v1/ticket-processes').set('Authorization', auth).send({
      projectId, name: 'two steps', ticketTypes: ['ApplyVm'],
      steps: [{ name: 'project admin', approver: { kind: 'project-admin' } }, { name: 'admin', approver: { kind: 'admin' } }],
    }).expect(201);
    const loginTo = async (username: string) => `Bearer ${(await http().post('/v1/sessions').send({ username, password, projectId }).expect(201)).body.token as string}`;
    const ian = await loginTo('ian');
    const pat = await loginTo('pat');
    const before = smtp.messages.length;
    const since = (address: string) => smtp.messages.slice(before).filter((mail) => mail.to.includes(address));

    const filed = await http().post('/v1/tickets').set('Authorization', ian).send({
      type: 'ApplyVm', request: { name: 'by-ticket', instanceOfferingId: inventory.offerings.small, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId] },
    }).expect(201);
    await settle();
    expect(since('pat@example.test').map((mail) => mail.subject)).toEqual([expect.stringContaining('Ticket to approve')]);
    expect(since('pat@example.test')[0]!.text).toContain('step "project admin"');
    expect(since('admin@example.test')).toEqual([]);

    await http().post(`/v1/tickets/${filed.body.id}/approve`).set('Authorization', pat).send({}).expect(200);
    await settle();
    expect(since('admin@example.test')).toHaveLength(1);
    expect(since('admin@example.test')[0]!.text).toContain('step "admin"');
    expect(since('ian@example.test')).toEqual([]);

    await http().post(`/v1/tickets/${filed.body.id}/approve`).set('Authorization', auth).send({}).expect(200);
    await settle();
    expect(since('ian@example.test').map((mail) => mail.subject)).toEqual([expect.stringContaining('Ticket approved')]);
  });
});
