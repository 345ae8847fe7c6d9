import { DomainError } from '../shared/errors.js';
import type { LiveProject, ProjectEvent, ReclaimAction } from './project.js';

// Reclaim by time (reference/002 "Project Reclaim Policy", FACTS.md): from 14 days before the
// deadline members are reminded (at login, and once by e-mail); at the deadline the policy's
// action runs once for that deadline: members can no longer log in (LoginExpired), with the
// project's VMs stopped too (the command layer stops them before this is decided), or the
// project is deleted. Restoring an expired project lets members in again and does not run the
// action again; a new deadline (a changed policy) is reminded of and reclaimed afresh.
// Reclaim by cost is stored only: it fires when billing exists.

export const expiryReminderLeadMs = 14 * 24 * 60 * 60 * 1000;

export function reclaimDeadline(project: LiveProject): { deadline: number; action: ReclaimAction } | undefined {
  const policy = project.reclaimPolicy;
  return policy.kind === 'ByTime' ? { deadline: policy.deadline, action: policy.action } : undefined;
}

const open = (project: LiveProject) => project.state !== 'Deleted';

/** The deadline has come and its action has not run yet. */
export function reclaimDue(project: LiveProject, now: number): boolean {
  const byTime = reclaimDeadline(project);
  return open(project) && byTime !== undefined && now >= byTime.deadline && project.reclaimedFor !== byTime.deadline;
}

/** Within 14 days of a deadline not yet reached nor reclaimed. */
export function expiryApproaching(project: LiveProject, now: number): boolean {
  const byTime = reclaimDeadline(project);
  return open(project) && byTime !== undefined && now < byTime.deadline && now >= byTime.deadline - expiryReminderLeadMs;
}

export function reminderDue(project: LiveProject, now: number): boolean {
  return project.state === 'Enabled' && expiryApproaching(project, now) && project.remindedFor !== reclaimDeadline(project)!.deadline;
}

/**
 * Members may not act in the project for reclaim's sake: it is LoginExpired, or its deadline
 * has come and the action has not run yet (the timer may lag; the policy wins at once).
 */
export function loginBarredByReclaim(project: LiveProject, now: number): boolean {
  return project.state === 'LoginExpired' || reclaimDue(project, now);
}

export interface ExpiryNotice {
  code: 'PROJECT_EXPIRING';
  projectId: string;
  deadline: string;
  action: ReclaimAction;
  daysLeft: number;
  message: string;
}

export const reclaimActionText: Record<ReclaimAction, string> = {
  DisableLogin: 'members will no longer be able to log in to it',
  DisableLoginAndStopResources: 'members will no longer be able to log in to it and its VM instances will be stopped',
  DeleteProject: 'it will be deleted and its VM instances stopped',
};

/** What a member is told at login within 14 days of the deadline. */
export function expiryNotice(project: LiveProject, now: number): ExpiryNotice | undefined {
  if (!expiryApproaching(project, now)) return undefined;
  const { deadline, action } = reclaimDeadline(project)!;
  const daysLeft = Math.ceil((deadline - now) / (24 * 60 * 60 * 1000));
  const at = new Date(deadline).toISOString();
  return {
    code: 'PROJECT_EXPIRING', projectId: project.projectId, deadline: at, action, daysLeft,
    message: `Project ${project.name} expires at ${at} (in ${daysLeft} day${daysLeft === 1 ? '' : 's'}): ${reclaimActionText[action]}.`,
  };
}

function assertCurrentDeadline(project: LiveProject, deadline: number) {
  const byTime = reclaimDeadline(project);
  if (!byTime || byTime.deadline !== deadline) {
    throw new DomainError('RECLAIM_POLICY_CHANGED', `project ${project.name} no longer has the deadline ${new Date(deadline).toISOString()}`, 'conflict');
  }
  return byTime;
}

export function decideExpiryReminder(project: LiveProject, deadline: number, now: number): ProjectEvent[] {
  assertCurrentDeadline(project, deadline);
  if (project.remindedFor === deadline) return [];
  if (now < deadline - expiryReminderLeadMs) throw new DomainError('EXPIRY_NOT_NEAR', `project ${project.name} expires in more than 14 days`, 'conflict');
  return [{ type: 'ProjectExpiryReminded', data: { projectId: project.projectId, deadline, at: now } }];
}

export function decideReclaim(project: LiveProject, deadline: number, now: number): ProjectEvent[] {
  const { action } = assertCurrentDeadline(project, deadline);
  if (project.reclaimedFor === deadline) return [];
  if (now < deadline) throw new DomainError('DEADLINE_NOT_REACHED', `project ${project.name} expires at ${new Date(deadline).toISOString()}`, 'conflict');
  const projectId = project.projectId;
  const reclaimed: ProjectEvent = { type: 'ProjectReclaimed', data: { projectId, deadline, action, at: now } };
  const to = action === 'DeleteProject' ? 'Deleted' : 'LoginExpired';
  // A disabled project expires too: enabling it later must not let members in past the deadline.
  if (project.state === to) return [reclaimed];
  return [reclaimed, { type: 'ProjectStateChanged', data: { projectId, from: project.state, to, at: now } }];
}

/** The due times a timer polls for (the projects read model keeps them): null when nothing is due. */
export function reclaimDueTimes(policy: LiveProject['reclaimPolicy']): { reminderDueAt: number | null; reclaimDueAt: number | null } {
  return policy.kind === 'ByTime'
    ? { reminderDueAt: policy.deadline - expiryReminderLeadMs, reclaimDueAt: policy.deadline }
    : { reminderDueAt: null, reclaimDueAt: null };
}
