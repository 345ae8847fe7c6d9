import { describe, expect, it } from 'vitest';
import { fold } from '../../../domain/shared/decider.js';
import { projectDecider, type ProjectEvent } from '../../../domain/tenancy/project.js';
import { defaultQuotas } from '../../../domain/tenancy/quotas.js';
import { groupUsers, userGroupDecider, type UserGroupEvent } from '../../../domain/tenancy/user-group.js';
import { strongestRole } from '../../../commands/tenancy/user-groups.js';
import { scenario } from '../../support/given-when-then.js';

const userGroupId = 'g1';
const created: UserGroupEvent = { type: 'UserGroupCreated', data: { userGroupId, name: 'ops', description: '', createdAt: 1 } };
const added = (userId: string): UserGroupEvent => ({ type: 'UserGroupUserAdded', data: { userGroupId, userId } });
const deleted: UserGroupEvent = { type: 'UserGroupDeleted', data: { userGroupId, userIds: [], deletedAt: 2 } };
const given = scenario(userGroupDecider).given;

describe('user group decider', () => {
  it('creates, renames and deletes a group', () => {
    given().when({ type: 'CreateUserGroup', userGroupId, name: 'ops', now: 1 }).then([created]);
    given(created).when({ type: 'UpdateUserGroup', name: 'operators' }).then([{ type: 'UserGroupUpdated', data: { userGroupId, name: 'operators' } }]);
    given(created).when({ type: 'UpdateUserGroup', name: 'ops' }).then([]);
    given(created, added('u1')).when({ type: 'DeleteUserGroup', now: 2 }).then([{ type: 'UserGroupDeleted', data: { userGroupId, userIds: ['u1'], deletedAt: 2 } }]);
  });
  it('refuses a second create, an empty name, and anything on a deleted or unknown group', () => {
    given(created).when({ type: 'CreateUserGroup', userGroupId, name: 'ops', now: 1 }).thenFails('USER_GROUP_EXISTS');
    given().when({ type: 'CreateUserGroup', userGroupId, name: ' ', now: 1 }).thenFails('INVALID_USER_GROUP');
    given(created).when({ type: 'UpdateUserGroup', name: '' }).thenFails('INVALID_USER_GROUP');
    given(created, deleted).when({ type: 'AddUser', userId: 'u1' }).thenFails('USER_GROUP_DELETED');
    given().when({ type: 'AddUser', userId: 'u1' }).thenFails('USER_GROUP_NOT_FOUND');
  });
  it('adds a user once, removes a user who is in it, and refuses removing one who is not', () => {
    given(created).when({ type: 'AddUser', userId: 'u1' }).then([added('u1')]);
    given(created, added('u1')).when({ type: 'AddUser', userId: 'u1' }).then([]);
    given(created, added('u1')).when({ type: 'RemoveUser', userId: 'u1' }).then([{ type: 'UserGroupUserRemoved', data: { userGroupId, userId: 'u1' } }]);
    given(created).when({ type: 'RemoveUser', userId: 'u1' }).thenFails('NOT_IN_USER_GROUP');
  });
  it('gives no users once deleted, so nobody is a project member through it', () => {
    expect([...groupUsers(fold(userGroupDecider, [created, added('u1')]))]).toEqual(['u1']);
    expect([...groupUsers(fold(userGroupDecider, [created, added('u1'), deleted]))]).toEqual([]);
  });
  it('ranks project roles: the strongest wins', () => {
    expect(strongestRole(['member', 'project-admin', 'project-manager'])).toBe('project-admin');
    expect(strongestRole(['member', 'project-manager'])).toBe('project-manager');
    expect(strongestRole([])).toBeUndefined();
  });
});

describe('project decider: user groups and department', () => {
  const projectId = 'p1';
  const projectCreated: ProjectEvent = {
    type: 'ProjectCreated', data: { projectId, name: 'alpha', description: '', quotas: defaultQuotas, reclaimPolicy: { kind: 'Unlimited' }, createdAt: 1 },
  };
  const groupAdded: ProjectEvent = { type: 'ProjectGroupAdded', data: { projectId, userGroupId, role: 'member' } };
  const project = scenario(projectDecider).given;

  it('lets a group join with a role, change its role, and leave', () => {
    project(projectCreated).when({ type: 'AddGroup', userGroupId, role: 'member' }).then([groupAdded]);
    project(projectCreated, groupAdded).when({ type: 'AddGroup', userGroupId, role: 'member' }).then([]);
    project(projectCreated, groupAdded).when({ type: 'AddGroup', userGroupId, role: 'project-admin' })
      .then([{ type: 'ProjectGroupRoleChanged', data: { projectId, userGroupId, role: 'project-admin' } }]);
    project(projectCreated, groupAdded).when({ type: 'RemoveGroup', userGroupId }).then([{ type: 'ProjectGroupRemoved', data: { projectId, userGroupId } }]);
    project(projectCreated).when({ type: 'RemoveGroup', userGroupId }).thenFails('GROUP_NOT_IN_PROJECT');
  });
  it('is created in a department, moves to another, and leaves it', () => {
    project().when({ type: 'CreateProject', projectId, name: 'alpha', departmentId: 'd1', now: 1 })
      .then([{ ...projectCreated, data: { ...projectCreated.data, departmentId: 'd1' } } as ProjectEvent]);
    const inD1: ProjectEvent = { ...projectCreated, data: { ...projectCreated.data, departmentId: 'd1' } } as ProjectEvent;
    project(inD1).when({ type: 'UpdateProject', departmentId: 'd2' }).then([{ type: 'ProjectUpdated', data: { projectId, departmentId: 'd2' } }]);
    project(inD1).when({ type: 'UpdateProject', departmentId: 'd1' }).then([]);
    project(inD1).when({ type: 'UpdateProject', departmentId: null }).then([{ type: 'ProjectUpdated', data: { projectId, departmentId: null } }]);
    project(projectCreated).when({ type: 'UpdateProject', departmentId: null }).then([]);
    const left = fold(projectDecider, [inD1, { type: 'ProjectUpdated', data: { projectId, departmentId: null } }]);
    expect(left.exists && left.departmentId).toBeUndefined();
  });
});
