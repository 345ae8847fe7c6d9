import { z } from 'zod';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import { changeSetting } from '../../commands/settings/settings.js';
import { loadAggregate } from '../../commands/shared/handle-command.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { allSettings, settingsDecider, settingsStream } from '../../domain/settings/settings.js';
import { findSetting } from '../../domain/settings/definitions.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import { REDACTED } from '../../commands/shared/redact.js';
import { endpoint, requestContextOf, type Endpoint } from '../shared/endpoint.js';
import { etagOf, ifMatchVersion } from '../shared/etag.js';
import { ProblemError } from '../shared/problem.js';
import { respondWithTask } from '../shared/task-response.js';

const settingView = z.object({
  name: z.string(),
  value: z.union([z.string(), z.number(), z.boolean()]),
  default: z.union([z.string(), z.number(), z.boolean()]),
  type: z.enum(['integer', 'boolean', 'string', 'enum']),
  description: z.string(),
  min: z.number().optional(),
  max: z.number().optional(),
  unit: z.string().optional(),
  values: z.array(z.string()).optional(),
  sealed: z.boolean().optional().describe('A secret: stored encrypted; its value reads *** when set'),
});

/** A sealed setting (a password) is never shown, not even encrypted: only whether it is set. */
const visible = <T extends { sealed?: boolean; value: unknown }>(setting: T): T => (setting.sealed ? { ...setting, value: setting.value === '' ? '' : REDACTED } : setting);

const changeBody = z.strictObject({ value: z.union([z.string(), z.number(), z.boolean()]) });

// The settings stream's version is every setting's ETag: `If-Match` guards lost updates.

export function settingsEndpoints(deps: { eventStore: EventStore; clock: Clock; tasks: Tasks; secrets: SecretBox }): Endpoint[] {
  const load = () => loadAggregate(deps.eventStore, settingsDecider, settingsStream);
  return [
    endpoint({
      method: 'get',
      path: '/v1/settings',
      tag: 'settings',
      summary: 'All global settings with their values and defaults',
      permission: 'setting:read',
      responses: { 200: { description: 'Settings', schema: z.object({ items: z.array(settingView) }) } },
      async handle({ res }) {
        const { state, version } = await load();
        res.setHeader('ETag', etagOf(version));
        res.json({ items: allSettings(state).map(visible) });
      },
    }),
    endpoint({
      method: 'get',
      path: '/v1/settings/:name',
      tag: 'settings',
      summary: 'One setting',
      permission: 'setting:read',
      responses: { 200: { description: 'The setting', schema: settingView } },
      async handle({ res, params }) {
        const { state, version } = await load();
        const setting = allSettings(state).find((item) => item.name === params.name);
        if (!setting) throw new ProblemError(404, 'SETTING_NOT_FOUND', `no setting named ${params.name}`);
        res.setHeader('ETag', etagOf(version));
        res.json(visible(setting));
      },
    }),
    endpoint({
      method: 'put',
      path: '/v1/settings/:name',
      tag: 'settings',
      summary: 'Change a setting (a task; the change is an event)',
      permission: 'setting:update',
      body: changeBody,
      responses: { 200: { description: 'Changed', schema: z.object({ name: z.string(), value: z.unknown(), taskId: z.string() }) } },
      async handle({ req, res, params, body }) {
        const name = params.name!;
        const expectedVersion = ifMatchVersion(req.get('if-match'));
        // A secret is sealed before it reaches the settings stream, and left out of the task's request.
        const sealed = findSetting(name)?.sealed === true;
        const value = sealed && typeof body.value === 'string' && body.value !== '' ? deps.secrets.seal(body.value) : body.value;
        const started = await deps.tasks.start(
          requestContextOf(req, res),
          { action: 'UpdateSetting', resourceType: 'setting', resourceIds: [name], request: { name, value: sealed ? REDACTED : body.value } },
          async (task) => {
            const changed = await changeSetting(deps.eventStore, task, name, value, expectedVersion);
            return { result: { name: changed.name, value: sealed ? visible({ sealed, value: changed.value }).value : changed.value } };
          },
        );
        await respondWithTask(req, res, deps.tasks, started, { successStatus: 200 });
      },
    }),
  ];
}
