import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { manualClock } from '../../adapters/clock/manual.js';
import { removeDir, startStratus, type TestStratus } from '../support/stratus.js';
import { allEventsText, auditEntries, bearerOf, createUserVia, headPosition, readModelsText, signed, type AccessKeyPair } from '../support/identity.js';

// The clock is manual and set to the Date of the documented example (docs/access-keys.md),
// so that the example's exact request can be replayed here.
const exampleDate = 'Thu, 01 Jan 2026 12:00:00 GMT';
const clock = manualClock(Date.parse(exampleDate));
let s: TestStratus;
let admin: string;
let adminId: string;
let key: AccessKeyPair;

beforeAll(async () => {
  s = await startStratus({ clock });
  admin = await s.login();
  adminId = (await request(s.app).get('/v1/users/me').set('Authorization', admin).expect(200)).body.id;
  const created = await request(s.app).post('/v1/access-keys').set('Authorization', admin).send({ description: 'ci' }).expect(201);
  key = { id: created.body.id, secret: created.body.secret };
});
afterAll(async () => { await s.stop(); removeDir(s.dataDir); });

const now = () => clock.now();

describe('the documented example (fixed key, Date and body)', () => {
  const example = {
    id: 'AKEXAMPLE7QZ4M2W3XYAB',
    secret: 'c3RyYXR1cy1leGFtcGxlLXNlY3JldC1kby1ub3QtdXNl',
    body: '{"name":"office","type":"allow","entries":["192.0.2.0/24"]}',
    authorization: 'Stratus AKEXAMPLE7QZ4M2W3XYAB:7teWlqulZIIRMYawTvp8quVi2B8bu2iHHSpyPW5droM=',
  };
  const send = (overrides: { authorization?: string; date?: string; body?: string; path?: string } = {}) => request(s.app)
    .post(overrides.path ?? '/v1/ip-access-lists')
    .set('Date', overrides.date ?? exampleDate)
    .set('Authorization', overrides.authorization ?? example.authorization)
    .set('Content-Type', 'application/json')
    .set('X-Forwarded-For', '192.0.2.150')
    .send(overrides.body ?? example.body);

  beforeAll(async () => {
    // The example's key, with its published secret, given to the admin as if created through the API.
    await s.eventStore.append(`access-key-${example.id}`, [{
      type: 'AccessKeyCreated',
      data: { accessKeyId: example.id, userId: adminId, username: 'admin', secretSealed: s.secrets.seal(example.secret), description: 'docs example', at: now() },
      metadata: { actor: { kind: 'system', id: 'system', name: 'test' } },
    }], 'no_stream');
  });

  it('refuses the example signed with a wrong key', async () => {
    const response = await send({ authorization: 'Stratus AKEXAMPLE7QZ4M2W3XYAB:fBSlphC2eZWdg5woxLlIY+6+F/m1vChajoNOWaYVOHA=' });
    expect(response.status).toBe(401);
    expect(response.body.code).toBe('INVALID_SIGNATURE');
    expect(response.headers['www-authenticate']).toBe('Stratus');
  });

  it('refuses the example when the server\'s clock is more than 15 minutes from its Date', async () => {
    clock.advance(15 * 60_000 + 1000);
    try {
      const response = await send();
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('REQUEST_EXPIRED');
    } finally {
      clock.advance(-(15 * 60_000 + 1000));
    }
  });

  it('refuses the example with a tampered body or path', async () => {
    expect((await send({ body: example.body.replace('192.0.2.0/24', '0.0.0.0/0') })).body.code).toBe('INVALID_SIGNATURE');
    expect((await send({ path: '/v1/ip-access-lists?dryRun=true' })).body.code).toBe('INVALID_SIGNATURE');
  });

  it('accepts the example exactly as documented', async () => {
    const response = await send();
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    expect(response.body).toMatchObject({ name: 'office', type: 'allow', entries: ['192.0.2.0/24'] });
  });
});

describe('access keys', () => {
  it('shows the secret once: listing and reading never give it', async () => {
    expect(key.id).toMatch(/^AK[A-Z2-7]{18}$/);
    expect(key.secret.length).toBeGreaterThanOrEqual(40);
    const position = await headPosition(s);
    const list = await request(s.app).get(`/v1/access-keys?after=${position}`).set('Authorization', admin).expect(200);
    expect(list.body.items.map((item: { id: string }) => item.id)).toContain(key.id);
    const one = await request(s.app).get(`/v1/access-keys/${key.id}`).set('Authorization', admin).expect(200);
    expect(one.body).toMatchObject({ id: key.id, userId: adminId, username: 'admin', state: 'enabled', description: 'ci' });
    expect(JSON.stringify(list.body) + JSON.stringify(one.body)).not.toContain(key.secret);
    await s.runner.waitFor(await headPosition(s), 5000);
    expect(await allEventsText(s) + await readModelsText(s, ['access_keys', 'tasks', 'audit_log'])).not.toContain(key.secret);
  });

  it('a repeated Idempotency-Key finds the same key, without its secret', async () => {
    const first = await request(s.app).post('/v1/access-keys').set('Authorization', admin).set('Idempotency-Key', 'key-once').send({}).expect(201);
    const again = await request(s.app).post('/v1/access-keys').set('Authorization', admin).set('Idempotency-Key', 'key-once').send({}).expect(200);
    expect(again.body.id).toBe(first.body.id);
    expect(first.body.secret).toEqual(expect.any(String));
    expect(again.body.secret).toBeUndefined();
  });

  it('authenticates a signed request: right key, query in any order', async () => {
    await signed(s, key, 'get', '/v1/users?limit=5&sort=username', { now: now() }).expect(200);
    await signed(s, key, 'get', '/v1/users?sort=username&limit=5', { now: now() }).expect(200);
  });

  it('refuses a wrong key, a stale or future Date, a tampered body and a tampered query', async () => {
    const wrongKey = await signed(s, { id: key.id, secret: `${key.secret}x` }, 'get', '/v1/users', { now: now() });
    expect([wrongKey.status, wrongKey.body.code]).toEqual([401, 'INVALID_SIGNATURE']);
    const unknownKey = await signed(s, { id: 'AKNOSUCHKEY000000000', secret: key.secret }, 'get', '/v1/users', { now: now() });
    expect([unknownKey.status, unknownKey.body.code]).toEqual([401, 'INVALID_SIGNATURE']);
    const stale = await signed(s, key, 'get', '/v1/users', { now: now() - 16 * 60_000 });
    expect([stale.status, stale.body.code]).toEqual([401, 'REQUEST_EXPIRED']);
    const future = await signed(s, key, 'get', '/v1/users', { now: now() + 16 * 60_000 });
    expect([future.status, future.body.code]).toEqual([401, 'REQUEST_EXPIRED']);

    // Signed for one body, sent with another.
    const date = new Date(now()).toUTCString();
    const { authorizationHeader } = await import('../../domain/identity/signature.js');
    const signedFor = JSON.stringify({ name: 'lab', type: 'block', entries: ['198.51.100.1'] });
    const tamperedBody = await request(s.app).post('/v1/ip-access-lists').set('Date', date)
      .set('Authorization', authorizationHeader(key.id, key.secret, { method: 'POST', url: '/v1/ip-access-lists', date, body: signedFor }))
      .set('Content-Type', 'application/json').send(JSON.stringify({ name: 'lab', type: 'block', entries: ['0.0.0.0/0'] }));
    expect([tamperedBody.status, tamperedBody.body.code]).toEqual([401, 'INVALID_SIGNATURE']);
    // Signed for one query, sent with another.
    const tamperedQuery = await request(s.app).get('/v1/users?limit=6').set('Date', date)
      .set('Authorization', authorizationHeader(key.id, key.secret, { method: 'GET', url: '/v1/users?limit=5', date }));
    expect([tamperedQuery.status, tamperedQuery.body.code]).toEqual([401, 'INVALID_SIGNATURE']);
    // A missing Date.
    const noDate = await request(s.app).get('/v1/users')
      .set('Authorization', authorizationHeader(key.id, key.secret, { method: 'GET', url: '/v1/users', date: '' }));
    expect(noDate.body.code).toBe('REQUEST_EXPIRED');

    const failures = await auditEntries(s, admin, await headPosition(s), 'action=SignedRequest', 'result=failure');
    expect(failures.length).toBeGreaterThanOrEqual(6);
    expect(failures.find((entry) => entry.operator.id === 'AKNOSUCHKEY000000000')?.error.message).toBe('unknown access key');
  });

  it('acts with its owner\'s permissions, and the audit log shows the key as the operator', async () => {
    const created = await signed(s, key, 'post', '/v1/users', { now: now(), body: { username: 'keyed', password: 'made with an access key' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const [entry] = await auditEntries(s, admin, created.headers['stratus-position'] as string, `id=${created.body.taskId}`);
    expect(entry).toMatchObject({ action: 'CreateUser', result: 'success', operator: { kind: 'accessKey', id: key.id, name: 'admin' } });

    // A read-only user's key reads, and is refused (403, audited) when it writes.
    await createUserVia(s, admin, { username: 'reader', roles: ['read-only'] });
    const reader = await bearerOf(s, 'reader');
    const readerKey = await request(s.app).post('/v1/access-keys').set('Authorization', reader).send({});
    expect(readerKey.status).toBe(403);
    const grantKeys = await request(s.app).post('/v1/roles').set('Authorization', admin)
      .send({ name: 'key holders', rootRole: 'admin', permissions: ['access-key:create'] }).expect(201);
    const readerId = (await request(s.app).get('/v1/users/me').set('Authorization', reader)).body.id;
    await request(s.app).patch(`/v1/users/${readerId}`).set('Authorization', admin).send({ roles: ['read-only', grantKeys.body.id] }).expect(200);
    const made = await request(s.app).post('/v1/access-keys').set('Authorization', reader).send({}).expect(201);
    const readOnlyKey = { id: made.body.id, secret: made.body.secret };
    await signed(s, readOnlyKey, 'get', '/v1/users', { now: now() }).expect(200);
    const denied = await signed(s, readOnlyKey, 'post', '/v1/users', { now: now(), body: { username: 'nope', password: 'should not be created' } });
    expect([denied.status, denied.body.code]).toEqual([403, 'FORBIDDEN']);
    const refusals = await auditEntries(s, admin, await headPosition(s), 'action=user:create', `operator.id=${readOnlyKey.id}`);
    expect(refusals[0]).toMatchObject({ result: 'failure', operator: { kind: 'accessKey', name: 'reader' }, error: { code: 'FORBIDDEN' } });
  });

  it('disable, enable, delete; a key dies with its owner', async () => {
    const made = await request(s.app).post('/v1/access-keys').set('Authorization', admin).send({ description: 'temp' }).expect(201);
    const temp = { id: made.body.id, secret: made.body.secret };
    await signed(s, temp, 'get', '/v1/users', { now: now() }).expect(200);
    await request(s.app).post(`/v1/access-keys/${temp.id}/disable`).set('Authorization', admin).expect(200);
    expect((await signed(s, temp, 'get', '/v1/users', { now: now() })).status).toBe(401);
    await request(s.app).post(`/v1/access-keys/${temp.id}/enable`).set('Authorization', admin).expect(200);
    await signed(s, temp, 'get', '/v1/users', { now: now() }).expect(200);
    await request(s.app).delete(`/v1/access-keys/${temp.id}`).set('Authorization', admin).expect(200);
    expect((await signed(s, temp, 'get', '/v1/users', { now: now() })).status).toBe(401);
    await request(s.app).get(`/v1/access-keys/${temp.id}`).set('Authorization', admin).expect(404);

    const ownerId = await createUserVia(s, admin, { username: 'owner', roles: ['read-only'] });
    // Roles can be named by their name as well as their id.
    await request(s.app).patch(`/v1/users/${ownerId}`).set('Authorization', admin).send({ roles: ['read-only', 'key holders'] }).expect(200);
    const owner = await bearerOf(s, 'owner');
    const ownersKey = await request(s.app).post('/v1/access-keys').set('Authorization', owner).send({}).expect(201);
    const pair = { id: ownersKey.body.id, secret: ownersKey.body.secret };
    await signed(s, pair, 'get', '/v1/users/me', { now: now() }).expect(200);
    // Someone else's key is theirs: a plain user cannot touch the admin's.
    expect((await request(s.app).post(`/v1/access-keys/${key.id}/disable`).set('Authorization', owner)).status).toBe(403);
    await request(s.app).post(`/v1/users/${ownerId}/disable`).set('Authorization', admin).expect(200);
    expect((await signed(s, pair, 'get', '/v1/users/me', { now: now() })).status).toBe(401);
  });

  it('throttles failed signatures per client address: 429 with Retry-After, audited once', async () => {
    const ip = '203.0.113.77';
    const bad = { id: key.id, secret: 'not the secret' };
    for (let attempt = 0; attempt < 10; attempt++) {
      expect((await signed(s, bad, 'get', '/v1/users', { now: now(), ip })).status).toBe(401);
    }
    const limited = await signed(s, bad, 'get', '/v1/users', { now: now(), ip });
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Even the right key waits: the address is throttled, not the key.
    expect((await signed(s, key, 'get', '/v1/users', { now: now(), ip })).status).toBe(429);
    // Another address is unaffected.
    await signed(s, key, 'get', '/v1/users', { now: now(), ip: '203.0.113.78' }).expect(200);
    const audited = await auditEntries(s, admin, await headPosition(s), 'error.code=RATE_LIMITED', `clientIp=${ip}`);
    expect(audited).toHaveLength(1);
    clock.advance(60_000);
    await signed(s, key, 'get', '/v1/users', { now: now(), ip }).expect(200);
  });
});
