import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { removeDir, startStratus, type TestStratus, adminPassword } from '../support/stratus.js';

let stratus: TestStratus;
beforeAll(async () => { stratus = await startStratus(); });
afterAll(async () => { await stratus.stop(); removeDir(stratus.dataDir); });

const auditEntries = async (auth: string, position: string, ...q: string[]) => {
  const query = new URLSearchParams([['after', position], ...q.map((condition) => ['q', condition] as [string, string])]);
  const response = await request(stratus.app).get(`/v1/audit-log?${query}`).set('Authorization', auth).expect(200);
  return response.body.items as Array<Record<string, any>>;
};

describe('sessions', () => {
  it('logs in with the bootstrap admin and answers a token, its expiry and the user', async () => {
    const response = await request(stratus.app).post('/v1/sessions').send({ username: 'admin', password: adminPassword }).expect(201);
    expect(response.body).toMatchObject({ token: expect.any(String), expiresAt: expect.any(String), user: { id: expect.any(String), username: 'admin' } });
    expect(Date.parse(response.body.expiresAt) - Date.now()).toBeGreaterThan(7000 * 1000);
  });

  it('answers a wrong password and an unknown user identically', async () => {
    const wrongPassword = await request(stratus.app).post('/v1/sessions').send({ username: 'admin', password: 'nope' }).expect(401);
    const unknownUser = await request(stratus.app).post('/v1/sessions').send({ username: 'mallory', password: 'nope' }).expect(401);
    const strip = (body: Record<string, unknown>) => ({ ...body, correlationId: undefined });
    expect(strip(wrongPassword.body)).toEqual(strip(unknownUser.body));
    expect(wrongPassword.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(wrongPassword.body.code).toBe('INVALID_CREDENTIALS');
  });

  it('refuses requests without a valid token', async () => {
    await request(stratus.app).get('/v1/audit-log').expect(401);
    const response = await request(stratus.app).get('/v1/audit-log').set('Authorization', 'Bearer not-a-token').expect(401);
    expect(response.body.code).toBe('UNAUTHENTICATED');
  });

  it('logs out: the token stops working', async () => {
    const auth = await stratus.login();
    await request(stratus.app).get('/v1/settings').set('Authorization', auth).expect(200);
    await request(stratus.app).delete('/v1/sessions/current').set('Authorization', auth).expect(204);
    await request(stratus.app).get('/v1/settings').set('Authorization', auth).expect(401);
  });
});

describe('audit log of logins', () => {
  it('records login, failed login and logout with client IP, user agent and outcome', async () => {
    const clientIp = '203.0.113.7';
    const failed = await request(stratus.app).post('/v1/sessions').set('X-Forwarded-For', clientIp).set('User-Agent', 'audit-test/1')
      .send({ username: 'admin', password: 'wrong' }).expect(401);
    const login = await request(stratus.app).post('/v1/sessions').set('X-Forwarded-For', clientIp).set('User-Agent', 'audit-test/1')
      .send({ username: 'admin', password: adminPassword }).expect(201);
    const auth = `Bearer ${login.body.token}`;
    const logout = await request(stratus.app).delete('/v1/sessions/current').set('Authorization', auth)
      .set('X-Forwarded-For', clientIp).set('User-Agent', 'audit-test/1').expect(204);
    expect(failed.body.code).toBe('INVALID_CREDENTIALS');

    const reader = await stratus.login();
    const entries = await auditEntries(reader, logout.headers['stratus-position'] as string, `clientIp=${clientIp}`);
    expect(entries.map((entry) => [entry.action, entry.result])).toEqual([
      ['Logout', 'success'],
      ['Login', 'success'],
      ['Login', 'failure'],
    ]);
    for (const entry of entries) {
      expect(entry).toMatchObject({ clientIp, userAgent: 'audit-test/1', operator: { kind: 'user', name: 'admin' } });
    }
    expect(entries[2]!.error).toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect(JSON.stringify(entries)).not.toContain(adminPassword);
    expect(JSON.stringify(entries)).not.toContain(login.body.token);
  });

  it('records every write as a task with its outcome, and filters by operator, action and time', async () => {
    const auth = await stratus.login();
    const before = new Date().toISOString();
    const ok = await request(stratus.app).put('/v1/settings/session.timeout').set('Authorization', auth).send({ value: 3600 }).expect(200);
    expect(ok.body).toMatchObject({ name: 'session.timeout', value: 3600, taskId: expect.any(String) });
    const bad = await request(stratus.app).put('/v1/settings/session.timeout').set('Authorization', auth).send({ value: 5 }).expect(400);
    expect(bad.body).toMatchObject({ code: 'INVALID_SETTING_VALUE', errors: [{ field: 'value' }] });

    const entries = await auditEntries(auth, ok.headers['stratus-position'] as string, 'action=UpdateSetting', 'operator.name=admin', `time>=${before}`);
    const byTask = new Map(entries.map((entry) => [entry.id, entry]));
    expect(byTask.get(ok.body.taskId)).toMatchObject({
      action: 'UpdateSetting', result: 'success', resourceType: 'setting', resourceIds: ['session.timeout'], request: { name: 'session.timeout', value: 3600 },
    });
    const failedTask = [...byTask.values()].find((entry) => entry.result === 'failure');
    expect(failedTask).toMatchObject({ error: { code: 'INVALID_SETTING_VALUE' }, finishedAt: expect.any(String) });
  });

  it('streams the audit log as CSV', async () => {
    const auth = await stratus.login();
    const response = await request(stratus.app).get('/v1/audit-log?format=csv&q=action=Login').set('Authorization', auth).expect(200);
    expect(response.headers['content-type']).toMatch(/text\/csv/);
    const lines = response.text.trim().split('\r\n');
    expect(lines[0]).toMatch(/^id,time,action,result,/);
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.slice(1).every((line) => line.includes(',Login,'))).toBe(true);
  });

  it('pages and counts', async () => {
    const auth = await stratus.login();
    const all = await request(stratus.app).get('/v1/audit-log?count=true').set('Authorization', auth).expect(200);
    expect(all.body.total).toBeGreaterThan(3);
    const page = await request(stratus.app).get('/v1/audit-log?limit=2&start=1').set('Authorization', auth).expect(200);
    expect(page.body.items.map((item: { id: string }) => item.id)).toEqual(all.body.items.slice(1, 3).map((item: { id: string }) => item.id));
    expect(page.body.total).toBeUndefined();
  });
});
