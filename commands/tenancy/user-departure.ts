import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import { createProcessRunner, type ProcessRunner } from '../compute/provisioning-runner.js';
import { projectMembersCollection } from '../../projections/tenancy/projects.js';
import { userGroupsCollection } from '../../projections/tenancy/user-groups.js';
import { idFromName } from '../shared/ids.js';
import { metadataFor, systemActor } from '../shared/request-context.js';
import { runOrganizationCommand } from './organizations.js';
import { runUserGroupCommand } from './user-groups.js';
import { runProjectCommand } from './projects.js';

// A deleted user leaves the organization, the user groups and the projects (a process manager
// driven by UserDeleted): one OrganizationUserRemoved per department they were in (decided
// against the whole tree, so their admin and manager roles there end too), one
// UserGroupUserRemoved per group and one ProjectMemberRemoved per project where they were a
// direct member. The read models follow from those events. The commands carry the UserDeleted
// event as their cause and a command id derived from it; each is a no-op once done (a user no
// longer in a department or group is skipped), so a redelivery after a crash changes nothing.
// The groups and projects are found in their read models once those have caught up with the
// deletion (a user can no longer be added after it: adding checks that the user is live).

export interface UserDepartureDeps {
  store: EventStore;
  readStore: ReadStore;
  clock: Clock;
  /** Resolves once the named projection has applied the event at `position`. */
  caughtUp?: (position: number, projection: string) => Promise<boolean>;
}

export const userDepartureEventTypes: readonly string[] = ['UserDeleted'];

/** The checkpointed process that runs `handleUserDeleted` for every UserDeleted event. */
export function createUserDepartureProcess(deps: UserDepartureDeps & { log: { warn(d: object, m: string): void; error(d: object, m: string): void } }): ProcessRunner {
  return createProcessRunner({
    name: 'tenancy-user-departure',
    eventStore: deps.store,
    readStore: deps.readStore,
    log: deps.log,
    handles: userDepartureEventTypes,
    handle: (event) => handleUserDeleted(deps, event),
  });
}

export async function handleUserDeleted(deps: UserDepartureDeps, event: RecordedEvent): Promise<void> {
  if (event.type !== 'UserDeleted') return;
  const { userId } = event.data as { userId: string };
  const metadataOf = (step: string) => metadataFor(
    { actor: systemActor, correlationId: event.metadata.correlationId ?? event.id },
    { causationId: event.id, commandId: idFromName(`user-departure:${event.id}:${step}`) },
  );
  await runOrganizationCommand(deps, { type: 'RemoveUserEverywhere', userId }, metadataOf('organizations'));

  await readModelAt(deps, event.position, 'tenancy-user-groups');
  const groups = await deps.readStore.find(userGroupsCollection, { userIds: userId });
  for (const group of groups) {
    const userGroupId = group.id as string;
    try {
      await runUserGroupCommand(deps, userGroupId, { type: 'RemoveUser', userId }, metadataOf(`user-group:${userGroupId}`));
    } catch (error) {
      // Already removed (a redelivery), or the group was deleted meanwhile: nothing to do.
      if (error instanceof DomainError && ['NOT_IN_USER_GROUP', 'USER_GROUP_DELETED', 'USER_GROUP_NOT_FOUND'].includes(error.code)) continue;
      throw error;
    }
  }

  await readModelAt(deps, event.position, 'tenancy-projects');
  const memberships = await deps.readStore.find(projectMembersCollection, { userId }, { limit: 10_000 });
  for (const membership of memberships) {
    const projectId = membership.projectId as string;
    try {
      await runProjectCommand(deps, projectId, { type: 'RemoveMember', userId }, metadataOf(`project:${projectId}`));
    } catch (error) {
      // Already removed (a redelivery), or the project is gone meanwhile: nothing to do.
      if (error instanceof DomainError && ['NOT_A_MEMBER', 'PROJECT_DELETED', 'PROJECT_NOT_FOUND'].includes(error.code)) continue;
      throw error;
    }
  }
}

async function readModelAt(deps: UserDepartureDeps, position: number, projection: string): Promise<void> {
  if (deps.caughtUp && !(await deps.caughtUp(position, projection))) {
    throw new Error(`the ${projection} read model has not caught up with the user deletion yet`);
  }
}
