import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { requireProject } from '../../commands/tenancy/projects.js';
import { stopProjectVms } from '../../commands/tenancy/stop-project-vms.js';
import { quotaNames } from '../../domain/tenancy/quotas.js';
import { endpoint, localsOf, requestContextOf, type Endpoint } from '../shared/endpoint.js';
import { respondWithTask } from '../shared/task-response.js';
import { assertOwnProject } from './scope.js';

// A project's quotas as a usage view (limit and used for every quota, read from the project's
// own stream: the reservations are the usage), and "Disable All Resources" (reference/002,
// Manage a Project): the project's running VMs are stopped through the VM stop command — one
// task, audited like every write; each VM's stop goes on in the VM process.

const quotaView = z.object({ name: z.enum(quotaNames), limit: z.number(), used: z.number(), available: z.number() });

export function projectResourceEndpoints(deps: { eventStore: EventStore; readStore: ReadStore; clock: Clock; tasks: Tasks }): Endpoint[] {
  return [
    endpoint({
      method: 'get', path: '/v1/projects/:id/quotas', tag: 'projects',
      summary: 'Every quota of a project with its limit and what is used (a lowered quota may show more used than its limit)', permission: 'project:read',
      responses: { 200: { description: 'Quotas', schema: z.object({ items: z.array(quotaView) }) } },
      async handle({ res, params }) {
        assertOwnProject(res, params.id!);
        const project = await requireProject(deps.eventStore, params.id!, localsOf(res).principal);
        res.json({
          items: quotaNames.map((name) => ({
            name, limit: project.quotas[name], used: project.usage[name], available: Math.max(0, project.quotas[name] - project.usage[name]),
          })),
        });
      },
    }),
    endpoint({
      method: 'post', path: '/v1/projects/:id/disable-resources', tag: 'projects',
      summary: 'Disable all resources of a project: stop every running VM of it (VMs busy with another operation are reported, not stopped)',
      permission: 'project:update',
      body: z.strictObject({ stopType: z.enum(['grace', 'cold']).optional() }),
      responses: { 200: { description: 'The VMs being stopped, skipped (not running) and refused' } },
      async handle({ req, res, params, body }) {
        const projectId = params.id!;
        assertOwnProject(res, projectId);
        await requireProject(deps.eventStore, projectId, localsOf(res).principal);
        const started = await deps.tasks.start(requestContextOf(req, res),
          { action: 'DisableProjectResources', resourceType: 'project', resourceIds: [projectId], request: { projectId, ...body } },
          async ({ metadata }) => {
            const outcome = await stopProjectVms({ store: deps.eventStore, readStore: deps.readStore, clock: deps.clock }, projectId, metadata,
              body.stopType ? { stopType: body.stopType } : {});
            return { result: { projectId, ...outcome }, resourceIds: [projectId, ...outcome.stopping] };
          });
        await respondWithTask(req, res, deps.tasks, started, { successStatus: 200 });
      },
    }),
  ];
}
