import { z } from 'zod';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import { accessKeyView, changeAccessKey, createAccessKey, loadAccessKey } from '../../commands/identity/access-keys.js';
import { principalAllows } from '../../commands/identity/principal.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { accessKeyListFields, accessKeysCollection } from '../../projections/identity/access-keys.js';
import type { ProjectionRunner } from '../../projections/shared/runner.js';
import { endpoint, localsOf, requestContextOf, type Endpoint } from '../shared/endpoint.js';
import { sendList } from '../shared/list.js';
import { ProblemError } from '../shared/problem.js';
import { respondWithTask } from '../shared/task-response.js';
import { finishedTask } from './task-answer.js';

const keyView = z.object({
  id: z.string().describe('The AccessKeyId, used in the Authorization header'),
  userId: z.string(),
  username: z.string(),
  state: z.enum(['enabled', 'disabled']),
  description: z.string(),
  createdAt: z.string(),
});

const createBody = z.strictObject({ description: z.string().max(256).optional() });

export function accessKeyEndpoints(deps: { eventStore: EventStore; readStore: ReadStore; runner: ProjectionRunner; clock: Clock; secrets: SecretBox; tasks: Tasks }): Endpoint[] {
  const keyDeps = { store: deps.eventStore, clock: deps.clock, secrets: deps.secrets };

  const change = (action: string, verb: 'enable' | 'disable' | 'delete') => async ({ req, res, params }: { req: import('express').Request; res: import('express').Response; params: Record<string, string> }) => {
    const principal = localsOf(res).principal!;
    const accessKeyId = params.id!;
    const started = await deps.tasks.start(
      requestContextOf(req, res),
      { action, resourceType: 'accessKey', resourceIds: [accessKeyId], request: { accessKeyId } },
      async (task) => ({ result: await changeAccessKey(keyDeps, principal, task, accessKeyId, verb) }),
    );
    await respondWithTask(req, res, deps.tasks, started, { successStatus: 200 });
  };

  return [
    endpoint({
      method: 'post',
      path: '/v1/access-keys',
      tag: 'identity',
      summary: 'Create an access key for yourself. The answer holds the secret: it is shown this once and never again. '
        + 'Sign requests as docs/access-keys.md describes; the key acts with your permissions.',
      permission: 'access-key:create',
      body: createBody,
      responses: { 201: { description: 'Created', schema: keyView.extend({ secret: z.string().optional(), taskId: z.string() }) } },
      async handle({ req, res, body }) {
        const principal = localsOf(res).principal!;
        let secret: string | undefined;
        const started = await deps.tasks.start(
          requestContextOf(req, res),
          { action: 'CreateAccessKey', resourceType: 'accessKey', request: body },
          async (task) => {
            const created = await createAccessKey(keyDeps, principal, task, body);
            secret = created.secret;
            return { result: created.view, resourceIds: [created.view.id] };
          },
        );
        const view = await finishedTask(res, deps.tasks, started);
        if (!view) return;
        res.setHeader('Cache-Control', 'no-store');
        // A repeated Idempotency-Key finds the key created the first time, but not its secret:
        // it was shown once, with the first answer.
        res.status(started.repeated ? 200 : 201).json({ ...(view.result as object), ...(secret ? { secret } : {}), taskId: view.id });
      },
    }),
    endpoint({
      method: 'get',
      path: '/v1/access-keys',
      tag: 'identity',
      summary: 'Access keys (never their secrets): your own, or everyone\'s for holders of user:list',
      permission: 'access-key:list',
      listQuery: true,
      responses: { 200: { description: 'Access keys' } },
      async handle({ req, res }) {
        const principal = localsOf(res).principal!;
        await sendList(req, res, deps, {
          collection: accessKeysCollection,
          fields: accessKeyListFields,
          defaultSort: [['createdAt', -1]],
          scope: principalAllows(principal, 'user:list') ? {} : { userId: principal.userId },
        });
      },
    }),
    endpoint({
      method: 'get',
      path: '/v1/access-keys/:id',
      tag: 'identity',
      summary: 'An access key (never its secret)',
      permission: 'access-key:read',
      responses: { 200: { description: 'The key', schema: keyView } },
      async handle({ res, params }) {
        const principal = localsOf(res).principal!;
        const key = await loadAccessKey(deps.eventStore, params.id!);
        // Someone else's key is "not found" to those who cannot read users: ids are not disclosed.
        if (!key || (key.userId !== principal.userId && !principalAllows(principal, 'user:read'))) {
          throw new ProblemError(404, 'ACCESS_KEY_NOT_FOUND', `no access key ${params.id}`);
        }
        res.json(accessKeyView(key));
      },
    }),
    endpoint({
      method: 'post',
      path: '/v1/access-keys/:id/disable',
      tag: 'identity',
      summary: 'Disable an access key: requests signed with it are refused until it is enabled',
      permission: 'access-key:update',
      responses: { 200: { description: 'Disabled', schema: keyView } },
      handle: change('DisableAccessKey', 'disable'),
    }),
    endpoint({
      method: 'post',
      path: '/v1/access-keys/:id/enable',
      tag: 'identity',
      summary: 'Enable a disabled access key',
      permission: 'access-key:update',
      responses: { 200: { description: 'Enabled', schema: keyView } },
      handle: change('EnableAccessKey', 'enable'),
    }),
    endpoint({
      method: 'delete',
      path: '/v1/access-keys/:id',
      tag: 'identity',
      summary: 'Delete an access key for good',
      permission: 'access-key:delete',
      responses: { 200: { description: 'Deleted' } },
      handle: change('DeleteAccessKey', 'delete'),
    }),
  ];
}
