import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { Filter, ReadStore } from '../../adapters/readstore/port.js';
import type { Principal } from '../../commands/identity/principal.js';
import { newId } from '../../commands/shared/ids.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import {
  organizationUserCommand, organizationView, requireOrganization, runOrganizationCommand, type OrganizationDeps,
} from '../../commands/tenancy/organizations.js';
import type { OrganizationCommand } from '../../domain/tenancy/organization.js';
import { DomainError } from '../../domain/shared/errors.js';
import { projectRoles } from '../../domain/tenancy/project.js';
import { addMember, projectView, requireProject } from '../../commands/tenancy/projects.js';
import { organizationFields, organizationMembersCollection, organizationsCollection, organizationTreeUserIds } from '../../projections/tenancy/organizations.js';
import type { ProjectionRunner } from '../../projections/shared/runner.js';
import { authorizeRequest } from '../shared/authorize.js';
import { endpoint, localsOf, requestContextOf, type Endpoint } from '../shared/endpoint.js';
import { etagOf, ifMatchVersion } from '../shared/etag.js';
import { sendList } from '../shared/list.js';
import { ProblemError } from '../shared/problem.js';
import { respondWithTask } from '../shared/task-response.js';

// /v1/organizations: the tree of teams and sub-departments, their users, department admins
// and department managers. Every write is a task (audited) on the `organization-tree` stream.

const idSchema = z.string().min(1).max(64);
const createBody = z.strictObject({
  name: z.string().trim().min(1).max(255),
  description: z.string().max(4096).optional(),
  parentId: idSchema.nullable().optional().describe('The upper department; absent or null: a new team (top level)'),
});
const updateBody = z.strictObject({ name: z.string().trim().min(1).max(255).optional(), description: z.string().max(4096).optional() });
const moveBody = z.strictObject({ parentId: idSchema.nullable().describe('The new upper department; null: the department becomes a team') });
const userBody = z.strictObject({ userId: idSchema });
const joinProjectBody = z.strictObject({
  projectId: idSchema,
  role: z.enum(projectRoles),
  userIds: z.array(idSchema).min(1).max(1000).optional().describe('Members of the department to add; absent: all its immediate members'),
});
const organizationSchema = z.object({
  id: z.string(), name: z.string(), description: z.string(), parentId: z.string().nullable(), ancestorIds: z.array(z.string()),
  memberUserIds: z.array(z.string()), adminUserIds: z.array(z.string()), managerUserIds: z.array(z.string()), createdAt: z.string(),
});

/**
 * Admin and platform admins see every user (reference/002: "the admin and platform manager can
 * view the list of all users"); any other platform user who belongs to a department sees the
 * users of the organization tree(s) they belong to: every team holding one of their
 * departments, with all its sub-departments ("users who are in the same organizational
 * structure"). A user in no department, or when no tree exists, sees everyone.
 * Undefined: nothing narrows; otherwise the user ids visible.
 */
export async function visibleUserIds(readStore: ReadStore, principal: Principal): Promise<string[] | undefined> {
  if (principal.roles.includes('admin') || principal.roles.includes('platform-admin')) return undefined;
  return organizationTreeUserIds(readStore, principal.userId);
}

/** The list filter for users a principal may see (`{}` when it sees all). */
export async function userVisibilityScope(readStore: ReadStore, principal: Principal): Promise<Filter> {
  const visible = await visibleUserIds(readStore, principal);
  return visible ? { id: { $in: visible } } : {};
}

/** Refuses (404, as for a user that does not exist) a user outside what the principal may see. */
export async function assertUserVisible(readStore: ReadStore, principal: Principal, userId: string): Promise<void> {
  const visible = await visibleUserIds(readStore, principal);
  if (visible && !visible.includes(userId)) throw new ProblemError(404, 'USER_NOT_FOUND', `no user ${userId}`);
}

export function organizationEndpoints(deps: { eventStore: EventStore; readStore: ReadStore; runner: ProjectionRunner; clock: Clock; tasks: Tasks }): Endpoint[] {
  const commandDeps: OrganizationDeps = { store: deps.eventStore, clock: deps.clock };
  const demand = authorizeRequest(deps);

  async function organizationTask(
    req: Request, res: Response, organizationId: string, action: string, request: unknown,
    work: (metadata: Parameters<typeof runOrganizationCommand>[2]) => Promise<{ view: unknown; deletedIds: string[] }>,
    successStatus: 200 | 201 = 200,
    /** Also named by the task (the user added or removed), so the audit log finds it by them too. */
    alsoAbout: string[] = [],
  ) {
    const resourceIds = [organizationId, ...alsoAbout];
    const started = await deps.tasks.start(requestContextOf(req, res), { action, resourceType: 'organization', resourceIds, request },
      async ({ metadata }) => {
        const outcome = await work(metadata);
        return outcome.view
          ? { result: outcome.view, resourceIds }
          : { result: { id: organizationId, deleted: true, deletedIds: outcome.deletedIds }, resourceIds: outcome.deletedIds.length > 0 ? outcome.deletedIds : resourceIds };
      });
    await respondWithTask(req, res, deps.tasks, started, { successStatus });
  }

  // A department's ETag is the version of the organization tree it lives in (GET /v1/organizations/:id).
  const command = (req: Request, res: Response, organizationId: string, action: string, request: unknown, decide: OrganizationCommand, alsoAbout: string[] = []) => {
    const expectedVersion = ifMatchVersion(req.get('if-match'));
    return organizationTask(req, res, organizationId, action, request, (metadata) => runOrganizationCommand(commandDeps, decide, metadata, { expectedVersion }), 200, alsoAbout);
  };

  const roleEndpoints = (
    path: 'users' | 'admins' | 'managers', add: 'AddUser' | 'AssignAdmin' | 'AssignManager', remove: 'RemoveUser' | 'UnassignAdmin' | 'UnassignManager',
    actions: [string, string], what: string,
  ) => [
    endpoint({
      method: 'post', path: `/v1/organizations/:id/${path}`, tag: 'organizations', summary: `Add ${what}`, permission: 'organization:update', body: userBody,
      responses: { 200: { description: 'The department', schema: organizationSchema } },
      async handle({ req, res, params, body }) {
        const organizationId = params.id!;
        await organizationTask(req, res, organizationId, actions[0], { organizationId, ...body }, (metadata) => organizationUserCommand(commandDeps, organizationId, body.userId, add, metadata), 200, [body.userId]);
      },
    }),
    endpoint({
      method: 'delete', path: `/v1/organizations/:id/${path}/:userId`, tag: 'organizations', summary: `Remove ${what}`, permission: 'organization:update',
      responses: { 200: { description: 'The department', schema: organizationSchema } },
      async handle({ req, res, params }) {
        const organizationId = params.id!;
        await command(req, res, organizationId, actions[1], { organizationId, userId: params.userId },
          { type: remove, organizationId, userId: params.userId! }, [params.userId!]);
      },
    }),
  ];

  return [
    endpoint({
      method: 'post', path: '/v1/organizations', tag: 'organizations',
      summary: 'Create a team (no parentId) or a sub-department of parentId', permission: 'organization:create', body: createBody,
      responses: { 201: { description: 'Created', schema: organizationSchema } },
      async handle({ req, res, body }) {
        const organizationId = newId();
        const create: OrganizationCommand = { type: 'CreateOrganization', organizationId, name: body.name, parentId: body.parentId ?? null, now: deps.clock.now() };
        if (body.description !== undefined) create.description = body.description;
        await organizationTask(req, res, organizationId, 'CreateOrganization', body, (metadata) => runOrganizationCommand(commandDeps, create, metadata), 201);
      },
    }),
    endpoint({
      method: 'get', path: '/v1/organizations', tag: 'organizations',
      summary: 'Departments (a platform user in a department sees the trees they belong to)', permission: 'organization:list', listQuery: true,
      responses: { 200: { description: 'Departments' } },
      async handle({ req, res }) {
        await sendList(req, res, deps, { collection: organizationsCollection, fields: organizationFields, defaultSort: [['createdAt', 1]], scope: await treeScope(localsOf(res).principal!) });
      },
    }),
    endpoint({
      method: 'get', path: '/v1/organizations/:id', tag: 'organizations', summary: 'One department: its place in the tree, users, admins and managers', permission: 'organization:read',
      responses: { 200: { description: 'The department', schema: organizationSchema } },
      async handle({ res, params }) {
        const { tree, node, version } = await requireOrganization(deps.eventStore, params.id!);
        const view = organizationView(tree, node);
        const scope = await treeScope(localsOf(res).principal!);
        if (scope.rootId && !((scope.rootId as { $in: string[] }).$in).includes(view.ancestorIds[0] ?? view.id)) {
          throw new ProblemError(404, 'ORGANIZATION_NOT_FOUND', `no organization ${params.id}`);
        }
        res.setHeader('ETag', etagOf(version));
        res.json(view);
      },
    }),
    endpoint({
      method: 'patch', path: '/v1/organizations/:id', tag: 'organizations', summary: 'Rename or describe a department', permission: 'organization:update', body: updateBody,
      responses: { 200: { description: 'The department', schema: organizationSchema } },
      async handle({ req, res, params, body }) {
        await command(req, res, params.id!, 'UpdateOrganization', { organizationId: params.id, ...body }, { type: 'UpdateOrganization', organizationId: params.id!, ...body });
      },
    }),
    endpoint({
      method: 'post', path: '/v1/organizations/:id/move', tag: 'organizations',
      summary: 'Move a department under another (not under itself nor its sub-departments), or make it a team', permission: 'organization:update', body: moveBody,
      responses: { 200: { description: 'The department', schema: organizationSchema } },
      async handle({ req, res, params, body }) {
        await command(req, res, params.id!, 'MoveOrganization', { organizationId: params.id, ...body }, { type: 'MoveOrganization', organizationId: params.id!, parentId: body.parentId });
      },
    }),
    endpoint({
      method: 'delete', path: '/v1/organizations/:id', tag: 'organizations',
      summary: 'Delete a department and all its sub-departments; their users are detached, not deleted', permission: 'organization:delete',
      responses: { 200: { description: 'Deleted' } },
      async handle({ req, res, params }) {
        await command(req, res, params.id!, 'DeleteOrganization', { organizationId: params.id }, { type: 'DeleteOrganization', organizationId: params.id!, now: deps.clock.now() });
      },
    }),
    endpoint({
      method: 'post', path: '/v1/organizations/:id/join-project', tag: 'organizations',
      summary: 'Add immediate members of the department (all, or those named) to a project with a project role', permission: 'organization:update', body: joinProjectBody,
      responses: { 200: { description: 'The project' } },
      async handle({ req, res, params, body }) {
        const organizationId = params.id!;
        // Adding project members is also what it does: both permissions are needed.
        await demand(req, res, 'project-member:create');
        const started = await deps.tasks.start(requestContextOf(req, res), {
          action: 'JoinOrganizationToProject', resourceType: 'project', resourceIds: [body.projectId, organizationId], request: { organizationId, ...body },
        }, async ({ metadata }) => {
          const { node } = await requireOrganization(deps.eventStore, organizationId);
          const outsiders = (body.userIds ?? []).filter((userId) => !node.members.has(userId));
          if (outsiders.length > 0) {
            throw new DomainError('NOT_A_DEPARTMENT_MEMBER', `not in department ${node.name}: ${outsiders.join(', ')}`, 'invalid', {
              fields: outsiders.map((userId) => ({ field: 'userIds', message: `${userId} is not in the department` })),
            });
          }
          // Checked first so that a missing project fails the task before any member is added.
          let project = projectView(await requireProject(deps.eventStore, body.projectId));
          for (const userId of body.userIds ?? [...node.members.keys()].sort()) {
            project = (await addMember({ store: deps.eventStore, clock: deps.clock }, body.projectId, userId, body.role, metadata)).view;
          }
          return { result: project };
        });
        await respondWithTask(req, res, deps.tasks, started, { successStatus: 200 });
      },
    }),
    ...roleEndpoints('users', 'AddUser', 'RemoveUser', ['AddOrganizationUser', 'RemoveOrganizationUser'], 'a user of the department (removing them also ends their admin or manager role there)'),
    ...roleEndpoints('admins', 'AssignAdmin', 'UnassignAdmin', ['AssignDepartmentAdmin', 'UnassignDepartmentAdmin'], 'a department admin (added to the department if not in it; refused for a department manager)'),
    ...roleEndpoints('managers', 'AssignManager', 'UnassignManager', ['AssignDepartmentManager', 'UnassignDepartmentManager'],
      'a department manager (exclusive: not a holder of platform roles nor a department admin; added to the department if not in it)'),
  ];

  /** Admins and platform admins see the whole forest; other users in a department, their own trees. */
  async function treeScope(principal: Principal): Promise<Filter> {
    if (principal.roles.includes('admin') || principal.roles.includes('platform-admin')) return {};
    const memberships = await deps.readStore.find(organizationMembersCollection, { userId: principal.userId });
    if (memberships.length === 0) return {};
    return { rootId: { $in: [...new Set(memberships.map((membership) => membership.rootId as string))] } };
  }
}
