import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { newId } from '../../commands/shared/ids.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { runProjectCommand, type ProjectDeps } from '../../commands/tenancy/projects.js';
import {
  addGroupToProject, addUserToGroup, requireUserGroup, runUserGroupCommand, userGroupView, type UserGroupDeps,
} from '../../commands/tenancy/user-groups.js';
import { DomainError } from '../../domain/shared/errors.js';
import { projectRoles } from '../../domain/tenancy/project.js';
import { projectGroupFields, projectGroupsCollection } from '../../projections/tenancy/projects.js';
import { userGroupFields, userGroupsCollection } from '../../projections/tenancy/user-groups.js';
import type { ProjectionRunner } from '../../projections/shared/runner.js';
import { endpoint, requestContextOf, type Endpoint } from '../shared/endpoint.js';
import { etagOf, ifMatchVersion } from '../shared/etag.js';
import { sendList } from '../shared/list.js';
import { ProblemError } from '../shared/problem.js';
import { respondWithTask } from '../shared/task-response.js';
import { projectOfRequest } from './scope.js';

// /v1/user-groups: named sets of users; and /v1/projects/<id>/user-groups: groups joining a
// project with a project role (beside /members for users, the same shape: POST adds or
// changes the role, DELETE removes). Every write is a task (audited).

const idSchema = z.string().min(1).max(64);
const createBody = z.strictObject({
  name: z.string().trim().min(1).max(255),
  description: z.string().max(4096).optional(),
  userIds: z.array(idSchema).max(1000).optional().describe('Users to put in the group at once'),
});
const updateBody = z.strictObject({ name: z.string().trim().min(1).max(255).optional(), description: z.string().max(4096).optional() });
const userBody = z.strictObject({ userId: idSchema });
const projectGroupBody = z.strictObject({ userGroupId: idSchema, role: z.enum(projectRoles) });
const userGroupSchema = z.object({ id: z.string(), name: z.string(), description: z.string(), userIds: z.array(z.string()), createdAt: z.string() });

/** How long a group's delete waits for the read model before looking up the projects it joined. */
const catchUpMs = 5_000;

export function userGroupEndpoints(deps: { eventStore: EventStore; readStore: ReadStore; runner: ProjectionRunner; clock: Clock; tasks: Tasks }): Endpoint[] {
  const groupDeps: UserGroupDeps = { store: deps.eventStore, clock: deps.clock };
  const projectDeps: ProjectDeps = { store: deps.eventStore, clock: deps.clock };

  async function groupTask(req: Request, res: Response, userGroupId: string, action: string, request: unknown, work: (metadata: EventMetadata) => Promise<unknown>, successStatus: 200 | 201 = 200) {
    const started = await deps.tasks.start(requestContextOf(req, res), { action, resourceType: 'user-group', resourceIds: [userGroupId], request },
      async ({ metadata }) => ({ result: await work(metadata) }));
    await respondWithTask(req, res, deps.tasks, started, { successStatus });
  }

  /** A project session sees its own project only. */
  function assertVisibleProject(res: Response, projectId: string) {
    const own = projectOfRequest(res);
    if (own && own !== projectId) throw new ProblemError(404, 'PROJECT_NOT_FOUND', `no project ${projectId}`);
  }

  async function projectGroupTask(req: Request, res: Response, projectId: string, action: string, request: unknown, work: (metadata: EventMetadata) => Promise<{ view: unknown }>) {
    assertVisibleProject(res, projectId);
    const started = await deps.tasks.start(requestContextOf(req, res), { action, resourceType: 'project', resourceIds: [projectId], request },
      async ({ metadata }) => ({ result: (await work(metadata)).view }));
    await respondWithTask(req, res, deps.tasks, started, { successStatus: 200 });
  }

  return [
    endpoint({
      method: 'post', path: '/v1/user-groups', tag: 'user-groups', summary: 'Create a user group, with users if given', permission: 'user-group:create', body: createBody,
      responses: { 201: { description: 'Created', schema: userGroupSchema } },
      async handle({ req, res, body }) {
        const userGroupId = newId();
        await groupTask(req, res, userGroupId, 'CreateUserGroup', body, async (metadata) => {
          let outcome = await runUserGroupCommand(groupDeps, userGroupId, {
            type: 'CreateUserGroup', userGroupId, name: body.name, now: deps.clock.now(), ...(body.description !== undefined ? { description: body.description } : {}),
          }, metadata);
          for (const userId of body.userIds ?? []) outcome = await addUserToGroup(groupDeps, userGroupId, userId, metadata);
          return outcome.view;
        }, 201);
      },
    }),
    endpoint({
      method: 'get', path: '/v1/user-groups', tag: 'user-groups', summary: 'User groups', permission: 'user-group:list', listQuery: true,
      responses: { 200: { description: 'User groups' } },
      async handle({ req, res }) {
        await sendList(req, res, deps, { collection: userGroupsCollection, fields: userGroupFields, defaultSort: [['name', 1]], scope: {} });
      },
    }),
    endpoint({
      method: 'get', path: '/v1/user-groups/:id', tag: 'user-groups', summary: 'A user group and its users', permission: 'user-group:read',
      responses: { 200: { description: 'The user group', schema: userGroupSchema } },
      async handle({ res, params }) {
        const group = await requireUserGroup(deps.eventStore, params.id!);
        res.setHeader('ETag', etagOf(group.version));
        res.json(userGroupView(group));
      },
    }),
    endpoint({
      method: 'patch', path: '/v1/user-groups/:id', tag: 'user-groups', summary: 'Rename or describe a user group', permission: 'user-group:update', body: updateBody,
      responses: { 200: { description: 'The user group', schema: userGroupSchema } },
      async handle({ req, res, params, body }) {
        const expectedVersion = ifMatchVersion(req.get('if-match'));
        await groupTask(req, res, params.id!, 'UpdateUserGroup', { userGroupId: params.id, ...body },
          async (metadata) => (await runUserGroupCommand(groupDeps, params.id!, { type: 'UpdateUserGroup', ...body }, metadata, { expectedVersion })).view);
      },
    }),
    endpoint({
      method: 'delete', path: '/v1/user-groups/:id', tag: 'user-groups',
      summary: 'Delete a user group: its users lose what they held through it, and it leaves the projects it joined', permission: 'user-group:delete',
      responses: { 200: { description: 'Deleted' } },
      async handle({ req, res, params }) {
        const userGroupId = params.id!;
        const expectedVersion = ifMatchVersion(req.get('if-match'));
        await groupTask(req, res, userGroupId, 'DeleteUserGroup', { userGroupId }, async (metadata) => {
          await runUserGroupCommand(groupDeps, userGroupId, { type: 'DeleteUserGroup', now: deps.clock.now() }, metadata, { expectedVersion });
          // Access through the group ends with the delete itself (login reads the group's stream);
          // leaving the projects keeps their member lists true. The read model is asked once caught up.
          await deps.runner.waitFor(await deps.eventStore.headPosition(), catchUpMs);
          const joined = await deps.readStore.find(projectGroupsCollection, { userGroupId }, { limit: 10_000 });
          const leftProjectIds: string[] = [];
          for (const membership of joined) {
            const projectId = membership.projectId as string;
            await runProjectCommand(projectDeps, projectId, { type: 'RemoveGroup', userGroupId }, metadata).then(() => leftProjectIds.push(projectId), (error: unknown) => {
              // Already left, or the project is gone: nothing to leave.
              if (!(error instanceof DomainError && ['GROUP_NOT_IN_PROJECT', 'PROJECT_DELETED', 'PROJECT_NOT_FOUND'].includes(error.code))) throw error;
            });
          }
          return { id: userGroupId, deleted: true, leftProjectIds };
        });
      },
    }),
    endpoint({
      method: 'post', path: '/v1/user-groups/:id/users', tag: 'user-groups', summary: 'Add a user to a group', permission: 'user-group:update', body: userBody,
      responses: { 200: { description: 'The user group', schema: userGroupSchema } },
      async handle({ req, res, params, body }) {
        await groupTask(req, res, params.id!, 'AddUserGroupUser', { userGroupId: params.id, ...body },
          async (metadata) => (await addUserToGroup(groupDeps, params.id!, body.userId, metadata)).view);
      },
    }),
    endpoint({
      method: 'delete', path: '/v1/user-groups/:id/users/:userId', tag: 'user-groups',
      summary: 'Remove a user from a group: they lose at once what they held in projects through it', permission: 'user-group:update',
      responses: { 200: { description: 'The user group', schema: userGroupSchema } },
      async handle({ req, res, params }) {
        await groupTask(req, res, params.id!, 'RemoveUserGroupUser', { userGroupId: params.id, userId: params.userId },
          async (metadata) => (await runUserGroupCommand(groupDeps, params.id!, { type: 'RemoveUser', userId: params.userId! }, metadata)).view);
      },
    }),
    endpoint({
      method: 'get', path: '/v1/user-groups/:id/projects', tag: 'user-groups', summary: 'Projects a user group joined, with its role in each', permission: 'user-group:read', listQuery: true,
      responses: { 200: { description: 'Project memberships' } },
      async handle({ req, res, params }) {
        await sendList(req, res, deps, { collection: projectGroupsCollection, fields: projectGroupFields, defaultSort: [['projectId', 1]], scope: { userGroupId: params.id! } });
      },
    }),
    endpoint({
      method: 'get', path: '/v1/projects/:id/user-groups', tag: 'projects', summary: 'User groups of a project with their project roles', permission: 'project:read', listQuery: true,
      responses: { 200: { description: 'User groups of the project' } },
      async handle({ req, res, params }) {
        assertVisibleProject(res, params.id!);
        await sendList(req, res, deps, { collection: projectGroupsCollection, fields: projectGroupFields, defaultSort: [['userGroupId', 1]], scope: { projectId: params.id! } });
      },
    }),
    endpoint({
      method: 'post', path: '/v1/projects/:id/user-groups', tag: 'projects',
      summary: 'A user group joins the project with a project role (or changes its role): its users are members through it', permission: 'project-member:create',
      body: projectGroupBody,
      responses: { 200: { description: 'The project' } },
      async handle({ req, res, params, body }) {
        const projectId = params.id!;
        await projectGroupTask(req, res, projectId, 'AddProjectUserGroup', { projectId, ...body },
          (metadata) => addGroupToProject(projectDeps, projectId, body.userGroupId, body.role, metadata));
      },
    }),
    endpoint({
      method: 'delete', path: '/v1/projects/:id/user-groups/:userGroupId', tag: 'projects', summary: 'A user group leaves the project', permission: 'project-member:delete',
      responses: { 200: { description: 'The project' } },
      async handle({ req, res, params }) {
        const projectId = params.id!;
        await projectGroupTask(req, res, projectId, 'RemoveProjectUserGroup', { projectId, userGroupId: params.userGroupId },
          (metadata) => runProjectCommand(projectDeps, projectId, { type: 'RemoveGroup', userGroupId: params.userGroupId! }, metadata));
      },
    }),
  ];
}
