import { z } from 'zod';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import { changeIpAccessList, createIpAccessList, deleteIpAccessList, loadIpAccessLists } from '../../commands/identity/ip-access-lists.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { maxEntriesPerList, type IpAccessList } from '../../domain/identity/ip-access-list.js';
import { ipAccessListFields, ipAccessListsCollection } from '../../projections/identity/ip-access-lists.js';
import type { ProjectionRunner } from '../../projections/shared/runner.js';
import { endpoint, type Endpoint } from '../shared/endpoint.js';
import { resourceTask } from '../shared/resource-task.js';
import { sendList } from '../shared/list.js';
import { ProblemError } from '../shared/problem.js';

const entriesSchema = z.array(z.string().min(1).max(100)).max(maxEntriesPerList)
  .describe('Addresses (192.0.2.7, 2001:db8::7), ranges (192.0.2.1-192.0.2.99) and CIDR blocks (192.0.2.0/24, 2001:db8::/32)');
const createBody = z.strictObject({
  name: z.string().min(1).max(64),
  type: z.enum(['allow', 'block']),
  entries: entriesSchema,
  description: z.string().max(256).optional(),
});
const updateBody = z.strictObject({ name: z.string().min(1).max(64).optional(), entries: entriesSchema.optional(), description: z.string().max(256).optional() });

const listView = z.object({ id: z.string(), name: z.string(), type: z.enum(['allow', 'block']), entries: z.array(z.string()), description: z.string() });
const view = (list: IpAccessList) => ({ id: list.listId, name: list.name, type: list.type, entries: list.entries, description: list.description });

export function ipAccessListEndpoints(deps: { eventStore: EventStore; readStore: ReadStore; runner: ProjectionRunner; clock: Clock; tasks: Tasks }): Endpoint[] {
  const listDeps = { store: deps.eventStore, clock: deps.clock };

  const task = (action: string, successStatus: 200 | 201, work: (input: { id: string; body: any; metadata: Parameters<typeof createIpAccessList>[1] }) => Promise<unknown>) =>
    resourceTask(deps.tasks, { type: 'ipAccessList', idField: 'listId' }, action, successStatus, ({ id, body, task: metadata }) => work({ id, body, metadata }));

  return [
    endpoint({
      method: 'get',
      path: '/v1/ip-access-lists',
      tag: 'identity',
      summary: 'IP allowlists and blocklists for login. They apply when the setting ipAccessList.enabled is true: '
        + 'with no blocklist entry every address may log in; otherwise an allowlisted address may (even if also blocklisted), '
        + 'a blocklisted one may not, any other may.',
      permission: 'ip-access-list:list',
      listQuery: true,
      responses: { 200: { description: 'Lists' } },
      async handle({ req, res }) {
        await sendList(req, res, deps, { collection: ipAccessListsCollection, fields: ipAccessListFields, defaultSort: [['name', 1]], scope: {} });
      },
    }),
    endpoint({
      method: 'get',
      path: '/v1/ip-access-lists/:id',
      tag: 'identity',
      summary: 'An IP list',
      permission: 'ip-access-list:read',
      responses: { 200: { description: 'The list', schema: listView } },
      async handle({ res, params }) {
        const { state } = await loadIpAccessLists(deps.eventStore);
        const list = state[params.id!];
        if (!list) throw new ProblemError(404, 'IP_ACCESS_LIST_NOT_FOUND', `no IP list ${params.id}`);
        res.json(view(list));
      },
    }),
    endpoint({
      method: 'post',
      path: '/v1/ip-access-lists',
      tag: 'identity',
      summary: 'Create an IP allowlist or blocklist (at most 100 entries); it applies at once',
      permission: 'ip-access-list:create',
      body: createBody,
      responses: { 201: { description: 'Created', schema: listView } },
      handle: task('CreateIpAccessList', 201, async ({ body, metadata }) => view(await createIpAccessList(listDeps, metadata, body))),
    }),
    endpoint({
      method: 'patch',
      path: '/v1/ip-access-lists/:id',
      tag: 'identity',
      summary: 'Change an IP list\'s name, description or entries',
      permission: 'ip-access-list:update',
      body: updateBody,
      responses: { 200: { description: 'Changed', schema: listView } },
      handle: task('UpdateIpAccessList', 200, async ({ id, body, metadata }) => view(await changeIpAccessList(listDeps, metadata, id, body))),
    }),
    endpoint({
      method: 'delete',
      path: '/v1/ip-access-lists/:id',
      tag: 'identity',
      summary: 'Delete an IP list',
      permission: 'ip-access-list:delete',
      responses: { 200: { description: 'Deleted' } },
      handle: task('DeleteIpAccessList', 200, async ({ id, metadata }) => {
        await deleteIpAccessList(listDeps, metadata, id);
        return { id, deleted: true };
      }),
    }),
  ];
}
