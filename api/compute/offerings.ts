import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import { createDiskOffering, createInstanceOffering, deleteDiskOffering, deleteInstanceOffering } from '../../commands/compute/inventory.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { diskOfferingFields, diskOfferingsCollection, instanceOfferingFields, instanceOfferingsCollection } from '../../projections/compute/offerings.js';
import { endpoint, type Endpoint } from '../shared/endpoint.js';
import { listAndDetailEndpoints, runQuickTask, type ReadDeps } from './resources.js';
import { createdSchema, descriptionSchema, nameSchema } from './zones.js';

const instanceOfferingBody = z.strictObject({
  name: nameSchema,
  description: descriptionSchema,
  cpuCount: z.number().int().positive().max(1024),
  memoryBytes: z.number().int().positive(),
});

const diskOfferingBody = z.strictObject({ name: nameSchema, description: descriptionSchema, sizeBytes: z.number().int().positive() });

const deletedSchema = z.object({ id: z.string(), taskId: z.string() });

export function offeringEndpoints(deps: ReadDeps & { eventStore: EventStore; clock: Clock; tasks: Tasks }): Endpoint[] {
  const store = { store: deps.eventStore, clock: deps.clock };
  return [
    endpoint({
      method: 'post',
      path: '/v1/instance-offerings',
      tag: 'offerings',
      summary: 'Create an instance offering (vCPUs and memory of a VM)',
      permission: 'instance-offering:create',
      body: instanceOfferingBody,
      responses: { 201: { description: 'Created', schema: createdSchema } },
      async handle({ req, res, body }) {
        await runQuickTask(req, res, deps.tasks, { action: 'CreateInstanceOffering', resourceType: 'instance-offering', request: body },
          (metadata) => createInstanceOffering(store, body, metadata), 201);
      },
    }),
    ...listAndDetailEndpoints(deps, {
      path: '/v1/instance-offerings', tag: 'offerings', resource: 'instance-offering', collection: instanceOfferingsCollection, fields: instanceOfferingFields,
    }),
    endpoint({
      method: 'delete',
      path: '/v1/instance-offerings/:id',
      tag: 'offerings',
      summary: 'Delete an instance offering (VMs created from it keep their size)',
      permission: 'instance-offering:delete',
      responses: { 200: { description: 'Deleted', schema: deletedSchema } },
      async handle({ req, res, params }) {
        const id = params.id!;
        await runQuickTask(req, res, deps.tasks, { action: 'DeleteInstanceOffering', resourceType: 'instance-offering', resourceIds: [id], request: { id } },
          (metadata) => deleteInstanceOffering(store, id, metadata));
      },
    }),
    endpoint({
      method: 'post',
      path: '/v1/disk-offerings',
      tag: 'offerings',
      summary: 'Create a disk offering (size of a data volume)',
      permission: 'disk-offering:create',
      body: diskOfferingBody,
      responses: { 201: { description: 'Created', schema: createdSchema } },
      async handle({ req, res, body }) {
        await runQuickTask(req, res, deps.tasks, { action: 'CreateDiskOffering', resourceType: 'disk-offering', request: body },
          (metadata) => createDiskOffering(store, body, metadata), 201);
      },
    }),
    ...listAndDetailEndpoints(deps, { path: '/v1/disk-offerings', tag: 'offerings', resource: 'disk-offering', collection: diskOfferingsCollection, fields: diskOfferingFields }),
    endpoint({
      method: 'delete',
      path: '/v1/disk-offerings/:id',
      tag: 'offerings',
      summary: 'Delete a disk offering (volumes created from it keep their size)',
      permission: 'disk-offering:delete',
      responses: { 200: { description: 'Deleted', schema: deletedSchema } },
      async handle({ req, res, params }) {
        const id = params.id!;
        await runQuickTask(req, res, deps.tasks, { action: 'DeleteDiskOffering', resourceType: 'disk-offering', resourceIds: [id], request: { id } },
          (metadata) => deleteDiskOffering(store, id, metadata));
      },
    }),
  ];
}
