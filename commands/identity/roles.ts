import type { EventStore } from '../../adapters/eventstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import { customRoleGrant, grantWithin, isSystemRole, systemRoleNames, systemRoles, type SystemRoleName } from '../../domain/identity/permissions.js';
import { customRoleDecider, customRoleStream, roleNameStream, type CustomRoleCommand, type LiveCustomRole } from '../../domain/identity/role.js';
import { handleCommand } from '../shared/handle-command.js';
import { newId } from '../shared/ids.js';
import type { TaskWorkContext } from '../tasks/tasks.js';
import { loadCustomRole, type Principal } from './principal.js';
import { reserveName } from './user-lookup.js';

export interface RoleDeps {
  store: EventStore;
  clock: Clock;
}

export interface RoleView {
  id: string;
  name: string;
  system: boolean;
  description: string;
  /** For custom roles: the system role they lie within. */
  rootRole: SystemRoleName | null;
  permissions: string[];
  /** Patterns excluded from `permissions` (a platform admin's exceptions, inherited by its custom roles). */
  exceptions: string[];
  zoneScoped: boolean;
}

export function systemRoleViews(): RoleView[] {
  return systemRoleNames.map((name) => ({
    id: name,
    name,
    system: true,
    description: systemRoles[name].description,
    rootRole: null,
    permissions: [...systemRoles[name].allow],
    exceptions: [...systemRoles[name].deny],
    zoneScoped: systemRoles[name].zoneScoped,
  }));
}

export function customRoleView(role: LiveCustomRole): RoleView {
  return {
    id: role.roleId,
    name: role.name,
    system: false,
    description: role.description,
    rootRole: role.rootRole,
    permissions: role.permissions,
    exceptions: [...systemRoles[role.rootRole].deny],
    zoneScoped: systemRoles[role.rootRole].zoneScoped,
  };
}

/** Nobody creates, widens or removes a role that allows more than they hold. */
function assertHolds(actor: Principal, roleId: string, rootRole: SystemRoleName, permissions: readonly string[]) {
  const grant = customRoleGrant(roleId, rootRole, permissions);
  if (!grantWithin(grant, actor.grants)) {
    throw new DomainError('FORBIDDEN', 'you cannot define a role that allows more than you hold', 'forbidden');
  }
  if (actor.zoneScope !== 'all' && !grant.zoneScoped) {
    throw new DomainError('FORBIDDEN', 'your powers are limited to your zones: you can only define zone-scoped roles', 'forbidden');
  }
}

export async function createCustomRole(
  deps: RoleDeps,
  actor: Principal,
  task: TaskWorkContext,
  input: { name: string; description?: string; rootRole: string; permissions: string[] },
): Promise<RoleView> {
  if (isSystemRole(input.name.toLowerCase())) {
    throw new DomainError('ROLE_NAME_TAKEN', `${input.name} is a system role`, 'conflict', { fields: [{ field: 'name', message: 'is a system role' }] });
  }
  const roleId = newId();
  // Validates the permissions and the root before anything is reserved.
  const [created] = customRoleDecider.decide({ type: 'CreateCustomRole', roleId, name: input.name, description: input.description ?? '', rootRole: input.rootRole, permissions: input.permissions, now: deps.clock.now() }, customRoleDecider.initialState);
  if (created?.type !== 'CustomRoleCreated') throw new Error('unreachable');
  assertHolds(actor, roleId, created.data.rootRole, created.data.permissions);
  await reserveName(deps.store, roleNameStream(input.name), { type: 'RoleNameReserved', data: { name: input.name, roleId } }, 'RoleNameReleased', task.metadata,
    () => new DomainError('ROLE_NAME_TAKEN', `a role named ${input.name} exists`, 'conflict', { fields: [{ field: 'name', message: 'is taken' }] }));
  const outcome = await handleCommand(deps.store, customRoleDecider, customRoleStream(roleId), {
    type: 'CreateCustomRole', roleId, name: input.name, description: input.description ?? '', rootRole: input.rootRole, permissions: input.permissions, now: deps.clock.now(),
  }, task.metadata);
  return customRoleView(outcome.state as LiveCustomRole);
}

async function existingCustomRole(store: EventStore, roleId: string): Promise<LiveCustomRole> {
  if (isSystemRole(roleId)) throw new DomainError('SYSTEM_ROLE', `${roleId} is a system role: it cannot be changed or deleted`, 'conflict');
  const role = await loadCustomRole(store, roleId);
  if (!role) throw new DomainError('ROLE_NOT_FOUND', `no role ${roleId}`, 'not_found');
  return role;
}

export async function changeCustomRole(
  deps: RoleDeps,
  actor: Principal,
  task: TaskWorkContext,
  roleId: string,
  input: { description?: string; permissions?: string[] },
): Promise<RoleView> {
  const role = await existingCustomRole(deps.store, roleId);
  assertHolds(actor, roleId, role.rootRole, role.permissions);
  if (input.permissions) assertHolds(actor, roleId, role.rootRole, input.permissions);
  const command: Extract<CustomRoleCommand, { type: 'ChangeCustomRole' }> = { type: 'ChangeCustomRole', now: deps.clock.now() };
  if (input.description !== undefined) command.description = input.description;
  if (input.permissions !== undefined) command.permissions = input.permissions;
  const outcome = await handleCommand(deps.store, customRoleDecider, customRoleStream(roleId), command, task.metadata);
  return customRoleView(outcome.state as LiveCustomRole);
}

/** Deletes a role; its holders lose what it granted at once (reference/002: "users unbind the role"). */
export async function deleteCustomRole(deps: RoleDeps, actor: Principal, task: TaskWorkContext, roleId: string): Promise<void> {
  const role = await existingCustomRole(deps.store, roleId);
  assertHolds(actor, roleId, role.rootRole, role.permissions);
  await handleCommand(deps.store, customRoleDecider, customRoleStream(roleId), { type: 'DeleteCustomRole', now: deps.clock.now() }, task.metadata);
  await deps.store.append(roleNameStream(role.name), [{ type: 'RoleNameReleased', data: { name: role.name, roleId }, metadata: task.metadata }], 'any');
}
