import { describe, expect, it } from 'vitest';
import { fold } from '../../../domain/shared/decider.js';
import { projectDecider, type ProjectEvent } from '../../../domain/tenancy/project.js';
import { defaultQuotas, vmQuotaAmounts } from '../../../domain/tenancy/quotas.js';
import { projectRoleGrant, customProjectRoleGrant } from '../../../domain/tenancy/project-roles.js';
import { allows } from '../../../domain/identity/permissions.js';
import { scenario } from '../../support/given-when-then.js';

// Project quotas beyond the VM count (running VMs, volumes, snapshots, images, L3 networks),
// resizing a VM's reservation, and custom project roles, as given/when/then.

const projectId = 'p1';
const created: ProjectEvent = {
  type: 'ProjectCreated',
  data: {
    projectId, name: 'alpha', description: '', reclaimPolicy: { kind: 'Unlimited' }, createdAt: 1,
    quotas: { ...defaultQuotas, 'vm.runningNum': 1, 'vm.cpuNum': 4, 'volume.data.num': 1, 'volume.capacity': 100, 'snapshot.volume.num': 1, 'image.num': 1, 'l3.num': 1 },
  },
};
const reserved = (key: string, amounts: Record<string, number>): ProjectEvent => ({ type: 'ProjectQuotaReserved', data: { projectId, key, amounts } });
const released = (key: string, amounts: Record<string, number>): ProjectEvent => ({ type: 'ProjectQuotaReleased', data: { projectId, key, amounts } });
const given = scenario(projectDecider).given;
const running = { 'vm.runningNum': 1 };

describe('project quotas', () => {
  it('refuses a second running VM over vm.runningNum, and takes one again once the first is released', () => {
    given(created).when({ type: 'ReserveQuota', key: 'vm-running:a:s1', amounts: running }).then([reserved('vm-running:a:s1', running)]);
    given(created, reserved('vm-running:a:s1', running)).when({ type: 'ReserveQuota', key: 'vm-running:b:s2', amounts: running }).thenFails('QUOTA_EXCEEDED');
    given(created, reserved('vm-running:a:s1', running), released('vm-running:a:s1', running))
      .when({ type: 'ReserveQuota', key: 'vm-running:b:s2', amounts: running }).then([reserved('vm-running:b:s2', running)]);
  });

  it('reserves a VM and its running slot together, or neither', () => {
    const vm = vmQuotaAmounts(2, 1024);
    given(created).when({ type: 'ReserveQuotas', reservations: [{ key: 'vm:a', amounts: vm }, { key: 'vm-running:a:s1', amounts: running }] })
      .then([reserved('vm:a', vm), reserved('vm-running:a:s1', running)]);
    // The running slot does not fit: the VM is not reserved either.
    given(created, reserved('vm-running:z:s0', running))
      .when({ type: 'ReserveQuotas', reservations: [{ key: 'vm:a', amounts: vm }, { key: 'vm-running:a:s1', amounts: running }] }).thenFails('QUOTA_EXCEEDED');
    // Two VMs of 2 vCPUs fit a quota of 4 one by one, but the sum is checked, not each alone.
    given(created).when({ type: 'ReserveQuotas', reservations: [{ key: 'vm:a', amounts: vmQuotaAmounts(3, 1) }, { key: 'vm:b', amounts: vmQuotaAmounts(2, 1) }] })
      .thenFails('QUOTA_EXCEEDED');
  });

  it('refuses data volumes over their count or their capacity, snapshots, images and L3 networks over theirs', () => {
    const volume = (size: number) => ({ 'volume.data.num': 1, 'volume.capacity': size });
    given(created).when({ type: 'ReserveQuota', key: 'volume:v1', amounts: volume(101) }).thenFails('QUOTA_EXCEEDED');
    given(created, reserved('volume:v1', volume(10))).when({ type: 'ReserveQuota', key: 'volume:v2', amounts: volume(10) }).thenFails('QUOTA_EXCEEDED');
    given(created, reserved('snapshot:s1', { 'snapshot.volume.num': 1 })).when({ type: 'ReserveQuota', key: 'snapshot:s2', amounts: { 'snapshot.volume.num': 1 } }).thenFails('QUOTA_EXCEEDED');
    given(created, reserved('image:i1', { 'image.num': 1 })).when({ type: 'ReserveQuota', key: 'image:i2', amounts: { 'image.num': 1 } }).thenFails('QUOTA_EXCEEDED');
    given(created, reserved('l3:n1', { 'l3.num': 1 })).when({ type: 'ReserveQuota', key: 'l3:n2', amounts: { 'l3.num': 1 } }).thenFails('QUOTA_EXCEEDED');
  });

  it('resizes a VM reservation when its offering changes, refusing a size that does not fit', () => {
    const small = vmQuotaAmounts(2, 1024);
    const big = vmQuotaAmounts(4, 2048);
    given(created, reserved('vm:a', small)).when({ type: 'ResizeQuota', key: 'vm:a', amounts: big })
      .then([{ type: 'ProjectQuotaResized', data: { projectId, key: 'vm:a', from: small, amounts: big } }]);
    given(created, reserved('vm:a', small), reserved('vm:b', vmQuotaAmounts(1, 1))).when({ type: 'ResizeQuota', key: 'vm:a', amounts: big }).thenFails('QUOTA_EXCEEDED');
    given(created, reserved('vm:a', small)).when({ type: 'ResizeQuota', key: 'vm:a', amounts: small }).then([]);
    given(created).when({ type: 'ResizeQuota', key: 'vm:a', amounts: small }).thenFails('QUOTA_RESERVATION_NOT_FOUND');
    const state = fold(projectDecider, [created, reserved('vm:a', small), { type: 'ProjectQuotaResized', data: { projectId, key: 'vm:a', from: small, amounts: big } }]);
    expect(state.exists && state.usage['vm.cpuNum']).toBe(4);
  });

  it('allows lowering a quota under the usage: what exists stays, nothing more is created, shrinking still fits', () => {
    const vm = vmQuotaAmounts(4, 1024);
    given(created, reserved('vm:a', vm)).when({ type: 'ChangeQuotas', quotas: { 'vm.cpuNum': 2 } })
      .then([{ type: 'ProjectQuotasChanged', data: { projectId, quotas: { ...(created.data as { quotas: typeof defaultQuotas }).quotas, 'vm.cpuNum': 2 } } }]);
    const lowered: ProjectEvent = { type: 'ProjectQuotasChanged', data: { projectId, quotas: { ...(created.data as { quotas: typeof defaultQuotas }).quotas, 'vm.cpuNum': 2 } } };
    given(created, reserved('vm:a', vm), lowered).when({ type: 'ReserveQuota', key: 'vm:b', amounts: vmQuotaAmounts(1, 1) }).thenFails('QUOTA_EXCEEDED');
    given(created, reserved('vm:a', vm), lowered).when({ type: 'ResizeQuota', key: 'vm:a', amounts: vmQuotaAmounts(3, 1024) })
      .then([{ type: 'ProjectQuotaResized', data: { projectId, key: 'vm:a', from: vm, amounts: vmQuotaAmounts(3, 1024) } }]);
    // A running slot asks nothing of vm.cpuNum: the lowered vCPU quota does not block a start.
    given(created, reserved('vm:a', vm), lowered).when({ type: 'ReserveQuota', key: 'vm-running:a:s1', amounts: running }).then([reserved('vm-running:a:s1', running)]);
  });

  it('releases several reservations at once, skipping those not held', () => {
    given(created, reserved('vm:a', running), reserved('l3:n1', { 'l3.num': 1 })).when({ type: 'ReleaseQuotas', keys: ['vm:a', 'vm:zz', 'l3:n1'] })
      .then([released('vm:a', running), released('l3:n1', { 'l3.num': 1 })]);
  });

  it('records the project zone when one is given', () => {
    given().when({ type: 'CreateProject', projectId, name: 'alpha', zoneId: 'z1', now: 1 })
      .then([{ type: 'ProjectCreated', data: { projectId, name: 'alpha', description: '', quotas: defaultQuotas, reclaimPolicy: { kind: 'Unlimited' }, createdAt: 1, zoneId: 'z1' } }]);
  });
});

describe('custom project roles', () => {
  const defined: ProjectEvent = { type: 'ProjectRoleDefined', data: { projectId, roleId: 'r1', name: 'operator', description: '', permissions: ['vm:start', 'vm:stop'] } };
  const member: ProjectEvent = { type: 'ProjectMemberAdded', data: { projectId, userId: 'u1', role: 'member' } };

  it('defines a role with a subset of the project admin permissions, and refuses what lies beyond', () => {
    given(created).when({ type: 'DefineRole', roleId: 'r1', name: 'operator', permissions: ['vm:start', 'vm:stop'] }).then([defined]);
    given(created).when({ type: 'DefineRole', roleId: 'r1', name: 'root', permissions: ['host:create'] }).thenFails('INVALID_PROJECT_ROLE');
    given(created).when({ type: 'DefineRole', roleId: 'r1', name: 'everything', permissions: ['*:*'] }).thenFails('INVALID_PROJECT_ROLE');
    given(created).when({ type: 'DefineRole', roleId: 'r1', name: 'nothing', permissions: [] }).thenFails('INVALID_PROJECT_ROLE');
    given(created, defined).when({ type: 'DefineRole', roleId: 'r2', name: 'operator', permissions: ['vm:start'] }).thenFails('PROJECT_ROLE_NAME_TAKEN');
  });

  it('gives a member custom roles; deleting a role takes it from its holders', () => {
    given(created, defined, member).when({ type: 'SetMemberCustomRoles', userId: 'u1', roleIds: ['r1'] })
      .then([{ type: 'ProjectMemberCustomRolesChanged', data: { projectId, userId: 'u1', roleIds: ['r1'] } }]);
    given(created, defined).when({ type: 'SetMemberCustomRoles', userId: 'u1', roleIds: ['r1'] }).thenFails('NOT_A_MEMBER');
    given(created, member).when({ type: 'SetMemberCustomRoles', userId: 'u1', roleIds: ['r9'] }).thenFails('PROJECT_ROLE_NOT_FOUND');
    const given_ = { type: 'ProjectMemberCustomRolesChanged', data: { projectId, userId: 'u1', roleIds: ['r1'] } } as ProjectEvent;
    given(created, defined, member, given_).when({ type: 'DeleteRole', roleId: 'r1' }).then([
      { type: 'ProjectMemberCustomRolesChanged', data: { projectId, userId: 'u1', roleIds: [] } },
      { type: 'ProjectRoleDeleted', data: { projectId, roleId: 'r1' } },
    ]);
    given(created).when({ type: 'DeleteRole', roleId: 'r1' }).thenFails('PROJECT_ROLE_NOT_FOUND');
    const state = fold(projectDecider, [created, defined, member,
      { type: 'ProjectMemberCustomRolesChanged', data: { projectId, userId: 'u1', roleIds: ['r1'] } }, { type: 'ProjectRoleDeleted', data: { projectId, roleId: 'r1' } }]);
    expect(state.exists && state.memberCustomRoles.get('u1')).toEqual([]);
  });

  it('grants its permissions on top of the built-in role', () => {
    const grants = [projectRoleGrant('member', projectId), customProjectRoleGrant({ roleId: 'r1', name: 'operator', description: '', permissions: ['vm:start'] }, projectId)];
    expect(allows(grants, 'vm:start')).toBe(true);
    expect(allows(grants, 'vm:delete')).toBe(false);
    expect(allows([projectRoleGrant('member', projectId)], 'vm:start')).toBe(false);
  });
});
