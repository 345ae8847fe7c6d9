import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { ProjectEvent } from '../../domain/tenancy/project.js';
import type { QuotaAmounts, QuotaName, Quotas } from '../../domain/tenancy/quotas.js';
import { isoTime, type Projection } from '../shared/projection.js';
import { reclaimDueTimes } from '../../domain/tenancy/reclaim.js';

// Projects as the API lists them (quotas with their usage, members), and one document per
// membership for "which projects is this user in" and for member lists.

export const projectsCollection = 'projects';
export const projectMembersCollection = 'project_members';
/** User groups that joined a project, with their project role. */
export const projectGroupsCollection = 'project_groups';

export const projectFields = {
  id: 'string',
  name: 'string',
  state: 'string',
  departmentId: 'string',
  zoneId: 'string',
  createdAt: 'time',
  updatedAt: 'time',
} as const;

export const projectMemberFields = { projectId: 'string', userId: 'string', role: 'string' } as const;
export const projectGroupFields = { projectId: 'string', userGroupId: 'string', role: 'string' } as const;

const memberId = (projectId: string, userId: string) => `${projectId}:${userId}`;
const groupMembershipId = (projectId: string, userGroupId: string) => `${projectId}:group:${userGroupId}`;

function addUsage(usage: Quotas, amounts: QuotaAmounts, sign: 1 | -1): Quotas {
  const next = { ...usage };
  for (const [name, amount] of Object.entries(amounts) as Array<[QuotaName, number]>) next[name] = (next[name] ?? 0) + sign * amount;
  return next;
}

export const projectsProjection: Projection = {
  name: 'tenancy-projects',
  version: 2,
  collections: [projectsCollection, projectMembersCollection, projectGroupsCollection],
  indexes: [
    { collection: projectsCollection, fields: [['name', 1]] },
    { collection: projectMembersCollection, fields: [['userId', 1]] },
    { collection: projectMembersCollection, fields: [['projectId', 1]] },
    { collection: projectGroupsCollection, fields: [['userGroupId', 1]] },
    { collection: projectGroupsCollection, fields: [['projectId', 1]] },
    { collection: projectsCollection, fields: [['departmentId', 1]] },
    { collection: projectsCollection, fields: [['reminderDueAt', 1]] },
    { collection: projectsCollection, fields: [['reclaimDueAt', 1]] },
  ],
  handles: [
    'ProjectCreated', 'ProjectUpdated', 'ProjectQuotasChanged', 'ProjectReclaimPolicyChanged', 'ProjectMemberAdded', 'ProjectMemberRoleChanged',
    'ProjectMemberRemoved', 'ProjectStateChanged', 'ProjectQuotaReserved', 'ProjectQuotaReleased',
    'ProjectGroupAdded', 'ProjectGroupRoleChanged', 'ProjectGroupRemoved',
    'ProjectQuotaResized', 'ProjectMemberCustomRolesChanged',
    'ProjectLoginWindowsChanged', 'ProjectExpiryReminded', 'ProjectReclaimed',
  ],

  async apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as ProjectEvent;
    const projectId = event.data.projectId;
    const touched = { version: recorded.version, updatedAt: isoTime(recorded.recordedAt) };
    if (event.type === 'ProjectCreated') {
      const usage = Object.fromEntries(Object.keys(event.data.quotas).map((name) => [name, 0]));
      batch.upsert(projectsCollection, {
        id: projectId, name: event.data.name, description: event.data.description, state: 'Enabled',
        quotas: event.data.quotas, usage, reclaimPolicy: event.data.reclaimPolicy, createdAt: isoTime(event.data.createdAt), ...touched,
        departmentId: event.data.departmentId ?? null,
        zoneId: event.data.zoneId ?? null,
        ...reclaimDueTimes(event.data.reclaimPolicy),
      });
      return;
    }
    const doc = await batch.get(projectsCollection, projectId);
    if (!doc) return;
    switch (event.type) {
      case 'ProjectUpdated':
        batch.patch(projectsCollection, projectId, {
          ...(event.data.name !== undefined ? { name: event.data.name } : {}),
          ...(event.data.description !== undefined ? { description: event.data.description } : {}),
          ...(event.data.departmentId !== undefined ? { departmentId: event.data.departmentId } : {}),
          ...touched,
        });
        return;
      case 'ProjectQuotasChanged':
        batch.patch(projectsCollection, projectId, { quotas: event.data.quotas, ...touched });
        return;
      case 'ProjectReclaimPolicyChanged':
        batch.patch(projectsCollection, projectId, { reclaimPolicy: event.data.reclaimPolicy, ...reclaimDueTimes(event.data.reclaimPolicy), ...touched });
        return;
      case 'ProjectMemberAdded':
      case 'ProjectMemberRoleChanged':
        batch.upsert(projectMembersCollection, { id: memberId(projectId, event.data.userId), projectId, projectName: doc.name, userId: event.data.userId, role: event.data.role });
        batch.patch(projectsCollection, projectId, touched);
        return;
      case 'ProjectMemberRemoved':
        batch.delete(projectMembersCollection, memberId(projectId, event.data.userId));
        batch.patch(projectsCollection, projectId, touched);
        return;
      case 'ProjectGroupAdded':
      case 'ProjectGroupRoleChanged':
        batch.upsert(projectGroupsCollection, {
          id: groupMembershipId(projectId, event.data.userGroupId), projectId, projectName: doc.name, userGroupId: event.data.userGroupId, role: event.data.role,
        });
        batch.patch(projectsCollection, projectId, touched);
        return;
      case 'ProjectQuotaResized':
        batch.patch(projectsCollection, projectId, { usage: addUsage(addUsage(doc.usage as Quotas, event.data.from, -1), event.data.amounts, 1), ...touched });
        return;
      case 'ProjectMemberCustomRolesChanged':
        batch.patch(projectMembersCollection, memberId(projectId, event.data.userId), { customRoleIds: event.data.roleIds });
        batch.patch(projectsCollection, projectId, touched);
        return;
      case 'ProjectGroupRemoved':
        batch.delete(projectGroupsCollection, groupMembershipId(projectId, event.data.userGroupId));
        batch.patch(projectsCollection, projectId, touched);
        return;
      case 'ProjectStateChanged':
        batch.patch(projectsCollection, projectId, { state: event.data.to, ...(event.data.to === 'Deleted' ? { reminderDueAt: null, reclaimDueAt: null } : {}), ...touched });
        return;
      // Login windows and reclaim (H2): the windows as set, and the due times the reclaim timer polls.
      case 'ProjectLoginWindowsChanged':
        batch.patch(projectsCollection, projectId, { loginWindows: event.data.loginWindows, ...touched });
        return;
      case 'ProjectExpiryReminded':
        batch.patch(projectsCollection, projectId, { reminderDueAt: null, expiryRemindedAt: isoTime(event.data.at), ...touched });
        return;
      case 'ProjectReclaimed':
        batch.patch(projectsCollection, projectId, { reminderDueAt: null, reclaimDueAt: null, reclaimedAt: isoTime(event.data.at), ...touched });
        return;
      case 'ProjectQuotaReserved':
        batch.patch(projectsCollection, projectId, { usage: addUsage(doc.usage as Quotas, event.data.amounts, 1), ...touched });
        return;
      case 'ProjectQuotaReleased':
        batch.patch(projectsCollection, projectId, { usage: addUsage(doc.usage as Quotas, event.data.amounts, -1), ...touched });
        return;
    }
  },
};
