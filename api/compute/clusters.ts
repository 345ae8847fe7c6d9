import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import { createCluster } from '../../commands/compute/inventory.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { clusterFields, clustersCollection } from '../../projections/compute/clusters.js';
import { endpoint, type Endpoint } from '../shared/endpoint.js';
import { assertZoneWritable } from '../shared/zone-scope.js';
import { listAndDetailEndpoints, runQuickTask, type ReadDeps } from './resources.js';
import { createdSchema, descriptionSchema, nameSchema } from './zones.js';

export const hypervisorTypeSchema = z.enum(['KVM', 'Simulator']);

const createClusterBody = z.strictObject({ zoneId: z.string().min(1), name: nameSchema, description: descriptionSchema, hypervisorType: hypervisorTypeSchema });

export function clusterEndpoints(deps: ReadDeps & { eventStore: EventStore; clock: Clock; tasks: Tasks }): Endpoint[] {
  const store = { store: deps.eventStore, clock: deps.clock };
  return [
    endpoint({
      method: 'post',
      path: '/v1/clusters',
      tag: 'clusters',
      summary: 'Create a cluster in a zone, for hosts of one hypervisor type',
      permission: 'cluster:create',
      body: createClusterBody,
      responses: { 201: { description: 'Created', schema: createdSchema } },
      async handle({ req, res, body }) {
        await assertZoneWritable(deps, req, res, { permission: 'cluster:create', zoneId: body.zoneId, action: 'CreateCluster', resourceType: 'cluster' });
        await runQuickTask(req, res, deps.tasks, { action: 'CreateCluster', resourceType: 'cluster', request: body },
          (metadata) => createCluster(store, body, metadata), 201);
      },
    }),
    ...listAndDetailEndpoints(deps, { path: '/v1/clusters', tag: 'clusters', resource: 'cluster', collection: clustersCollection, fields: clusterFields, zoneField: 'zoneId' }),
  ];
}
