import { z } from 'zod';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import { changeCustomRole, createCustomRole, customRoleView, deleteCustomRole, systemRoleViews, type RoleView } from '../../commands/identity/roles.js';
import { loadCustomRole } from '../../commands/identity/principal.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { systemRoleNames, type SystemRoleName } from '../../domain/identity/permissions.js';
import { rolesCollection } from '../../projections/identity/roles.js';
import type { ProjectionRunner } from '../../projections/shared/runner.js';
import { endpoint, localsOf, type Endpoint } from '../shared/endpoint.js';
import { resourceTask } from '../shared/resource-task.js';
import { prepareList } from '../shared/list.js';
import { ProblemError } from '../shared/problem.js';

const roleView = z.object({
  id: z.string(),
  name: z.string(),
  system: z.boolean(),
  description: z.string(),
  rootRole: z.enum(systemRoleNames).nullable(),
  permissions: z.array(z.string()),
  exceptions: z.array(z.string()),
  zoneScoped: z.boolean(),
});

const permissionsSchema = z.array(z.string().min(1).max(128)).max(500).describe('<resource>:<action> patterns, each segment a name or *');
const createBody = z.strictObject({
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9 ._-]{0,63}$/, '1 to 64 letters, digits, spaces and . _ -, starting with a letter'),
  description: z.string().max(256).optional(),
  rootRole: z.enum(systemRoleNames),
  permissions: permissionsSchema,
});
const updateBody = z.strictObject({ description: z.string().max(256).optional(), permissions: permissionsSchema.optional() });

const customFields = { id: 'string', name: 'string', rootRole: 'string', permissions: 'string', createdAt: 'time' } as const;

export function roleEndpoints(deps: { eventStore: EventStore; readStore: ReadStore; runner: ProjectionRunner; clock: Clock; tasks: Tasks }): Endpoint[] {
  const roleDeps = { store: deps.eventStore, clock: deps.clock };

  const task = (action: string, successStatus: 200 | 201, work: (input: { principal: NonNullable<ReturnType<typeof localsOf>['principal']>; id: string; body: any; metadata: Parameters<typeof createCustomRole>[2] }) => Promise<unknown>) =>
    resourceTask(deps.tasks, { type: 'role', idField: 'roleId' }, action, successStatus, ({ principal, id, body, task: metadata }) => work({ principal, id, body, metadata }));

  return [
    endpoint({
      method: 'get',
      path: '/v1/roles',
      tag: 'identity',
      summary: 'Roles: the system roles, then custom roles (the query language applies to custom roles)',
      permission: 'role:list',
      listQuery: true,
      responses: { 200: { description: 'Roles', schema: z.object({ items: z.array(roleView) }) } },
      async handle({ req, res }) {
        const query = await prepareList(req, deps, { collection: rolesCollection, fields: customFields, defaultSort: [['name', 1]], scope: {} });
        const custom = await deps.readStore.find(rolesCollection, query.filter, query.options);
        const filtered = Object.keys(req.query).some((name) => name === 'q' || name === 'start');
        const items: RoleView[] = [...(filtered ? [] : systemRoleViews()), ...custom.map((doc) => customRoleView({
          exists: true, deleted: false, roleId: doc.id, name: String(doc.name), description: String(doc.description),
          rootRole: doc.rootRole as SystemRoleName, permissions: doc.permissions as string[],
        }))];
        res.json({ items });
      },
    }),
    endpoint({
      method: 'get',
      path: '/v1/roles/:id',
      tag: 'identity',
      summary: 'A role (a system role by name, a custom role by id)',
      permission: 'role:read',
      responses: { 200: { description: 'The role', schema: roleView } },
      async handle({ res, params }) {
        const system = systemRoleViews().find((role) => role.id === params.id);
        const custom = system ? undefined : await loadCustomRole(deps.eventStore, params.id!);
        const role: RoleView | undefined = system ?? (custom ? customRoleView(custom) : undefined);
        if (!role) throw new ProblemError(404, 'ROLE_NOT_FOUND', `no role ${params.id}`);
        res.json(role);
      },
    }),
    endpoint({
      method: 'post',
      path: '/v1/roles',
      tag: 'identity',
      summary: 'Create a custom role: permissions within its root role, and within what the caller holds',
      permission: 'role:create',
      body: createBody,
      responses: { 201: { description: 'Created', schema: roleView } },
      handle: task('CreateRole', 201, ({ principal, body, metadata }) => createCustomRole(roleDeps, principal, metadata, body)),
    }),
    endpoint({
      method: 'patch',
      path: '/v1/roles/:id',
      tag: 'identity',
      summary: 'Change a custom role\'s description or permissions (within its root role and what the caller holds)',
      permission: 'role:update',
      body: updateBody,
      responses: { 200: { description: 'Changed', schema: roleView } },
      handle: task('UpdateRole', 200, ({ principal, id, body, metadata }) => changeCustomRole(roleDeps, principal, metadata, id, body)),
    }),
    endpoint({
      method: 'delete',
      path: '/v1/roles/:id',
      tag: 'identity',
      summary: 'Delete a custom role: its holders lose what it granted at once',
      permission: 'role:delete',
      responses: { 200: { description: 'Deleted' } },
      handle: task('DeleteRole', 200, async ({ principal, id, metadata }) => {
        await deleteCustomRole(roleDeps, principal, metadata, id);
        return { id, deleted: true };
      }),
    }),
  ];
}
