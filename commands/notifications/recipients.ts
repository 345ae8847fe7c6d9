import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import type { Approver } from '../../domain/tickets/ticket.js';
import { departmentManagersOfProject } from '../tickets/department-managers.js';
import { loadProject } from '../tenancy/projects.js';

// Who a notification goes to, as user ids (their addresses are looked up at sending time).

/** The users who may approve a step: admins, the project's admins, its department's managers, or the named user. */
export async function approverUserIds(deps: { store: EventStore; readStore: ReadStore }, projectId: string, approver: Approver): Promise<string[]> {
  switch (approver.kind) {
    case 'admin':
      return (await deps.readStore.find('users', { roles: 'admin', state: 'enabled' }, { limit: 1000 })).map((user) => user.id as string);
    case 'project-admin': {
      const { state } = await loadProject(deps.store, projectId);
      return state.exists ? [...state.members].filter(([, role]) => role === 'project-admin').map(([userId]) => userId) : [];
    }
    case 'department-manager':
      return departmentManagersOfProject(deps.readStore, projectId);
    case 'user':
      return [approver.userId];
  }
}

/** Every member of the project (any project role). */
export async function projectMemberIds(store: EventStore, projectId: string): Promise<string[]> {
  const { state } = await loadProject(store, projectId);
  return state.exists ? [...state.members.keys()] : [];
}
