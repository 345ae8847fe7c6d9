import { spawnSync } from 'node:child_process';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caughtUp, removeDir, startStratus, type TestStratus } from '../support/stratus.js';

// Organizations over HTTP: a tree of teams and sub-departments, moves that refuse cycles, a
// delete that takes the sub-departments with it (users stay), department admins and the
// exclusive department manager, the read model other contexts query, and the user list of a
// platform member narrowed to their organization tree.

let s: TestStratus;
let admin: string;
const password = 'a long enough password 1';

beforeAll(async () => {
  s = await startStratus();
  admin = await s.login();
});
let stopped = false;
afterAll(async () => { if (!stopped) await s.stop(); removeDir(s.dataDir); });

const http = () => request(s.app);
const post = (path: string, body: object, auth = admin) => http().post(path).set('Authorization', auth).send(body);
const createUser = async (username: string, roles: string[] = []) => (await post('/v1/users', { username, password, roles }).expect(201)).body.id as string;
const createOrganization = async (name: string, parentId?: string) => (await post('/v1/organizations', { name, ...(parentId ? { parentId } : {}) }).expect(201)).body;

describe('a deleted user', () => {
  it('leaves every department (with their admin and manager roles), every user group and every project; the read models no longer list them', async () => {
    const firm = await createOrganization('firm');
    const desk = await createOrganization('desk', firm.id);
    const dee = await createUser('dee');
    const eve = await createUser('eve');
    const stays = await createUser('stays');
    await post(`/v1/organizations/${firm.id}/users`, { userId: dee }).expect(200);
    await post(`/v1/organizations/${desk.id}/admins`, { userId: dee }).expect(200);
    await post(`/v1/organizations/${desk.id}/users`, { userId: stays }).expect(200);
    await post(`/v1/organizations/${firm.id}/managers`, { userId: eve }).expect(200);
    const group = (await post('/v1/user-groups', { name: 'leavers', userIds: [dee, eve, stays] }).expect(201)).body;
    const other = (await post('/v1/user-groups', { name: 'dee-only', userIds: [dee] }).expect(201)).body;
    const project = (await http().post('/v1/projects').set('Authorization', admin).set('Prefer', 'wait=10').send({ name: 'leavers-project' }).expect(201)).body;
    await post(`/v1/projects/${project.id}/members`, { userId: dee, role: 'project-admin' }).expect(200);
    await post(`/v1/projects/${project.id}/members`, { userId: stays, role: 'member' }).expect(200);

    await http().delete(`/v1/users/${dee}`).set('Authorization', admin).expect(200);
    await http().delete(`/v1/users/${eve}`).set('Authorization', admin).expect(200);
    await caughtUp(s);
    await s.userDeparture.drained(30_000);
    await caughtUp(s);

    const get = async (path: string) => (await http().get(path).set('Authorization', admin).expect(200)).body;
    expect(await get(`/v1/organizations/${firm.id}`)).toMatchObject({ memberUserIds: [], managerUserIds: [], adminUserIds: [] });
    expect(await get(`/v1/organizations/${desk.id}`)).toMatchObject({ memberUserIds: [stays], adminUserIds: [] });
    expect((await get(`/v1/organizations?q=memberUserIds=${dee}`)).items).toEqual([]);
    const { departmentManagersOf } = await import('../../commands/tenancy/organizations.js');
    expect(await departmentManagersOf(s.readStore, desk.id)).toEqual([]);
    expect((await get(`/v1/user-groups/${group.id}`)).userIds).toEqual([stays]);
    expect((await get(`/v1/user-groups/${other.id}`)).userIds).toEqual([]);
    expect((await get(`/v1/user-groups?q=userIds=${dee}`)).items).toEqual([]);
    expect((await get(`/v1/projects/${project.id}/members`)).items.map((member: { userId: string }) => member.userId)).toEqual([stays]);

    // Through events on the tree and the groups, caused by the deletion; a redelivery changes nothing.
    const deleted = (await s.eventStore.readStream(`user-${dee}`)).find((event) => event.type === 'UserDeleted')!;
    const removals = (await s.eventStore.readStream('organization-tree')).filter((event) => event.metadata.causationId === deleted.id);
    expect(removals.map((event) => [event.type, (event.data as { organizationId: string }).organizationId]).sort())
      .toEqual([['OrganizationUserRemoved', firm.id], ['OrganizationUserRemoved', desk.id]].sort());
    const head = await s.eventStore.headPosition();
    const { handleUserDeleted } = await import('../../commands/tenancy/user-departure.js');
    await handleUserDeleted({ store: s.eventStore, readStore: s.readStore, clock: { now: () => Date.now() } as never }, deleted);
    expect(await s.eventStore.headPosition()).toBe(head);
  });
});

describe('organizations', () => {
  it('builds a tree, moves a department with its sub-departments, refuses cycles, and deletes a department with its sub-departments', async () => {
    const acme = await createOrganization('acme');
    expect(acme).toMatchObject({ name: 'acme', parentId: null, ancestorIds: [], memberUserIds: [] });
    const dev = await createOrganization('dev', acme.id);
    const backend = await createOrganization('backend', dev.id);
    const qa = await createOrganization('qa', acme.id);
    expect(backend).toMatchObject({ parentId: dev.id, ancestorIds: [acme.id, dev.id] });
    await post('/v1/organizations', { name: 'orphan', parentId: '00000000-0000-0000-0000-000000000000' }).expect(400)
      .expect((response) => expect(response.body.code).toBe('PARENT_NOT_FOUND'));

    // Move dev (with backend) under qa; moving qa under backend would be a cycle.
    const moved = await post(`/v1/organizations/${dev.id}/move`, { parentId: qa.id }).expect(200);
    expect(moved.body).toMatchObject({ parentId: qa.id, ancestorIds: [acme.id, qa.id] });
    await post(`/v1/organizations/${qa.id}/move`, { parentId: backend.id }).expect(409)
      .expect((response) => expect(response.body.code).toBe('ORGANIZATION_CYCLE'));
    await caughtUp(s);
    const backendDoc = await http().get(`/v1/organizations?q=id=${backend.id}`).set('Authorization', admin).expect(200);
    expect(backendDoc.body.items[0]).toMatchObject({ ancestorIds: [acme.id, qa.id, dev.id], rootId: acme.id });

    await http().patch(`/v1/organizations/${qa.id}`).set('Authorization', admin).send({ name: 'quality' }).expect(200)
      .expect((response) => expect(response.body.name).toBe('quality'));

    // Users in the departments to be deleted are detached, not deleted.
    const ann = await createUser('ann');
    await post(`/v1/organizations/${backend.id}/users`, { userId: ann }).expect(200)
      .expect((response) => expect(response.body.memberUserIds).toEqual([ann]));
    const removed = await http().delete(`/v1/organizations/${qa.id}`).set('Authorization', admin).expect(200);
    expect(removed.body.deletedIds.sort()).toEqual([backend.id, dev.id, qa.id].sort());
    await http().get(`/v1/organizations/${backend.id}`).set('Authorization', admin).expect(410);
    await post(`/v1/organizations/${dev.id}/users`, { userId: ann }).expect(410)
      .expect((response) => expect(response.body.code).toBe('ORGANIZATION_DELETED'));
    await http().get(`/v1/users/${ann}`).set('Authorization', admin).expect(200);
    await caughtUp(s);
    const left = await http().get(`/v1/organizations?q=rootId=${acme.id}`).set('Authorization', admin).expect(200);
    expect(left.body.items.map((item: { id: string }) => item.id)).toEqual([acme.id]);

    // The delete is one task, in the audit log.
    const audit = await http().get('/v1/audit-log?q=action=DeleteOrganization').set('Authorization', admin).expect(200);
    expect(audit.body.items).toHaveLength(1);
  });

  it('decides concurrent moves against one tree: crossing moves never make a cycle', async () => {
    for (let round = 0; round < 5; round++) {
      const a = await createOrganization(`a${round}`);
      const b = await createOrganization(`b${round}`);
      // A under B and B under A at the same time: each alone is fine, together they would be a cycle.
      const [first, second] = await Promise.all([
        post(`/v1/organizations/${a.id}/move`, { parentId: b.id }),
        post(`/v1/organizations/${b.id}/move`, { parentId: a.id }),
      ]);
      expect([first.status, second.status].sort()).toEqual([200, 409]);
      expect([first.body.code, second.body.code]).toContain('ORGANIZATION_CYCLE');
    }
  });

  it('names department admins and an exclusive department manager, whom the read model resolves for sub-departments', async () => {
    const corp = await createOrganization('corp');
    const sales = await createOrganization('sales', corp.id);
    const bob = await createUser('bob');
    const cid = await createUser('cid');
    const ops = await createUser('ops', ['read-only']);

    const managed = await post(`/v1/organizations/${corp.id}/managers`, { userId: bob }).expect(200);
    expect(managed.body).toMatchObject({ managerUserIds: [bob], memberUserIds: [bob] });
    // A manager holds no other role: not admin of a department, no platform role.
    await post(`/v1/organizations/${sales.id}/admins`, { userId: bob }).expect(409)
      .expect((response) => expect(response.body.code).toBe('DEPARTMENT_MANAGER_EXCLUSIVE'));
    await post(`/v1/organizations/${sales.id}/managers`, { userId: ops }).expect(409)
      .expect((response) => expect(response.body.code).toBe('DEPARTMENT_MANAGER_EXCLUSIVE'));
    await post(`/v1/organizations/${sales.id}/admins`, { userId: cid }).expect(200)
      .expect((response) => expect(response.body).toMatchObject({ adminUserIds: [cid], memberUserIds: [cid] }));
    await post(`/v1/organizations/${corp.id}/managers`, { userId: cid }).expect(409);
    // …and no platform role can be given to a department manager.
    await http().patch(`/v1/users/${bob}`).set('Authorization', admin).send({ roles: ['read-only'] }).expect(409)
      .expect((response) => expect(response.body.code).toBe('DEPARTMENT_MANAGER_EXCLUSIVE'));
    await post(`/v1/organizations/${sales.id}/users`, { userId: 'no-such-user' }).expect(400)
      .expect((response) => expect(response.body.code).toBe('USER_NOT_FOUND'));

    await caughtUp(s);
    const { departmentManagersOf } = await import('../../commands/tenancy/organizations.js');
    expect(await departmentManagersOf(s.readStore, sales.id)).toEqual([bob]);
    expect(await departmentManagersOf(s.readStore, 'nope')).toEqual([]);

    // Removing the admin from the department ends the role.
    await http().delete(`/v1/organizations/${sales.id}/users/${cid}`).set('Authorization', admin).expect(200)
      .expect((response) => expect(response.body).toMatchObject({ adminUserIds: [], memberUserIds: [] }));
    await http().delete(`/v1/organizations/${corp.id}/managers/${bob}`).set('Authorization', admin).expect(200)
      .expect((response) => expect(response.body).toMatchObject({ managerUserIds: [], memberUserIds: [bob] }));
  });

  it('shows a platform member only the users of their organization tree; the admin sees all', async () => {
    const north = await createOrganization('north');
    const northSub = await createOrganization('north-sub', north.id);
    const south = await createOrganization('south');
    const viewer = await createUser('viewer', ['read-only']);
    const colleague = await createUser('colleague');
    const stranger = await createUser('stranger');
    const loner = await createUser('loner', ['read-only']);
    await post(`/v1/organizations/${northSub.id}/users`, { userId: viewer }).expect(200);
    await post(`/v1/organizations/${north.id}/users`, { userId: colleague }).expect(200);
    await post(`/v1/organizations/${south.id}/users`, { userId: stranger }).expect(200);
    await caughtUp(s);

    const asViewer = await s.login('viewer', password);
    const seen = await http().get('/v1/users').set('Authorization', asViewer).expect(200);
    expect(seen.body.items.map((user: { username: string }) => user.username).sort()).toEqual(['colleague', 'viewer']);
    await http().get(`/v1/users/${colleague}`).set('Authorization', asViewer).expect(200);
    await http().get(`/v1/users/${stranger}`).set('Authorization', asViewer).expect(404);
    const trees = await http().get('/v1/organizations').set('Authorization', asViewer).expect(200);
    expect(trees.body.items.map((item: { name: string }) => item.name).sort()).toEqual(['north', 'north-sub']);

    // A platform member in no department, and the admin, see everyone.
    const asLoner = await s.login('loner', password);
    const all = await http().get('/v1/users?count=true').set('Authorization', asLoner).expect(200);
    const everyone = await http().get('/v1/users?count=true').set('Authorization', admin).expect(200);
    expect(all.body.total).toBe(everyone.body.total);
    expect(everyone.body.items.map((user: { id: string }) => user.id)).toEqual(expect.arrayContaining([viewer, colleague, stranger, loner]));

    // Read-only cannot change the tree.
    await post('/v1/organizations', { name: 'nope' }, asViewer).expect(403);
  });

  it('adds a department\'s immediate members to a project in one task (Join Project)', async () => {
    const team = await createOrganization('west');
    const sub = await createOrganization('west-sub', team.id);
    const [ida, jon, kai] = [await createUser('ida'), await createUser('jon'), await createUser('kai')];
    await post(`/v1/organizations/${team.id}/users`, { userId: ida }).expect(200);
    await post(`/v1/organizations/${team.id}/users`, { userId: jon }).expect(200);
    await post(`/v1/organizations/${sub.id}/users`, { userId: kai }).expect(200);
    const project = await post('/v1/projects', { name: 'west-project', departmentId: team.id }).expect(201);

    await post(`/v1/organizations/${team.id}/join-project`, { projectId: project.body.id, role: 'member', userIds: [kai] }).expect(400)
      .expect((response) => expect(response.body.code).toBe('NOT_A_DEPARTMENT_MEMBER'));
    const joined = await post(`/v1/organizations/${team.id}/join-project`, { projectId: project.body.id, role: 'member' }).expect(200);
    // Immediate members only: kai is in a sub-department.
    expect(joined.body.members.map((member: { userId: string }) => member.userId).sort()).toEqual([ida, jon].sort());
    await http().post('/v1/sessions').send({ username: 'jon', password, projectId: project.body.id }).expect(201);
  });

  it('rebuilds the organization read model from position zero equal to the live one', async () => {
    await caughtUp(s);
    await s.stop();
    stopped = true;
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bin/stratus.ts', 'replay', 'tenancy-organizations'], {
      env: { ...process.env, STRATUS_DATA_DIR: s.dataDir, STRATUS_LOG_LEVEL: 'silent' }, encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/tenancy-organizations: rebuilt \d+ events .*equal to the live model/);
  });
});

