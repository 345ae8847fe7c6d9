import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createUser } from '../../commands/identity/users.js';
import { metadataFor, systemActor } from '../../commands/shared/request-context.js';
import { removeDir, startStratus, type TestStratus } from '../support/stratus.js';

let stratus: TestStratus;
let auth: string;
beforeAll(async () => {
  stratus = await startStratus();
  auth = await stratus.login();
});
afterAll(async () => { await stratus.stop(); removeDir(stratus.dataDir); });

const expectProblem = (response: request.Response, status: number, code: string) => {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({ type: 'about:blank', status, code, title: expect.any(String) });
  expect(JSON.stringify(response.body)).not.toMatch(/at .*\.(ts|js):\d+/);
};

describe('malformed requests are answered with problem+json 4xx', () => {
  it('unknown path → 404', async () => {
    expectProblem(await request(stratus.app).get('/v1/nothing-here').set('Authorization', auth), 404, 'NOT_FOUND');
  });

  it('wrong method → 405 with Allow', async () => {
    const response = await request(stratus.app).patch('/v1/settings/session.timeout').set('Authorization', auth).send({});
    expectProblem(response, 405, 'METHOD_NOT_ALLOWED');
    expect(response.headers.allow).toBe('GET, PUT');
  });

  it('malformed JSON → 400 naming the body', async () => {
    const response = await request(stratus.app).post('/v1/sessions').set('Content-Type', 'application/json').send('{"username": "admin",');
    expectProblem(response, 400, 'MALFORMED_JSON');
    expect(response.body.errors).toEqual([{ field: 'body', message: 'malformed JSON' }]);
  });

  it('a body that is not JSON → 415', async () => {
    const response = await request(stratus.app).post('/v1/sessions').set('Content-Type', 'text/plain').send('username=admin');
    expectProblem(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('a body over the limit → 413', async () => {
    const response = await request(stratus.app).post('/v1/sessions').set('Content-Type', 'application/json')
      .send(JSON.stringify({ username: 'admin', password: 'x'.repeat(2 * 1024 * 1024) }));
    expectProblem(response, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('missing, mistyped and unknown fields → 400 listing each field', async () => {
    const response = await request(stratus.app).post('/v1/sessions').send({ username: 42, extra: true });
    expectProblem(response, 400, 'VALIDATION_FAILED');
    const fields = (response.body.errors as Array<{ field: string }>).map((error) => error.field).sort();
    expect(fields).toEqual(['body', 'password', 'username']);
  });

  it('unknown query fields, parameters and operators → 400', async () => {
    const unknownField = await request(stratus.app).get('/v1/audit-log?q=colour=red').set('Authorization', auth);
    expectProblem(unknownField, 400, 'INVALID_QUERY');
    expect(unknownField.body.errors[0].field).toBe('q.colour');
    expectProblem(await request(stratus.app).get('/v1/audit-log?colour=red').set('Authorization', auth), 400, 'INVALID_QUERY');
    expectProblem(await request(stratus.app).get('/v1/audit-log?q=action').set('Authorization', auth), 400, 'INVALID_QUERY');
    expectProblem(await request(stratus.app).get('/v1/audit-log?sort=-colour').set('Authorization', auth), 400, 'INVALID_QUERY');
    expectProblem(await request(stratus.app).get('/v1/audit-log?limit=5000').set('Authorization', auth), 400, 'INVALID_QUERY');
    expectProblem(await request(stratus.app).get('/v1/audit-log?q=time>yesterday').set('Authorization', auth), 400, 'INVALID_QUERY');
    expectProblem(await request(stratus.app).get('/v1/tasks?q=state~=run%25&q=nope=1').set('Authorization', auth), 400, 'INVALID_QUERY');
  });

  it('an unknown setting → 404, a bad If-Match → 400', async () => {
    expectProblem(await request(stratus.app).get('/v1/settings/no.such').set('Authorization', auth), 404, 'SETTING_NOT_FOUND');
    expectProblem(await request(stratus.app).put('/v1/settings/session.timeout').set('Authorization', auth).set('If-Match', 'yesterday').send({ value: 60 }), 400, 'INVALID_IF_MATCH');
  });

  it('keeps the correlation id given, or makes one', async () => {
    const given = await request(stratus.app).get('/healthz').set('X-Correlation-Id', 'abc-123');
    expect(given.headers['x-correlation-id']).toBe('abc-123');
    const made = await request(stratus.app).get('/v1/nothing').set('X-Correlation-Id', 'bad id with spaces');
    expect(made.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(made.body.correlationId).toBe(made.headers['x-correlation-id']);
  });
});

describe('query language', () => {
  it('supports in, not in, like and ranges', async () => {
    const change = await request(stratus.app).put('/v1/settings/session.timeout').set('Authorization', auth).send({ value: 900 }).expect(200);
    const after = change.headers['stratus-position'];
    const q = (condition: string) => request(stratus.app).get(`/v1/audit-log?after=${after}&q=${encodeURIComponent(condition)}`).set('Authorization', auth).expect(200);
    const inList = await q('action?=UpdateSetting,Logout');
    expect(inList.body.items.length).toBeGreaterThan(0);
    expect(inList.body.items.every((entry: { action: string }) => ['UpdateSetting', 'Logout'].includes(entry.action))).toBe(true);
    const notIn = await q('action!?=UpdateSetting,Login');
    expect(notIn.body.items.every((entry: { action: string }) => !['UpdateSetting', 'Login'].includes(entry.action))).toBe(true);
    const like = await q('action~=update%');
    expect(like.body.items.map((entry: { action: string }) => entry.action)).toContain('UpdateSetting');
    const future = await q(`time>${new Date(Date.now() + 3_600_000).toISOString()}`);
    expect(future.body.items).toEqual([]);
  });
});

describe('tasks', () => {
  it('gives a task by id with its state and result', async () => {
    const change = await request(stratus.app).put('/v1/settings/session.timeout').set('Authorization', auth).send({ value: 1200 }).expect(200);
    const task = await request(stratus.app).get(`/v1/tasks/${change.body.taskId}`).set('Authorization', auth).expect(200);
    expect(task.body).toMatchObject({ id: change.body.taskId, state: 'succeeded', action: 'UpdateSetting', result: { name: 'session.timeout', value: 1200 } });
    const listed = await request(stratus.app).get(`/v1/tasks?after=${change.headers['stratus-position']}&q=id=${change.body.taskId}`).set('Authorization', auth).expect(200);
    expect(listed.body.items).toMatchObject([{ id: change.body.taskId, state: 'succeeded' }]);
    expectProblem(await request(stratus.app).get('/v1/tasks/00000000-0000-0000-0000-000000000000').set('Authorization', auth), 404, 'TASK_NOT_FOUND');
  });

  it('a repeated Idempotency-Key returns the first answer and appends nothing', async () => {
    const first = await request(stratus.app).put('/v1/settings/session.timeout').set('Authorization', auth).set('Idempotency-Key', 'k-1').send({ value: 1800 }).expect(200);
    const head = await stratus.eventStore.headPosition();
    const repeat = await request(stratus.app).put('/v1/settings/session.timeout').set('Authorization', auth).set('Idempotency-Key', 'k-1').send({ value: 1800 }).expect(200);
    expect(repeat.body).toEqual(first.body);
    expect(await stratus.eventStore.headPosition()).toBe(head);
    const reused = await request(stratus.app).put('/v1/settings/session.timeout').set('Authorization', auth).set('Idempotency-Key', 'k-1').send({ value: 2400 });
    expectProblem(reused, 400, 'IDEMPOTENCY_KEY_REUSED');
    expect(await stratus.eventStore.headPosition()).toBe(head);
  });

  it('If-Match with a stale ETag → 412, with the current one → 200', async () => {
    const current = await request(stratus.app).get('/v1/settings/session.timeout').set('Authorization', auth).expect(200);
    const etag = current.headers.etag as string;
    await request(stratus.app).put('/v1/settings/session.timeout').set('Authorization', auth).set('If-Match', etag).send({ value: 3000 }).expect(200);
    const stale = await request(stratus.app).put('/v1/settings/session.timeout').set('Authorization', auth).set('If-Match', etag).send({ value: 3300 });
    expectProblem(stale, 412, 'PRECONDITION_FAILED');
  });
});

describe('authorization', () => {
  it('denies a user without the permission with 403 FORBIDDEN, and audits the denial', async () => {
    await createUser({ store: stratus.eventStore, clock: { now: () => Date.now() } },
      { username: 'viewer', password: 'viewer-password-1', roles: [] }, metadataFor({ actor: systemActor, correlationId: 'test' }));
    const viewer = await stratus.login('viewer', 'viewer-password-1');
    const denied = await request(stratus.app).get('/v1/audit-log').set('Authorization', viewer).set('X-Forwarded-For', '198.51.100.4');
    expectProblem(denied, 403, 'FORBIDDEN');
    expectProblem(await request(stratus.app).put('/v1/settings/session.timeout').set('Authorization', viewer).send({ value: 60 }), 403, 'FORBIDDEN');
    const head = await stratus.eventStore.headPosition();
    const entries = await request(stratus.app).get(`/v1/audit-log?after=${head}&q=operator.name=viewer&q=result=failure`).set('Authorization', auth).expect(200);
    expect(entries.body.items.map((entry: { action: string }) => entry.action).sort()).toEqual(['audit:read', 'setting:update']);
    expect(entries.body.items.find((entry: { action: string }) => entry.action === 'audit:read')).toMatchObject({ clientIp: '198.51.100.4', error: { code: 'FORBIDDEN' } });
  });
});

describe('operations endpoints', () => {
  it('serves OpenAPI 3.1 generated from the schemas', async () => {
    const response = await request(stratus.app).get('/v1/openapi.json').expect(200);
    expect(response.body.openapi).toBe('3.1.0');
    expect(response.body.paths['/v1/sessions'].post.requestBody.content['application/json'].schema.required).toEqual(['username', 'password']);
    expect(response.body.paths['/v1/settings/{name}'].put).toBeDefined();
  });

  it('health, readiness and Prometheus metrics', async () => {
    await request(stratus.app).get('/healthz').expect(200);
    const ready = await request(stratus.app).get('/readyz').expect(200);
    expect(ready.body.checks.projections.lag).toHaveProperty('audit-log');
    const metrics = await request(stratus.app).get('/metrics').expect(200);
    expect(metrics.text).toContain('stratus_http_request_duration_seconds_bucket');
    expect(metrics.text).toMatch(/stratus_events_appended_total \d+/);
    expect(metrics.text).toContain('stratus_projection_lag_events{projection="audit-log"}');
  });
});
