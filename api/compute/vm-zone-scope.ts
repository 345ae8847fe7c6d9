import type { Request, Response } from 'express';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { Doc, Filter } from '../../adapters/readstore/port.js';
import { networksZone, zoneOfVm } from '../../commands/compute/zone-of.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import {
  assertZoneReadable, assertZoneWritable, isZoneScoped, permissionOfRequest, zoneListScope,
} from '../shared/zone-scope.js';

// Zone scoping of /v1/vm-instances (api/shared/zone-scope.ts says why). A VM is in the zone
// of its L3 networks: its document shows that zone once it is placed, and its stream knows
// it from the start (recorded at create for a zone-scoped principal, who thus never has a
// VM without a zone).

export function vmZoneScope(deps: { eventStore: EventStore; tasks: Tasks }) {
  return {
    /** The list condition of `vm:list`. */
    listScope: (res: Response): Filter => zoneListScope(res, 'vm:list'),

    /** A VM of another zone is not found. */
    async assertReadable(res: Response, doc: Doc, notFound: { code: string; detail: string }): Promise<void> {
      if (!isZoneScoped(res, 'vm:read')) return;
      const zoneId = typeof doc.zoneId === 'string' ? doc.zoneId : await zoneOfVm(deps.eventStore, doc.id);
      assertZoneReadable(res, 'vm:read', zoneId, notFound);
    },

    /** A command on a VM of another zone: 403, audited (an unknown VM is left to the command). */
    async assertWritable(req: Request, res: Response, spec: { action: string; resourceIds?: string[] }): Promise<void> {
      const permission = permissionOfRequest(res);
      if (!isZoneScoped(res, permission)) return;
      for (const vmId of spec.resourceIds ?? []) {
        const zoneId = await zoneOfVm(deps.eventStore, vmId);
        if (zoneId !== undefined) await assertZoneWritable(deps, req, res, { permission, zoneId, action: spec.action, resourceType: 'vm', resourceIds: [vmId] });
      }
    },

    /**
     * A create in a zone outside the principal's is refused; a create that names no zone is
     * recorded in its networks' zone, so it is placed there (and listed there at once).
     */
    async prepareCreate(req: Request, res: Response, body: { l3NetworkIds: string[]; zoneId?: string }, vmId: string): Promise<void> {
      if (!isZoneScoped(res, 'vm:create')) return;
      const write = { permission: 'vm:create', action: 'CreateVmInstance', resourceType: 'vm', resourceIds: [vmId] };
      if (body.zoneId !== undefined) await assertZoneWritable(deps, req, res, { ...write, zoneId: body.zoneId });
      const zoneId = await networksZone(deps.eventStore, body.l3NetworkIds);
      if (zoneId === undefined) return; // the create itself reports networks that do not resolve
      await assertZoneWritable(deps, req, res, { ...write, zoneId });
      body.zoneId ??= zoneId;
    },
  };
}
