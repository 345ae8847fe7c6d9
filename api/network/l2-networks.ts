import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import { createL2Network } from '../../commands/network/networks.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { l2NetworkFields, l2NetworksCollection } from '../../projections/network/l2-networks.js';
import { listAndDetailEndpoints, runQuickTask, type ReadDeps } from '../compute/resources.js';
import { createdSchema, descriptionSchema, nameSchema } from '../compute/zones.js';
import { endpoint, type Endpoint } from '../shared/endpoint.js';
import { assertZoneWritable } from '../shared/zone-scope.js';

const createBody = z.strictObject({
  zoneId: z.string().min(1),
  name: nameSchema,
  description: descriptionSchema,
  physicalInterface: z.string().min(1).max(15),
  vlan: z.number().int().min(1).max(4094).optional(),
});

export function l2NetworkEndpoints(deps: ReadDeps & { eventStore: EventStore; clock: Clock; tasks: Tasks }): Endpoint[] {
  const store = { store: deps.eventStore, clock: deps.clock };
  return [
    endpoint({
      method: 'post',
      path: '/v1/l2-networks',
      tag: 'networks',
      summary: 'Create an L2 network on the hosts\' physical interface (flat, or with a VLAN id)',
      permission: 'l2-network:create',
      body: createBody,
      responses: { 201: { description: 'Created', schema: createdSchema } },
      async handle({ req, res, body }) {
        await assertZoneWritable(deps, req, res, { permission: 'l2-network:create', zoneId: body.zoneId, action: 'CreateL2Network', resourceType: 'l2-network' });
        await runQuickTask(req, res, deps.tasks, { action: 'CreateL2Network', resourceType: 'l2-network', request: body },
          (metadata) => createL2Network(store, body, metadata), 201);
      },
    }),
    ...listAndDetailEndpoints(deps, { path: '/v1/l2-networks', tag: 'networks', resource: 'l2-network', collection: l2NetworksCollection, fields: l2NetworkFields, zoneField: 'zoneId' }),
  ];
}
