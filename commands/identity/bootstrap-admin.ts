import { randomBytes } from 'node:crypto';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import { userDecider, userStream } from '../../domain/identity/user.js';
import { handleCommand } from '../shared/handle-command.js';
import { metadataFor, systemActor } from '../shared/request-context.js';
import { hashPassword } from './passwords.js';
import { createUser, findUserIdByName, loadUser } from './users.js';

const bootstrapStream = 'system-bootstrap';
export const adminUsername = 'admin';

/**
 * On first start, creates the `admin` user. Its password comes from the caller (the
 * environment) or is generated; a generated one is handed back so that it can be shown
 * once. Resumable: a crash half-way is finished on the next start.
 */
export async function bootstrapAdmin(
  deps: { store: EventStore; clock: Clock },
  configuredPassword: string | undefined,
): Promise<{ created: boolean; generatedPassword?: string }> {
  const { store } = deps;
  if ((await store.readStream(bootstrapStream, { limit: 1 })).length > 0) return { created: false };

  const metadata = metadataFor({ actor: systemActor, correlationId: 'bootstrap' });
  const generatedPassword = configuredPassword ? undefined : randomBytes(18).toString('base64url');
  const password = configuredPassword ?? generatedPassword!;
  const reservedId = await findUserIdByName(store, adminUsername);
  let userId: string;
  if (!reservedId) {
    userId = (await createUser(deps, { username: adminUsername, password, roles: ['admin'] }, metadata)).userId;
  } else {
    userId = reservedId;
    if (!(await loadUser(store, reservedId)).exists) {
      const passwordHash = await hashPassword(password);
      await handleCommand(store, userDecider, userStream(userId), {
        type: 'CreateUser', userId, username: adminUsername, passwordHash, roles: ['admin'], now: deps.clock.now(),
      }, metadata);
    } else {
      // The user exists from an interrupted bootstrap whose password was already set.
      await store.append(bootstrapStream, [{ type: 'AdminBootstrapped', data: { userId }, metadata }], 'any');
      return { created: false };
    }
  }
  await store.append(bootstrapStream, [{ type: 'AdminBootstrapped', data: { userId }, metadata }], 'any');
  return generatedPassword ? { created: true, generatedPassword } : { created: true };
}
