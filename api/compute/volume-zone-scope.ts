import type { Request, Response } from 'express';
import type { Doc, Filter, ReadStore } from '../../adapters/readstore/port.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import type { Zones } from '../../domain/identity/permissions.js';
import { hostsCollection } from '../../projections/compute/hosts.js';
import { primaryStoragesCollection } from '../../projections/compute/primary-storages.js';
import { volumesCollection } from '../../projections/compute/volumes.js';
import { assertZoneWritable, isZoneScoped, zoneInScope, zoneScopeOfRequest } from '../shared/zone-scope.js';

// Zone scoping of /v1/volumes (api/shared/zone-scope.ts says why). A volume is in the zone
// of its primary storage, or of its host once it is instantiated. A data volume created
// without a primary storage and never attached is in no zone yet: every principal sees it
// (it lands in a zone when attached to a VM, which is zone-checked). A root volume not yet
// placed is shown with its VM only once placed.

const allIds = { limit: 100_000 };

async function idsInZones(readStore: ReadStore, collection: string, zones: readonly string[]): Promise<string[]> {
  return (await readStore.find(collection, { zoneId: { $in: [...zones] } }, allIds)).map((doc) => doc.id);
}

/** The zone a volume document is in, if it is in one yet. */
export async function zoneOfVolume(readStore: ReadStore, doc: Doc): Promise<string | undefined> {
  for (const [field, collection] of [['primaryStorageId', primaryStoragesCollection], ['hostId', hostsCollection]] as const) {
    const id = doc[field];
    if (typeof id !== 'string') continue;
    const zoneId = (await readStore.get(collection, id))?.zoneId;
    if (typeof zoneId === 'string') return zoneId;
  }
  return undefined;
}

const zoneless = (doc: Doc) => doc.type === 'Data' && typeof doc.primaryStorageId !== 'string' && typeof doc.hostId !== 'string';

export function volumeZoneScope(deps: { readStore: ReadStore; tasks: Tasks }) {
  const admits = async (scope: Zones, doc: Doc) => scope === 'all' || zoneless(doc) || zoneInScope(scope, await zoneOfVolume(deps.readStore, doc));
  return {
    /** The list condition: on the principal's zones' storage or hosts, or in no zone yet. */
    async listScope(res: Response, permission: string): Promise<Filter> {
      const scope = zoneScopeOfRequest(res, permission);
      if (scope === 'all') return {};
      return {
        $or: [
          { primaryStorageId: { $in: await idsInZones(deps.readStore, primaryStoragesCollection, scope) } },
          { hostId: { $in: await idsInZones(deps.readStore, hostsCollection, scope) } },
          { type: 'Data', primaryStorageId: null, hostId: null },
        ],
      };
    },
    admits: (res: Response, permission: string, doc: Doc) => admits(zoneScopeOfRequest(res, permission), doc),

    /** A command on a volume of another zone: 403, audited (an unknown volume is left to the command). */
    async assertWritable(req: Request, res: Response, permission: string, spec: { action: string; id: string }): Promise<void> {
      if (!isZoneScoped(res, permission)) return;
      const doc = await deps.readStore.get(volumesCollection, spec.id);
      if (!doc || zoneless(doc)) return;
      await assertZoneWritable(deps, req, res, {
        permission, zoneId: await zoneOfVolume(deps.readStore, doc), action: spec.action, resourceType: 'volume', resourceIds: [spec.id],
      });
    },
  };
}
