import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import type { Filter, ReadStore } from '../../adapters/readstore/port.js';
import { principalAllows, type Principal } from '../../commands/identity/principal.js';
import { handleCommand } from '../../commands/shared/handle-command.js';
import { newId } from '../../commands/shared/ids.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { managesDepartmentOf, projectsManagedBy } from '../../commands/tickets/department-managers.js';
import { requireProject } from '../../commands/tenancy/projects.js';
import { actOnTicket, loadTicket, submitTicket, type TicketDeps } from '../../commands/tickets/tickets.js';
import { customisableTicketTypes, ticketProcessDecider, ticketProcessStream, type TicketProcessCommand } from '../../domain/tickets/process.js';
import type { LiveTicket } from '../../domain/tickets/ticket.js';
import { quotaNames } from '../../domain/tenancy/quotas.js';
import {
  ticketFields, ticketProcessFields, ticketProcessesCollection, ticketsCollection,
} from '../../projections/tickets/tickets.js';
import type { ProjectionRunner } from '../../projections/shared/runner.js';
import { endpoint, localsOf, requestContextOf, type Endpoint } from '../shared/endpoint.js';
import { sendList } from '../shared/list.js';
import { ProblemError } from '../shared/problem.js';
import { respondWithTask } from '../shared/task-response.js';
import { reclaimPolicySchema, toReclaimPolicy } from '../tenancy/projects.js';
import { projectOfRequest } from '../tenancy/scope.js';

// /v1/tickets, /v1/ticket-processes, /v1/approvals. A ticket holds the exact request it runs
// on final approval; each type's request is validated when the ticket is filed.

const id = z.string().min(1).max(64);
const applyVm = z.strictObject({
  name: z.string().trim().min(1).max(255), description: z.string().max(4096).optional(), instanceOfferingId: id, imageId: id,
  l3NetworkIds: z.array(id).min(1).max(16), rootDiskSize: z.number().int().positive().optional(), dataDiskOfferingIds: z.array(id).max(24).optional(),
  zoneId: id.optional(), clusterId: id.optional(), strategy: z.enum(['InstantStart', 'JustCreate', 'CreateStopped']).optional(),
});
const ticketBody = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ApplyVm'), projectId: id.optional(), request: applyVm }),
  z.strictObject({ type: z.literal('DeleteVm'), projectId: id.optional(), request: z.strictObject({ vmId: id }) }),
  z.strictObject({ type: z.literal('ModifyVmConfiguration'), projectId: id.optional(), request: z.strictObject({ vmId: id, instanceOfferingId: id }) }),
  z.strictObject({ type: z.literal('ModifyProjectQuota'), projectId: id.optional(), request: z.strictObject({ quotas: z.partialRecord(z.enum(quotaNames), z.number().int().min(0)) }) }),
  z.strictObject({ type: z.literal('ModifyProjectCycle'), projectId: id.optional(), request: z.strictObject({ reclaimPolicy: reclaimPolicySchema }) }),
]);
const approver = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('admin') }), z.strictObject({ kind: z.literal('project-admin') }), z.strictObject({ kind: z.literal('department-manager') }),
  z.strictObject({ kind: z.literal('user'), userId: id }),
]);
const steps = z.array(z.strictObject({ name: z.string().trim().min(1).max(255), approver })).min(1).max(20);
const processBody = z.strictObject({ projectId: id, name: z.string().trim().min(1).max(255), ticketTypes: z.array(z.enum(customisableTicketTypes)).min(1), steps });
const processChange = z.strictObject({ name: z.string().trim().min(1).max(255).optional(), ticketTypes: z.array(z.enum(customisableTicketTypes)).min(1).optional(), steps: steps.optional() });

export function ticketView(ticket: LiveTicket) {
  return {
    id: ticket.ticketId, projectId: ticket.projectId, applicantId: ticket.applicantId, type: ticket.type, request: ticket.request,
    state: ticket.state, step: ticket.step, steps: ticket.flow.steps, processId: ticket.flow.processId, outcome: ticket.outcome, archived: ticket.archived,
    frozen: ticket.frozen,
  };
}

export function ticketEndpoints(deps: { eventStore: EventStore; readStore: ReadStore; runner: ProjectionRunner; clock: Clock; tasks: Tasks }): Endpoint[] {
  const ticketDeps: TicketDeps = { store: deps.eventStore, readStore: deps.readStore, clock: deps.clock };
  const principalOf = (res: Response): Principal => localsOf(res).principal!;

  async function ticketTask(req: Request, res: Response, action: string, ticketId: string, request: unknown, work: (metadata: EventMetadata) => Promise<LiveTicket>, successStatus: 200 | 201 = 200) {
    const started = await deps.tasks.start(requestContextOf(req, res), { action, resourceType: 'ticket', resourceIds: [ticketId], request },
      async ({ metadata }) => ({ result: ticketView(await work(metadata)) }));
    await respondWithTask(req, res, deps.tasks, started, { successStatus });
  }

  async function visibleTicket(res: Response, ticketId: string): Promise<LiveTicket> {
    const ticket = await loadTicket(deps.eventStore, ticketId);
    const own = projectOfRequest(res);
    if (own && ticket.projectId !== own) throw new ProblemError(404, 'TICKET_NOT_FOUND', `no ticket ${ticketId}`);
    // One who reads tickets only as a department manager (no role grants it) sees their departments' projects' tickets.
    const principal = principalOf(res);
    if (!own && !principalAllows(principal, 'ticket:read') && ticket.applicantId !== principal.userId
      && !(await managesDepartmentOf(deps.readStore, ticket.projectId, principal.userId))) {
      throw new ProblemError(404, 'TICKET_NOT_FOUND', `no ticket ${ticketId}`);
    }
    return ticket;
  }

  const ticketAction = (verb: string, action: string, permission: string, summary: string, body: z.ZodType | undefined, make: (body: any) => Parameters<typeof actOnTicket>[3]) => endpoint({
    method: 'post', path: `/v1/tickets/:id/${verb}`, tag: 'tickets', summary, permission, ...(body ? { body } : {}),
    responses: { 200: { description: 'The ticket' } },
    async handle({ req, res, params, body: requestBody }) {
      const ticketId = params.id!;
      await visibleTicket(res, ticketId);
      const ticketAct = make(requestBody ?? {});
      await ticketTask(req, res, action, ticketId, { ticketId, ...(requestBody ?? {}) }, (metadata) => actOnTicket(ticketDeps, ticketId, principalOf(res), ticketAct, metadata));
    },
  });

  return [
    endpoint({
      method: 'post', path: '/v1/tickets', tag: 'tickets', summary: 'File a ticket: the request it will run on final approval, along the project\'s process', permission: 'ticket:create',
      body: ticketBody, responses: { 201: { description: 'The ticket' } },
      async handle({ req, res, body }) {
        const projectId = projectOfRequest(res) ?? body.projectId;
        if (!projectId) throw new ProblemError(400, 'VALIDATION_FAILED', 'a ticket is filed in a project', [{ field: 'projectId', message: 'required outside a project session' }]);
        if (body.projectId !== undefined && body.projectId !== projectId) throw new ProblemError(403, 'FORBIDDEN', 'a project session files tickets in its own project only');
        const request = body.type === 'ModifyProjectCycle' ? { reclaimPolicy: toReclaimPolicy(body.request.reclaimPolicy) } : body.request;
        const ticketId = newId();
        const started = await deps.tasks.start(requestContextOf(req, res), { action: 'SubmitTicket', resourceType: 'ticket', resourceIds: [ticketId], request: body },
          async ({ metadata }) => ({ result: ticketView(await submitTicket(ticketDeps, ticketId, principalOf(res), { projectId, type: body.type, request }, metadata)) }));
        await respondWithTask(req, res, deps.tasks, started, { successStatus: 201 });
      },
    }),
    endpoint({
      method: 'get', path: '/v1/tickets', tag: 'tickets', summary: 'My tickets (mine=true, or anyone but the admin): those I filed and did not delete; the admin sees every ticket otherwise',
      permission: 'ticket:list', listQuery: true,
      query: z.object({ mine: z.enum(['true', 'false']).default('false') }).loose(),
      responses: { 200: { description: 'Tickets' } },
      async handle({ req, res, query }) {
        const principal = principalOf(res);
        const admin = !principal.project && principal.roles.includes('admin');
        const mine = (query as { mine: string }).mine === 'true' || !admin;
        const scope: Filter = mine ? { applicantId: principal.userId, archived: false, ...(principal.project ? { projectId: principal.project.projectId } : {}) } : {};
        await sendList(req, res, deps, { collection: ticketsCollection, fields: ticketFields, defaultSort: [['createdAt', -1]], scope, extraParameters: ['mine'] });
      },
    }),
    endpoint({
      method: 'get', path: '/v1/tickets/:id', tag: 'tickets', summary: 'One ticket', permission: 'ticket:read',
      responses: { 200: { description: 'The ticket' } },
      async handle({ res, params }) {
        res.json(ticketView(await visibleTicket(res, params.id!)));
      },
    }),
    ticketAction('approve', 'ApproveTicket', 'ticket:approve', 'Approve the current step (as its approver); the last approval runs the request', z.strictObject({ remarks: z.string().max(4096).optional() }),
      (body: { remarks?: string }) => ({ type: 'ApproveTicket', ...(body.remarks !== undefined ? { remarks: body.remarks } : {}) })),
    ticketAction('reject', 'RejectTicket', 'ticket:reject', 'Reject with remarks (as the current step\'s approver)', z.strictObject({ remarks: z.string().trim().min(1).max(4096) }),
      (body: { remarks: string }) => ({ type: 'RejectTicket', remarks: body.remarks })),
    ticketAction('cancel', 'CancelTicket', 'ticket:cancel', 'Cancel an open ticket (its applicant)', undefined, () => ({ type: 'CancelTicket' })),
    ticketAction('reopen', 'ReopenTicket', 'ticket:reopen', 'Reopen a rejected or cancelled ticket, optionally with a changed request (its applicant)',
      z.strictObject({ request: z.record(z.string(), z.unknown()).optional() }), (body: { request?: unknown }) => ({ type: 'ReopenTicket', ...(body.request !== undefined ? { request: body.request } : {}) })),
    endpoint({
      method: 'delete', path: '/v1/tickets/:id', tag: 'tickets', summary: 'Delete a resolved ticket (its applicant): archived for the admin', permission: 'ticket:delete',
      responses: { 200: { description: 'The ticket' } },
      async handle({ req, res, params }) {
        const ticketId = params.id!;
        await visibleTicket(res, ticketId);
        await ticketTask(req, res, 'DeleteTicket', ticketId, { ticketId }, (metadata) => actOnTicket(ticketDeps, ticketId, principalOf(res), { type: 'ArchiveTicket' }, metadata));
      },
    }),
    endpoint({
      method: 'get', path: '/v1/approvals', tag: 'tickets',
      summary: 'My approvals: pending (awaiting me at their current step, not frozen), resolved (tickets I approved or rejected a step of), archived (resolved tickets their applicant deleted)',
      permission: 'approval:list', listQuery: true,
      query: z.object({ view: z.enum(['pending', 'resolved', 'archived']).default('pending') }).loose(),
      responses: { 200: { description: 'Tickets or decisions' } },
      async handle({ req, res, query }) {
        const principal = principalOf(res);
        const admin = !principal.project && principal.roles.includes('admin');
        const view = (query as { view: string }).view;
        if (view === 'resolved') {
          // A ticket its applicant deleted moves from "resolved" to "archived".
          await sendList(req, res, deps, { collection: ticketsCollection, fields: ticketFields, defaultSort: [['updatedAt', -1]], scope: { decidedBy: principal.userId, archived: false }, extraParameters: ['view'] });
          return;
        }
        if (view === 'archived') {
          const scope: Filter = admin ? { archived: true } : { archived: true, projectId: principal.project?.projectId ?? '-' };
          await sendList(req, res, deps, { collection: ticketsCollection, fields: ticketFields, defaultSort: [['createdAt', -1]], scope, extraParameters: ['view'] });
          return;
        }
        const mine: Filter[] = [{ 'awaiting.kind': 'user', 'awaiting.userId': principal.userId }];
        if (admin) mine.push({ 'awaiting.kind': 'admin' });
        if (principal.project?.role === 'project-admin') mine.push({ 'awaiting.kind': 'project-admin', projectId: principal.project.projectId });
        if (!principal.project) {
          const managed = await projectsManagedBy(deps.readStore, principal.userId);
          if (managed.length > 0) mine.push({ 'awaiting.kind': 'department-manager', projectId: { $in: managed } });
        }
        // A frozen ticket (its process disabled) cannot be decided: it waits outside the inbox.
        await sendList(req, res, deps, {
          collection: ticketsCollection, fields: ticketFields, defaultSort: [['createdAt', 1]],
          scope: { $and: [{ state: { $in: ['Pending', 'IntermediateApproved'] } }, { frozen: { $ne: true } }, { $or: mine }] }, extraParameters: ['view'],
        });
      },
    }),
    endpoint({
      method: 'post', path: '/v1/ticket-processes', tag: 'tickets', summary: 'Create a project\'s ticket process: ordered approval steps for VM ticket types', permission: 'ticket-process:create',
      body: processBody, responses: { 201: { description: 'The process' } },
      async handle({ req, res, body }) {
        const processId = newId();
        const started = await deps.tasks.start(requestContextOf(req, res), { action: 'CreateTicketProcess', resourceType: 'ticket-process', resourceIds: [processId], request: body },
          async ({ metadata }) => {
            await requireProject(deps.eventStore, body.projectId);
            const outcome = await handleCommand(deps.eventStore, ticketProcessDecider, ticketProcessStream(processId), { type: 'CreateTicketProcess', processId, ...body, now: deps.clock.now() }, metadata);
            return { result: { id: processId, ...outcome.state } };
          });
        await respondWithTask(req, res, deps.tasks, started, { successStatus: 201 });
      },
    }),
    endpoint({
      method: 'get', path: '/v1/ticket-processes', tag: 'tickets', summary: 'Ticket processes', permission: 'ticket-process:list', listQuery: true,
      responses: { 200: { description: 'Processes' } },
      async handle({ req, res }) {
        await sendList(req, res, deps, { collection: ticketProcessesCollection, fields: ticketProcessFields, defaultSort: [['createdAt', -1]], scope: {} });
      },
    }),
    ...([['patch', '', 'ChangeTicketProcess', 'Change a process (name, ticket types, steps): its open tickets are resubmitted through the new steps', processChange],
      ['post', '/disable', 'DisableTicketProcess', 'Disable a process: its open tickets are frozen (no approval or rejection) until it is enabled', undefined],
      ['post', '/enable', 'EnableTicketProcess', 'Enable a process: its frozen tickets can be decided again', undefined],
      ['delete', '', 'DeleteTicketProcess', 'Delete a process: its open tickets are resubmitted through the default process, as are new ones', undefined]] as const).map(([method, suffix, type, summary, body]) => endpoint({
      method, path: `/v1/ticket-processes/:id${suffix}`, tag: 'tickets', summary, permission: `ticket-process:${type === 'ChangeTicketProcess' ? 'update' : type === 'DeleteTicketProcess' ? 'delete' : 'update'}`,
      ...(body ? { body } : {}), responses: { 200: { description: 'The process' } },
      async handle({ req, res, params, body: requestBody }) {
        const processId = params.id!;
        const command = { type, ...((requestBody as object | undefined) ?? {}) } as TicketProcessCommand;
        const started = await deps.tasks.start(requestContextOf(req, res), { action: type, resourceType: 'ticket-process', resourceIds: [processId], request: { processId, ...((requestBody as object | undefined) ?? {}) } },
          async ({ metadata }) => ({ result: { id: processId, ...(await handleCommand(deps.eventStore, ticketProcessDecider, ticketProcessStream(processId), command, metadata)).state } }));
        await respondWithTask(req, res, deps.tasks, started, { successStatus: 200 });
      },
    })),
  ];
}
