import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { newId } from '../../commands/shared/ids.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { addMember, createProject, projectFor, projectView, runProjectCommand, type ProjectDeps } from '../../commands/tenancy/projects.js';
import { projectRoles, type ProjectCommand } from '../../domain/tenancy/project.js';
import { quotaNames } from '../../domain/tenancy/quotas.js';
import { weekdays } from '../../domain/tenancy/login-windows.js';
import { projectFields, projectMemberFields, projectMembersCollection, projectsCollection } from '../../projections/tenancy/projects.js';
import type { ProjectionRunner } from '../../projections/shared/runner.js';
import { endpoint, localsOf, requestContextOf, type Endpoint } from '../shared/endpoint.js';
import { etagOf, ifMatchVersion } from '../shared/etag.js';
import { sendList } from '../shared/list.js';
import { ProblemError } from '../shared/problem.js';
import { respondWithTask } from '../shared/task-response.js';
import { projectOfRequest } from './scope.js';
import { assertDepartmentExists } from '../../commands/tenancy/organizations.js';

// /v1/projects: tenants with quotas (and their usage), members with project roles, states
// Enabled/Disabled/LoginExpired/Deleted, a reclaim policy. Every write is a task (audited).

const quotasSchema = z.partialRecord(z.enum(quotaNames), z.number().int().min(0));
const reclaimAction = z.enum(['DisableLogin', 'DisableLoginAndStopResources', 'DeleteProject']);
export const reclaimPolicySchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('Unlimited') }),
  z.strictObject({ kind: z.literal('ByTime'), deadline: z.iso.datetime(), action: reclaimAction }),
  z.strictObject({ kind: z.literal('ByCost'), spendingLimit: z.string().regex(/^\d+(\.\d{1,5})?$/), action: reclaimAction }),
]);
export type ReclaimPolicyBody = z.infer<typeof reclaimPolicySchema>;
export const toReclaimPolicy = (body: ReclaimPolicyBody) => (body.kind === 'ByTime' ? { ...body, deadline: Date.parse(body.deadline) } : body);

// Access control (login windows): checked in full by the domain (time zone, times), which names each bad field.
const loginWindowsSchema = z.strictObject({
  mode: z.enum(['Allowed', 'Prohibited']),
  timeZone: z.string().min(1).max(64).describe('IANA time zone name, e.g. Europe/Berlin'),
  periods: z.array(z.strictObject({
    days: z.array(z.enum(weekdays)).min(1).max(7).default([...weekdays]).describe('Days the period starts on (every day when absent)'),
    start: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM'),
    end: z.string().regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'HH:MM (24:00 allowed)').describe('Not after start: the period ends the next day'),
  })).min(1).max(64),
});

const createBody = z.strictObject({
  name: z.string().trim().min(1).max(255),
  description: z.string().max(4096).optional(),
  quotas: quotasSchema.optional(),
  reclaimPolicy: reclaimPolicySchema.optional(),
  departmentId: z.string().min(1).max(64).optional().describe('The department (organization) the project belongs to'),
  zoneId: z.string().min(1).max(64).optional().describe('The zone the project belongs to: its resources are created there unless asked otherwise'),
});
const updateBody = z.strictObject({
  name: z.string().trim().min(1).max(255).optional(), description: z.string().max(4096).optional(),
  departmentId: z.string().min(1).max(64).nullable().optional().describe('Attach to a department; null detaches'),
});
const memberBody = z.strictObject({ userId: z.string().min(1).max(64), role: z.enum(projectRoles) });
const projectSchema = z.object({
  id: z.string(), name: z.string(), description: z.string(), state: z.string(),
  quotas: z.record(z.string(), z.number()), usage: z.record(z.string(), z.number()), members: z.array(z.object({ userId: z.string(), role: z.string() })),
});

export function projectEndpoints(deps: { eventStore: EventStore; readStore: ReadStore; runner: ProjectionRunner; clock: Clock; tasks: Tasks }): Endpoint[] {
  const commandDeps: ProjectDeps = { store: deps.eventStore, clock: deps.clock };

  /** A project session sees its own project only. */
  function assertVisible(res: Response, projectId: string) {
    const own = projectOfRequest(res);
    if (own && own !== projectId) throw new ProblemError(404, 'PROJECT_NOT_FOUND', `no project ${projectId}`);
  }

  async function projectTask(req: Request, res: Response, projectId: string, action: string, request: unknown, command: ProjectCommand, successStatus: 200 | 201 = 200) {
    assertVisible(res, projectId);
    // Read before the task: a malformed If-Match is the client's error (400), not the task's.
    const expectedVersion = ifMatchVersion(req.get('if-match'));
    const started = await deps.tasks.start(requestContextOf(req, res), { action, resourceType: 'project', resourceIds: [projectId], request },
      async ({ metadata }) => ({ result: (await runProjectCommand(commandDeps, projectId, command, metadata, { expectedVersion })).view }));
    await respondWithTask(req, res, deps.tasks, started, { successStatus });
  }

  const stateAction = (verb: string, action: string, type: 'Enable' | 'Disable' | 'ExpireLogin' | 'Restore', summary: string) => endpoint({
    method: 'post', path: `/v1/projects/:id/${verb}`, tag: 'projects', summary, permission: 'project:update',
    responses: { 200: { description: 'The project', schema: projectSchema } },
    async handle({ req, res, params }) {
      await projectTask(req, res, params.id!, action, { projectId: params.id }, { type, now: deps.clock.now() });
    },
  });

  return [
    endpoint({
      method: 'post', path: '/v1/projects', tag: 'projects',
      summary: 'Create a project with quotas (defaults for those not given) and a reclaim policy',
      permission: 'project:create', body: createBody,
      responses: { 201: { description: 'Created', schema: projectSchema } },
      async handle({ req, res, body }) {
        if (body.departmentId !== undefined) await assertDepartmentExists(deps.eventStore, body.departmentId);
        const projectId = newId();
        const started = await deps.tasks.start(requestContextOf(req, res), { action: 'CreateProject', resourceType: 'project', resourceIds: [projectId], request: body },
          async ({ metadata }) => ({
            result: (await createProject(commandDeps, projectId, {
              name: body.name,
              ...(body.description !== undefined ? { description: body.description } : {}),
              ...(body.quotas !== undefined ? { quotas: body.quotas } : {}),
              ...(body.reclaimPolicy !== undefined ? { reclaimPolicy: toReclaimPolicy(body.reclaimPolicy) } : {}),
              ...(body.departmentId !== undefined ? { departmentId: body.departmentId } : {}),
              ...(body.zoneId !== undefined ? { zoneId: body.zoneId } : {}),
            }, metadata)).view,
          }));
        await respondWithTask(req, res, deps.tasks, started, { successStatus: 201 });
      },
    }),
    endpoint({
      method: 'get', path: '/v1/projects', tag: 'projects', summary: 'List projects (a project session: its own)', permission: 'project:list', listQuery: true,
      responses: { 200: { description: 'Projects' } },
      async handle({ req, res }) {
        const own = projectOfRequest(res);
        await sendList(req, res, deps, { collection: projectsCollection, fields: projectFields, defaultSort: [['createdAt', -1]], scope: own ? { id: own } : { state: { $ne: 'Deleted' } } });
      },
    }),
    endpoint({
      method: 'get', path: '/v1/projects/:id', tag: 'projects', summary: 'One project: quotas and their usage, members, state', permission: 'project:read',
      responses: { 200: { description: 'The project', schema: projectSchema } },
      async handle({ res, params }) {
        assertVisible(res, params.id!);
        const { state, version } = await projectFor(deps.eventStore, localsOf(res).principal, params.id!);
        if (!state.exists || state.state === 'Deleted') throw new ProblemError(404, 'PROJECT_NOT_FOUND', `no project ${params.id}`);
        res.setHeader('ETag', etagOf(version));
        res.json(projectView(state));
      },
    }),
    endpoint({
      method: 'patch', path: '/v1/projects/:id', tag: 'projects', summary: 'Rename or describe a project', permission: 'project:update', body: updateBody,
      responses: { 200: { description: 'The project', schema: projectSchema } },
      async handle({ req, res, params, body }) {
        if (typeof body.departmentId === 'string') await assertDepartmentExists(deps.eventStore, body.departmentId);
        await projectTask(req, res, params.id!, 'UpdateProject', { projectId: params.id, ...body }, { type: 'UpdateProject', ...body });
      },
    }),
    endpoint({
      method: 'put', path: '/v1/projects/:id/quotas', tag: 'projects', summary: 'Change quotas (those not given stay)', permission: 'project:update',
      body: z.strictObject({ quotas: quotasSchema }),
      responses: { 200: { description: 'The project', schema: projectSchema } },
      async handle({ req, res, params, body }) {
        await projectTask(req, res, params.id!, 'ChangeProjectQuotas', { projectId: params.id, ...body }, { type: 'ChangeQuotas', quotas: body.quotas });
      },
    }),
    endpoint({
      method: 'put', path: '/v1/projects/:id/reclaim-policy', tag: 'projects', summary: 'Set the reclaim policy: ByTime reminds members from 14 days before the deadline and runs its action at it; ByCost is stored (it fires once billing exists)', permission: 'project:update',
      body: z.strictObject({ reclaimPolicy: reclaimPolicySchema }),
      responses: { 200: { description: 'The project', schema: projectSchema } },
      async handle({ req, res, params, body }) {
        await projectTask(req, res, params.id!, 'ChangeProjectReclaimPolicy', { projectId: params.id, ...body }, { type: 'ChangeReclaimPolicy', reclaimPolicy: toReclaimPolicy(body.reclaimPolicy) });
      },
    }),
    endpoint({
      method: 'put', path: '/v1/projects/:id/login-windows', tag: 'projects',
      summary: 'Set the access control (login allowed or prohibited periods by day of week and time of day, in a time zone; null removes it). A change takes effect from the next period: one already begun is not cut',
      permission: 'project:update',
      body: z.strictObject({ loginWindows: loginWindowsSchema.nullable() }),
      responses: { 200: { description: 'The project', schema: projectSchema } },
      async handle({ req, res, params, body }) {
        await projectTask(req, res, params.id!, 'SetProjectLoginWindows', { projectId: params.id, ...body }, { type: 'SetLoginWindows', loginWindows: body.loginWindows, now: deps.clock.now() });
      },
    }),
    stateAction('enable', 'EnableProject', 'Enable', 'Enable a disabled project'),
    stateAction('disable', 'DisableProject', 'Disable', 'Disable a project: its members cannot log in to it, nothing can be created in it'),
    stateAction('expire', 'ExpireProjectLogin', 'ExpireLogin', 'Mark a project LoginExpired: members cannot log in'),
    stateAction('restore', 'RestoreProject', 'Restore', 'Restore an expired project'),
    endpoint({
      method: 'delete', path: '/v1/projects/:id', tag: 'projects', summary: 'Delete a project that holds no resources', permission: 'project:delete',
      responses: { 200: { description: 'Deleted', schema: projectSchema } },
      async handle({ req, res, params }) {
        await projectTask(req, res, params.id!, 'DeleteProject', { projectId: params.id }, { type: 'Delete', now: deps.clock.now() });
      },
    }),
    endpoint({
      method: 'get', path: '/v1/projects/:id/members', tag: 'projects', summary: 'Members of a project with their project roles', permission: 'project:read', listQuery: true,
      responses: { 200: { description: 'Members' } },
      async handle({ req, res, params }) {
        assertVisible(res, params.id!);
        await sendList(req, res, deps, { collection: projectMembersCollection, fields: projectMemberFields, defaultSort: [['userId', 1]], scope: { projectId: params.id! } });
      },
    }),
    endpoint({
      method: 'post', path: '/v1/projects/:id/members', tag: 'projects', summary: 'Add a member with a project role (or change the role of one)', permission: 'project-member:create',
      body: memberBody,
      responses: { 200: { description: 'The project', schema: projectSchema } },
      async handle({ req, res, params, body }) {
        const projectId = params.id!;
        assertVisible(res, projectId);
        const started = await deps.tasks.start(requestContextOf(req, res), { action: 'AddProjectMember', resourceType: 'project', resourceIds: [projectId], request: { projectId, ...body } },
          async ({ metadata }) => ({ result: (await addMember(commandDeps, projectId, body.userId, body.role, metadata)).view }));
        await respondWithTask(req, res, deps.tasks, started, { successStatus: 200 });
      },
    }),
    endpoint({
      method: 'delete', path: '/v1/projects/:id/members/:userId', tag: 'projects', summary: 'Remove a member', permission: 'project-member:delete',
      responses: { 200: { description: 'The project', schema: projectSchema } },
      async handle({ req, res, params }) {
        await projectTask(req, res, params.id!, 'RemoveProjectMember', { projectId: params.id, userId: params.userId }, { type: 'RemoveMember', userId: params.userId! });
      },
    }),
  ];
}
