import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import { addHost, administerHost, reconnectHost, type HostAdministration, type HostProbe } from '../../commands/compute/hosts.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { hostFields, hostsCollection } from '../../projections/compute/hosts.js';
import { zoneOfCluster, zoneOfHost } from '../../commands/compute/zone-of.js';
import { endpoint, type Endpoint } from '../shared/endpoint.js';
import { assertZoneWritable, isZoneScoped } from '../shared/zone-scope.js';
import { hypervisorTypeSchema } from './clusters.js';
import { listAndDetailEndpoints, runQuickTask, type ReadDeps } from './resources.js';
import { nameSchema } from './zones.js';

const addHostBody = z.strictObject({
  name: nameSchema,
  clusterId: z.string().min(1),
  hypervisorType: hypervisorTypeSchema,
  managementIp: z.string().min(1).max(253),
  username: z.string().min(1).max(255),
  password: z.string().min(1).max(1024),
  libvirtUri: z.string().min(1).max(1024).optional(),
  simulatedCapacity: z.strictObject({
    cpuCount: z.number().int().positive(),
    memoryBytes: z.number().int().positive(),
  }).optional(),
});

const hostStateView = z.object({ id: z.string(), state: z.string(), reason: z.string().optional(), cpuTotal: z.number(), memoryTotal: z.number(), taskId: z.string() });

const actions: Array<{ verb: string; action: HostAdministration; summary: string; permission: string }> = [
  { verb: 'enable', action: 'EnableHost', summary: 'Enable a host: it takes new VMs again', permission: 'host:update' },
  { verb: 'disable', action: 'DisableHost', summary: 'Disable a host: its VMs keep running, no new VM is placed on it', permission: 'host:update' },
  { verb: 'enter-maintenance', action: 'EnterMaintenance', summary: 'Put a host in maintenance: no new VM is placed on it', permission: 'host:update' },
  { verb: 'exit-maintenance', action: 'ExitMaintenance', summary: 'Take a host out of maintenance', permission: 'host:update' },
];

export function hostEndpoints(deps: ReadDeps & { eventStore: EventStore; clock: Clock; tasks: Tasks; secrets: SecretBox; hostProbe?: HostProbe }): Endpoint[] {
  const hostDeps = { store: deps.eventStore, clock: deps.clock, ...(deps.hostProbe ? { probe: deps.hostProbe } : {}) };
  /** A zone-scoped principal acts on the hosts of its zones only (an unknown host is left to the command to report). */
  async function assertHostInScope(req: Request, res: Response, hostId: string, permission: string, action: string) {
    if (!isZoneScoped(res, permission)) return;
    const zoneId = await zoneOfHost(deps.eventStore, hostId);
    if (zoneId !== undefined) await assertZoneWritable(deps, req, res, { permission, zoneId, action, resourceType: 'host', resourceIds: [hostId] });
  }
  return [
    endpoint({
      method: 'post',
      path: '/v1/hosts',
      tag: 'hosts',
      summary: 'Add a host to a cluster and connect it. The password is encrypted before it is recorded.',
      permission: 'host:create',
      body: addHostBody,
      responses: { 201: { description: 'Added (state tells whether it connected)', schema: hostStateView } },
      async handle({ req, res, body }) {
        if (isZoneScoped(res, 'host:create')) {
          const zoneId = await zoneOfCluster(deps.eventStore, body.clusterId);
          if (zoneId !== undefined) await assertZoneWritable(deps, req, res, { permission: 'host:create', zoneId, action: 'AddHost', resourceType: 'host' });
        }
        await runQuickTask(req, res, deps.tasks, { action: 'AddHost', resourceType: 'host', request: body },
          (metadata) => addHost({ ...hostDeps, secrets: deps.secrets }, body, metadata), 201);
      },
    }),
    ...listAndDetailEndpoints(deps, { path: '/v1/hosts', tag: 'hosts', resource: 'host', collection: hostsCollection, fields: hostFields, zoneField: 'zoneId' }),
    endpoint({
      method: 'post',
      path: '/v1/hosts/:id/reconnect',
      tag: 'hosts',
      summary: 'Probe a host again and record whether it is connected, with its capacity',
      permission: 'host:reconnect',
      responses: { 200: { description: 'Probed', schema: hostStateView } },
      async handle({ req, res, params }) {
        const hostId = params.id!;
        await assertHostInScope(req, res, hostId, 'host:reconnect', 'ReconnectHost');
        await runQuickTask(req, res, deps.tasks, { action: 'ReconnectHost', resourceType: 'host', resourceIds: [hostId], request: { hostId } },
          (metadata) => reconnectHost(hostDeps, hostId, metadata));
      },
    }),
    ...actions.map(({ verb, action, summary, permission }) => endpoint({
      method: 'post',
      path: `/v1/hosts/:id/${verb}`,
      tag: 'hosts',
      summary,
      permission,
      responses: { 200: { description: 'Done', schema: z.object({ id: z.string(), taskId: z.string() }) } },
      async handle({ req, res, params }) {
        const hostId = params.id!;
        await assertHostInScope(req, res, hostId, permission, action);
        await runQuickTask(req, res, deps.tasks, { action, resourceType: 'host', resourceIds: [hostId], request: { hostId } },
          async (metadata) => ({ id: hostId, ...(await administerHost(hostDeps, hostId, action, metadata)) }));
      },
    })),
    endpoint({
      method: 'delete',
      path: '/v1/hosts/:id',
      tag: 'hosts',
      summary: 'Remove a host that holds no VM',
      permission: 'host:delete',
      responses: { 200: { description: 'Removed', schema: z.object({ id: z.string(), taskId: z.string() }) } },
      async handle({ req, res, params }) {
        const hostId = params.id!;
        await assertHostInScope(req, res, hostId, 'host:delete', 'RemoveHost');
        await runQuickTask(req, res, deps.tasks, { action: 'RemoveHost', resourceType: 'host', resourceIds: [hostId], request: { hostId } },
          async (metadata) => ({ id: hostId, ...(await administerHost(hostDeps, hostId, 'RemoveHost', metadata)) }));
      },
    }),
  ];
}
