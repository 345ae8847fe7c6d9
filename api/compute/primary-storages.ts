import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import { addPrimaryStorage } from '../../commands/compute/inventory.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { primaryStorageTypes } from '../../domain/compute/primary-storage.js';
import { primaryStorageFields, primaryStoragesCollection } from '../../projections/compute/primary-storages.js';
import { endpoint, type Endpoint } from '../shared/endpoint.js';
import { assertZoneWritable } from '../shared/zone-scope.js';
import { listAndDetailEndpoints, runQuickTask, type ReadDeps } from './resources.js';
import { createdSchema, descriptionSchema, nameSchema } from './zones.js';

const addBody = z.strictObject({
  zoneId: z.string().min(1),
  name: nameSchema,
  description: descriptionSchema,
  type: z.enum(primaryStorageTypes),
  url: z.string().min(1).max(1024),
  totalCapacityBytes: z.number().int().positive(),
});

export function primaryStorageEndpoints(deps: ReadDeps & { eventStore: EventStore; clock: Clock; tasks: Tasks }): Endpoint[] {
  const store = { store: deps.eventStore, clock: deps.clock };
  return [
    endpoint({
      method: 'post',
      path: '/v1/primary-storages',
      tag: 'primary-storages',
      summary: 'Add a primary storage (where volumes live) to a zone',
      permission: 'primary-storage:create',
      body: addBody,
      responses: { 201: { description: 'Added', schema: createdSchema } },
      async handle({ req, res, body }) {
        await assertZoneWritable(deps, req, res, { permission: 'primary-storage:create', zoneId: body.zoneId, action: 'AddPrimaryStorage', resourceType: 'primary-storage' });
        await runQuickTask(req, res, deps.tasks, { action: 'AddPrimaryStorage', resourceType: 'primary-storage', request: body },
          (metadata) => addPrimaryStorage(store, body, metadata), 201);
      },
    }),
    ...listAndDetailEndpoints(deps, {
      path: '/v1/primary-storages', tag: 'primary-storages', resource: 'primary-storage', collection: primaryStoragesCollection, fields: primaryStorageFields, zoneField: 'zoneId',
    }),
  ];
}
