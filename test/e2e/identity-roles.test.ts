import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { removeDir, startStratus, type TestStratus } from '../support/stratus.js';
import { auditEntries, bearerOf, createUserVia, headPosition } from '../support/identity.js';

let s: TestStratus;
let admin: string;
let adminId: string;
beforeAll(async () => {
  s = await startStratus();
  admin = await s.login();
  adminId = (await request(s.app).get('/v1/users/me').set('Authorization', admin)).body.id;
});
afterAll(async () => { await s.stop(); removeDir(s.dataDir); });

const post = (auth: string, path: string, body: object) => request(s.app).post(path).set('Authorization', auth).send(body);
const expectForbidden = (response: request.Response) => {
  expect(response.status, JSON.stringify(response.body)).toBe(403);
  expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
};

describe('roles', () => {
  it('lists the system roles and custom roles', async () => {
    const custom = await post(admin, '/v1/roles', { name: 'vm operators', rootRole: 'platform-admin', permissions: ['vm:*', 'volume:read'] }).expect(201);
    expect(custom.body).toMatchObject({ name: 'vm operators', system: false, rootRole: 'platform-admin', zoneScoped: true, exceptions: expect.arrayContaining(['zone:create']) });
    const roles = await request(s.app).get(`/v1/roles?after=${custom.headers['stratus-position']}`).set('Authorization', admin).expect(200);
    expect(roles.body.items.map((role: { name: string }) => role.name)).toEqual(['admin', 'platform-admin', 'auditor', 'read-only', 'vm operators']);
    const platformAdmin = await request(s.app).get('/v1/roles/platform-admin').set('Authorization', admin).expect(200);
    expect(platformAdmin.body).toMatchObject({ system: true, permissions: ['*:*'], exceptions: ['zone:create', 'zone:delete', 'ticket:*', 'certificate:*'], zoneScoped: true });
    await request(s.app).get(`/v1/roles/${custom.body.id}`).set('Authorization', admin).expect(200);
    expect((await request(s.app).delete('/v1/roles/admin').set('Authorization', admin)).body.code).toBe('SYSTEM_ROLE');
  });

  it('refuses a custom role that grants more than its root role', async () => {
    const beyond = await post(admin, '/v1/roles', { name: 'sneaky readers', rootRole: 'read-only', permissions: ['vm:read', 'user:create'] });
    expectForbidden(beyond);
    expect(beyond.body.code).toBe('PERMISSION_BEYOND_ROOT_ROLE');
    const auditorPlus = await post(admin, '/v1/roles', { name: 'auditor plus', rootRole: 'auditor', permissions: ['*:read'] });
    expect(auditorPlus.body.code).toBe('PERMISSION_BEYOND_ROOT_ROLE');
    const malformed = await post(admin, '/v1/roles', { name: 'bad', rootRole: 'read-only', permissions: ['read everything'] });
    expect([malformed.status, malformed.body.code]).toEqual([400, 'INVALID_PERMISSIONS']);
    const created = await post(admin, '/v1/roles', { name: 'narrow readers', rootRole: 'read-only', permissions: ['vm:read'] }).expect(201);
    expect((await request(s.app).patch(`/v1/roles/${created.body.id}`).set('Authorization', admin).send({ permissions: ['vm:delete'] })).status).toBe(403);
  });
});

describe('privilege escalation is refused', () => {
  it('a read-only user creates nothing; every refusal is a 403 and an audit entry', async () => {
    const readerId = await createUserVia(s, admin, { username: 'rita', roles: ['read-only'] });
    const rita = await bearerOf(s, 'rita');
    await request(s.app).get('/v1/users').set('Authorization', rita).expect(200);
    await request(s.app).get('/v1/roles').set('Authorization', rita).expect(200);
    const attempts = [
      post(rita, '/v1/users', { username: 'ritas-friend', password: 'a long enough password' }),
      post(rita, '/v1/roles', { name: 'mine', rootRole: 'read-only', permissions: ['vm:read'] }),
      post(rita, '/v1/ip-access-lists', { name: 'mine', type: 'block', entries: ['192.0.2.1'] }),
      post(rita, '/v1/access-keys', {}),
      request(s.app).put('/v1/settings/session.timeout').set('Authorization', rita).send({ value: 60 }),
      request(s.app).patch(`/v1/users/${readerId}`).set('Authorization', rita).send({ roles: ['admin'] }),
      post(rita, `/v1/users/${adminId}/password`, { newPassword: 'i am the admin now' }),
      request(s.app).delete(`/v1/users/${adminId}`).set('Authorization', rita),
    ];
    for (const response of await Promise.all(attempts)) {
      expectForbidden(response);
      expect(response.body.code).toBe('FORBIDDEN');
    }
    const denials = await auditEntries(s, admin, await headPosition(s), `operator.id=${readerId}`, 'error.code=FORBIDDEN');
    expect(denials.map((entry) => entry.action).sort()).toEqual(
      ['access-key:create', 'ip-access-list:create', 'role:create', 'setting:update', 'user:create', 'user:delete', 'user:reset-password', 'user:update'],
    );
    for (const entry of denials) expect(entry).toMatchObject({ result: 'failure', clientIp: expect.any(String) });
  });

  it('nobody grants a role they do not hold, nor defines one', async () => {
    const managers = await post(admin, '/v1/roles', { name: 'user managers', rootRole: 'admin', permissions: ['user:*', 'role:create'] }).expect(201);
    await createUserVia(s, admin, { username: 'mona', roles: [managers.body.id] });
    const mona = await bearerOf(s, 'mona');
    // Giving someone admin, auditor or read-only would hand out what mona lacks.
    for (const roles of [['admin'], ['auditor'], ['read-only'], ['platform-admin']]) {
      const response = await post(mona, '/v1/users', { username: `by-mona-${roles[0]}`, password: 'a long enough password', roles });
      expectForbidden(response);
    }
    // She may give what she holds.
    const peer = await post(mona, '/v1/users', { username: 'monas-peer', password: 'a long enough password', roles: ['user managers'] }).expect(201);
    // She may not define a role beyond herself, nor raise her own roles.
    expectForbidden(await post(mona, '/v1/roles', { name: 'mona admin', rootRole: 'admin', permissions: ['*:*'] }));
    expectForbidden(await post(mona, '/v1/roles', { name: 'mona audit', rootRole: 'admin', permissions: ['audit:read'] }));
    await post(mona, '/v1/roles', { name: 'user readers', rootRole: 'admin', permissions: ['user:read', 'user:list'] }).expect(201);
    const self = await request(s.app).patch(`/v1/users/${(await request(s.app).get('/v1/users/me').set('Authorization', mona)).body.id}`)
      .set('Authorization', mona).send({ roles: [managers.body.id, 'admin'] });
    expect(self.status).toBe(409);
    expect(self.body.code).toBe('SELF_ACTION');
    // Nor act on a user who holds more than she does: the admin.
    expectForbidden(await post(mona, `/v1/users/${adminId}/password`, { newPassword: 'mona owns the admin' }));
    expectForbidden(await post(mona, `/v1/users/${adminId}/disable`, {}));
    // A peer with the same role is fair game.
    await post(mona, `/v1/users/${peer.body.id}/disable`, {}).expect(200);
  });

  it('a platform admin is bound to the seed\'s exceptions and to its zones', async () => {
    await createUserVia(s, admin, { username: 'paul', roles: ['platform-admin'], zones: ['zone-a'] });
    const paul = await bearerOf(s, 'paul');
    const me = await request(s.app).get('/v1/users/me').set('Authorization', paul).expect(200);
    expect(me.body).toMatchObject({ roles: ['platform-admin'], zones: ['zone-a'] });
    // Cannot make an admin, nor a role with zone creation or ticket approval.
    expectForbidden(await post(paul, '/v1/users', { username: 'pauls-admin', password: 'a long enough password', roles: ['admin'] }));
    expectForbidden(await post(paul, '/v1/roles', { name: 'zone makers', rootRole: 'admin', permissions: ['zone:create'] }));
    expectForbidden(await post(paul, '/v1/roles', { name: 'approvers', rootRole: 'admin', permissions: ['ticket:approve'] }));
    // Cannot hand out zones he does not have, nor all zones.
    expectForbidden(await post(paul, '/v1/users', { username: 'pauls-peer', password: 'a long enough password', roles: ['platform-admin'], zones: ['zone-a', 'zone-b'] }));
    expectForbidden(await post(paul, '/v1/users', { username: 'pauls-peer', password: 'a long enough password', roles: ['platform-admin'], zones: 'all' }));
    await post(paul, '/v1/users', { username: 'pauls-peer', password: 'a long enough password', roles: ['platform-admin'], zones: ['zone-a'] }).expect(201);
    // Roles he defines lie within platform-admin and are zone-scoped like it.
    const defined = await post(paul, '/v1/roles', { name: 'zone a vms', rootRole: 'platform-admin', permissions: ['vm:*'] }).expect(201);
    expect(defined.body.zoneScoped).toBe(true);
    expectForbidden(await post(paul, '/v1/roles', { name: 'global readers', rootRole: 'read-only', permissions: ['vm:read'] }));
    // Cannot act on the admin.
    expectForbidden(await post(paul, `/v1/users/${adminId}/password`, { newPassword: 'paul owns the admin' }));
    // Zone creation itself is refused by permission (the compute context's endpoint).
    expectForbidden(await post(paul, '/v1/zones', { name: 'rogue zone' }));
  });

  it('deleting a custom role takes its permissions from its holders at once', async () => {
    const role = await post(admin, '/v1/roles', { name: 'ip keepers', rootRole: 'admin', permissions: ['ip-access-list:*'] }).expect(201);
    await createUserVia(s, admin, { username: 'quinn', roles: [role.body.id] });
    const quinn = await bearerOf(s, 'quinn');
    await request(s.app).get('/v1/ip-access-lists').set('Authorization', quinn).expect(200);
    await request(s.app).delete(`/v1/roles/${role.body.id}`).set('Authorization', admin).expect(200);
    expectForbidden(await request(s.app).get('/v1/ip-access-lists').set('Authorization', quinn));
    // The name is free again.
    await post(admin, '/v1/roles', { name: 'ip keepers', rootRole: 'admin', permissions: ['ip-access-list:read'] }).expect(201);
  });

  it('an auditor reads the audit log and nothing else', async () => {
    await createUserVia(s, admin, { username: 'otto', roles: ['auditor'] });
    const otto = await bearerOf(s, 'otto');
    await request(s.app).get('/v1/audit-log').set('Authorization', otto).expect(200);
    await request(s.app).get('/v1/tasks').set('Authorization', otto).expect(200);
    await request(s.app).get('/v1/users/me').set('Authorization', otto).expect(200);
    for (const path of ['/v1/users', '/v1/settings', '/v1/roles', '/v1/sessions', '/v1/ip-access-lists']) {
      expectForbidden(await request(s.app).get(path).set('Authorization', otto));
    }
  });
});
