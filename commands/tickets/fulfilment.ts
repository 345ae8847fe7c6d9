import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { changeVmOffering, createVm, destroyVm, type CreateVmRequest, type VmCommandDeps } from '../compute/vm-commands.js';
import { createProcessRunner, type ProcessRunner } from '../compute/provisioning-runner.js';
import { ticketDecider, ticketStream, type LiveTicket, type TicketOutcome } from '../../domain/tickets/ticket.js';
import type { ReclaimPolicy } from '../../domain/tenancy/project.js';
import type { Quotas } from '../../domain/tenancy/quotas.js';
import { handleCommand } from '../shared/handle-command.js';
import { idFromName } from '../shared/ids.js';
import { systemActor, type RequestContext } from '../shared/request-context.js';
import type { TaskSpec, TaskWork, Tasks } from '../tasks/tasks.js';
import { loadProject, runProjectCommand } from '../tenancy/projects.js';
import { groupRolesOf } from '../tenancy/user-groups.js';
import { projectOfVm } from '../tenancy/quota-release.js';
import { loadTicket } from './tickets.js';
import { DomainError } from '../../domain/shared/errors.js';

// Ticket fulfilment (a process manager): a finally approved ticket's request runs through the
// same command path as the direct API call — a task (so it is audited), quota reserved in the
// project, placement, the VM process — as the system acting for the applicant. The task id
// is derived from the ticket (an idempotency key), and so is the VM id: after a crash the
// same request is found, not run twice. The ticket records the resources or the failure.

export interface FulfilmentDeps {
  store: EventStore;
  readStore: ReadStore;
  clock: Clock;
  tasks: Tasks;
  /** How long one request may run before the ticket records it as still running elsewhere. */
  waitMs?: number;
}

const defaultWaitMs = 600_000;

function contextFor(ticket: LiveTicket, applicantName: string, step: number): RequestContext {
  return {
    actor: { kind: 'system', id: systemActor.id, name: `system for ${applicantName} (ticket ${ticket.ticketId})` },
    correlationId: `ticket-${ticket.ticketId}`,
    idempotencyKey: `ticket-${ticket.ticketId}-${step}`,
  };
}

async function runAsTask(deps: FulfilmentDeps, context: RequestContext, spec: TaskSpec, work: TaskWork<unknown>): Promise<TicketOutcome> {
  const started = await deps.tasks.start(context, spec, work);
  const view = await deps.tasks.wait(started.taskId, deps.waitMs ?? defaultWaitMs);
  if (!view || view.state === 'running') return { ok: false, error: { code: 'STILL_RUNNING', message: 'the request is still running; see its task' }, taskId: started.taskId };
  if (view.state === 'failed') return { ok: false, error: { code: view.error?.code ?? 'FAILED', message: view.error?.message ?? 'failed' }, taskId: view.id };
  return { ok: true, resourceIds: view.resourceIds, taskId: view.id };
}

/**
 * The request runs with the applicant's standing in the project: one who has left the project
 * (directly and through its user groups) since filing gets nothing from it.
 */
async function assertApplicantMember(store: EventStore, ticket: LiveTicket) {
  const { state } = await loadProject(store, ticket.projectId);
  if (!state.exists || state.state === 'Deleted') throw new DomainError('PROJECT_NOT_FOUND', `no project ${ticket.projectId}`, 'not_found');
  if (state.members.has(ticket.applicantId)) return;
  if ((await groupRolesOf(store, state.groups, ticket.applicantId)).length > 0) return;
  throw new DomainError('NOT_A_MEMBER', `the applicant is no longer a member of project ${state.name}`, 'forbidden');
}

/** A VM named by a ticket must be its project's. */
async function assertProjectVm(store: EventStore, ticket: LiveTicket, vmId: string) {
  if ((await projectOfVm(store, vmId)) !== ticket.projectId) throw new DomainError('VM_NOT_FOUND', `no VM instance ${vmId} in this project`, 'not_found');
}

export async function fulfil(deps: FulfilmentDeps, ticket: LiveTicket, applicantName: string, approvalEventPosition: number): Promise<TicketOutcome> {
  const context = contextFor(ticket, applicantName, approvalEventPosition);
  const vmDeps: VmCommandDeps = { store: deps.store, readStore: deps.readStore, clock: deps.clock };
  const body = ticket.request as Record<string, unknown>;
  switch (ticket.type) {
    case 'ApplyVm': {
      const vmId = idFromName(`ticket-vm:${ticket.ticketId}:${approvalEventPosition}`);
      const request = { ...(body as unknown as CreateVmRequest), projectId: ticket.projectId };
      const justCreate = request.strategy === 'JustCreate';
      return runAsTask(deps, context, { action: 'CreateVmInstance', resourceType: 'vm', resourceIds: [vmId], request, ...(justCreate ? {} : { completedBy: 'process' as const }) },
        async (task) => { await assertApplicantMember(deps.store, ticket); return { result: await createVm(vmDeps, vmId, request, task), resourceIds: [vmId] }; });
    }
    case 'DeleteVm': {
      const vmId = String(body.vmId);
      return runAsTask(deps, context, { action: 'DestroyVmInstance', resourceType: 'vm', resourceIds: [vmId], request: { vmId }, completedBy: 'process' },
        async (task) => {
          await assertApplicantMember(deps.store, ticket);
          await assertProjectVm(deps.store, ticket, vmId);
          return { result: { id: vmId, ...(await destroyVm(vmDeps, vmId, task)) } };
        });
    }
    case 'ModifyVmConfiguration': {
      const vmId = String(body.vmId);
      const instanceOfferingId = String(body.instanceOfferingId);
      return runAsTask(deps, context, { action: 'ChangeVmInstanceOffering', resourceType: 'vm', resourceIds: [vmId], request: { vmId, instanceOfferingId } },
        async ({ metadata }) => {
          await assertApplicantMember(deps.store, ticket);
          await assertProjectVm(deps.store, ticket, vmId);
          return { result: await changeVmOffering(vmDeps, vmId, instanceOfferingId, metadata) };
        });
    }
    case 'ModifyProjectQuota':
      return runAsTask(deps, context, { action: 'ChangeProjectQuotas', resourceType: 'project', resourceIds: [ticket.projectId], request: body },
        async ({ metadata }) => {
          await assertApplicantMember(deps.store, ticket);
          return { result: (await runProjectCommand({ store: deps.store, clock: deps.clock }, ticket.projectId, { type: 'ChangeQuotas', quotas: body.quotas as Partial<Quotas> }, metadata)).view };
        });
    case 'ModifyProjectCycle':
      return runAsTask(deps, context, { action: 'ChangeProjectReclaimPolicy', resourceType: 'project', resourceIds: [ticket.projectId], request: body },
        async ({ metadata }) => {
          await assertApplicantMember(deps.store, ticket);
          return { result: (await runProjectCommand({ store: deps.store, clock: deps.clock }, ticket.projectId, { type: 'ChangeReclaimPolicy', reclaimPolicy: body.reclaimPolicy as ReclaimPolicy }, metadata)).view };
        });
  }
}

export async function handleFinalApproval(deps: FulfilmentDeps, event: RecordedEvent): Promise<void> {
  const data = event.data as { ticketId: string; final: boolean };
  if (!data.final) return;
  const ticket = await loadTicket(deps.store, data.ticketId);
  if (ticket.state !== 'FinalApproved' || ticket.outcome) return;
  const [submitted] = await deps.store.readStream(ticketStream(data.ticketId), { limit: 1 });
  const applicantName = (submitted?.data as { applicantName?: string } | undefined)?.applicantName ?? ticket.applicantId;
  const outcome = await fulfil(deps, ticket, applicantName, event.version);
  await handleCommand(deps.store, ticketDecider, ticketStream(data.ticketId), { type: 'RecordFulfilment', outcome, now: deps.clock.now() }, {
    correlationId: `ticket-${data.ticketId}`, causationId: event.id, actor: systemActor, schemaVersion: 1,
  });
}

export function createTicketFulfilment(deps: FulfilmentDeps & { log: { warn(d: object, m: string): void; error(d: object, m: string): void } }): ProcessRunner {
  return createProcessRunner({
    name: 'ticket-fulfilment',
    eventStore: deps.store,
    readStore: deps.readStore,
    log: deps.log,
    handles: ['TicketApproved'],
    handle: (event) => handleFinalApproval(deps, event),
  });
}
