import type { Request, Response } from 'express';
import type { Filter, ReadStore } from '../../adapters/readstore/port.js';
import { zoneScopeOf } from '../../commands/identity/principal.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import type { Zones } from '../../domain/identity/permissions.js';
import { localsOf, requestContextOf } from './endpoint.js';
import { ProblemError } from './problem.js';

// Zone scoping (reference/002: a platform admin manages the resources of its assigned zones
// only). A principal whose permission comes only from a zone-scoped role sees, and acts on,
// resources of its zones: lists are filtered, a detail outside them is not found (its
// existence is not told), a write on one or a create in one is refused 403 and audited like
// every other denial. A principal holding the permission everywhere ('all') is not narrowed.

/** Where the request's principal holds `permission`: 'all', or these zones. */
export function zoneScopeOfRequest(res: Response, permission: string): Zones {
  const principal = localsOf(res).principal;
  return principal ? zoneScopeOf(principal, permission) : 'all';
}

export const zoneInScope = (scope: Zones, zoneId: unknown): boolean =>
  scope === 'all' || (typeof zoneId === 'string' && scope.includes(zoneId));

/** The list condition a zone-scoped principal may not lift (`field` holds the zone id). */
export function zoneListScope(res: Response, permission: string, field = 'zoneId'): Filter {
  const scope = zoneScopeOfRequest(res, permission);
  return scope === 'all' ? {} : { [field]: { $in: [...scope] } };
}

/** Both conditions (tenancy's and the zones'), skipping empty ones. */
export function bothScopes(a: Filter, b: Filter): Filter {
  if (Object.keys(a).length === 0) return b;
  if (Object.keys(b).length === 0) return a;
  return { $and: [a, b] };
}

/** A read of a resource outside the principal's zones: not found. */
export function assertZoneReadable(res: Response, permission: string, zoneId: unknown, notFound: { code: string; detail: string }): void {
  if (!zoneInScope(zoneScopeOfRequest(res, permission), zoneId)) throw new ProblemError(404, notFound.code, notFound.detail);
}

export interface ZoneWrite {
  permission: string;
  /** The zone the write acts in (an existing resource's, or the one a create names). */
  zoneId: unknown;
  /** What the audit entry names. */
  action: string;
  resourceType: string;
  resourceIds?: string[];
}

/** A write in a zone outside the principal's: 403 FORBIDDEN, recorded as a refused task (audited). */
export async function assertZoneWritable(deps: { tasks: Tasks }, req: Request, res: Response, write: ZoneWrite): Promise<void> {
  const scope = zoneScopeOfRequest(res, write.permission);
  if (zoneInScope(scope, write.zoneId)) return;
  const message = `permission ${write.permission} is limited to your zones: ${typeof write.zoneId === 'string' ? `zone ${write.zoneId} is` : 'this resource is'} not one of them`;
  await deps.tasks.refuse(
    { ...requestContextOf(req, res), idempotencyKey: undefined },
    { action: write.action, resourceType: write.resourceType, resourceIds: write.resourceIds ?? [], request: { method: req.method, path: req.path } },
    { code: 'FORBIDDEN', message, kind: 'forbidden' },
  );
  throw new ProblemError(403, 'FORBIDDEN', message);
}

/**
 * The zone of an existing resource from its read model (zones never change, so a lagging read
 * model only misses resources just created: clients pass `?after=`). Undefined if unknown.
 */
export async function zoneOfDocument(readStore: ReadStore, collection: string, id: string, field = 'zoneId'): Promise<string | undefined> {
  const doc = await readStore.get(collection, id);
  const zoneId = doc?.[field];
  return typeof zoneId === 'string' ? zoneId : undefined;
}

/** The permission the endpoint serving this request requires. */
export const permissionOfRequest = (res: Response): string => localsOf(res).permission ?? '';

/** Whether the request's principal is narrowed to zones for `permission` (skip lookups otherwise). */
export const isZoneScoped = (res: Response, permission: string) => zoneScopeOfRequest(res, permission) !== 'all';
