import { z } from 'zod';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import { enableTotp, resetTotp, totpEnrolment } from '../../commands/identity/two-factor.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { endpoint, localsOf, requestContextOf, type Endpoint } from '../shared/endpoint.js';
import { respondWithTask } from '../shared/task-response.js';
import { auditRefusals } from './refusal.js';
import { finishedTask } from './task-answer.js';
import { targetUserId } from './users.js';

const enrolment = z.object({
  otpauthUri: z.string().describe('otpauth://totp/… URI for an authenticator app'),
  qrDataUrl: z.string().describe('The URI as a QR code: data:image/png;base64,…'),
});

export function twoFactorEndpoints(deps: { eventStore: EventStore; clock: Clock; secrets: SecretBox; tasks: Tasks }): Endpoint[] {
  const twoFactor = { store: deps.eventStore, clock: deps.clock, secrets: deps.secrets };
  return [
    endpoint({
      method: 'post',
      path: '/v1/users/:id/totp',
      tag: 'identity',
      summary: 'Turn on two-factor authentication for yourself: answers the otpauth URI and its QR code. '
        + 'From now on a login needs a code; the QR code stays available until the first such login.',
      permission: 'profile:update',
      responses: { 201: { description: 'Enrolment started', schema: enrolment.extend({ taskId: z.string() }) }, 409: { description: 'Already on (TOTP_ALREADY_ENABLED)' } },
      async handle({ req, res, params }) {
        const principal = localsOf(res).principal!;
        const userId = targetUserId(principal, params.id!);
        const started = await deps.tasks.start(
          requestContextOf(req, res),
          { action: 'EnableTotp', resourceType: 'user', resourceIds: [userId], request: { userId } },
          async (task) => ({ result: await enableTotp(twoFactor, principal, task, userId) }),
        );
        const view = await finishedTask(res, deps.tasks, started);
        if (!view) return;
        // Built after the task, so that the secret in the URI is never part of its recorded result.
        res.setHeader('Cache-Control', 'no-store');
        res.status(201).json({ ...(await totpEnrolment(twoFactor, principal, userId)), taskId: view.id });
      },
    }),
    endpoint({
      method: 'get',
      path: '/v1/users/:id/totp',
      tag: 'identity',
      summary: 'Your two-factor enrolment again (URI and QR code), until the first login with a code; then 410 Gone',
      permission: 'profile:read',
      responses: { 200: { description: 'Enrolment', schema: enrolment }, 404: { description: 'Not on (TOTP_NOT_ENABLED)' }, 410: { description: 'Gone after the first login with a code (TOTP_QR_GONE)' } },
      async handle({ req, res, params }) {
        const principal = localsOf(res).principal!;
        const userId = targetUserId(principal, params.id!);
        const provisioning = await auditRefusals(deps, req, res, { action: 'GetTotpEnrolment', resourceType: 'user', resourceIds: [userId] },
          () => totpEnrolment(twoFactor, principal, userId));
        res.setHeader('Cache-Control', 'no-store');
        res.json(provisioning);
      },
    }),
    endpoint({
      method: 'delete',
      path: '/v1/users/:id/totp',
      tag: 'identity',
      summary: 'Reset a user\'s two-factor authentication (a lost phone): it is off until they enrol again',
      permission: 'user:reset-totp',
      responses: { 200: { description: 'Reset' } },
      async handle({ req, res, params }) {
        const principal = localsOf(res).principal!;
        const userId = targetUserId(principal, params.id!);
        const started = await deps.tasks.start(
          requestContextOf(req, res),
          { action: 'ResetTotp', resourceType: 'user', resourceIds: [userId], request: { userId } },
          async (task) => ({ result: await resetTotp(twoFactor, principal, task, userId) }),
        );
        await respondWithTask(req, res, deps.tasks, started, { successStatus: 200 });
      },
    }),
  ];
}
