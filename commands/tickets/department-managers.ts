import type { ReadStore } from '../../adapters/readstore/port.js';
import { departmentManagersOf } from '../tenancy/organizations.js';

// The "department manager" approver of a ticket step: the manager(s) of the department the
// ticket's project belongs to — a manager manages the department's sub-departments too, so
// the managers of its upper departments count (`departmentManagersOf`). Read from the
// organizations and projects read models (the project's `departmentId`) when an approver
// acts, not when the ticket was filed: a new manager takes over the tickets waiting on the
// department.

const projectsCollection = 'projects';
const organizationsCollection = 'organizations';

/** The managers of the department of project `projectId` (none when it has no department). */
export async function departmentManagersOfProject(readStore: ReadStore, projectId: string): Promise<string[]> {
  const project = await readStore.get(projectsCollection, projectId);
  const departmentId = project?.departmentId;
  if (typeof departmentId !== 'string') return [];
  return departmentManagersOf(readStore, departmentId);
}

/** Whether `userId` manages the department of project `projectId`. */
export async function managesDepartmentOf(readStore: ReadStore, projectId: string, userId: string): Promise<boolean> {
  return (await departmentManagersOfProject(readStore, projectId)).includes(userId);
}

/** The projects in the departments `userId` manages, sub-departments included (for the approvals inbox). */
export async function projectsManagedBy(readStore: ReadStore, userId: string): Promise<string[]> {
  const managed = (await readStore.find(organizationsCollection, { managerUserIds: userId }, { limit: 1000 })).map((department) => department.id);
  if (managed.length === 0) return [];
  const below = await readStore.find(organizationsCollection, { ancestorIds: { $in: managed } }, { limit: 10_000 });
  const departmentIds = [...new Set([...managed, ...below.map((department) => department.id)])];
  const projects = await readStore.find(projectsCollection, { departmentId: { $in: departmentIds } }, { limit: 10_000 });
  return projects.map((project) => project.id);
}

/**
 * What a department manager may do whatever their roles — they hold none, the role being
 * exclusive (reference/002): see tickets and decide the steps that await them ("My Approval").
 * Which tickets they may decide the ticket decider says (a department-manager step of a
 * project in their departments).
 */
export const departmentManagerPermissions: readonly string[] = ['ticket:read', 'ticket:list', 'ticket:approve', 'ticket:reject', 'approval:list'];

/** Whether `permission` is one a department manager holds and the principal (outside any project session) manages a department. */
export async function departmentManagerAllows(readStore: ReadStore, principal: { userId: string; project?: unknown; restriction?: string }, permission: string): Promise<boolean> {
  if (principal.project || principal.restriction || !departmentManagerPermissions.includes(permission)) return false;
  return (await readStore.count(organizationsCollection, { managerUserIds: principal.userId })) > 0;
}
