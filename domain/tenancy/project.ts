import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';
import { defaultQuotas, quotaNames, type QuotaAmounts, type QuotaName, type Quotas } from './quotas.js';
import { changeLoginWindows, noLoginWindows, validLoginWindows, type LoginWindows, type LoginWindowsState } from './login-windows.js';
import { decideExpiryReminder, decideReclaim } from './reclaim.js';
import { customProjectRolePermissionProblems, type CustomProjectRole } from './project-roles.js';

// A project (tenant), stream `project-<id>`: its quotas, members with project roles, its
// state, its reclaim policy, and the quota reservations of the resources created in it.
// Reservations live here, in the project's own stream, so that two concurrent creates are
// decided one after the other against the same usage (DESIGN.md §3): the second sees the
// first's reservation or its append fails on the version and it decides again.

export const projectStates = ['Enabled', 'Disabled', 'LoginExpired', 'Deleted'] as const;
export type ProjectState = (typeof projectStates)[number];

export const projectRoles = ['project-admin', 'project-manager', 'member'] as const;
export type ProjectRole = (typeof projectRoles)[number];

/** Reclaim (retire) policy: stored; by-time and by-cost actions fire in a later increment. */
export type ReclaimAction = 'DisableLogin' | 'DisableLoginAndStopResources' | 'DeleteProject';
export type ReclaimPolicy =
  | { kind: 'Unlimited' }
  | { kind: 'ByTime'; deadline: number; action: ReclaimAction }
  | { kind: 'ByCost'; spendingLimit: string; action: ReclaimAction };

export type ProjectEvent =
  | DomainEvent<'ProjectCreated', { projectId: string; name: string; description: string; quotas: Quotas; reclaimPolicy: ReclaimPolicy; createdAt: number; zoneId?: string; departmentId?: string }>
  /** `departmentId` null: the project leaves its department. */
  | DomainEvent<'ProjectUpdated', { projectId: string; name?: string; description?: string; departmentId?: string | null }>
  | DomainEvent<'ProjectQuotasChanged', { projectId: string; quotas: Quotas }>
  | DomainEvent<'ProjectReclaimPolicyChanged', { projectId: string; reclaimPolicy: ReclaimPolicy }>
  | DomainEvent<'ProjectMemberAdded', { projectId: string; userId: string; role: ProjectRole }>
  | DomainEvent<'ProjectMemberRoleChanged', { projectId: string; userId: string; role: ProjectRole }>
  | DomainEvent<'ProjectMemberRemoved', { projectId: string; userId: string }>
  /** A user group joins with a project role: its users are members through it (see user-group.ts). */
  | DomainEvent<'ProjectGroupAdded', { projectId: string; userGroupId: string; role: ProjectRole }>
  | DomainEvent<'ProjectGroupRoleChanged', { projectId: string; userGroupId: string; role: ProjectRole }>
  | DomainEvent<'ProjectGroupRemoved', { projectId: string; userGroupId: string }>
  | DomainEvent<'ProjectStateChanged', { projectId: string; from: ProjectState; to: ProjectState; at: number }>
  | DomainEvent<'ProjectQuotaReserved', { projectId: string; key: string; amounts: QuotaAmounts }>
  | DomainEvent<'ProjectQuotaReleased', { projectId: string; key: string; amounts: QuotaAmounts }>
  /** A reservation changes size (a VM given another offering): what it held becomes `amounts`. */
  | DomainEvent<'ProjectQuotaResized', { projectId: string; key: string; from: QuotaAmounts; amounts: QuotaAmounts }>
  | DomainEvent<'ProjectRoleDefined', { projectId: string; roleId: string; name: string; description: string; permissions: string[] }>
  | DomainEvent<'ProjectRoleChanged', { projectId: string; roleId: string; description: string; permissions: string[] }>
  | DomainEvent<'ProjectRoleDeleted', { projectId: string; roleId: string }>
  | DomainEvent<'ProjectMemberCustomRolesChanged', { projectId: string; userId: string; roleIds: string[] }>
  /** Access control: the windows and when they take effect (decided at the change, see login-windows.ts). */
  | DomainEvent<'ProjectLoginWindowsChanged', { projectId: string; loginWindows: LoginWindowsState; at: number }>
  /** Reclaim by time: the expiry reminder for this deadline was given (members are mailed once). */
  | DomainEvent<'ProjectExpiryReminded', { projectId: string; deadline: number; at: number }>
  /** Reclaim: the policy's action ran for this deadline (its state change follows in the same append; see reclaim.ts). */
  | DomainEvent<'ProjectReclaimed', { projectId: string; deadline: number; action: ReclaimAction; at: number }>;

export type ProjectCommand =
  | { type: 'CreateProject'; projectId: string; name: string; description?: string; quotas?: Partial<Quotas>; reclaimPolicy?: ReclaimPolicy; zoneId?: string; departmentId?: string; now: number }
  | { type: 'UpdateProject'; name?: string; description?: string; departmentId?: string | null }
  | { type: 'ChangeQuotas'; quotas: Partial<Quotas> }
  | { type: 'ChangeReclaimPolicy'; reclaimPolicy: ReclaimPolicy }
  | { type: 'AddMember'; userId: string; role: ProjectRole }
  | { type: 'RemoveMember'; userId: string }
  | { type: 'AddGroup'; userGroupId: string; role: ProjectRole }
  | { type: 'RemoveGroup'; userGroupId: string }
  | { type: 'Enable'; now: number }
  | { type: 'Disable'; now: number }
  | { type: 'ExpireLogin'; now: number }
  | { type: 'Restore'; now: number }
  | { type: 'Delete'; now: number }
  | { type: 'ReserveQuota'; key: string; amounts: QuotaAmounts }
  /** Several reservations at once, all or none (a VM created running: the VM and its running slot). */
  | { type: 'ReserveQuotas'; reservations: Array<{ key: string; amounts: QuotaAmounts }> }
  | { type: 'ReleaseQuota'; key: string }
  | { type: 'ReleaseQuotas'; keys: string[] }
  | { type: 'ResizeQuota'; key: string; amounts: QuotaAmounts }
  | { type: 'DefineRole'; roleId: string; name: string; description?: string; permissions: string[] }
  | { type: 'ChangeRole'; roleId: string; description?: string; permissions?: string[] }
  | { type: 'DeleteRole'; roleId: string }
  | { type: 'SetMemberCustomRoles'; userId: string; roleIds: string[] }
  | { type: 'SetLoginWindows'; loginWindows: LoginWindows | null; now: number }
  | { type: 'RemindExpiry'; deadline: number; now: number }
  | { type: 'Reclaim'; deadline: number; now: number };

export type ProjectAggregate =
  | { exists: false }
  | {
    exists: true;
    projectId: string;
    name: string;
    description: string;
    state: ProjectState;
    quotas: Quotas;
    reclaimPolicy: ReclaimPolicy;
    members: ReadonlyMap<string, ProjectRole>;
    reservations: ReadonlyMap<string, QuotaAmounts>;
    usage: Quotas;
    /** The zone the project's resources are created in by default (reference/002: one zone per project). */
    zoneId?: string;
    /** The department (organization node) the project belongs to. */
    departmentId?: string;
    /** User groups that joined, with their project role. */
    groups: ReadonlyMap<string, ProjectRole>;
    /** Custom project roles defined in this project, by id. */
    roles: ReadonlyMap<string, CustomProjectRole>;
    /** Custom roles given to members, on top of their built-in project role. */
    memberCustomRoles: ReadonlyMap<string, readonly string[]>;
    /** Access control (absent: none ever set). */
    loginWindows?: LoginWindowsState;
    /** Reclaim by time: the deadline last reminded of, and the deadline whose action ran (a restore does not run it again). */
    remindedFor?: number;
    reclaimedFor?: number;
  };
export type LiveProject = Extract<ProjectAggregate, { exists: true }>;

export const projectStream = (projectId: string) => `project-${projectId}`;

const zeroUsage = (): Quotas => Object.fromEntries(quotaNames.map((name) => [name, 0])) as Quotas;

function validQuotas(quotas: Partial<Quotas>): Quotas {
  const problems: Array<{ field: string; message: string }> = [];
  for (const [name, value] of Object.entries(quotas)) {
    if (!(quotaNames as readonly string[]).includes(name)) problems.push({ field: `quotas.${name}`, message: 'unknown quota' });
    else if (!Number.isSafeInteger(value) || (value as number) < 0) problems.push({ field: `quotas.${name}`, message: 'must be a whole number ≥ 0' });
  }
  if (problems.length > 0) throw new DomainError('INVALID_QUOTA', problems.map((p) => `${p.field} ${p.message}`).join('; '), 'invalid', { fields: problems });
  return { ...defaultQuotas, ...quotas } as Quotas;
}

function live(state: ProjectAggregate): LiveProject {
  if (!state.exists) throw new DomainError('PROJECT_NOT_FOUND', 'no such project', 'not_found');
  if (state.state === 'Deleted') throw new DomainError('PROJECT_DELETED', `project ${state.name} is deleted`, 'gone');
  return state;
}

function transition(project: LiveProject, allowedFrom: readonly ProjectState[], to: ProjectState, now: number, code: string, repeatable = true): ProjectEvent[] {
  if (project.state === to && repeatable) return [];
  if (!allowedFrom.includes(project.state)) {
    throw new DomainError(code, `project ${project.name} is ${project.state}; it cannot become ${to}`, 'conflict', { state: project.state });
  }
  return [{ type: 'ProjectStateChanged', data: { projectId: project.projectId, from: project.state, to, at: now } }];
}

function reserve(project: LiveProject, key: string, amounts: QuotaAmounts): ProjectEvent[] {
  return reserveAll(project, [{ key, amounts }]);
}

/** Refuses when `amounts` more would take a quota over its limit, given `usage`. */
function assertFits(project: LiveProject, usage: Quotas, amounts: QuotaAmounts) {
  for (const [name, amount] of Object.entries(amounts) as Array<[QuotaName, number]>) {
    if (!Number.isSafeInteger(amount) || amount < 0) throw new DomainError('INVALID_QUOTA', `${name}: amount must be a whole number ≥ 0`, 'invalid');
    if (amount === 0) continue; // nothing more asked: a quota lowered under its usage does not block it
    const limit = project.quotas[name];
    const used = usage[name];
    if (used + amount > limit) {
      throw new DomainError('QUOTA_EXCEEDED', `project ${project.name}: quota ${name} is ${limit}, ${used} used, ${amount} more asked`, 'conflict', {
        projectId: project.projectId, quota: name, limit, used, requested: amount,
      });
    }
  }
}

function reserveAll(project: LiveProject, reservations: ReadonlyArray<{ key: string; amounts: QuotaAmounts }>): ProjectEvent[] {
  // A repeat of the same resource's reservation reserves nothing twice.
  const fresh = reservations.filter(({ key }, index) => !project.reservations.has(key) && reservations.findIndex((r) => r.key === key) === index);
  if (fresh.length === 0) return [];
  if (project.state !== 'Enabled') {
    throw new DomainError('PROJECT_NOT_ENABLED', `project ${project.name} is ${project.state}: no resource can be created in it`, 'conflict', { state: project.state });
  }
  let usage = project.usage;
  for (const { amounts } of fresh) {
    assertFits(project, usage, amounts);
    usage = addUsage(usage, amounts, 1);
  }
  return fresh.map(({ key, amounts }) => ({ type: 'ProjectQuotaReserved', data: { projectId: project.projectId, key, amounts } }));
}

/** A reservation changes size: the new size must fit once the old one is given back. */
function resize(project: LiveProject, key: string, amounts: QuotaAmounts): ProjectEvent[] {
  const from = project.reservations.get(key);
  if (!from) throw new DomainError('QUOTA_RESERVATION_NOT_FOUND', `project ${project.name} holds nothing for ${key}`, 'not_found');
  const names = new Set([...Object.keys(from), ...Object.keys(amounts)]) as Set<QuotaName>;
  if ([...names].every((name) => (from[name] ?? 0) === (amounts[name] ?? 0))) return [];
  // Only what grows is checked: shrinking always fits, even in a project whose quota was lowered.
  const growth: QuotaAmounts = {};
  for (const name of names) {
    const more = (amounts[name] ?? 0) - (from[name] ?? 0);
    if (more > 0) growth[name] = more;
  }
  assertFits(project, project.usage, growth);
  return [{ type: 'ProjectQuotaResized', data: { projectId: project.projectId, key, from, amounts } }];
}

function roleNamed(project: LiveProject, roleId: string): CustomProjectRole {
  const role = project.roles.get(roleId);
  if (!role) throw new DomainError('PROJECT_ROLE_NOT_FOUND', `project ${project.name} has no role ${roleId}`, 'not_found');
  return role;
}

function assertRolePermissions(permissions: readonly string[]) {
  const problems = customProjectRolePermissionProblems(permissions);
  if (problems.length > 0) {
    throw new DomainError('INVALID_PROJECT_ROLE', problems.map((p) => `${p.field} ${p.message}`).join('; '), 'invalid', { fields: problems });
  }
}

export const projectDecider: Decider<ProjectCommand, ProjectAggregate, ProjectEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    if (command.type === 'CreateProject') {
      if (state.exists) throw new DomainError('PROJECT_EXISTS', `project ${command.projectId} already exists`);
      if (!command.name.trim()) throw new DomainError('INVALID_PROJECT', 'name must not be empty', 'invalid', { fields: [{ field: 'name', message: 'must not be empty' }] });
      return [{
        type: 'ProjectCreated',
        data: {
          projectId: command.projectId, name: command.name, description: command.description ?? '',
          quotas: validQuotas(command.quotas ?? {}), reclaimPolicy: command.reclaimPolicy ?? { kind: 'Unlimited' }, createdAt: command.now,
          ...(command.zoneId !== undefined ? { zoneId: command.zoneId } : {}),
          ...(command.departmentId !== undefined ? { departmentId: command.departmentId } : {}),
        },
      }];
    }
    // Releases go through even for a deleted project: what its resources held is given back.
    if (command.type === 'ReleaseQuota') {
      if (!state.exists) return [];
      const amounts = state.reservations.get(command.key);
      return amounts ? [{ type: 'ProjectQuotaReleased', data: { projectId: state.projectId, key: command.key, amounts } }] : [];
    }
    if (command.type === 'ReleaseQuotas') {
      if (!state.exists) return [];
      const live = state;
      return [...new Set(command.keys)].flatMap((key): ProjectEvent[] => {
        const amounts = live.reservations.get(key);
        return amounts ? [{ type: 'ProjectQuotaReleased', data: { projectId: live.projectId, key, amounts } }] : [];
      });
    }
    const project = live(state);
    const projectId = project.projectId;
    switch (command.type) {
      case 'UpdateProject': {
        const data: Extract<ProjectEvent, { type: 'ProjectUpdated' }>['data'] = { projectId };
        if (command.name !== undefined && command.name !== project.name) {
          if (!command.name.trim()) throw new DomainError('INVALID_PROJECT', 'name must not be empty', 'invalid', { fields: [{ field: 'name', message: 'must not be empty' }] });
          data.name = command.name;
        }
        if (command.description !== undefined && command.description !== project.description) data.description = command.description;
        if (command.departmentId !== undefined && command.departmentId !== (project.departmentId ?? null)) data.departmentId = command.departmentId;
        return data.name === undefined && data.description === undefined && data.departmentId === undefined ? [] : [{ type: 'ProjectUpdated', data }];
      }
      case 'ChangeQuotas':
        // Lowering a quota under the usage is allowed: what exists stays, nothing more is created.
        return [{ type: 'ProjectQuotasChanged', data: { projectId, quotas: validQuotas({ ...project.quotas, ...command.quotas }) } }];
      case 'ChangeReclaimPolicy':
        if (command.reclaimPolicy.kind === 'ByCost' && !/^\d+(\.\d{1,5})?$/.test(command.reclaimPolicy.spendingLimit)) {
          throw new DomainError('INVALID_RECLAIM_POLICY', 'spendingLimit must be a decimal amount', 'invalid', { fields: [{ field: 'reclaimPolicy.spendingLimit', message: 'a decimal amount' }] });
        }
        return [{ type: 'ProjectReclaimPolicyChanged', data: { projectId, reclaimPolicy: command.reclaimPolicy } }];
      case 'AddMember': {
        const current = project.members.get(command.userId);
        if (current === command.role) return [];
        return current
          ? [{ type: 'ProjectMemberRoleChanged', data: { projectId, userId: command.userId, role: command.role } }]
          : [{ type: 'ProjectMemberAdded', data: { projectId, userId: command.userId, role: command.role } }];
      }
      case 'RemoveMember':
        if (!project.members.has(command.userId)) throw new DomainError('NOT_A_MEMBER', `user ${command.userId} is not a member of project ${project.name}`, 'not_found');
        return [{ type: 'ProjectMemberRemoved', data: { projectId, userId: command.userId } }];
      case 'AddGroup': {
        const current = project.groups.get(command.userGroupId);
        if (current === command.role) return [];
        return current
          ? [{ type: 'ProjectGroupRoleChanged', data: { projectId, userGroupId: command.userGroupId, role: command.role } }]
          : [{ type: 'ProjectGroupAdded', data: { projectId, userGroupId: command.userGroupId, role: command.role } }];
      }
      case 'RemoveGroup':
        if (!project.groups.has(command.userGroupId)) throw new DomainError('GROUP_NOT_IN_PROJECT', `user group ${command.userGroupId} is not in project ${project.name}`, 'not_found');
        return [{ type: 'ProjectGroupRemoved', data: { projectId, userGroupId: command.userGroupId } }];
      case 'Enable':
        return transition(project, ['Disabled'], 'Enabled', command.now, 'PROJECT_NOT_DISABLED');
      case 'Disable':
        return transition(project, ['Enabled', 'LoginExpired'], 'Disabled', command.now, 'PROJECT_CANNOT_DISABLE');
      case 'ExpireLogin':
        return transition(project, ['Enabled'], 'LoginExpired', command.now, 'PROJECT_NOT_ENABLED');
      case 'Restore':
        // Restoring is for an expired project only: an Enabled one was never expired.
        return transition(project, ['LoginExpired'], 'Enabled', command.now, 'PROJECT_NOT_EXPIRED', false);
      case 'Delete':
        if (project.reservations.size > 0) {
          throw new DomainError('PROJECT_HAS_RESOURCES', `project ${project.name} still holds ${project.reservations.size} resources; delete them first`, 'conflict', { resources: project.reservations.size });
        }
        return [{ type: 'ProjectStateChanged', data: { projectId, from: project.state, to: 'Deleted', at: command.now } }];
      case 'ReserveQuota':
        return reserve(project, command.key, command.amounts);
      case 'ReserveQuotas':
        return reserveAll(project, command.reservations);
      case 'ResizeQuota':
        return resize(project, command.key, command.amounts);
      case 'DefineRole': {
        if (project.roles.has(command.roleId)) throw new DomainError('PROJECT_ROLE_EXISTS', `role ${command.roleId} already exists`);
        const name = command.name.trim();
        if (!name) throw new DomainError('INVALID_PROJECT_ROLE', 'name must not be empty', 'invalid', { fields: [{ field: 'name', message: 'must not be empty' }] });
        if ([...project.roles.values()].some((role) => role.name === name)) {
          throw new DomainError('PROJECT_ROLE_NAME_TAKEN', `project ${project.name} already has a role named ${name}`, 'conflict', { fields: [{ field: 'name', message: 'taken in this project' }] });
        }
        assertRolePermissions(command.permissions);
        return [{ type: 'ProjectRoleDefined', data: { projectId, roleId: command.roleId, name, description: command.description ?? '', permissions: [...new Set(command.permissions)] } }];
      }
      case 'ChangeRole': {
        const role = roleNamed(project, command.roleId);
        const permissions = command.permissions ? [...new Set(command.permissions)] : role.permissions;
        const description = command.description ?? role.description;
        if (command.permissions) assertRolePermissions(permissions);
        if (description === role.description && permissions.length === role.permissions.length && permissions.every((p, i) => p === role.permissions[i])) return [];
        return [{ type: 'ProjectRoleChanged', data: { projectId, roleId: command.roleId, description, permissions: [...permissions] } }];
      }
      case 'DeleteRole': {
        roleNamed(project, command.roleId);
        // Its holders lose it first, each recorded, so that member views follow without a search.
        const holders = [...project.memberCustomRoles].filter(([, ids]) => ids.includes(command.roleId));
        return [
          ...holders.map(([userId, ids]): ProjectEvent => ({ type: 'ProjectMemberCustomRolesChanged', data: { projectId, userId, roleIds: ids.filter((id) => id !== command.roleId) } })),
          { type: 'ProjectRoleDeleted', data: { projectId, roleId: command.roleId } },
        ];
      }
      case 'SetMemberCustomRoles': {
        if (!project.members.has(command.userId)) throw new DomainError('NOT_A_MEMBER', `user ${command.userId} is not a member of project ${project.name}`, 'not_found');
        const roleIds = [...new Set(command.roleIds)];
        for (const roleId of roleIds) roleNamed(project, roleId);
        const current = project.memberCustomRoles.get(command.userId) ?? [];
        if (current.length === roleIds.length && roleIds.every((id) => current.includes(id))) return [];
        return [{ type: 'ProjectMemberCustomRolesChanged', data: { projectId, userId: command.userId, roleIds } }];
      }
      case 'SetLoginWindows': {
        const next = command.loginWindows === null ? null : validLoginWindows(command.loginWindows);
        return [{ type: 'ProjectLoginWindowsChanged', data: { projectId, loginWindows: changeLoginWindows(project.loginWindows ?? noLoginWindows, next, command.now), at: command.now } }];
      }
      case 'RemindExpiry':
        return decideExpiryReminder(project, command.deadline, command.now);
      case 'Reclaim':
        return decideReclaim(project, command.deadline, command.now);
    }
  },

  evolve(state, event) {
    if (event.type === 'ProjectCreated') {
      const { projectId, name, description, quotas, reclaimPolicy, zoneId, departmentId } = event.data;
      return {
        exists: true, projectId, name, description, state: 'Enabled', quotas, reclaimPolicy, members: new Map(), reservations: new Map(), usage: zeroUsage(),
        ...(zoneId !== undefined ? { zoneId } : {}), roles: new Map(), memberCustomRoles: new Map(),
        ...(departmentId !== undefined ? { departmentId } : {}), groups: new Map(),
      };
    }
    if (!state.exists) return state;
    switch (event.type) {
      case 'ProjectUpdated': {
        const updated = { ...state, ...(event.data.name !== undefined ? { name: event.data.name } : {}), ...(event.data.description !== undefined ? { description: event.data.description } : {}) };
        if (event.data.departmentId === undefined) return updated;
        const { departmentId: _left, ...rest } = updated;
        return event.data.departmentId === null ? rest : { ...rest, departmentId: event.data.departmentId };
      }
      case 'ProjectQuotasChanged':
        return { ...state, quotas: event.data.quotas };
      case 'ProjectReclaimPolicyChanged':
        return { ...state, reclaimPolicy: event.data.reclaimPolicy };
      case 'ProjectMemberAdded':
      case 'ProjectMemberRoleChanged':
        return { ...state, members: new Map(state.members).set(event.data.userId, event.data.role) };
      case 'ProjectMemberRemoved': {
        const members = new Map(state.members);
        members.delete(event.data.userId);
        const memberCustomRoles = new Map(state.memberCustomRoles);
        memberCustomRoles.delete(event.data.userId);
        return { ...state, members, memberCustomRoles };
      }
      case 'ProjectGroupAdded':
      case 'ProjectGroupRoleChanged':
        return { ...state, groups: new Map(state.groups).set(event.data.userGroupId, event.data.role) };
      case 'ProjectGroupRemoved': {
        const groups = new Map(state.groups);
        groups.delete(event.data.userGroupId);
        return { ...state, groups };
      }
      case 'ProjectStateChanged':
        return { ...state, state: event.data.to };
      case 'ProjectQuotaReserved':
        return { ...state, reservations: new Map(state.reservations).set(event.data.key, event.data.amounts), usage: addUsage(state.usage, event.data.amounts, 1) };
      case 'ProjectQuotaReleased': {
        const reservations = new Map(state.reservations);
        reservations.delete(event.data.key);
        return { ...state, reservations, usage: addUsage(state.usage, event.data.amounts, -1) };
      }
      case 'ProjectQuotaResized':
        return {
          ...state,
          reservations: new Map(state.reservations).set(event.data.key, event.data.amounts),
          usage: addUsage(addUsage(state.usage, event.data.from, -1), event.data.amounts, 1),
        };
      case 'ProjectRoleDefined':
      case 'ProjectRoleChanged': {
        const previous = state.roles.get(event.data.roleId);
        const name = event.type === 'ProjectRoleDefined' ? event.data.name : previous?.name ?? event.data.roleId;
        const role: CustomProjectRole = { roleId: event.data.roleId, name, description: event.data.description, permissions: event.data.permissions };
        return { ...state, roles: new Map(state.roles).set(role.roleId, role) };
      }
      case 'ProjectRoleDeleted': {
        // Its holders lose it with it.
        const roles = new Map(state.roles);
        roles.delete(event.data.roleId);
        const memberCustomRoles = new Map([...state.memberCustomRoles].map(([userId, ids]) => [userId, ids.filter((id) => id !== event.data.roleId)] as const));
        return { ...state, roles, memberCustomRoles };
      }
      case 'ProjectMemberCustomRolesChanged':
        return { ...state, memberCustomRoles: new Map(state.memberCustomRoles).set(event.data.userId, event.data.roleIds) };
      case 'ProjectLoginWindowsChanged':
        return { ...state, loginWindows: event.data.loginWindows };
      case 'ProjectExpiryReminded':
        return { ...state, remindedFor: event.data.deadline };
      case 'ProjectReclaimed':
        return { ...state, reclaimedFor: event.data.deadline };
      default:
        return state;
    }
  },
};

function addUsage(usage: Quotas, amounts: QuotaAmounts, sign: 1 | -1): Quotas {
  const next = { ...usage };
  for (const [name, amount] of Object.entries(amounts) as Array<[QuotaName, number]>) next[name] += sign * amount;
  return next;
}

export const projectEventTypes: readonly ProjectEvent['type'][] = [
  'ProjectCreated', 'ProjectUpdated', 'ProjectQuotasChanged', 'ProjectReclaimPolicyChanged', 'ProjectMemberAdded', 'ProjectMemberRoleChanged',
  'ProjectMemberRemoved', 'ProjectStateChanged', 'ProjectQuotaReserved', 'ProjectQuotaReleased',
  'ProjectQuotaResized', 'ProjectRoleDefined', 'ProjectRoleChanged', 'ProjectRoleDeleted', 'ProjectMemberCustomRolesChanged',
  'ProjectLoginWindowsChanged', 'ProjectExpiryReminded', 'ProjectReclaimed',
  'ProjectGroupAdded', 'ProjectGroupRoleChanged', 'ProjectGroupRemoved',
];
