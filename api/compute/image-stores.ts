import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import { addImageStore } from '../../commands/compute/inventory.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { imageStoreFields, imageStoresCollection } from '../../projections/compute/image-stores.js';
import { endpoint, type Endpoint } from '../shared/endpoint.js';
import { assertZoneWritable } from '../shared/zone-scope.js';
import { listAndDetailEndpoints, runQuickTask, type ReadDeps } from './resources.js';
import { createdSchema, descriptionSchema, nameSchema } from './zones.js';

const addBody = z.strictObject({
  zoneId: z.string().min(1),
  name: nameSchema,
  description: descriptionSchema,
  url: z.string().min(1).max(1024),
  totalCapacityBytes: z.number().int().positive().optional(),
});

export function imageStoreEndpoints(deps: ReadDeps & { eventStore: EventStore; clock: Clock; tasks: Tasks }): Endpoint[] {
  const store = { store: deps.eventStore, clock: deps.clock };
  return [
    endpoint({
      method: 'post',
      path: '/v1/image-stores',
      tag: 'image-stores',
      summary: 'Add an image store (where images are kept) to a zone',
      permission: 'image-store:create',
      body: addBody,
      responses: { 201: { description: 'Added', schema: createdSchema } },
      async handle({ req, res, body }) {
        await assertZoneWritable(deps, req, res, { permission: 'image-store:create', zoneId: body.zoneId, action: 'AddImageStore', resourceType: 'image-store' });
        await runQuickTask(req, res, deps.tasks, { action: 'AddImageStore', resourceType: 'image-store', request: body },
          (metadata) => addImageStore(store, body, metadata), 201);
      },
    }),
    ...listAndDetailEndpoints(deps, { path: '/v1/image-stores', tag: 'image-stores', resource: 'image-store', collection: imageStoresCollection, fields: imageStoreFields, zoneField: 'zoneId' }),
  ];
}
