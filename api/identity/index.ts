import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import type { ProjectionRunner } from '../../projections/shared/runner.js';
import type { Endpoint } from '../shared/endpoint.js';
import { accessKeyEndpoints } from './access-keys.js';
import { ipAccessListEndpoints } from './ip-access-lists.js';
import { roleEndpoints } from './roles.js';
import { twoFactorEndpoints } from './two-factor.js';
import { userEndpoints } from './users.js';

/** The identity context's endpoints besides login and logout (sessions.ts). */
export function identityEndpoints(deps: { eventStore: EventStore; readStore: ReadStore; runner: ProjectionRunner; clock: Clock; secrets: SecretBox; tasks: Tasks }): Endpoint[] {
  return [...userEndpoints(deps), ...twoFactorEndpoints(deps), ...accessKeyEndpoints(deps), ...roleEndpoints(deps), ...ipAccessListEndpoints(deps)];
}
