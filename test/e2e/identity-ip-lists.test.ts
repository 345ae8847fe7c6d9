import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { pino } from 'pino';
import { composeStratus, type Stratus } from '../../bin/compose.js';
import { loadConfig } from '../../bin/config.js';
import { adminPassword, removeDir, startStratus, type TestStratus } from '../support/stratus.js';
import { auditEntries, createUserVia, headPosition, loginFrom, signed, strongPassword } from '../support/identity.js';

// The seed's truth table (reference/002, IP Allowlist/Blocklist), end to end through login.
// The test client connects from 127.0.0.1; startStratus() trusts it as a proxy, so the
// address a login comes "from" is the X-Forwarded-For the test sends.

let s: TestStratus;
let admin: string;
beforeAll(async () => {
  s = await startStratus();
  admin = await s.login();
  await createUserVia(s, admin, { username: 'walt' });
});
afterAll(async () => { await s.stop(); removeDir(s.dataDir); });

const onBoth = '192.0.2.7';
const onlyBlocked = '192.0.2.8';
const onlyAllowed = '198.51.100.1';
const neither = '203.0.113.9';
const addresses = [onBoth, onlyBlocked, onlyAllowed, neither];

async function setLists(app: Stratus['app'], auth: string, lists: Array<{ name: string; type: 'allow' | 'block'; entries: string[] }>) {
  const existing = await request(app).get(`/v1/ip-access-lists?after=${await headPosition(s)}`).set('Authorization', auth).expect(200);
  for (const item of existing.body.items as Array<{ id: string }>) await request(app).delete(`/v1/ip-access-lists/${item.id}`).set('Authorization', auth).expect(200);
  for (const list of lists) await request(app).post('/v1/ip-access-lists').set('Authorization', auth).send(list).expect(201);
}

const enable = (app: Stratus['app'], auth: string, value: boolean) => request(app).put('/v1/settings/ipAccessList.enabled').set('Authorization', auth).send({ value }).expect(200);

async function outcomes(): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const ip of addresses) result[ip] = (await loginFrom(s, ip, { username: 'walt', password: strongPassword })).status;
  return result;
}

const blocklist = { name: 'blocked', type: 'block' as const, entries: ['192.0.2.0/24'] };
const allowlist = { name: 'allowed', type: 'allow' as const, entries: ['192.0.2.7', '198.51.100.0-198.51.100.255'] };

describe('IP allowlist and blocklist: the truth table, through X-Forwarded-For from a trusted proxy', () => {
  it('is off by default: lists take no effect until ipAccessList.enabled', async () => {
    await setLists(s.app, admin, [blocklist, allowlist]);
    expect(await outcomes()).toEqual({ [onBoth]: 201, [onlyBlocked]: 201, [onlyAllowed]: 201, [neither]: 201 });
  });

  type List = { name: string; type: 'allow' | 'block'; entries: string[] };
  const table: Array<[why: string, lists: List[], expected: Record<string, number>]> = [
    ['no lists: everyone', [], { [onBoth]: 201, [onlyBlocked]: 201, [onlyAllowed]: 201, [neither]: 201 }],
    ['only a blocklist: its addresses are refused, others allowed', [blocklist], { [onBoth]: 403, [onlyBlocked]: 403, [onlyAllowed]: 201, [neither]: 201 }],
    ['an allowlist alone takes no effect', [allowlist], { [onBoth]: 201, [onlyBlocked]: 201, [onlyAllowed]: 201, [neither]: 201 }],
    ['an allowlist with an empty blocklist takes no effect', [allowlist, { ...blocklist, entries: [] }], { [onBoth]: 201, [onlyBlocked]: 201, [onlyAllowed]: 201, [neither]: 201 }],
    ['both: the allowlist wins for an address on both', [blocklist, allowlist], { [onBoth]: 201, [onlyBlocked]: 403, [onlyAllowed]: 201, [neither]: 201 }],
  ];
  it.each(table)('%s', async (_why, lists, expected) => {
    await setLists(s.app, admin, lists);
    await enable(s.app, admin, true);
    try {
      expect(await outcomes()).toEqual(expected);
    } finally {
      await enable(s.app, admin, false);
    }
  });

  it('answers a refused login 403 IP_NOT_ALLOWED and audits it with the address', async () => {
    await setLists(s.app, admin, [blocklist]);
    await enable(s.app, admin, true);
    try {
      const refused = await loginFrom(s, onlyBlocked, { username: 'walt', password: strongPassword });
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('IP_NOT_ALLOWED');
      const [entry] = await auditEntries(s, admin, await headPosition(s), 'action=Login', `clientIp=${onlyBlocked}`, 'result=failure');
      expect(entry).toMatchObject({ operator: { name: 'walt' }, error: { code: 'IP_NOT_ALLOWED' } });

      // A request signed with an access key from a refused address is refused too.
      const made = await request(s.app).post('/v1/access-keys').set('Authorization', admin).send({}).expect(201);
      const key = { id: made.body.id, secret: made.body.secret };
      const signedRefused = await signed(s, key, 'get', '/v1/users', { ip: onlyBlocked });
      expect([signedRefused.status, signedRefused.body.code]).toEqual([403, 'IP_NOT_ALLOWED']);
      await signed(s, key, 'get', '/v1/users', { ip: neither }).expect(200);
    } finally {
      await enable(s.app, admin, false);
    }
  });

  it('believes only the hop the trusted proxy appended, not what the client put before it', async () => {
    await setLists(s.app, admin, [blocklist]);
    await enable(s.app, admin, true);
    try {
      // The client claims an allowed address; the proxy appends the client's real one.
      const spoofed = await request(s.app).post('/v1/sessions').set('X-Forwarded-For', `${neither}, ${onlyBlocked}`).send({ username: 'walt', password: strongPassword });
      expect(spoofed.status).toBe(403);
      const honest = await request(s.app).post('/v1/sessions').set('X-Forwarded-For', `${onlyBlocked}, ${neither}`).send({ username: 'walt', password: strongPassword });
      expect(honest.status).toBe(201);
    } finally {
      await enable(s.app, admin, false);
    }
  });

  it('validates entries: addresses, ranges and CIDRs only, at most 100', async () => {
    const bad = await request(s.app).post('/v1/ip-access-lists').set('Authorization', admin).send({ name: 'bad', type: 'block', entries: ['192.0.2.1', 'example.com', '10.0.0.0/40'] });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('INVALID_IP_ENTRIES');
    expect(bad.body.errors.map((error: { field: string }) => error.field)).toEqual(['entries.1', 'entries.2']);
    const tooMany = await request(s.app).post('/v1/ip-access-lists').set('Authorization', admin)
      .send({ name: 'many', type: 'block', entries: Array.from({ length: 101 }, (_, index) => `10.0.0.${index}`) });
    expect(tooMany.status).toBe(400);
    const ok = await request(s.app).post('/v1/ip-access-lists').set('Authorization', admin)
      .send({ name: 'v6', type: 'block', entries: ['2001:db8::/32', '2001:db8:1::1-2001:db8:1::ff', '192.0.2.1'] }).expect(201);
    const changed = await request(s.app).patch(`/v1/ip-access-lists/${ok.body.id}`).set('Authorization', admin).send({ entries: ['2001:db8::1'], description: 'lab' }).expect(200);
    expect(changed.body).toMatchObject({ name: 'v6', entries: ['2001:db8::1'], description: 'lab' });
    await request(s.app).get(`/v1/ip-access-lists/${ok.body.id}`).set('Authorization', admin).expect(200);
    await request(s.app).delete(`/v1/ip-access-lists/${ok.body.id}`).set('Authorization', admin).expect(200);
    await request(s.app).get(`/v1/ip-access-lists/${ok.body.id}`).set('Authorization', admin).expect(404);
  });
});

describe('without a trusted proxy, X-Forwarded-For is not believed', () => {
  let direct: Stratus;
  let dataDir: string;
  let auth: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'stratus-test-'));
    direct = await composeStratus(loadConfig({ STRATUS_DATA_DIR: dataDir, STRATUS_ADMIN_PASSWORD: adminPassword }), { log: pino({ level: 'silent' }) });
    const login = await request(direct.app).post('/v1/sessions').send({ username: 'admin', password: adminPassword }).expect(201);
    auth = `Bearer ${login.body.token}`;
    await request(direct.app).post('/v1/users').set('Authorization', auth).send({ username: 'walt', password: strongPassword }).expect(201);
  });
  afterAll(async () => { await direct.close(); removeDir(dataDir); });

  const loginDirect = (forwardedFor: string) => request(direct.app).post('/v1/sessions').set('X-Forwarded-For', forwardedFor).send({ username: 'walt', password: strongPassword });

  it('a blocked client cannot claim another address, and a spoofed blocked address does not block', async () => {
    const lists = async (entries: string[]) => {
      const existing = await request(direct.app).get(`/v1/ip-access-lists?after=${await direct.eventStore.headPosition()}`).set('Authorization', auth).expect(200);
      for (const item of existing.body.items as Array<{ id: string }>) await request(direct.app).delete(`/v1/ip-access-lists/${item.id}`).set('Authorization', auth).expect(200);
      await request(direct.app).post('/v1/ip-access-lists').set('Authorization', auth).send({ name: 'blocked', type: 'block', entries }).expect(201);
    };
    await enable(direct.app, auth, true);
    try {
      // The real peer is the loopback address; blocking it refuses the login whatever the header says.
      await lists(['127.0.0.0/8', '::1']);
      expect((await loginDirect(neither)).status).toBe(403);
      // Blocking the address in the header does nothing: it is not believed.
      await lists([neither]);
      expect((await loginDirect(neither)).status).toBe(201);
      const [entry] = await auditEntries(direct, auth, await direct.eventStore.headPosition(), 'action=Login', 'operator.name=walt', 'result=failure');
      expect(entry?.clientIp).toMatch(/^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
    } finally {
      await enable(direct.app, auth, false);
    }
  });
});
