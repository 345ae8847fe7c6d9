import { describe, expect, it } from 'vitest';
import { fold } from '../../../domain/shared/decider.js';
import { projectDecider, type ProjectEvent } from '../../../domain/tenancy/project.js';
import { defaultQuotas, vmQuotaAmounts } from '../../../domain/tenancy/quotas.js';
import { scenario } from '../../support/given-when-then.js';

const projectId = 'p1';
const created: ProjectEvent = {
  type: 'ProjectCreated',
  data: { projectId, name: 'alpha', description: '', quotas: { ...defaultQuotas, 'vm.num': 2 }, reclaimPolicy: { kind: 'Unlimited' }, createdAt: 1 },
};
const reserved = (key: string, cpu = 2): ProjectEvent => ({ type: 'ProjectQuotaReserved', data: { projectId, key, amounts: vmQuotaAmounts(cpu, 1024) } });
const stateChanged = (from: string, to: string): ProjectEvent => ({ type: 'ProjectStateChanged', data: { projectId, from, to, at: 5 } as never });
const given = scenario(projectDecider).given;

describe('project decider', () => {
  it('creates a project with the default quotas of FACTS.md, overridden where given', () => {
    given().when({ type: 'CreateProject', projectId, name: 'alpha', quotas: { 'vm.num': 2 }, now: 1 }).then([created]);
    expect(defaultQuotas).toMatchObject({ 'vm.num': 20, 'vm.cpuNum': 80, 'vm.memorySize': 80 * 1024 ** 3, 'volume.data.num': 40, 'volume.capacity': 10 * 1024 ** 4, 'snapshot.volume.num': 200, 'eip.num': 20 });
  });
  it('refuses a second create, an empty name and an unknown or negative quota', () => {
    given(created).when({ type: 'CreateProject', projectId, name: 'alpha', now: 1 }).thenFails('PROJECT_EXISTS');
    given().when({ type: 'CreateProject', projectId, name: ' ', now: 1 }).thenFails('INVALID_PROJECT');
    given().when({ type: 'CreateProject', projectId, name: 'a', quotas: { 'vm.num': -1 }, now: 1 }).thenFails('INVALID_QUOTA');
    given().when({ type: 'CreateProject', projectId, name: 'a', quotas: { nope: 1 } as never, now: 1 }).thenFails('INVALID_QUOTA');
  });
  it('reserves quota for a resource once, and refuses what would exceed the quota', () => {
    given(created).when({ type: 'ReserveQuota', key: 'vm:a', amounts: vmQuotaAmounts(2, 1024) }).then([reserved('vm:a')]);
    given(created, reserved('vm:a')).when({ type: 'ReserveQuota', key: 'vm:a', amounts: vmQuotaAmounts(2, 1024) }).then([]);
    given(created, reserved('vm:a'), reserved('vm:b')).when({ type: 'ReserveQuota', key: 'vm:c', amounts: vmQuotaAmounts(2, 1024) }).thenFails('QUOTA_EXCEEDED');
    given(created).when({ type: 'ReserveQuota', key: 'vm:a', amounts: vmQuotaAmounts(81, 1024) }).thenFails('QUOTA_EXCEEDED');
  });
  it('releases a reservation once; what was released can be reserved again', () => {
    given(created, reserved('vm:a')).when({ type: 'ReleaseQuota', key: 'vm:a' })
      .then([{ type: 'ProjectQuotaReleased', data: { projectId, key: 'vm:a', amounts: vmQuotaAmounts(2, 1024) } }]);
    given(created).when({ type: 'ReleaseQuota', key: 'vm:a' }).then([]);
    const releasedA: ProjectEvent = { type: 'ProjectQuotaReleased', data: { projectId, key: 'vm:a', amounts: vmQuotaAmounts(2, 1024) } };
    given(created, reserved('vm:a'), reserved('vm:b'), releasedA).when({ type: 'ReserveQuota', key: 'vm:c', amounts: vmQuotaAmounts(2, 1024) }).then([reserved('vm:c')]);
    const state = fold(projectDecider, [created, reserved('vm:a'), reserved('vm:b'), releasedA]);
    expect(state.exists && state.usage['vm.num']).toBe(1);
  });
  it('creates nothing in a project that is not Enabled', () => {
    given(created, stateChanged('Enabled', 'Disabled')).when({ type: 'ReserveQuota', key: 'vm:a', amounts: vmQuotaAmounts(1, 1) }).thenFails('PROJECT_NOT_ENABLED');
    given(created, stateChanged('Enabled', 'LoginExpired')).when({ type: 'ReserveQuota', key: 'vm:a', amounts: vmQuotaAmounts(1, 1) }).thenFails('PROJECT_NOT_ENABLED');
  });
  it('moves between Enabled, Disabled, LoginExpired and Deleted', () => {
    given(created).when({ type: 'Disable', now: 5 }).then([stateChanged('Enabled', 'Disabled')]);
    given(created, stateChanged('Enabled', 'Disabled')).when({ type: 'Enable', now: 5 }).then([stateChanged('Disabled', 'Enabled')]);
    given(created).when({ type: 'ExpireLogin', now: 5 }).then([stateChanged('Enabled', 'LoginExpired')]);
    given(created, stateChanged('Enabled', 'LoginExpired')).when({ type: 'Restore', now: 5 }).then([stateChanged('LoginExpired', 'Enabled')]);
    given(created).when({ type: 'Enable', now: 5 }).then([]);
    given(created).when({ type: 'Delete', now: 5 }).then([stateChanged('Enabled', 'Deleted')]);
  });
  it('refuses transitions that do not apply', () => {
    given(created).when({ type: 'Restore', now: 5 }).thenFails('PROJECT_NOT_EXPIRED');
    given(created, stateChanged('Enabled', 'Disabled')).when({ type: 'ExpireLogin', now: 5 }).thenFails('PROJECT_NOT_ENABLED');
    given(created, reserved('vm:a')).when({ type: 'Delete', now: 5 }).thenFails('PROJECT_HAS_RESOURCES');
    given(created, stateChanged('Enabled', 'Deleted')).when({ type: 'Enable', now: 5 }).thenFails('PROJECT_DELETED');
    given().when({ type: 'Enable', now: 5 }).thenFails('PROJECT_NOT_FOUND');
  });
  it('adds members with a project role, changes the role, removes them', () => {
    const added: ProjectEvent = { type: 'ProjectMemberAdded', data: { projectId, userId: 'u1', role: 'member' } };
    given(created).when({ type: 'AddMember', userId: 'u1', role: 'member' }).then([added]);
    given(created, added).when({ type: 'AddMember', userId: 'u1', role: 'member' }).then([]);
    given(created, added).when({ type: 'AddMember', userId: 'u1', role: 'project-admin' })
      .then([{ type: 'ProjectMemberRoleChanged', data: { projectId, userId: 'u1', role: 'project-admin' } }]);
    given(created, added).when({ type: 'RemoveMember', userId: 'u1' }).then([{ type: 'ProjectMemberRemoved', data: { projectId, userId: 'u1' } }]);
    given(created).when({ type: 'RemoveMember', userId: 'u1' }).thenFails('NOT_A_MEMBER');
  });
  it('changes quotas, and stores a reclaim policy (validated)', () => {
    given(created).when({ type: 'ChangeQuotas', quotas: { 'vm.num': 10 } })
      .then([{ type: 'ProjectQuotasChanged', data: { projectId, quotas: { ...defaultQuotas, 'vm.num': 10 } } }]);
    given(created).when({ type: 'ChangeReclaimPolicy', reclaimPolicy: { kind: 'ByCost', spendingLimit: 'ten', action: 'DisableLogin' } }).thenFails('INVALID_RECLAIM_POLICY');
    given(created).when({ type: 'ChangeReclaimPolicy', reclaimPolicy: { kind: 'ByTime', deadline: 9, action: 'DeleteProject' } })
      .then([{ type: 'ProjectReclaimPolicyChanged', data: { projectId, reclaimPolicy: { kind: 'ByTime', deadline: 9, action: 'DeleteProject' } } }]);
  });
});
