import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import {
  ticketDecider, ticketStream, type LiveTicket, type TicketActor, type TicketAggregate, type TicketCommand, type TicketType,
} from '../../domain/tickets/ticket.js';
import type { Principal } from '../identity/principal.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';
import { systemActor } from '../shared/request-context.js';
import { requireProject } from '../tenancy/projects.js';
import { managesDepartmentOf } from './department-managers.js';
import { alignTicket, flowFor } from './flows.js';

// Ticket commands: submit along the project's process for the type (or the default one),
// approve/reject by the step's approver, cancel/reopen/delete by the applicant.

export { flowFor } from './flows.js';

export interface TicketDeps {
  store: EventStore;
  readStore: ReadStore;
  clock: Clock;
}

/** Who acts, as the ticket decider judges it: admin outside projects, project role inside its own. */
export function ticketActorOf(principal: Principal, projectId: string | undefined): TicketActor {
  const actor: TicketActor = { userId: principal.userId, username: principal.username, isAdmin: !principal.project && principal.roles.includes('admin') };
  if (principal.project && principal.project.projectId === projectId) actor.projectRole = principal.project.role;
  return actor;
}

/** As `ticketActorOf`, plus whether the principal (outside any project session) manages the project's department. */
export async function ticketActorFor(deps: TicketDeps, principal: Principal, projectId: string): Promise<TicketActor> {
  const actor = ticketActorOf(principal, projectId);
  if (!principal.project && await managesDepartmentOf(deps.readStore, projectId, principal.userId)) actor.departmentManager = true;
  return actor;
}

export async function loadTicket(store: EventStore, ticketId: string): Promise<LiveTicket> {
  const { state } = await loadAggregate(store, ticketDecider, ticketStream(ticketId));
  if (!state.exists) throw new DomainError('TICKET_NOT_FOUND', `no ticket ${ticketId}`, 'not_found');
  return state;
}

export async function submitTicket(
  deps: TicketDeps, ticketId: string, principal: Principal,
  request: { projectId: string; type: TicketType; request: unknown }, metadata: EventMetadata,
): Promise<LiveTicket> {
  await requireProject(deps.store, request.projectId, principal);
  const flow = await flowFor(deps, request.projectId, request.type);
  const outcome = await handleCommand(deps.store, ticketDecider, ticketStream(ticketId), {
    type: 'SubmitTicket', ticketId, projectId: request.projectId, applicant: ticketActorOf(principal, request.projectId),
    ticketType: request.type, request: request.request, flow, now: deps.clock.now(),
  }, metadata);
  return outcome.state as LiveTicket;
}

type ActorCommand =
  | { type: 'ApproveTicket'; remarks?: string }
  | { type: 'RejectTicket'; remarks: string }
  | { type: 'CancelTicket' }
  | { type: 'ArchiveTicket' }
  | { type: 'ReopenTicket'; request?: unknown };

/** Approve, reject, cancel, delete or reopen, as `principal`. */
export async function actOnTicket(deps: TicketDeps, ticketId: string, principal: Principal, action: ActorCommand, metadata: EventMetadata): Promise<LiveTicket> {
  const current = await loadTicket(deps.store, ticketId);
  if (action.type === 'ApproveTicket' || action.type === 'RejectTicket') {
    // A decision is taken on the ticket as its process has it now: the process follower may
    // not have caught up with a change of the process yet, so catch up here first.
    const aligned = await alignTicket(deps, ticketId, { ...metadata, actor: systemActor });
    if (aligned.events.includes('TicketResubmitted')) {
      throw new DomainError('TICKET_RESUBMITTED', 'the ticket\'s process changed: the ticket was resubmitted and restarts at its first step; look at it again', 'conflict');
    }
  }
  // A reopened ticket follows its project's process as it stands now.
  const flow = action.type === 'ReopenTicket' ? await flowFor(deps, current.projectId, current.type) : undefined;
  const actor = await ticketActorFor(deps, principal, current.projectId);
  const outcome = await handleCommand(deps.store, ticketDecider, ticketStream(ticketId), (_state: TicketAggregate): TicketCommand => {
    const now = deps.clock.now();
    switch (action.type) {
      case 'ApproveTicket': return { type: 'ApproveTicket', approver: actor, now, ...(action.remarks !== undefined ? { remarks: action.remarks } : {}) };
      case 'RejectTicket': return { type: 'RejectTicket', approver: actor, remarks: action.remarks, now };
      case 'CancelTicket': return { type: 'CancelTicket', by: actor, now };
      case 'ArchiveTicket': return { type: 'ArchiveTicket', by: actor, now };
      case 'ReopenTicket': return { type: 'ReopenTicket', by: actor, flow: flow!, now, ...(action.request !== undefined ? { request: action.request } : {}) };
    }
  }, metadata);
  return outcome.state as LiveTicket;
}
