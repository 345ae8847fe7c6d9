// Permissions name an action on a resource type: `<resource>:<action>` (`vm:create`,
// `audit:read`, `l3-network:delete` …), one per command and query. Nothing here lists them:
// a context introduces a permission by naming it in `endpoint({permission})`, and the
// system roles below cover it through their patterns. A pattern segment `*` matches any
// resource or any action (`*:read`, `vm:*`, `*:*`).
//
// A role is a grant: patterns it allows, minus patterns it denies, and whether what it grants
// applies only in the zones assigned to the user (platform admins, ZStack's platform roles).

export interface Grant {
  /** The role this grant comes from: a system role name or a custom role id. */
  role: string;
  allow: readonly string[];
  deny: readonly string[];
  /** What this grant allows applies only in the user's assigned zones. */
  zoneScoped: boolean;
}

/** `resource:action`, each segment a name or `*`. Names allow camelCase and kebab-case. */
export const permissionPattern = /^(\*|[a-z][a-zA-Z0-9-]*):(\*|[a-z][a-zA-Z0-9-]*)$/;

export const isPermissionPattern = (text: string) => permissionPattern.test(text);

/**
 * Granted to every signed-in user whatever their roles: acting on their own session, tasks and
 * profile (own password, own two-factor enrolment). A session that must first enrol in
 * two-factor authentication holds exactly these.
 */
export const everyUserPermissions: readonly string[] = ['session:logout', 'task:read', 'task:list', 'profile:read', 'profile:update'];
const everyUser = new Set(everyUserPermissions);

export const systemRoleNames = ['admin', 'platform-admin', 'auditor', 'read-only'] as const;
export type SystemRoleName = (typeof systemRoleNames)[number];

/**
 * What a platform admin may not do (reference/002, "Differences in Permissions of Platform
 * Roles"): create or delete zones, ticket management (tickets and their approval), and
 * certificate management.
 */
export const platformAdminExceptions: readonly string[] = ['zone:create', 'zone:delete', 'ticket:*', 'certificate:*'];

export const systemRoles: Readonly<Record<SystemRoleName, Grant & { description: string }>> = {
  admin: {
    role: 'admin',
    description: 'Super administrator: every permission, in every zone.',
    allow: ['*:*'],
    deny: [],
    zoneScoped: false,
  },
  'platform-admin': {
    role: 'platform-admin',
    description: 'Every permission of admin in the zones assigned to the user, except creating and deleting zones, tickets and certificates.',
    allow: ['*:*'],
    deny: platformAdminExceptions,
    zoneScoped: true,
  },
  auditor: {
    role: 'auditor',
    description: 'Reads the audit log and nothing else (besides its own session and tasks).',
    allow: ['audit:read'],
    deny: [],
    zoneScoped: false,
  },
  'read-only': {
    role: 'read-only',
    description: 'Reads and lists everything; changes nothing.',
    allow: ['*:read', '*:list'],
    deny: [],
    zoneScoped: false,
  },
};

export const isSystemRole = (role: string): role is SystemRoleName => (systemRoleNames as readonly string[]).includes(role);

function segments(pattern: string): [string, string] {
  const index = pattern.indexOf(':');
  return index < 0 ? [pattern, ''] : [pattern.slice(0, index), pattern.slice(index + 1)];
}

const segmentCovers = (outer: string, inner: string) => outer === '*' || outer === inner;
const segmentsMeet = (a: string, b: string) => a === '*' || b === '*' || a === b;
const narrower = (a: string, b: string) => (a === '*' ? b : a);

/** Every permission `inner` matches, `outer` matches too. */
export function patternCovers(outer: string, inner: string): boolean {
  const [outerResource, outerAction] = segments(outer);
  const [innerResource, innerAction] = segments(inner);
  return segmentCovers(outerResource, innerResource) && segmentCovers(outerAction, innerAction);
}

/** Some permission matches both patterns. */
export function patternsMeet(a: string, b: string): boolean {
  const [aResource, aAction] = segments(a);
  const [bResource, bAction] = segments(b);
  return segmentsMeet(aResource, bResource) && segmentsMeet(aAction, bAction);
}

/** The pattern matching exactly what both match (only meaningful when they meet). */
function intersection(a: string, b: string): string {
  const [aResource, aAction] = segments(a);
  const [bResource, bAction] = segments(b);
  return `${narrower(aResource, bResource)}:${narrower(aAction, bAction)}`;
}

/** The grant allows every permission `pattern` matches (a concrete permission is a pattern too). */
export function grantCovers(grant: Grant, pattern: string, except: readonly string[] = []): boolean {
  if (!grant.allow.some((allowed) => patternCovers(allowed, pattern))) return false;
  // A denied part of `pattern` is fine only where `except` removes it from what is asked anyway.
  return grant.deny.every((denied) => !patternsMeet(denied, pattern)
    || except.some((excepted) => patternCovers(excepted, intersection(denied, pattern))));
}

/** Whether holders of `grants` (and every signed-in user) may do `permission`. */
export function allows(grants: readonly Grant[], permission: string): boolean {
  return everyUser.has(permission) || grants.some((grant) => grantCovers(grant, permission));
}

/**
 * Whether everything `inner` grants is held by someone holding `holder` — "nobody can grant
 * what they do not hold". Checked pattern by pattern against single grants of the holder:
 * conservative (a permission covered only by the union of two of the holder's roles is
 * refused), never permissive.
 */
export function grantWithin(inner: Grant, holder: readonly Grant[]): boolean {
  if (holder.some((grant) => grant.role === inner.role)) return true;
  return inner.allow.every((pattern) => holder.some((grant) => grantCovers(grant, pattern, inner.deny)));
}

/** A system role's grant; custom roles are resolved by the command layer. */
export function systemGrant(role: SystemRoleName): Grant {
  const { description: _description, ...grant } = systemRoles[role];
  return grant;
}

/** The grant of a custom role: its permissions, within its root role, which it inherits the exceptions and zone scope of. */
export function customRoleGrant(roleId: string, rootRole: SystemRoleName, permissions: readonly string[]): Grant {
  const root = systemRoles[rootRole];
  return { role: roleId, allow: permissions, deny: root.deny, zoneScoped: root.zoneScoped };
}

/** Permissions of a custom role that its root role does not grant. */
export function permissionsBeyondRoot(rootRole: SystemRoleName, permissions: readonly string[]): string[] {
  const root = systemGrant(rootRole);
  return permissions.filter((permission) => !root.allow.some((allowed) => patternCovers(allowed, permission)));
}

/** Zones a user is assigned: every zone, or these. */
export type Zones = 'all' | readonly string[];

/**
 * Where `permission` applies for holders of `grants` assigned `zones`: everywhere if a grant
 * that is not zone-scoped allows it, the assigned zones if only zone-scoped grants do, nowhere
 * (an empty list) if none does.
 */
export function zoneScopeFor(grants: readonly Grant[], zones: Zones, permission: string): Zones {
  if (everyUser.has(permission)) return 'all';
  const granting = grants.filter((grant) => grantCovers(grant, permission));
  if (granting.some((grant) => !grant.zoneScoped)) return 'all';
  return granting.length > 0 ? zones : [];
}

/** The zones a principal's zone-scoped powers reach: 'all' unless it holds only zone-scoped roles beyond reading. */
export function overallZoneScope(grants: readonly Grant[], zones: Zones): Zones {
  if (!grants.some((grant) => grant.zoneScoped)) return 'all';
  if (grants.some((grant) => !grant.zoneScoped && grant.allow.includes('*:*') && grant.deny.length === 0)) return 'all';
  return zones;
}

export function zonesWithin(inner: Zones, outer: Zones): boolean {
  if (outer === 'all') return true;
  if (inner === 'all') return false;
  return inner.every((zone) => outer.includes(zone));
}

/** For callers that know only system role names (kept for code written before custom roles). */
export function roleAllows(roles: readonly string[], permission: string): boolean {
  return allows(roles.filter(isSystemRole).map(systemGrant), permission);
}

export const isAdmin = (roles: readonly string[]) => roles.includes('admin');
