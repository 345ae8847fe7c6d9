import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { generate } from 'otplib';
import { manualClock } from '../../adapters/clock/manual.js';
import { removeDir, startStratus, type TestStratus } from '../support/stratus.js';
import { allEventsText, auditEntries, bearerOf, createUserVia, headPosition, loginFrom, readModelsText, strongPassword } from '../support/identity.js';

// The clock is manual, so the TOTP time step of every code the test computes is fixed.
const clock = manualClock(Date.UTC(2026, 0, 1, 12, 0, 10));
let s: TestStratus;
let admin: string;
beforeAll(async () => {
  s = await startStratus({ clock });
  admin = await s.login();
});
afterAll(async () => { await s.stop(); removeDir(s.dataDir); });

const codeAt = (secret: string, epochMs: number) => generate({ secret, epoch: Math.floor(epochMs / 1000) });

/** A 6-digit code that is none of the codes valid around now. */
async function wrongCode(secret: string): Promise<string> {
  const valid = new Set(await Promise.all([-30_000, 0, 30_000].map((offset) => codeAt(secret, clock.now() + offset))));
  for (let candidate = 0; ; candidate++) {
    const code = String(candidate).padStart(6, '0');
    if (!valid.has(code)) return code;
  }
}

async function enrol(bearer: string) {
  const response = await request(s.app).post('/v1/users/me/totp').set('Authorization', bearer);
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  const uri = new URL(response.body.otpauthUri as string);
  return { body: response.body, secret: uri.searchParams.get('secret')! };
}

describe('two-factor authentication (TOTP)', () => {
  it('enrols, needs a code at login, refuses a wrong or replayed code, and gives the QR code only until the first code login', async () => {
    const userId = await createUserVia(s, admin, { username: 'tina', roles: ['read-only'] });
    const tina = await bearerOf(s, 'tina');
    const { body, secret } = await enrol(tina);
    expect(body.otpauthUri).toMatch(/^otpauth:\/\/totp\/Stratus:tina\?secret=[A-Z2-7]+&issuer=Stratus/);
    expect(body.qrDataUrl).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]{200,}={0,2}$/);
    expect(body.taskId).toEqual(expect.any(String));

    // Until the first login with a code, the enrolment can be fetched again.
    const again = await request(s.app).get(`/v1/users/${userId}/totp`).set('Authorization', tina).expect(200);
    expect(again.body).toEqual({ otpauthUri: body.otpauthUri, qrDataUrl: body.qrDataUrl });
    expect(again.headers['cache-control']).toBe('no-store');

    const noCode = await loginFrom(s, '192.0.2.10', { username: 'tina', password: strongPassword });
    expect(noCode.status).toBe(401);
    expect(noCode.body).toMatchObject({ code: 'TOTP_REQUIRED', errors: [{ field: 'totp' }] });
    const wrong = await loginFrom(s, '192.0.2.10', { username: 'tina', password: strongPassword, totp: await wrongCode(secret) });
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('INVALID_TOTP');
    // A right code with a wrong password tells nothing about the code.
    const wrongPassword = await loginFrom(s, '192.0.2.10', { username: 'tina', password: 'not the password', totp: await codeAt(secret, clock.now()) });
    expect(wrongPassword.body.code).toBe('INVALID_CREDENTIALS');

    const code = await codeAt(secret, clock.now());
    const ok = await loginFrom(s, '192.0.2.10', { username: 'tina', password: strongPassword, totp: code });
    expect(ok.status).toBe(201);

    // The same code again, in the same time step: refused.
    const replay = await loginFrom(s, '192.0.2.11', { username: 'tina', password: strongPassword, totp: code });
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe('INVALID_TOTP');

    // The QR code is gone for good, and enrolling again needs an administrator's reset.
    const gone = await request(s.app).get('/v1/users/me/totp').set('Authorization', `Bearer ${ok.body.token}`);
    expect(gone.status).toBe(410);
    expect(gone.body.code).toBe('TOTP_QR_GONE');
    const reenrol = await request(s.app).post('/v1/users/me/totp').set('Authorization', `Bearer ${ok.body.token}`);
    expect(reenrol.status).toBe(409);
    expect(reenrol.body.code).toBe('TOTP_ALREADY_ENABLED');

    // The next time step's code works.
    clock.advance(30_000);
    expect((await loginFrom(s, '192.0.2.12', { username: 'tina', password: strongPassword, totp: await codeAt(secret, clock.now()) })).status).toBe(201);

    const entries = await auditEntries(s, admin, await headPosition(s), 'action=Login', 'operator.name=tina');
    const reasons = entries.filter((entry) => entry.result === 'failure').map((entry) => entry.error.message);
    expect(reasons).toEqual(expect.arrayContaining(['two-factor code missing', 'wrong two-factor code', 'two-factor code already used']));

    // The secret is sealed: it appears in no event and no read model.
    await s.runner.waitFor(await headPosition(s), 5000);
    expect(await allEventsText(s) + await readModelsText(s, ['users', 'tasks', 'audit_log'])).not.toContain(secret);
    const user = await request(s.app).get(`/v1/users/${userId}`).set('Authorization', admin).expect(200);
    expect(user.body.totp).toBe('on');
  });

  it('an administrator resets two-factor authentication; nobody enrols someone else', async () => {
    const userId = await createUserVia(s, admin, { username: 'uma' });
    const uma = await bearerOf(s, 'uma');
    const { secret } = await enrol(uma);
    expect((await loginFrom(s, '192.0.2.20', { username: 'uma', password: strongPassword })).body.code).toBe('TOTP_REQUIRED');

    const forOther = await request(s.app).post(`/v1/users/${userId}/totp`).set('Authorization', admin);
    expect(forOther.status).toBe(403);
    expect(forOther.body.code).toBe('FORBIDDEN');
    const peek = await request(s.app).get(`/v1/users/${userId}/totp`).set('Authorization', admin);
    expect(peek.status).toBe(403);
    expect(JSON.stringify(peek.body)).not.toContain(secret);
    const audited = await auditEntries(s, admin, await headPosition(s), 'result=failure', 'error.code=FORBIDDEN', `resourceIds=${userId}`);
    expect(audited.map((entry) => entry.action).sort()).toEqual(['EnableTotp', 'GetTotpEnrolment']);

    // Reset needs user:reset-totp, which uma lacks.
    const other = await createUserVia(s, admin, { username: 'uma2' });
    expect((await request(s.app).delete(`/v1/users/${other}/totp`).set('Authorization', uma)).status).toBe(403);

    await request(s.app).delete(`/v1/users/${userId}/totp`).set('Authorization', admin).expect(200);
    expect((await loginFrom(s, '192.0.2.20', { username: 'uma', password: strongPassword })).status).toBe(201);
  });

  it('with twoFactor.required, a user without it gets a session that can only enrol', async () => {
    await createUserVia(s, admin, { username: 'vera', roles: ['read-only'] });
    await request(s.app).put('/v1/settings/twoFactor.required').set('Authorization', admin).send({ value: true }).expect(200);
    try {
      const login = await loginFrom(s, '192.0.2.30', { username: 'vera', password: strongPassword });
      expect(login.status).toBe(201);
      expect(login.body.restriction).toBe('totp-enrollment');
      const restricted = `Bearer ${login.body.token}`;
      const refused = await request(s.app).get('/v1/users').set('Authorization', restricted);
      expect(refused.status).toBe(403);
      expect(refused.body.detail).toMatch(/two-factor authentication is required/);

      const { secret } = await enrol(restricted);
      const full = await loginFrom(s, '192.0.2.30', { username: 'vera', password: strongPassword, totp: await codeAt(secret, clock.now()) });
      expect(full.status).toBe(201);
      expect(full.body.restriction).toBeUndefined();
      await request(s.app).get('/v1/users').set('Authorization', `Bearer ${full.body.token}`).expect(200);
    } finally {
      await request(s.app).put('/v1/settings/twoFactor.required').set('Authorization', admin).send({ value: false }).expect(200);
    }
  });
});
