import { describe, expect, it } from 'vitest';
import { fold } from '../../../domain/shared/decider.js';
import { ancestorsOf, organizationDecider, subtreeOf, type OrganizationEvent } from '../../../domain/tenancy/organization.js';
import { scenario } from '../../support/given-when-then.js';

const given = scenario(organizationDecider).given;
const created = (organizationId: string, parentId: string | null = null, name = organizationId): OrganizationEvent =>
  ({ type: 'OrganizationCreated', data: { organizationId, name, description: '', parentId, createdAt: 1 } });
const userAdded = (organizationId: string, userId: string): OrganizationEvent => ({ type: 'OrganizationUserAdded', data: { organizationId, userId } });
const adminAssigned = (organizationId: string, userId: string): OrganizationEvent => ({ type: 'OrganizationAdminAssigned', data: { organizationId, userId } });
const managerAssigned = (organizationId: string, userId: string): OrganizationEvent => ({ type: 'OrganizationManagerAssigned', data: { organizationId, userId } });
const deleted = (organizationId: string, parentId: string | null, detachedUserIds: string[] = []): OrganizationEvent =>
  ({ type: 'OrganizationDeleted', data: { organizationId, parentId, detachedUserIds, deletedAt: 9 } });

// acme ─┬─ dev ── backend
//       └─ qa
const tree = [created('acme'), created('dev', 'acme'), created('backend', 'dev'), created('qa', 'acme')];

describe('organization tree decider', () => {
  it('creates a team and sub-departments under an existing department', () => {
    given().when({ type: 'CreateOrganization', organizationId: 'acme', name: 'acme', now: 1 }).then([created('acme')]);
    given(created('acme')).when({ type: 'CreateOrganization', organizationId: 'dev', name: 'dev', parentId: 'acme', now: 1 }).then([created('dev', 'acme')]);
    const state = fold(organizationDecider, tree);
    expect(ancestorsOf(state, 'backend')).toEqual(['dev', 'acme']);
    expect(subtreeOf(state, 'acme')).toEqual(['acme', 'dev', 'qa', 'backend']);
  });
  it('refuses an unknown or deleted parent, an empty name and a second create', () => {
    given().when({ type: 'CreateOrganization', organizationId: 'dev', name: 'dev', parentId: 'nope', now: 1 }).thenFails('PARENT_NOT_FOUND');
    given(created('acme'), deleted('acme', null)).when({ type: 'CreateOrganization', organizationId: 'dev', name: 'dev', parentId: 'acme', now: 1 }).thenFails('PARENT_NOT_FOUND');
    given().when({ type: 'CreateOrganization', organizationId: 'a', name: '  ', now: 1 }).thenFails('INVALID_ORGANIZATION');
    given(created('acme')).when({ type: 'CreateOrganization', organizationId: 'acme', name: 'acme', now: 1 }).thenFails('ORGANIZATION_EXISTS');
  });
  it('renames, and does nothing for an unchanged name', () => {
    given(...tree).when({ type: 'UpdateOrganization', organizationId: 'dev', name: 'engineering' })
      .then([{ type: 'OrganizationUpdated', data: { organizationId: 'dev', name: 'engineering' } }]);
    given(...tree).when({ type: 'UpdateOrganization', organizationId: 'dev', name: 'dev' }).then([]);
  });
  it('moves a department with its sub-departments under another, or makes it a team', () => {
    given(...tree).when({ type: 'MoveOrganization', organizationId: 'dev', parentId: 'qa' })
      .then([{ type: 'OrganizationMoved', data: { organizationId: 'dev', fromParentId: 'acme', toParentId: 'qa', subtreeIds: ['dev', 'backend'] } }]);
    given(...tree).when({ type: 'MoveOrganization', organizationId: 'dev', parentId: null })
      .then([{ type: 'OrganizationMoved', data: { organizationId: 'dev', fromParentId: 'acme', toParentId: null, subtreeIds: ['dev', 'backend'] } }]);
    given(...tree).when({ type: 'MoveOrganization', organizationId: 'dev', parentId: 'acme' }).then([]);
  });
  it('refuses a move that would make a cycle, or under a parent that does not exist', () => {
    given(...tree).when({ type: 'MoveOrganization', organizationId: 'dev', parentId: 'backend' }).thenFails('ORGANIZATION_CYCLE');
    given(...tree).when({ type: 'MoveOrganization', organizationId: 'acme', parentId: 'backend' }).thenFails('ORGANIZATION_CYCLE');
    given(...tree).when({ type: 'MoveOrganization', organizationId: 'dev', parentId: 'dev' }).thenFails('ORGANIZATION_CYCLE');
    given(...tree).when({ type: 'MoveOrganization', organizationId: 'dev', parentId: 'nope' }).thenFails('PARENT_NOT_FOUND');
  });
  it('deletes a department with all its sub-departments, deepest first, detaching their users', () => {
    given(...tree, userAdded('backend', 'u1'), userAdded('dev', 'u2')).when({ type: 'DeleteOrganization', organizationId: 'dev', now: 9 })
      .then([deleted('backend', 'dev', ['u1']), deleted('dev', 'acme', ['u2'])]);
    const state = fold(organizationDecider, [...tree, deleted('backend', 'dev'), deleted('dev', 'acme')]);
    expect([...state.nodes.keys()].sort()).toEqual(['acme', 'qa']);
  });
  it('refuses commands on a deleted or unknown department', () => {
    const gone = [...tree, deleted('backend', 'dev'), deleted('dev', 'acme')];
    given(...gone).when({ type: 'AddUser', organizationId: 'backend', userId: 'u1' }).thenFails('ORGANIZATION_DELETED');
    given(...gone).when({ type: 'DeleteOrganization', organizationId: 'dev', now: 9 }).thenFails('ORGANIZATION_DELETED');
    given(...gone).when({ type: 'UpdateOrganization', organizationId: 'nope', name: 'x' }).thenFails('ORGANIZATION_NOT_FOUND');
  });
  it('adds and removes users; a user may belong to several departments', () => {
    given(...tree).when({ type: 'AddUser', organizationId: 'dev', userId: 'u1' }).then([userAdded('dev', 'u1')]);
    given(...tree, userAdded('dev', 'u1')).when({ type: 'AddUser', organizationId: 'dev', userId: 'u1' }).then([]);
    given(...tree, userAdded('dev', 'u1')).when({ type: 'AddUser', organizationId: 'qa', userId: 'u1' }).then([userAdded('qa', 'u1')]);
    given(...tree, userAdded('dev', 'u1')).when({ type: 'RemoveUser', organizationId: 'dev', userId: 'u1' })
      .then([{ type: 'OrganizationUserRemoved', data: { organizationId: 'dev', userId: 'u1' } }]);
    given(...tree).when({ type: 'RemoveUser', organizationId: 'dev', userId: 'u1' }).thenFails('NOT_A_DEPARTMENT_MEMBER');
  });
  it('names a department admin, adding them to the department; removing the user ends the role', () => {
    given(...tree).when({ type: 'AssignAdmin', organizationId: 'dev', userId: 'u1' }).then([userAdded('dev', 'u1'), adminAssigned('dev', 'u1')]);
    given(...tree, userAdded('dev', 'u1')).when({ type: 'AssignAdmin', organizationId: 'dev', userId: 'u1' }).then([adminAssigned('dev', 'u1')]);
    const removed: OrganizationEvent = { type: 'OrganizationUserRemoved', data: { organizationId: 'dev', userId: 'u1' } };
    given(...tree, userAdded('dev', 'u1'), adminAssigned('dev', 'u1'), removed).when({ type: 'UnassignAdmin', organizationId: 'dev', userId: 'u1' }).thenFails('NOT_A_DEPARTMENT_ADMIN');
  });
  it('keeps the department manager exclusive: no platform role, no department admin anywhere, and a manager is never named admin', () => {
    given(...tree).when({ type: 'AssignManager', organizationId: 'acme', userId: 'u1', platformRoles: [] }).then([userAdded('acme', 'u1'), managerAssigned('acme', 'u1')]);
    given(...tree).when({ type: 'AssignManager', organizationId: 'acme', userId: 'u1', platformRoles: ['read-only'] }).thenFails('DEPARTMENT_MANAGER_EXCLUSIVE');
    given(...tree, userAdded('qa', 'u1'), adminAssigned('qa', 'u1')).when({ type: 'AssignManager', organizationId: 'acme', userId: 'u1', platformRoles: [] })
      .thenFails('DEPARTMENT_MANAGER_EXCLUSIVE');
    given(...tree, userAdded('acme', 'u1'), managerAssigned('acme', 'u1')).when({ type: 'AssignAdmin', organizationId: 'dev', userId: 'u1' }).thenFails('DEPARTMENT_MANAGER_EXCLUSIVE');
    // Managing a second department is the same role, not another one.
    given(...tree, userAdded('acme', 'u1'), managerAssigned('acme', 'u1')).when({ type: 'AssignManager', organizationId: 'qa', userId: 'u1', platformRoles: [] })
      .then([userAdded('qa', 'u1'), managerAssigned('qa', 'u1')]);
    given(...tree).when({ type: 'UnassignManager', organizationId: 'acme', userId: 'u1' }).thenFails('NOT_A_DEPARTMENT_MANAGER');
  });

  it('removes a deleted user from every department they are in (their roles end with it), and does nothing once done', () => {
    const removed = (organizationId: string, userId: string): OrganizationEvent => ({ type: 'OrganizationUserRemoved', data: { organizationId, userId } });
    const history = [...tree, userAdded('qa', 'u1'), adminAssigned('backend', 'u1'), userAdded('backend', 'u1'), userAdded('dev', 'u2')];
    given(...history).when({ type: 'RemoveUserEverywhere', userId: 'u1' }).then([removed('backend', 'u1'), removed('qa', 'u1')]);
    given(...history, removed('backend', 'u1'), removed('qa', 'u1')).when({ type: 'RemoveUserEverywhere', userId: 'u1' }).then([]);
    given(...tree, managerAssigned('acme', 'u3'), userAdded('acme', 'u3')).when({ type: 'RemoveUserEverywhere', userId: 'u3' }).then([removed('acme', 'u3')]);
  });
});
