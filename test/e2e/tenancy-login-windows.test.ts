import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../adapters/clock/manual.js';
import { adminPassword, removeDir, startStratus, type TestStratus } from '../support/stratus.js';

// Project access control over HTTP, time from a manual clock: members log in to the project
// only inside its allowed periods (Europe/Berlin wall time); a change made during a period
// takes effect from the next period, so the period under way is not cut.

const clock = manualClock(Date.parse('2026-11-23T09:00:00Z')); // Monday 10:00 in Berlin
let stratus: TestStratus;
let projectId: string;
const password = 'a long enough password 1';

const http = () => request(stratus.app);
const admin = async () => `Bearer ${(await http().post('/v1/sessions').send({ username: 'admin', password: adminPassword }).expect(201)).body.token as string}`;
const projectLogin = () => http().post('/v1/sessions').send({ username: 'lena', password, projectId });

beforeAll(async () => {
  stratus = await startStratus({ clock });
  const auth = await admin();
  const lena = await http().post('/v1/users').set('Authorization', auth).send({ username: 'lena', password }).expect(201);
  projectId = (await http().post('/v1/projects').set('Authorization', auth).send({ name: 'windows' }).expect(201)).body.id;
  await http().post(`/v1/projects/${projectId}/members`).set('Authorization', auth).send({ userId: lena.body.id, role: 'member' }).expect(200);
});
afterAll(async () => { await stratus.stop(); removeDir(stratus.dataDir); });

describe('login windows of a project', () => {
  it('refuses a project login outside the allowed periods, from the next period on', async () => {
    const set = await http().put(`/v1/projects/${projectId}/login-windows`).set('Authorization', await admin()).send({
      loginWindows: { mode: 'Allowed', timeZone: 'Europe/Berlin', periods: [{ days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], start: '08:00', end: '18:00' }] },
    }).expect(200);
    // Set during Monday's period: it takes effect on Tuesday at 08:00 Berlin.
    expect(set.body.loginWindows).toMatchObject({ effectiveFrom: '2026-11-24T07:00:00.000Z', previous: null, current: { mode: 'Allowed', timeZone: 'Europe/Berlin' } });

    await projectLogin().expect(201);
    clock.set(Date.parse('2026-11-23T19:00:00Z')); // Monday 20:00: the windows are not in force yet
    await projectLogin().expect(201);
    clock.set(Date.parse('2026-11-24T07:30:00Z')); // Tuesday 08:30: inside
    await projectLogin().expect(201);
    clock.set(Date.parse('2026-11-24T17:30:00Z')); // Tuesday 18:30: outside
    const refused = await projectLogin().expect(403);
    expect(refused.body).toMatchObject({ code: 'LOGIN_WINDOW_CLOSED' });
    expect(refused.body.detail).toContain('2026-11-25T07:00:00.000Z');
    clock.set(Date.parse('2026-11-28T10:00:00Z')); // Saturday
    await projectLogin().expect(403).expect((response) => expect(response.body.code).toBe('LOGIN_WINDOW_CLOSED'));

    // Only project logins are windowed: the same user logs in to the platform.
    await http().post('/v1/sessions').send({ username: 'lena', password }).expect(201);
    // The refusal is recorded for the audit trail.
    const events = await stratus.eventStore.readStream(`project-logins-${projectId}`);
    expect(events.map((event) => (event.data as { reason: string }).reason)).toContain('LOGIN_WINDOW_CLOSED');
  });

  it('a prohibited period set while it is under way does not cut it; removing the windows opens at once', async () => {
    clock.set(Date.parse('2026-11-30T12:30:00Z')); // Monday 13:30 Berlin
    const set = await http().put(`/v1/projects/${projectId}/login-windows`).set('Authorization', await admin()).send({
      loginWindows: { mode: 'Prohibited', timeZone: 'Europe/Berlin', periods: [{ start: '13:00', end: '14:00' }] },
    }).expect(200);
    expect(set.body.loginWindows.effectiveFrom).toBe('2026-12-01T12:00:00.000Z');
    await projectLogin().expect(201); // today's 13:00–14:00 had begun: not cut
    clock.set(Date.parse('2026-12-01T12:15:00Z')); // Tuesday 13:15: prohibited
    await projectLogin().expect(403).expect((response) => expect(response.body.code).toBe('LOGIN_WINDOW_CLOSED'));
    clock.set(Date.parse('2026-12-01T13:00:00Z')); // 14:00: over
    await projectLogin().expect(201);

    clock.set(Date.parse('2026-12-02T12:15:00Z'));
    await projectLogin().expect(403);
    await http().put(`/v1/projects/${projectId}/login-windows`).set('Authorization', await admin()).send({ loginWindows: null }).expect(200);
    await projectLogin().expect(201);
  });

  it('refuses windows that cannot be evaluated, naming the field', async () => {
    const response = await http().put(`/v1/projects/${projectId}/login-windows`).set('Authorization', await admin()).send({
      loginWindows: { mode: 'Allowed', timeZone: 'Europe/Atlantis', periods: [{ start: '09:00', end: '17:00' }] },
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.body.code).toBe('INVALID_LOGIN_WINDOWS');
    expect(JSON.stringify(response.body)).toContain('timeZone');
  });
});
