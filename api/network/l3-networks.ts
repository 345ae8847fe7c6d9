import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import { addIpRange, createL3Network, deleteL3Network, removeIpRange } from '../../commands/network/networks.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { ipAddressesCollection, ipAddressFields, l3NetworkFields, l3NetworksCollection } from '../../projections/network/l3-networks.js';
import { awaitPosition, listAndDetailEndpoints, runQuickTask, type ReadDeps } from '../compute/resources.js';
import { createdSchema, descriptionSchema, nameSchema } from '../compute/zones.js';
import { zoneOfL2Network, zoneOfL3Network } from '../../commands/compute/zone-of.js';
import { endpoint, type Endpoint } from '../shared/endpoint.js';
import { assertZoneReadable, assertZoneWritable, isZoneScoped } from '../shared/zone-scope.js';
import { sendList } from '../shared/list.js';
import { ProblemError } from '../shared/problem.js';
import { l3NetworkStream } from '../../domain/network/l3-network.js';
import { assertReadableInProject, assertStreamInProject, projectForCreate } from '../tenancy/scope.js';

const createBody = z.strictObject({ l2NetworkId: z.string().min(1), name: nameSchema, description: descriptionSchema });

const ipv4 = z.string().max(15);
const ipRangeBody = z.strictObject({
  name: z.string().trim().min(1).max(255).optional(),
  startIp: ipv4,
  endIp: ipv4,
  gateway: ipv4,
  netmask: ipv4,
  dns: z.array(ipv4).max(8).optional(),
});

export function l3NetworkEndpoints(deps: ReadDeps & { eventStore: EventStore; clock: Clock; tasks: Tasks }): Endpoint[] {
  const store = { store: deps.eventStore, clock: deps.clock };
  /** A zone-scoped principal changes the networks of its zones only (an unknown one is left to the command). */
  async function assertNetworkWritable(req: Request, res: Response, id: string, permission: string, action: string) {
    if (!isZoneScoped(res, permission)) return;
    const zoneId = await zoneOfL3Network(deps.eventStore, id);
    if (zoneId !== undefined) await assertZoneWritable(deps, req, res, { permission, zoneId, action, resourceType: 'l3-network', resourceIds: [id] });
  }
  /** Tenancy: a project session changes the L3 networks created in its project only (shared ones it only reads). */
  const assertNetworkInProject = (res: Response, id: string) =>
    assertStreamInProject(res, deps.eventStore, l3NetworkStream(id), { code: 'L3_NETWORK_NOT_FOUND', detail: `no L3 network ${id}` });
  /** …and reads those only: another zone's network is not found. */
  async function assertNetworkReadable(res: Response, id: string) {
    const network = await deps.readStore.get(l3NetworksCollection, id);
    assertReadableInProject(res, network, { code: 'L3_NETWORK_NOT_FOUND', detail: `no L3 network ${id}` });
    if (!isZoneScoped(res, 'l3-network:read')) return;
    assertZoneReadable(res, 'l3-network:read', network?.zoneId, { code: 'L3_NETWORK_NOT_FOUND', detail: `no L3 network ${id}` });
  }
  return [
    endpoint({
      method: 'post',
      path: '/v1/l3-networks',
      tag: 'networks',
      summary: 'Create an L3 network on an L2 network; add IP ranges to it next',
      permission: 'l3-network:create',
      body: createBody,
      responses: { 201: { description: 'Created', schema: createdSchema } },
      async handle({ req, res, body }) {
        if (isZoneScoped(res, 'l3-network:create')) {
          const zoneId = await zoneOfL2Network(deps.eventStore, body.l2NetworkId);
          if (zoneId !== undefined) await assertZoneWritable(deps, req, res, { permission: 'l3-network:create', zoneId, action: 'CreateL3Network', resourceType: 'l3-network' });
        }
        const projectId = projectForCreate(res, undefined);
        await runQuickTask(req, res, deps.tasks, { action: 'CreateL3Network', resourceType: 'l3-network', request: body },
          (metadata) => createL3Network(store, body, metadata, projectId !== undefined ? { projectId } : {}), 201);
      },
    }),
    ...listAndDetailEndpoints(deps, { path: '/v1/l3-networks', tag: 'networks', resource: 'l3-network', collection: l3NetworksCollection, fields: l3NetworkFields, zoneField: 'zoneId', projectScope: 'ownOrShared' }),
    endpoint({
      method: 'delete',
      path: '/v1/l3-networks/:id',
      tag: 'networks',
      summary: 'Delete an L3 network whose addresses are all free',
      permission: 'l3-network:delete',
      responses: { 200: { description: 'Deleted', schema: z.object({ id: z.string(), taskId: z.string() }) } },
      async handle({ req, res, params }) {
        const id = params.id!;
        await assertNetworkInProject(res, id);
        await assertNetworkWritable(req, res, id, 'l3-network:delete', 'DeleteL3Network');
        await runQuickTask(req, res, deps.tasks, { action: 'DeleteL3Network', resourceType: 'l3-network', resourceIds: [id], request: { id } },
          async (metadata) => ({ id, ...(await deleteL3Network(store, id, metadata)) }));
      },
    }),
    endpoint({
      method: 'post',
      path: '/v1/l3-networks/:id/ip-ranges',
      tag: 'networks',
      summary: 'Add an IP range (inside the gateway\'s subnet, not overlapping another range of the network)',
      permission: 'l3-network:update',
      body: ipRangeBody,
      responses: { 201: { description: 'Added', schema: createdSchema.extend({ l3NetworkId: z.string() }) } },
      async handle({ req, res, params, body }) {
        const id = params.id!;
        await assertNetworkInProject(res, id);
        await assertNetworkWritable(req, res, id, 'l3-network:update', 'AddIpRange');
        await runQuickTask(req, res, deps.tasks, { action: 'AddIpRange', resourceType: 'l3-network', resourceIds: [id], request: { l3NetworkId: id, ...body } },
          (metadata) => addIpRange(deps.eventStore, id, body, metadata), 201);
      },
    }),
    endpoint({
      method: 'get',
      path: '/v1/l3-networks/:id/ip-ranges',
      tag: 'networks',
      summary: 'The IP ranges of an L3 network',
      permission: 'l3-network:read',
      responses: { 200: { description: 'IP ranges' } },
      async handle({ req, res, params }) {
        await awaitPosition(req, deps.runner);
        const network = await deps.readStore.get(l3NetworksCollection, params.id!);
        if (!network) throw new ProblemError(404, 'L3_NETWORK_NOT_FOUND', `no L3 network ${params.id}`);
        assertReadableInProject(res, network, { code: 'L3_NETWORK_NOT_FOUND', detail: `no L3 network ${params.id}` });
        assertZoneReadable(res, 'l3-network:read', network.zoneId, { code: 'L3_NETWORK_NOT_FOUND', detail: `no L3 network ${params.id}` });
        res.json({ items: network.ipRanges });
      },
    }),
    endpoint({
      method: 'delete',
      path: '/v1/l3-networks/:id/ip-ranges/:rangeId',
      tag: 'networks',
      summary: 'Remove an IP range none of whose addresses is allocated',
      permission: 'l3-network:update',
      responses: { 200: { description: 'Removed', schema: z.object({ id: z.string(), taskId: z.string() }) } },
      async handle({ req, res, params }) {
        const id = params.id!;
        const rangeId = params.rangeId!;
        await assertNetworkInProject(res, id);
        await assertNetworkWritable(req, res, id, 'l3-network:update', 'RemoveIpRange');
        await runQuickTask(req, res, deps.tasks, { action: 'RemoveIpRange', resourceType: 'l3-network', resourceIds: [id], request: { l3NetworkId: id, ipRangeId: rangeId } },
          async (metadata) => ({ id: rangeId, ...(await removeIpRange(deps.eventStore, id, rangeId, metadata)) }));
      },
    }),
    endpoint({
      method: 'get',
      path: '/v1/l3-networks/:id/ip-addresses',
      tag: 'networks',
      summary: 'The allocated addresses of an L3 network: address, MAC and NIC',
      permission: 'l3-network:read',
      listQuery: true,
      responses: { 200: { description: 'Allocated addresses' } },
      async handle({ req, res, params }) {
        await assertNetworkReadable(res, params.id!);
        await sendList(req, res, deps, { collection: ipAddressesCollection, fields: ipAddressFields, defaultSort: [['ip', 1]], scope: { l3NetworkId: params.id! } });
      },
    }),
  ];
}
