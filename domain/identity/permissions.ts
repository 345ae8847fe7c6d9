// Permissions name an action on a resource type (`audit:read`, `setting:update` …), one per
// command and query. Roles grant them; the identity issue adds custom roles and scopes.

/** Granted to every signed-in user: acting on their own session and tasks. */
const everyUser = new Set(['session:logout', 'task:read', 'task:list']);

export const systemRoles = ['admin'] as const;

export function roleAllows(roles: readonly string[], permission: string): boolean {
  if (roles.includes('admin')) return true;
  return everyUser.has(permission);
}

export const isAdmin = (roles: readonly string[]) => roles.includes('admin');
