import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, startStratus, type TestStratus } from '../support/stratus.js';

// DESIGN.md §5 for the tenancy resources: GET gives an ETag (the stream's version); a write
// with If-Match of an older version is refused with 412 and changes nothing; with the current
// one it goes through; a malformed If-Match is a 400.

let stratus: TestStratus;
let auth: string;

beforeAll(async () => {
  stratus = await startStratus();
  auth = await stratus.login();
});
afterAll(async () => {
  await stratus.stop();
  removeDir(stratus.dataDir);
});

const http = () => request(stratus.app);

describe.each([
  { kind: 'project', collection: '/v1/projects' },
  { kind: 'department', collection: '/v1/organizations' },
  { kind: 'user group', collection: '/v1/user-groups' },
])('If-Match on a $kind', ({ collection }) => {
  it('a stale ETag → 412 and nothing changes, the current one → 200, a malformed one → 400', async () => {
    const id = (await http().post(collection).set('Authorization', auth).set('Prefer', 'wait=10').send({ name: `if-match ${collection.slice(4)}` }).expect(201)).body.id as string;
    const first = (await http().get(`${collection}/${id}`).set('Authorization', auth).expect(200)).headers.etag as string;
    expect(first).toMatch(/^"\d+"$/);

    await http().patch(`${collection}/${id}`).set('Authorization', auth).set('If-Match', first).send({ description: 'first change' }).expect(200);
    const stale = await http().patch(`${collection}/${id}`).set('Authorization', auth).set('If-Match', first).send({ description: 'lost update' });
    expect(stale.status).toBe(412);
    expect(stale.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(stale.body.code).toBe('PRECONDITION_FAILED');

    const now = await http().get(`${collection}/${id}`).set('Authorization', auth).expect(200);
    expect(now.body.description).toBe('first change');
    expect(now.headers.etag).not.toBe(first);

    const malformed = await http().patch(`${collection}/${id}`).set('Authorization', auth).set('If-Match', 'yesterday').send({ description: 'x' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('INVALID_IF_MATCH');
  });
});
