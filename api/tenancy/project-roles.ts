import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import { newId } from '../../commands/shared/ids.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { defineProjectRole, setMemberCustomRoles } from '../../commands/tenancy/custom-project-roles.js';
import { requireProject, runProjectCommand, type ProjectDeps, type ProjectView } from '../../commands/tenancy/projects.js';
import type { ProjectCommand } from '../../domain/tenancy/project.js';
import { projectAdminPermissions } from '../../domain/tenancy/project-roles.js';
import { endpoint, localsOf, requestContextOf, type Endpoint } from '../shared/endpoint.js';
import { ProblemError } from '../shared/problem.js';
import { respondWithTask } from '../shared/task-response.js';
import { assertOwnProject } from './scope.js';

// Custom project roles: /v1/projects/<id>/roles, shaped like the platform roles of
// /v1/roles (name, description, permissions as <resource>:<action> patterns), with the project
// admin role as their fixed root role (rootRole: 'project-admin'): a role holds a subset of
// what a project admin may do. A project admin defines them in its own project (a project
// session); an admin in any. PUT /v1/projects/<id>/members/<userId>/roles gives them to a member.

const permissionsSchema = z.array(z.string().min(1).max(128)).min(1).max(200).describe('<resource>:<action> patterns within the project admin role');
const createBody = z.strictObject({
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9 ._-]{0,63}$/, '1 to 64 letters, digits, spaces and . _ -, starting with a letter'),
  description: z.string().max(256).optional(),
  permissions: permissionsSchema,
});
const updateBody = z.strictObject({ description: z.string().max(256).optional(), permissions: permissionsSchema.optional() });
const memberRolesBody = z.strictObject({ roleIds: z.array(z.string().min(1).max(64)).max(50) });
const roleView = z.object({ id: z.string(), name: z.string(), description: z.string(), rootRole: z.literal('project-admin'), permissions: z.array(z.string()) });

type RoleEntry = ProjectView['roles'][number];
const toView = (role: RoleEntry) => ({ id: role.id, name: role.name, description: role.description, rootRole: 'project-admin' as const, permissions: [...role.permissions] });

export function projectRoleEndpoints(deps: { eventStore: EventStore; clock: Clock; tasks: Tasks }): Endpoint[] {
  const commandDeps: ProjectDeps = { store: deps.eventStore, clock: deps.clock };

  async function roleTask(req: Request, res: Response, projectId: string, spec: { action: string; roleId?: string; request: unknown; successStatus: 200 | 201 },
    work: (metadata: Parameters<typeof runProjectCommand>[3]) => Promise<{ view: ProjectView }>, pick: (view: ProjectView) => unknown) {
    assertOwnProject(res, projectId);
    const started = await deps.tasks.start(requestContextOf(req, res),
      { action: spec.action, resourceType: 'project', resourceIds: [projectId, ...(spec.roleId ? [spec.roleId] : [])], request: spec.request },
      async ({ metadata }) => ({ result: pick((await work(metadata)).view) }));
    await respondWithTask(req, res, deps.tasks, started, { successStatus: spec.successStatus });
  }

  const roleOf = (view: ProjectView, roleId: string) => {
    const role = view.roles.find((candidate) => candidate.id === roleId);
    return role ? toView(role) : { id: roleId, deleted: true };
  };

  return [
    endpoint({
      method: 'get', path: '/v1/projects/:id/roles', tag: 'projects',
      summary: 'Custom project roles of a project (the built-in ones — project-admin, project-manager, member — are not listed)', permission: 'project-role:list',
      responses: { 200: { description: 'Roles', schema: z.object({ items: z.array(roleView), projectAdminPermissions: z.array(z.string()) }) } },
      async handle({ res, params }) {
        assertOwnProject(res, params.id!);
        const project = await requireProject(deps.eventStore, params.id!, localsOf(res).principal);
        const roles = [...(project.roles ?? new Map()).values()].map((role) => toView({ id: role.roleId, name: role.name, description: role.description, permissions: role.permissions }));
        res.json({ items: roles.sort((a, b) => a.name.localeCompare(b.name)), projectAdminPermissions });
      },
    }),
    endpoint({
      method: 'get', path: '/v1/projects/:id/roles/:roleId', tag: 'projects', summary: 'One custom project role', permission: 'project-role:read',
      responses: { 200: { description: 'The role', schema: roleView } },
      async handle({ res, params }) {
        assertOwnProject(res, params.id!);
        const project = await requireProject(deps.eventStore, params.id!, localsOf(res).principal);
        const role = project.roles?.get(params.roleId!);
        if (!role) throw new ProblemError(404, 'PROJECT_ROLE_NOT_FOUND', `no role ${params.roleId} in project ${params.id}`);
        res.json(toView({ id: role.roleId, name: role.name, description: role.description, permissions: role.permissions }));
      },
    }),
    endpoint({
      method: 'post', path: '/v1/projects/:id/roles', tag: 'projects',
      summary: 'Define a custom project role: a subset of the project admin\'s permissions', permission: 'project-role:create', body: createBody,
      responses: { 201: { description: 'Defined', schema: roleView } },
      async handle({ req, res, params, body }) {
        const roleId = newId();
        await roleTask(req, res, params.id!, { action: 'CreateProjectRole', roleId, request: { projectId: params.id, ...body }, successStatus: 201 },
          (metadata) => defineProjectRole(commandDeps, params.id!, roleId, body, metadata), (view) => roleOf(view, roleId));
      },
    }),
    endpoint({
      method: 'patch', path: '/v1/projects/:id/roles/:roleId', tag: 'projects', summary: 'Change a custom project role\'s description or permissions',
      permission: 'project-role:update', body: updateBody,
      responses: { 200: { description: 'Changed', schema: roleView } },
      async handle({ req, res, params, body }) {
        const roleId = params.roleId!;
        const command: ProjectCommand = { type: 'ChangeRole', roleId, ...body };
        await roleTask(req, res, params.id!, { action: 'UpdateProjectRole', roleId, request: { projectId: params.id, roleId, ...body }, successStatus: 200 },
          (metadata) => runProjectCommand(commandDeps, params.id!, command, metadata), (view) => roleOf(view, roleId));
      },
    }),
    endpoint({
      method: 'delete', path: '/v1/projects/:id/roles/:roleId', tag: 'projects', summary: 'Delete a custom project role: its holders lose it at once',
      permission: 'project-role:delete',
      responses: { 200: { description: 'Deleted' } },
      async handle({ req, res, params }) {
        const roleId = params.roleId!;
        await roleTask(req, res, params.id!, { action: 'DeleteProjectRole', roleId, request: { projectId: params.id, roleId }, successStatus: 200 },
          (metadata) => runProjectCommand(commandDeps, params.id!, { type: 'DeleteRole', roleId }, metadata), () => ({ id: roleId, deleted: true }));
      },
    }),
    endpoint({
      method: 'put', path: '/v1/projects/:id/members/:userId/roles', tag: 'projects',
      summary: 'Give a member custom project roles (replacing those it held); they add to its built-in project role', permission: 'project-member:update',
      body: memberRolesBody,
      responses: { 200: { description: 'The member\'s custom roles', schema: z.object({ userId: z.string(), roleIds: z.array(z.string()) }) } },
      async handle({ req, res, params, body }) {
        const userId = params.userId!;
        await roleTask(req, res, params.id!, { action: 'SetProjectMemberRoles', request: { projectId: params.id, userId, ...body }, successStatus: 200 },
          (metadata) => setMemberCustomRoles(commandDeps, params.id!, userId, body.roleIds, metadata),
          (view) => ({ userId, roleIds: [...(view.memberCustomRoles[userId] ?? [])] }));
      },
    }),
  ];
}
