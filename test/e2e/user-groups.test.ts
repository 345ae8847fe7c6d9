import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caughtUp, removeDir, startStratus, type TestStratus } from '../support/stratus.js';

// User groups over HTTP: a group joins a project with a project role, its users log in to
// the project through it (the strongest of direct and group roles wins), a user removed from
// the group loses the project at once, and a deleted group leaves its projects. Projects get a
// department.

let s: TestStratus;
let admin: string;
const password = 'a long enough password 1';

beforeAll(async () => {
  s = await startStratus();
  admin = await s.login();
});
afterAll(async () => { await s.stop(); removeDir(s.dataDir); });

const http = () => request(s.app);
const post = (path: string, body: object, auth = admin) => http().post(path).set('Authorization', auth).send(body);
const createUser = async (username: string) => (await post('/v1/users', { username, password }).expect(201)).body.id as string;
const projectLogin = (username: string, projectId: string) => http().post('/v1/sessions').send({ username, password, projectId });

describe('user groups', () => {
  it('creates, renames and lists groups, and refuses unknown users and groups', async () => {
    const kim = await createUser('kim');
    const group = await post('/v1/user-groups', { name: 'readers', userIds: [kim] }).expect(201);
    expect(group.body).toMatchObject({ name: 'readers', userIds: [kim] });
    await http().patch(`/v1/user-groups/${group.body.id}`).set('Authorization', admin).send({ name: 'auditors' }).expect(200)
      .expect((response) => expect(response.body.name).toBe('auditors'));
    await post(`/v1/user-groups/${group.body.id}/users`, { userId: '00000000-0000-0000-0000-000000000000' }).expect(400)
      .expect((response) => expect(response.body.code).toBe('USER_NOT_FOUND'));
    await http().delete(`/v1/user-groups/${group.body.id}/users/${'00000000-0000-0000-0000-000000000000'}`).set('Authorization', admin).expect(404)
      .expect((response) => expect(response.body.code).toBe('NOT_IN_USER_GROUP'));
    await http().get('/v1/user-groups/nope').set('Authorization', admin).expect(404);

    const listed = await http().get(`/v1/user-groups?q=userIds=${kim}&after=${group.headers['stratus-position']}`).set('Authorization', admin).expect(200);
    expect(listed.body.items.map((item: { id: string }) => item.id)).toEqual([group.body.id]);
    await http().delete(`/v1/user-groups/${group.body.id}`).set('Authorization', admin).expect(200);
    await http().get(`/v1/user-groups/${group.body.id}`).set('Authorization', admin).expect(404);
  });

  it('lets a group join a project; its users log in through it, and lose the project when removed from it', async () => {
    const una = await createUser('una');
    const wes = await createUser('wes');
    const vic = await createUser('vic');
    const project = await post('/v1/projects', { name: 'grouped' }).expect(201);
    const projectId = project.body.id as string;
    const group = await post('/v1/user-groups', { name: 'devs', userIds: [una, wes] }).expect(201);
    const userGroupId = group.body.id as string;

    const joined = await post(`/v1/projects/${projectId}/user-groups`, { userGroupId, role: 'member' }).expect(200);
    expect(joined.body.userGroups).toEqual([{ userGroupId, role: 'member' }]);
    await post(`/v1/projects/${projectId}/user-groups`, { userGroupId: '00000000-0000-0000-0000-000000000000', role: 'member' }).expect(400)
      .expect((response) => expect(response.body.code).toBe('USER_GROUP_NOT_FOUND'));

    // A member through the group logs in; a user in no group and not a member does not.
    const unaSession = `Bearer ${(await projectLogin('una', projectId).expect(201)).body.token as string}`;
    await http().get(`/v1/projects/${projectId}`).set('Authorization', unaSession).expect(200);
    await projectLogin('vic', projectId).expect(403).expect((response) => expect(response.body.code).toBe('NOT_A_MEMBER'));

    // Direct member and in a group: the strongest role wins. As a plain member wes cannot add members;
    // once the group is project admin, the same session can.
    await post(`/v1/projects/${projectId}/members`, { userId: wes, role: 'member' }).expect(200);
    const wesSession = `Bearer ${(await projectLogin('wes', projectId).expect(201)).body.token as string}`;
    await post(`/v1/projects/${projectId}/members`, { userId: vic, role: 'member' }, wesSession).expect(403);
    await post(`/v1/projects/${projectId}/user-groups`, { userGroupId, role: 'project-admin' }).expect(200)
      .expect((response) => expect(response.body.userGroups).toEqual([{ userGroupId, role: 'project-admin' }]));
    await post(`/v1/projects/${projectId}/members`, { userId: vic, role: 'member' }, wesSession).expect(200);
    await http().delete(`/v1/projects/${projectId}/members/${vic}`).set('Authorization', admin).expect(200);

    // Removed from the group: una's session loses the project at once, and a new login is refused.
    await http().delete(`/v1/user-groups/${userGroupId}/users/${una}`).set('Authorization', admin).expect(200)
      .expect((response) => expect(response.body.userIds).toEqual([wes]));
    await http().get(`/v1/projects/${projectId}`).set('Authorization', unaSession).expect(401);
    await projectLogin('una', projectId).expect(403).expect((response) => expect(response.body.code).toBe('NOT_A_MEMBER'));

    await caughtUp(s);
    const groupsOfProject = await http().get(`/v1/projects/${projectId}/user-groups`).set('Authorization', admin).expect(200);
    expect(groupsOfProject.body.items).toMatchObject([{ projectId, userGroupId, role: 'project-admin' }]);
    const projectsOfGroup = await http().get(`/v1/user-groups/${userGroupId}/projects`).set('Authorization', admin).expect(200);
    expect(projectsOfGroup.body.items).toMatchObject([{ projectId, projectName: 'grouped', role: 'project-admin' }]);

    // Members directly or through groups, each with the strongest role (for reminders and notices).
    const { effectiveProjectMembers } = await import('../../commands/tenancy/user-groups.js');
    const { requireProject } = await import('../../commands/tenancy/projects.js');
    expect(Object.fromEntries(await effectiveProjectMembers(s.eventStore, await requireProject(s.eventStore, projectId)))).toEqual({ [wes]: 'project-admin' });

    // A deleted group leaves its projects: wes keeps his direct membership, without the group's powers.
    const removed = await http().delete(`/v1/user-groups/${userGroupId}`).set('Authorization', admin).expect(200);
    expect(removed.body.leftProjectIds).toEqual([projectId]);
    const after = await http().get(`/v1/projects/${projectId}`).set('Authorization', admin).expect(200);
    expect(after.body.userGroups).toEqual([]);
    await post(`/v1/projects/${projectId}/members`, { userId: vic, role: 'member' }, wesSession).expect(403);
    await http().get(`/v1/projects/${projectId}`).set('Authorization', wesSession).expect(200);

    // Every step is a task in the audit log.
    await caughtUp(s);
    const audit = await http().get('/v1/audit-log?limit=1000').set('Authorization', admin).expect(200);
    const actions = audit.body.items.map((item: { action: string }) => item.action);
    expect(actions).toEqual(expect.arrayContaining(['CreateUserGroup', 'AddProjectUserGroup', 'RemoveUserGroupUser', 'DeleteUserGroup']));
  });

  it('puts a project in a department, moves it and detaches it; an unknown department is refused', async () => {
    const department = await post('/v1/organizations', { name: 'finance' }).expect(201);
    const other = await post('/v1/organizations', { name: 'legal' }).expect(201);
    const project = await post('/v1/projects', { name: 'ledger', departmentId: department.body.id }).expect(201);
    expect(project.body.departmentId).toBe(department.body.id);
    await post('/v1/projects', { name: 'nowhere', departmentId: '00000000-0000-0000-0000-000000000000' }).expect(400)
      .expect((response) => expect(response.body.code).toBe('DEPARTMENT_NOT_FOUND'));
    await http().patch(`/v1/projects/${project.body.id}`).set('Authorization', admin).send({ departmentId: other.body.id }).expect(200)
      .expect((response) => expect(response.body.departmentId).toBe(other.body.id));
    await caughtUp(s);
    const listed = await http().get(`/v1/projects?q=departmentId=${other.body.id}`).set('Authorization', admin).expect(200);
    expect(listed.body.items.map((item: { id: string }) => item.id)).toEqual([project.body.id]);
    await http().patch(`/v1/projects/${project.body.id}`).set('Authorization', admin).send({ departmentId: null }).expect(200)
      .expect((response) => expect(response.body.departmentId).toBeNull());
  });
});
