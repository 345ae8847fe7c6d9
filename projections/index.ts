import { auditLogProjection } from './audit/audit-log.js';
import { clustersProjection } from './compute/clusters.js';
import { hostsProjection } from './compute/hosts.js';
import { imageStoresProjection } from './compute/image-stores.js';
import { imagesProjection } from './compute/images.js';
import { offeringsProjection } from './compute/offerings.js';
import { primaryStoragesProjection } from './compute/primary-storages.js';
import { zonesProjection } from './compute/zones.js';
import { volumeSnapshotsProjection } from './compute/volume-snapshots.js';
import { volumesProjection } from './compute/volumes.js';
import { vmInstancesProjection } from './compute/vm-instances.js';
import { expungeScheduleProjection } from './compute/expunge-schedule.js';
import { l2NetworksProjection } from './network/l2-networks.js';
import { l3NetworksProjection } from './network/l3-networks.js';
import { accessKeysProjection } from './identity/access-keys.js';
import { ipAccessListsProjection } from './identity/ip-access-lists.js';
import { rolesProjection } from './identity/roles.js';
import { sessionsProjection } from './identity/sessions.js';
import { usersProjection } from './identity/users.js';
import type { Projection } from './shared/projection.js';
import { tasksProjection } from './tasks/tasks.js';
import { projectsProjection } from './tenancy/projects.js';
import { organizationsProjection } from './tenancy/organizations.js';
import { userGroupsProjection } from './tenancy/user-groups.js';
import { ticketsProjection } from './tickets/tickets.js';

/** Every read model Stratus maintains. */
export const allProjections: readonly Projection[] = [auditLogProjection, tasksProjection,
  usersProjection, sessionsProjection, accessKeysProjection, rolesProjection, ipAccessListsProjection,
  zonesProjection, clustersProjection, hostsProjection, primaryStoragesProjection, imageStoresProjection, imagesProjection, offeringsProjection,
  l2NetworksProjection, l3NetworksProjection,
  volumesProjection, volumeSnapshotsProjection,
  vmInstancesProjection, expungeScheduleProjection,
  projectsProjection, organizationsProjection, userGroupsProjection, ticketsProjection];
