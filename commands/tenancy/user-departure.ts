import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import { createProcessRunner, type ProcessRunner } from '../compute/provisioning-runner.js';
import { userGroupsCollection } from '../../projections/tenancy/user-groups.js';
import { idFromName } from '../shared/ids.js';
import { metadataFor, systemActor } from '../shared/request-context.js';
import { runOrganizationCommand } from './organizations.js';
import { runUserGroupCommand } from './user-groups.js';

// A deleted user leaves the organization and the user groups (a process manager driven by
// UserDeleted): one OrganizationUserRemoved per department they were in (decided against the
// whole tree, so their admin and manager roles there end too), and one UserGroupUserRemoved
// per group. The read models follow from those events. The commands carry the UserDeleted
// event as their cause and a command id derived from it; each is a no-op once done (a user no
// longer in a department or group is skipped), so a redelivery after a crash changes nothing.
// The groups are found in the user-groups read model once it has caught up with the deletion
// (a user can no longer be added after it: adding checks that the user is live).

export interface UserDepartureDeps {
  store: EventStore;
  readStore: ReadStore;
  clock: Clock;
  /** Resolves once the user-groups read model has applied the event at `position`. */
  userGroupsCaughtUp?: (position: number) => Promise<boolean>;
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

  if (deps.userGroupsCaughtUp && !(await deps.userGroupsCaughtUp(event.position))) {
    throw new Error('the user-groups read model has not caught up with the user deletion yet');
  }
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
}
