import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import request from 'supertest';
import { authorizationHeader } from '../../domain/identity/signature.js';
import { removeDir, startStratus, type TestStratus } from '../support/stratus.js';
import { createUserVia, noStackTrace } from '../support/identity.js';

// Property-based tests: arbitrary bodies, headers and query strings thrown at login, signed
// requests and the user endpoints. Whatever arrives, the answer is never a 5xx and never
// shows a stack trace; an error is always problem+json.

let s: TestStratus;
let admin: string;
let key: { id: string; secret: string };
let userId: string;
beforeAll(async () => {
  s = await startStratus();
  admin = await s.login();
  const created = await request(s.app).post('/v1/access-keys').set('Authorization', admin).send({}).expect(201);
  key = { id: created.body.id, secret: created.body.secret };
  userId = await createUserVia(s, admin, { username: 'fuzz-target' });
});
afterAll(async () => { await s.stop(); removeDir(s.dataDir); });

// Header names and values a client can actually send (HTTP tokens, visible ASCII).
const headerName = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/)
  .filter((name) => !['content-length', 'transfer-encoding', 'host', 'connection', 'expect', 'upgrade', 'te', 'trailer', 'keep-alive'].includes(name));
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,80}$/).map((value) => value.trim());
const nastyHeaders = fc.dictionary(
  fc.oneof(headerName, fc.constantFrom('authorization', 'content-type', 'date', 'x-forwarded-for', 'idempotency-key', 'if-match', 'prefer', 'x-correlation-id', 'accept')),
  headerValue,
  { maxKeys: 6 },
);

const nastyPieces = ['%', '%E0%A4%A', '%00', '%zz', '..', '[]', '[0]=x', '__proto__', 'constructor', 'q=', 'q=username=', 'q=a~=%', 'sort=-', 'limit=-1', 'limit=99999', 'start=x', 'count=maybe', 'after=x', 'active=yes', '&&', '=', 'a=b=c'];
const queryString = fc.array(fc.oneof(
  fc.constantFrom(...nastyPieces),
  fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 20 })).map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`),
  fc.tuple(fc.constantFrom('q', 'sort', 'limit', 'start', 'count', 'after', 'active'), fc.string({ maxLength: 30 })).map(([name, value]) => `${name}=${encodeURIComponent(value)}`),
), { maxLength: 5 }).map((pieces) => (pieces.length > 0 ? `?${pieces.join('&')}` : ''));

const jsonText = fc.oneof(
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('{', '{"username":', 'null', '[]', '""', '{"__proto__":{"admin":true}}', '{"username":"admin","password":"x","password":"y"}', '\u0000', '{"a":1e999}'),
);
/** A client address per run, so that the per-address throttle does not answer most requests. */
const clientIp = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 254 }))
  .map((octets) => octets.join('.'));

const loginShaped = fc.record({
  username: fc.oneof(fc.string({ minLength: 1, maxLength: 140 }), fc.constantFrom('admin', 'fuzz-target', '', ' admin ', 'ADMIN')),
  password: fc.oneof(fc.string({ minLength: 1, maxLength: 60 }), fc.constant('correct horse battery staple')),
  totp: fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.stringMatching(/^\d{6}$/) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }),
  extra: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }) }),
}, { requiredKeys: ['username', 'password'] }).map((body) => JSON.stringify(body));

function expectSane(response: request.Response) {
  expect(response.status, `${response.status} ${response.text}`).toBeLessThan(500);
  // A task that failed on an unexpected error is an internal error whatever its status says.
  expect(response.body?.code, response.text).not.toBe('INTERNAL_ERROR');
  expect(noStackTrace(response.text), response.text).toBe(true);
  if (response.status >= 400) expect(response.headers['content-type'] ?? '').toMatch(/application\/problem\+json/);
}

function withHeaders(pending: request.Test, headers: Record<string, string>) {
  for (const [name, value] of Object.entries(headers)) pending.set(name, value);
  return pending;
}

describe('fuzzing the identity API', () => {
  it('login: arbitrary bodies, headers and query strings', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(jsonText, loginShaped), nastyHeaders, queryString, clientIp, async (body, headers, query, ip) => {
      const pending = withHeaders(request(s.app).post(`/v1/sessions${query}`), { 'content-type': 'application/json', 'x-forwarded-for': ip, ...headers });
      expectSane(await pending.send(body));
    }), { numRuns: 120 });
  });

  it('signed requests: arbitrary Authorization, Date, bodies, paths and queries', async () => {
    const paths = fc.constantFrom('/v1/users', '/v1/users/me', '/v1/access-keys', '/v1/ip-access-lists', '/v1/roles', `/v1/users/${'x'.repeat(40)}`);
    const forged = fc.oneof(
      headerValue.map((value) => `Stratus ${value}`),
      fc.tuple(fc.stringMatching(/^[A-Za-z0-9_-]{0,70}$/), fc.stringMatching(/^[A-Za-z0-9+/=]{0,140}$/)).map(([id, signature]) => `Stratus ${id}:${signature}`),
      fc.constant(`Stratus ${'A'.repeat(64)}:${'B'.repeat(128)}`),
    );
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('get', 'post', 'patch', 'delete'), paths, queryString, fc.oneof(fc.constant(undefined), jsonText),
      fc.oneof(headerValue, fc.constant('now')), fc.boolean(), forged, nastyHeaders, clientIp,
      async (method, path, query, body, dateText, signProperly, forgedHeader, headers, ip) => {
        const date = dateText === 'now' ? new Date().toUTCString() : dateText;
        const url = `${path}${query}`;
        // Half the time the signature is right for whatever arrives, so the request gets past
        // authentication with arbitrary dates, paths and bodies; otherwise it is forged.
        const authorization = signProperly ? authorizationHeader(key.id, key.secret, { method, url, date, body }) : forgedHeader;
        const pending = withHeaders(request(s.app)[method](url), { ...headers, date, authorization, 'x-forwarded-for': ip });
        if (body !== undefined) pending.set('content-type', 'application/json');
        expectSane(await (body === undefined ? pending : pending.send(body)));
      },
    ), { numRuns: 150 });
  });

  it('user endpoints: arbitrary bodies, ids, headers and query strings, as an administrator', async () => {
    const userBody = fc.oneof(jsonText, fc.record({
      username: fc.oneof(fc.string({ maxLength: 70 }), fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/)),
      password: fc.oneof(fc.string({ maxLength: 40 }), fc.constant('a perfectly good password')),
      oldPassword: fc.string({ maxLength: 20 }),
      newPassword: fc.string({ maxLength: 40 }),
      roles: fc.oneof(fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }), fc.array(fc.constantFrom('admin', 'auditor', 'read-only', 'platform-admin', 'nope'), { maxLength: 3 }), fc.anything()),
      zones: fc.oneof(fc.constant('all'), fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }), fc.anything()),
    }, { requiredKeys: [] }).map((body) => JSON.stringify(body)));
    const target = fc.oneof(fc.constant(userId), fc.constant('me'), fc.string({ maxLength: 40 }).map(encodeURIComponent), fc.constantFrom('%E0%A4%A', '..', '%2F', 'x'.repeat(300)));
    const route = fc.constantFrom(
      ['post', '/v1/users'], ['get', '/v1/users'], ['get', '/v1/users/{id}'], ['patch', '/v1/users/{id}'], ['post', '/v1/users/{id}/password'],
      ['post', '/v1/users/{id}/unlock'], ['get', '/v1/users/{id}/totp'], ['get', '/v1/sessions'], ['get', '/v1/access-keys'],
    ) as fc.Arbitrary<['get' | 'post' | 'patch', string]>;
    // Requests that would lock the administrator out of its own test are not interesting here.
    const harmless = nastyHeaders.map((headers) => Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'authorization')));
    await fc.assert(fc.asyncProperty(route, target, userBody, queryString, harmless, async ([method, pattern], id, body, query, headers) => {
      const url = `${pattern.replace('{id}', id)}${query}`;
      const pending = withHeaders(request(s.app)[method](url), { ...headers, authorization: admin });
      if (method !== 'get') pending.set('content-type', 'application/json');
      expectSane(await (method === 'get' ? pending : pending.send(body)));
    }), { numRuns: 150 });
  });
});
