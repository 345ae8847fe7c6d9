import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';
import { defaultQuotas, quotaNames, type QuotaAmounts, type QuotaName, type Quotas } from './quotas.js';

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
  | DomainEvent<'ProjectCreated', { projectId: string; name: string; description: string; quotas: Quotas; reclaimPolicy: ReclaimPolicy; createdAt: number }>
  | DomainEvent<'ProjectUpdated', { projectId: string; name?: string; description?: string }>
  | DomainEvent<'ProjectQuotasChanged', { projectId: string; quotas: Quotas }>
  | DomainEvent<'ProjectReclaimPolicyChanged', { projectId: string; reclaimPolicy: ReclaimPolicy }>
  | DomainEvent<'ProjectMemberAdded', { projectId: string; userId: string; role: ProjectRole }>
  | DomainEvent<'ProjectMemberRoleChanged', { projectId: string; userId: string; role: ProjectRole }>
  | DomainEvent<'ProjectMemberRemoved', { projectId: string; userId: string }>
  | DomainEvent<'ProjectStateChanged', { projectId: string; from: ProjectState; to: ProjectState; at: number }>
  | DomainEvent<'ProjectQuotaReserved', { projectId: string; key: string; amounts: QuotaAmounts }>
  | DomainEvent<'ProjectQuotaReleased', { projectId: string; key: string; amounts: QuotaAmounts }>;

export type ProjectCommand =
  | { type: 'CreateProject'; projectId: string; name: string; description?: string; quotas?: Partial<Quotas>; reclaimPolicy?: ReclaimPolicy; now: number }
  | { type: 'UpdateProject'; name?: string; description?: string }
  | { type: 'ChangeQuotas'; quotas: Partial<Quotas> }
  | { type: 'ChangeReclaimPolicy'; reclaimPolicy: ReclaimPolicy }
  | { type: 'AddMember'; userId: string; role: ProjectRole }
  | { type: 'RemoveMember'; userId: string }
  | { type: 'Enable'; now: number }
  | { type: 'Disable'; now: number }
  | { type: 'ExpireLogin'; now: number }
  | { type: 'Restore'; now: number }
  | { type: 'Delete'; now: number }
  | { type: 'ReserveQuota'; key: string; amounts: QuotaAmounts }
  | { type: 'ReleaseQuota'; key: string };

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
  if (project.reservations.has(key)) return []; // a repeat of the same resource's reservation
  if (project.state !== 'Enabled') {
    throw new DomainError('PROJECT_NOT_ENABLED', `project ${project.name} is ${project.state}: no resource can be created in it`, 'conflict', { state: project.state });
  }
  for (const [name, amount] of Object.entries(amounts) as Array<[QuotaName, number]>) {
    if (!Number.isSafeInteger(amount) || amount < 0) throw new DomainError('INVALID_QUOTA', `${name}: amount must be a whole number ≥ 0`, 'invalid');
    const limit = project.quotas[name];
    const used = project.usage[name];
    if (used + amount > limit) {
      throw new DomainError('QUOTA_EXCEEDED', `project ${project.name}: quota ${name} is ${limit}, ${used} used, ${amount} more asked`, 'conflict', {
        projectId: project.projectId, quota: name, limit, used, requested: amount,
      });
    }
  }
  return [{ type: 'ProjectQuotaReserved', data: { projectId: project.projectId, key, amounts } }];
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
        },
      }];
    }
    // Releases go through even for a deleted project: what its resources held is given back.
    if (command.type === 'ReleaseQuota') {
      if (!state.exists) return [];
      const amounts = state.reservations.get(command.key);
      return amounts ? [{ type: 'ProjectQuotaReleased', data: { projectId: state.projectId, key: command.key, amounts } }] : [];
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
        return data.name === undefined && data.description === undefined ? [] : [{ type: 'ProjectUpdated', data }];
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
    }
  },

  evolve(state, event) {
    if (event.type === 'ProjectCreated') {
      const { projectId, name, description, quotas, reclaimPolicy } = event.data;
      return { exists: true, projectId, name, description, state: 'Enabled', quotas, reclaimPolicy, members: new Map(), reservations: new Map(), usage: zeroUsage() };
    }
    if (!state.exists) return state;
    switch (event.type) {
      case 'ProjectUpdated':
        return { ...state, ...(event.data.name !== undefined ? { name: event.data.name } : {}), ...(event.data.description !== undefined ? { description: event.data.description } : {}) };
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
        return { ...state, members };
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
];
