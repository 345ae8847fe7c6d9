import type { Actor, EventStore } from '../../adapters/eventstore/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import {
  allows, customRoleGrant, grantWithin, isSystemRole, overallZoneScope, systemGrant, zonesWithin, zoneScopeFor,
  type Grant, type Zones,
} from '../../domain/identity/permissions.js';
import { customRoleDecider, customRoleStream, roleNameStream, type LiveCustomRole } from '../../domain/identity/role.js';
import type { LiveUser } from '../../domain/identity/user.js';
import type { LiveProject } from '../../domain/tenancy/project.js';
import { loadAggregate } from '../shared/handle-command.js';

/** What an authenticated request acts as. */
export interface Principal {
  /** Who the audit log names: the user, or the access key (kind `accessKey`) that signed the request. */
  actor: Actor;
  userId: string;
  username: string;
  /** Set for a bearer-token session. */
  sessionId?: string;
  /** Set for a request signed with an access key. */
  accessKeyId?: string;
  /** Role references as the user holds them: system role names and custom role ids. */
  roles: string[];
  /** The roles resolved to what they grant; empty for a session restricted to enrolment. */
  grants: Grant[];
  /** Zones assigned to the user (for zone-scoped roles such as platform-admin). */
  zones: Zones;
  /**
   * The zones this principal's zone-scoped powers reach ('all' unless it holds only
   * zone-scoped roles). For one permission precisely, use `zoneScopeOf(principal, permission)`.
   */
  zoneScope: Zones;
  /** A session that may only enrol in two-factor authentication. */
  restriction?: 'totp-enrollment';
  /**
   * A project session (tenancy): it acts with the project role's grants only, and every
   * query and command is scoped to this project.
   */
  project?: {
    projectId: string;
    role: string;
    /** The project as this request's authentication read it: the request reads its project's stream once. */
    loaded?: { state: LiveProject; version: number };
  };
}

export const principalAllows = (principal: Pick<Principal, 'grants'>, permission: string) => allows(principal.grants, permission);

/** Where `permission` applies for this principal: 'all', the listed zones, or nowhere ([]). */
export const zoneScopeOf = (principal: Pick<Principal, 'grants' | 'zones'>, permission: string) => zoneScopeFor(principal.grants, principal.zones, permission);

export async function loadCustomRole(store: EventStore, roleId: string): Promise<LiveCustomRole | undefined> {
  if (!/^[0-9a-f-]{36}$/.test(roleId)) return undefined;
  const { state } = await loadAggregate(store, customRoleDecider, customRoleStream(roleId));
  return state.exists && !state.deleted ? state : undefined;
}

/** The custom role a name belongs to (its reservation stream holds the id). */
export async function findCustomRoleIdByName(store: EventStore, name: string): Promise<string | undefined> {
  const events = await store.readStream(roleNameStream(name));
  const last = events[events.length - 1];
  return last?.type === 'RoleNameReserved' ? (last.data as { roleId: string }).roleId : undefined;
}

/** What role references grant. A deleted custom role grants nothing (its holders lose it). */
export async function resolveGrants(store: EventStore, roles: readonly string[]): Promise<Grant[]> {
  const grants: Grant[] = [];
  for (const role of roles) {
    if (isSystemRole(role)) {
      grants.push(systemGrant(role));
      continue;
    }
    const custom = await loadCustomRole(store, role);
    if (custom) grants.push(customRoleGrant(custom.roleId, custom.rootRole, custom.permissions));
  }
  return grants;
}

export async function principalOf(
  store: EventStore,
  user: LiveUser,
  how: { actor: Actor; sessionId?: string; accessKeyId?: string; restriction?: 'totp-enrollment' },
): Promise<Principal> {
  const grants = how.restriction ? [] : await resolveGrants(store, user.roles);
  const principal: Principal = {
    actor: how.actor,
    userId: user.userId,
    username: user.username,
    roles: user.roles,
    grants,
    zones: user.zones,
    zoneScope: overallZoneScope(grants, user.zones),
  };
  if (how.sessionId) principal.sessionId = how.sessionId;
  if (how.accessKeyId) principal.accessKeyId = how.accessKeyId;
  if (how.restriction) principal.restriction = how.restriction;
  return principal;
}

/**
 * Role references as a client gives them (system role names, custom role ids or names) →
 * as stored (system names and custom ids), each checked to exist.
 */
export async function resolveRoleReferences(store: EventStore, references: readonly string[]): Promise<string[]> {
  const resolved: string[] = [];
  const problems: Array<{ field: string; message: string }> = [];
  for (const [index, reference] of references.entries()) {
    if (isSystemRole(reference)) {
      resolved.push(reference);
      continue;
    }
    const byId = await loadCustomRole(store, reference);
    if (byId) {
      resolved.push(byId.roleId);
      continue;
    }
    const idOfName = await findCustomRoleIdByName(store, reference);
    if (idOfName && (await loadCustomRole(store, idOfName))) resolved.push(idOfName);
    else problems.push({ field: `roles.${index}`, message: `no role ${reference}` });
  }
  if (problems.length > 0) throw new DomainError('ROLE_NOT_FOUND', 'some roles do not exist', 'invalid', { fields: problems });
  return [...new Set(resolved)];
}

const denied = (message: string) => new DomainError('FORBIDDEN', message, 'forbidden');

/**
 * Nobody grants what they do not hold: every role given must lie within the grantor's own
 * grants, and zone-scoped roles only within the grantor's own zones. A grantor whose powers
 * are zone-scoped can only hand out zone-scoped roles.
 */
export async function assertMayGrant(store: EventStore, grantor: Principal, roles: readonly string[], zones: Zones): Promise<void> {
  const grants = await resolveGrants(store, roles);
  for (const grant of grants) {
    if (!grantWithin(grant, grantor.grants)) throw denied(`you cannot grant role ${grant.role}: it allows more than you hold`);
    if (grantor.zoneScope !== 'all' && !grant.zoneScoped) throw denied(`your powers are limited to your zones: you cannot grant role ${grant.role}, which is not zone-scoped`);
  }
  if (grants.some((grant) => grant.zoneScoped) && !zonesWithin(zones, grantor.zoneScope)) {
    throw denied('you cannot assign zones outside your own');
  }
}

/**
 * Acting on a user (changing, disabling, resetting, revoking) is acting with their powers:
 * allowed only on users who hold nothing the actor does not.
 */
export async function assertMayManage(store: EventStore, actor: Principal, target: LiveUser): Promise<void> {
  const grants = await resolveGrants(store, target.roles);
  const beyond = grants.find((grant) => !grantWithin(grant, actor.grants));
  if (beyond) throw denied(`user ${target.username} holds role ${beyond.role}, which allows more than you hold`);
  if (grants.some((grant) => grant.zoneScoped) && !zonesWithin(target.zones, actor.zoneScope)) {
    throw denied(`user ${target.username} is assigned zones outside yours`);
  }
  if (actor.zoneScope !== 'all' && grants.some((grant) => !grant.zoneScoped)) {
    throw denied(`user ${target.username} holds roles beyond your zones`);
  }
}
