import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import { createZone } from '../../commands/compute/inventory.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { zoneFields, zonesCollection } from '../../projections/compute/zones.js';
import { endpoint, type Endpoint } from '../shared/endpoint.js';
import { listAndDetailEndpoints, runQuickTask, type ReadDeps } from './resources.js';

export const nameSchema = z.string().trim().min(1).max(255);
export const descriptionSchema = z.string().max(2000).optional();
export const createdSchema = z.object({ id: z.string(), taskId: z.string() });

const createZoneBody = z.strictObject({ name: nameSchema, description: descriptionSchema });

export function zoneEndpoints(deps: ReadDeps & { eventStore: EventStore; clock: Clock; tasks: Tasks }): Endpoint[] {
  const store = { store: deps.eventStore, clock: deps.clock };
  return [
    endpoint({
      method: 'post',
      path: '/v1/zones',
      tag: 'zones',
      summary: 'Create a zone',
      permission: 'zone:create',
      body: createZoneBody,
      responses: { 201: { description: 'Created', schema: createdSchema } },
      async handle({ req, res, body }) {
        await runQuickTask(req, res, deps.tasks, { action: 'CreateZone', resourceType: 'zone', request: body },
          (metadata) => createZone(store, body, metadata), 201);
      },
    }),
    ...listAndDetailEndpoints(deps, { path: '/v1/zones', tag: 'zones', resource: 'zone', collection: zonesCollection, fields: zoneFields, zoneField: 'id' }),
  ];
}
