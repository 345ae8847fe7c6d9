import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { manualClock } from '../../adapters/clock/manual.js';
import { adminPassword, removeDir, startStratus, type TestStratus } from '../support/stratus.js';
import { allEventsText, auditEntries, bearerOf, createUserVia, headPosition, loginFrom, readModelsText, strongPassword } from '../support/identity.js';

let s: TestStratus;
let admin: string;
beforeAll(async () => {
  s = await startStratus();
  admin = await s.login();
});
afterAll(async () => { await s.stop(); removeDir(s.dataDir); });

describe('users', () => {
  it('creates, reads, lists, changes, disables, enables and deletes a user', async () => {
    const created = await request(s.app).post('/v1/users').set('Authorization', admin).send({ username: 'carol', password: strongPassword, roles: ['read-only'] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ username: 'carol', roles: ['read-only'], state: 'enabled', totp: 'off', lockedUntil: null, taskId: expect.any(String) });
    expect(JSON.stringify(created.body)).not.toContain(strongPassword);
    const id = created.body.id as string;

    const read = await request(s.app).get(`/v1/users/${id}`).set('Authorization', admin).expect(200);
    expect(read.headers.etag).toBe(`"${read.body.version}"`);
    expect(read.body).not.toHaveProperty('passwordHash');

    const listed = await request(s.app).get(`/v1/users?after=${created.headers['stratus-position']}&q=username=carol`).set('Authorization', admin).expect(200);
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.items[0]).toMatchObject({ id, username: 'carol', roles: ['read-only'], state: 'enabled' });
    expect(JSON.stringify(listed.body)).not.toMatch(/scrypt|passwordHash/);

    // If-Match guards lost updates.
    await request(s.app).patch(`/v1/users/${id}`).set('Authorization', admin).set('If-Match', '"99"').send({ roles: ['auditor'] }).expect(412);
    const changed = await request(s.app).patch(`/v1/users/${id}`).set('Authorization', admin).set('If-Match', read.headers.etag as string)
      .send({ roles: ['auditor'] }).expect(200);
    expect(changed.body.roles).toEqual(['auditor']);

    const carol = await bearerOf(s, 'carol');
    await request(s.app).get('/v1/users/me').set('Authorization', carol).expect(200);
    await request(s.app).post(`/v1/users/${id}/disable`).set('Authorization', admin).expect(200);
    // A disabled user's sessions stop working, and they cannot log in.
    await request(s.app).get('/v1/users/me').set('Authorization', carol).expect(401);
    expect((await loginFrom(s, '192.0.2.50', { username: 'carol', password: strongPassword })).status).toBe(401);
    await request(s.app).post(`/v1/users/${id}/enable`).set('Authorization', admin).expect(200);
    await bearerOf(s, 'carol');

    await request(s.app).delete(`/v1/users/${id}`).set('Authorization', admin).expect(200);
    await request(s.app).get(`/v1/users/${id}`).set('Authorization', admin).expect(404);
    expect((await loginFrom(s, '192.0.2.50', { username: 'carol', password: strongPassword })).status).toBe(401);
    // The name is free again.
    await createUserVia(s, admin, { username: 'carol' });
  });

  it('refuses a taken name, case-insensitively', async () => {
    await createUserVia(s, admin, { username: 'dave' });
    const again = await request(s.app).post('/v1/users').set('Authorization', admin).send({ username: 'DAVE', password: strongPassword });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'USERNAME_TAKEN', errors: [{ field: 'username' }] });
  });

  it('applies the password policy: minimum length (a setting) and never the user name', async () => {
    const short = await request(s.app).post('/v1/users').set('Authorization', admin).send({ username: 'erin', password: 'short' });
    expect(short.status).toBe(400);
    expect(short.body).toMatchObject({ code: 'PASSWORD_POLICY', errors: [{ field: 'password', message: 'must be at least 8 characters' }] });
    const same = await request(s.app).post('/v1/users').set('Authorization', admin).send({ username: 'Frederick', password: 'frederick' });
    expect(same.body).toMatchObject({ code: 'PASSWORD_POLICY', errors: [{ field: 'password', message: 'must not be the user name' }] });
    await request(s.app).put('/v1/settings/password.minLength').set('Authorization', admin).send({ value: 20 }).expect(200);
    const now20 = await request(s.app).post('/v1/users').set('Authorization', admin).send({ username: 'erin', password: 'fifteen chars!!' });
    expect(now20.body.code).toBe('PASSWORD_POLICY');
    await request(s.app).put('/v1/settings/password.minLength').set('Authorization', admin).send({ value: 8 }).expect(200);
  });

  it('changes one\'s own password with the old one; other sessions are closed', async () => {
    const id = await createUserVia(s, admin, { username: 'gina' });
    const first = await bearerOf(s, 'gina');
    const second = await bearerOf(s, 'gina');
    const missingOld = await request(s.app).post('/v1/users/me/password').set('Authorization', first).send({ newPassword: 'another long passphrase' });
    expect(missingOld.body).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'oldPassword' }] });
    const wrongOld = await request(s.app).post(`/v1/users/${id}/password`).set('Authorization', first).send({ oldPassword: 'not it at all', newPassword: 'another long passphrase' });
    expect(wrongOld.status).toBe(400);
    expect(wrongOld.body.code).toBe('WRONG_PASSWORD');
    await request(s.app).post('/v1/users/me/password').set('Authorization', first).send({ oldPassword: strongPassword, newPassword: 'another long passphrase' }).expect(200);
    await request(s.app).get('/v1/users/me').set('Authorization', first).expect(200);
    await request(s.app).get('/v1/users/me').set('Authorization', second).expect(401);
    await bearerOf(s, 'gina', 'another long passphrase');
  });

  it('lets an admin reset a password without the old one, closing every session of the user', async () => {
    const id = await createUserVia(s, admin, { username: 'hank' });
    const hank = await bearerOf(s, 'hank');
    await request(s.app).post(`/v1/users/${id}/password`).set('Authorization', admin).send({ newPassword: 'reset by the admin 1' }).expect(200);
    await request(s.app).get('/v1/users/me').set('Authorization', hank).expect(401);
    await bearerOf(s, 'hank', 'reset by the admin 1');
    // A user without user:reset-password cannot reset someone else's.
    const other = await createUserVia(s, admin, { username: 'hank2' });
    const hankAgain = await bearerOf(s, 'hank', 'reset by the admin 1');
    const denied = await request(s.app).post(`/v1/users/${other}/password`).set('Authorization', hankAgain).send({ newPassword: 'takeover attempt 12' });
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe('FORBIDDEN');
  });

  it('locks a user after 5 failed logins in 15 minutes (audited), refuses even the right password, and an admin unlocks', async () => {
    const id = await createUserVia(s, admin, { username: 'ivan' });
    const ip = '198.51.100.31';
    for (let attempt = 0; attempt < 5; attempt++) {
      expect((await loginFrom(s, ip, { username: 'ivan', password: `wrong ${attempt}` })).status).toBe(401);
    }
    const locked = await loginFrom(s, '198.51.100.32', { username: 'ivan', password: strongPassword });
    expect(locked.status).toBe(401);
    expect(locked.body.code).toBe('INVALID_CREDENTIALS');
    const view = await request(s.app).get(`/v1/users/${id}`).set('Authorization', admin).expect(200);
    expect(view.body.lockedUntil).toEqual(expect.any(String));

    const position = await headPosition(s);
    const entries = await auditEntries(s, admin, position, `resourceIds=${id}`);
    expect(entries.map((entry) => entry.action)).toContain('LockUser');
    const refusal = (await auditEntries(s, admin, position, 'action=Login', 'operator.name=ivan', 'clientIp=198.51.100.32'))[0];
    expect(refusal).toMatchObject({ result: 'failure', error: { code: 'INVALID_CREDENTIALS', message: 'user is locked after repeated failures' } });

    await request(s.app).post(`/v1/users/${id}/unlock`).set('Authorization', admin).expect(200);
    expect((await loginFrom(s, '198.51.100.33', { username: 'ivan', password: strongPassword })).status).toBe(201);
  });

  it('caps concurrent sessions per user (setting session.maxConcurrent); an admin lists and revokes sessions', async () => {
    const id = await createUserVia(s, admin, { username: 'judy' });
    await request(s.app).put('/v1/settings/session.maxConcurrent').set('Authorization', admin).send({ value: 2 }).expect(200);
    try {
      const one = await bearerOf(s, 'judy');
      await bearerOf(s, 'judy');
      const third = await loginFrom(s, '192.0.2.60', { username: 'judy', password: strongPassword });
      expect(third.status).toBe(409);
      expect(third.body.code).toBe('SESSION_LIMIT_REACHED');

      const position = await headPosition(s);
      const sessions = await request(s.app).get(`/v1/sessions?after=${position}&active=true&q=userId=${id}`).set('Authorization', admin).expect(200);
      expect(sessions.body.items).toHaveLength(2);
      expect(JSON.stringify(sessions.body)).not.toMatch(/tokenHash/);
      const [newest] = sessions.body.items as Array<{ id: string }>;
      await request(s.app).delete(`/v1/sessions/${newest!.id}`).set('Authorization', admin).expect(204);
      await bearerOf(s, 'judy');
      // Logging out frees a slot too.
      await request(s.app).delete('/v1/sessions/current').set('Authorization', one).expect(204);
      await bearerOf(s, 'judy');
      const revoked = await auditEntries(s, admin, await headPosition(s), 'action=RevokeSession', `resourceIds=${newest!.id}`);
      expect(revoked[0]).toMatchObject({ operator: { name: 'admin' }, result: 'success' });
    } finally {
      await request(s.app).put('/v1/settings/session.maxConcurrent').set('Authorization', admin).send({ value: 500 }).expect(200);
    }
  });

  it('rate-limits failed logins per client address: 429 with Retry-After, audited once per episode', async () => {
    // The bucket refills with the clock: a stopped clock keeps a slow machine from refilling it mid-test.
    const s = await startStratus({ clock: manualClock(Date.now()) });
    try {
      const admin = await s.login();
      await createUserVia(s, admin, { username: 'liam' });
      const ip = '198.51.100.90';
      // Unknown user names, so that no user gets locked: this is the address's limit, not a lockout.
      for (let attempt = 0; attempt < 10; attempt++) {
        expect((await loginFrom(s, ip, { username: `nobody-${attempt}`, password: 'guess' })).status).toBe(401);
      }
      const limited = await loginFrom(s, ip, { username: 'liam', password: strongPassword });
      expect(limited.status).toBe(429);
      expect(limited.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(limited.body.code).toBe('RATE_LIMITED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((await loginFrom(s, ip, { username: 'liam', password: strongPassword })).status).toBe(429);
      // Other addresses are not affected, and successful logins cost nothing.
      for (let attempt = 0; attempt < 12; attempt++) expect((await loginFrom(s, '198.51.100.91', { username: 'liam', password: strongPassword })).status).toBe(201);
      const audited = await auditEntries(s, admin, await headPosition(s), 'error.code=RATE_LIMITED', `clientIp=${ip}`);
      expect(audited).toHaveLength(1);
      expect(audited[0]).toMatchObject({ action: 'Login', result: 'failure' });
    } finally {
      await s.stop();
      removeDir(s.dataDir);
    }
  });

  it('keeps every plaintext password out of events and read models', async () => {
    await createUserVia(s, admin, { username: 'kim', password: 'kims very own passphrase' });
    await bearerOf(s, 'kim', 'kims very own passphrase');
    await s.runner.waitFor(await headPosition(s), 5000);
    const stored = await allEventsText(s) + await readModelsText(s, ['users', 'sessions', 'audit_log', 'tasks']);
    for (const secret of [adminPassword, strongPassword, 'kims very own passphrase', 'another long passphrase', 'reset by the admin 1']) {
      expect(stored).not.toContain(secret);
    }
  });
});
