import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import { ticketProcessDecider, ticketProcessStream } from '../../domain/tickets/process.js';
import {
  defaultFlow, ticketDecider, ticketStream, type LiveTicket, type TicketActor, type TicketAggregate, type TicketCommand, type TicketFlow, type TicketType,
} from '../../domain/tickets/ticket.js';
import type { Principal } from '../identity/principal.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';
import { requireProject } from '../tenancy/projects.js';

// Ticket commands: submit along the project's process for the type (or the default one),
// approve/reject by the step's approver, cancel/reopen/delete by the applicant.

export interface TicketDeps {
  store: EventStore;
  readStore: ReadStore;
  clock: Clock;
}

/** The tickets projection's collection of processes (named here: commands do not import projections). */
const ticketProcessesCollection = 'ticket_processes';

/** Who acts, as the ticket decider judges it: admin outside projects, project role inside its own. */
export function ticketActorOf(principal: Principal, projectId: string | undefined): TicketActor {
  const actor: TicketActor = { userId: principal.userId, username: principal.username, isAdmin: !principal.project && principal.roles.includes('admin') };
  if (principal.project && principal.project.projectId === projectId) actor.projectRole = principal.project.role;
  return actor;
}

/** The flow a new ticket follows: the project's enabled process for its type, else submit → admin. */
export async function flowFor(deps: TicketDeps, projectId: string, type: TicketType): Promise<TicketFlow> {
  const candidates = await deps.readStore.find(ticketProcessesCollection, { projectId, enabled: true }, { limit: 1000 });
  const match = candidates.find((doc) => (doc.ticketTypes as string[]).includes(type));
  if (!match) return defaultFlow;
  const { state } = await loadAggregate(deps.store, ticketProcessDecider, ticketProcessStream(match.id));
  if (!state.exists || state.deleted || !state.enabled) return defaultFlow;
  return { processId: state.processId, steps: state.steps };
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
  await requireProject(deps.store, request.projectId);
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
  // A reopened ticket follows its project's process as it stands now.
  const flow = action.type === 'ReopenTicket' ? await flowFor(deps, current.projectId, current.type) : undefined;
  const outcome = await handleCommand(deps.store, ticketDecider, ticketStream(ticketId), (state: TicketAggregate): TicketCommand => {
    const actor = ticketActorOf(principal, state.exists ? state.projectId : undefined);
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
