import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';

// A ticket (stream `ticket-<id>`): a project member's request for a change, held exactly as
// it will be executed, approved step by step along the flow it was submitted with (a
// snapshot of its process, so that later edits of the process do not change a ticket under
// way). States follow ZStack IAM2 (FACTS.md): Pending, IntermediateApproved, FinalApproved,
// Rejected, Cancelled. After final approval the request runs once; the ticket records the
// resources it created or the failure.

export const ticketTypes = ['ApplyVm', 'DeleteVm', 'ModifyVmConfiguration', 'ModifyProjectCycle', 'ModifyProjectQuota'] as const;
export type TicketType = (typeof ticketTypes)[number];

export const ticketStates = ['Pending', 'IntermediateApproved', 'FinalApproved', 'Rejected', 'Cancelled'] as const;
export type TicketState = (typeof ticketStates)[number];

export type Approver = { kind: 'admin' } | { kind: 'project-admin' } | { kind: 'user'; userId: string };
export interface FlowStep { name: string; approver: Approver }
export interface TicketFlow { processId: string | null; steps: FlowStep[] }

/** The default process (reference/002): submit → admin. */
export const defaultFlow: TicketFlow = { processId: null, steps: [{ name: 'admin approval', approver: { kind: 'admin' } }] };

/** Who acts on a ticket, as the command layer established it. */
export interface TicketActor {
  userId: string;
  username: string;
  /** Holds the admin system role (outside any project session). */
  isAdmin: boolean;
  /** The project role of a project session in the ticket's project. */
  projectRole?: string;
}

export type TicketOutcome = { ok: true; resourceIds: string[]; taskId: string | null } | { ok: false; error: { code: string; message: string }; taskId: string | null };

export type TicketEvent =
  | DomainEvent<'TicketSubmitted', { ticketId: string; projectId: string; applicantId: string; applicantName: string; type: TicketType; request: unknown; flow: TicketFlow; at: number }>
  | DomainEvent<'TicketApproved', { ticketId: string; step: number; approverId: string; approverName: string; remarks: string; final: boolean; at: number }>
  | DomainEvent<'TicketRejected', { ticketId: string; step: number; approverId: string; approverName: string; remarks: string; at: number }>
  | DomainEvent<'TicketCancelled', { ticketId: string; at: number }>
  | DomainEvent<'TicketReopened', { ticketId: string; request: unknown; flow: TicketFlow; at: number }>
  | DomainEvent<'TicketFulfilled', { ticketId: string; outcome: TicketOutcome; at: number }>
  | DomainEvent<'TicketArchived', { ticketId: string; at: number }>;

export type TicketCommand =
  | { type: 'SubmitTicket'; ticketId: string; projectId: string; applicant: TicketActor; ticketType: TicketType; request: unknown; flow: TicketFlow; now: number }
  | { type: 'ApproveTicket'; approver: TicketActor; remarks?: string; now: number }
  | { type: 'RejectTicket'; approver: TicketActor; remarks: string; now: number }
  | { type: 'CancelTicket'; by: TicketActor; now: number }
  | { type: 'ReopenTicket'; by: TicketActor; request?: unknown; flow: TicketFlow; now: number }
  | { type: 'RecordFulfilment'; outcome: TicketOutcome; now: number }
  | { type: 'ArchiveTicket'; by: TicketActor; now: number };

export type TicketAggregate =
  | { exists: false }
  | {
    exists: true;
    ticketId: string;
    projectId: string;
    applicantId: string;
    type: TicketType;
    request: unknown;
    flow: TicketFlow;
    state: TicketState;
    /** Index of the step awaiting approval. */
    step: number;
    outcome: TicketOutcome | null;
    archived: boolean;
  };
export type LiveTicket = Extract<TicketAggregate, { exists: true }>;

export const ticketStream = (ticketId: string) => `ticket-${ticketId}`;

const open = (state: TicketState) => state === 'Pending' || state === 'IntermediateApproved';

export function approverMatches(approver: Approver, actor: TicketActor): boolean {
  switch (approver.kind) {
    case 'admin': return actor.isAdmin;
    case 'project-admin': return actor.projectRole === 'project-admin';
    case 'user': return actor.userId === approver.userId;
  }
}

function live(state: TicketAggregate): LiveTicket {
  if (!state.exists) throw new DomainError('TICKET_NOT_FOUND', 'no such ticket', 'not_found');
  return state;
}

function assertDecidable(ticket: LiveTicket, actor: TicketActor): FlowStep {
  if (!open(ticket.state)) throw new DomainError('TICKET_NOT_PENDING', `the ticket is ${ticket.state}: there is nothing to approve or reject`, 'conflict', { state: ticket.state });
  const step = ticket.flow.steps[ticket.step]!;
  if (!approverMatches(step.approver, actor)) {
    throw new DomainError('NOT_STEP_APPROVER', `step ${ticket.step + 1} (${step.name}) awaits ${describe(step.approver)}; you cannot decide it`, 'forbidden', { step: ticket.step });
  }
  return step;
}

const describe = (approver: Approver) => (approver.kind === 'user' ? `user ${approver.userId}` : approver.kind);

function assertApplicant(ticket: LiveTicket, actor: TicketActor, what: string) {
  if (actor.userId !== ticket.applicantId) throw new DomainError('NOT_TICKET_APPLICANT', `only the applicant can ${what} a ticket`, 'forbidden');
}

function validFlow(flow: TicketFlow) {
  if (flow.steps.length === 0) throw new DomainError('INVALID_TICKET_FLOW', 'a ticket flow needs at least one approval step', 'invalid');
}

export const ticketDecider: Decider<TicketCommand, TicketAggregate, TicketEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    if (command.type === 'SubmitTicket') {
      if (state.exists) throw new DomainError('TICKET_EXISTS', `ticket ${command.ticketId} already exists`);
      validFlow(command.flow);
      return [{
        type: 'TicketSubmitted',
        data: {
          ticketId: command.ticketId, projectId: command.projectId, applicantId: command.applicant.userId, applicantName: command.applicant.username,
          type: command.ticketType, request: command.request, flow: command.flow, at: command.now,
        },
      }];
    }
    const ticket = live(state);
    const ticketId = ticket.ticketId;
    switch (command.type) {
      case 'ApproveTicket': {
        assertDecidable(ticket, command.approver);
        const final = ticket.step === ticket.flow.steps.length - 1;
        return [{
          type: 'TicketApproved',
          data: { ticketId, step: ticket.step, approverId: command.approver.userId, approverName: command.approver.username, remarks: command.remarks ?? '', final, at: command.now },
        }];
      }
      case 'RejectTicket':
        assertDecidable(ticket, command.approver);
        if (!command.remarks.trim()) throw new DomainError('REMARKS_REQUIRED', 'a rejection needs remarks', 'invalid', { fields: [{ field: 'remarks', message: 'required' }] });
        return [{ type: 'TicketRejected', data: { ticketId, step: ticket.step, approverId: command.approver.userId, approverName: command.approver.username, remarks: command.remarks, at: command.now } }];
      case 'CancelTicket':
        assertApplicant(ticket, command.by, 'cancel');
        if (ticket.state === 'Cancelled') return [];
        if (!open(ticket.state)) throw new DomainError('TICKET_NOT_PENDING', `the ticket is ${ticket.state}: it can no longer be cancelled`, 'conflict', { state: ticket.state });
        return [{ type: 'TicketCancelled', data: { ticketId, at: command.now } }];
      case 'ReopenTicket':
        assertApplicant(ticket, command.by, 'reopen');
        if (ticket.state !== 'Rejected' && ticket.state !== 'Cancelled') {
          throw new DomainError('TICKET_NOT_CLOSED', `the ticket is ${ticket.state}: only a rejected or cancelled ticket can be reopened`, 'conflict', { state: ticket.state });
        }
        if (ticket.archived) throw new DomainError('TICKET_ARCHIVED', 'the ticket was deleted', 'gone');
        validFlow(command.flow);
        return [{ type: 'TicketReopened', data: { ticketId, request: command.request ?? ticket.request, flow: command.flow, at: command.now } }];
      case 'RecordFulfilment':
        if (ticket.state !== 'FinalApproved') throw new DomainError('TICKET_NOT_APPROVED', 'only a finally approved ticket is fulfilled', 'conflict', { state: ticket.state });
        if (ticket.outcome) return []; // it runs once: a repeat records nothing
        return [{ type: 'TicketFulfilled', data: { ticketId, outcome: command.outcome, at: command.now } }];
      case 'ArchiveTicket':
        assertApplicant(ticket, command.by, 'delete');
        if (ticket.archived) return [];
        if (open(ticket.state) || (ticket.state === 'FinalApproved' && !ticket.outcome)) {
          throw new DomainError('TICKET_NOT_RESOLVED', 'only a resolved ticket can be deleted; cancel it first', 'conflict', { state: ticket.state });
        }
        return [{ type: 'TicketArchived', data: { ticketId, at: command.now } }];
    }
  },

  evolve(state, event) {
    if (event.type === 'TicketSubmitted') {
      const { ticketId, projectId, applicantId, type, request, flow } = event.data;
      return { exists: true, ticketId, projectId, applicantId, type, request, flow, state: 'Pending', step: 0, outcome: null, archived: false };
    }
    if (!state.exists) return state;
    switch (event.type) {
      case 'TicketApproved':
        return event.data.final
          ? { ...state, state: 'FinalApproved' }
          : { ...state, state: 'IntermediateApproved', step: event.data.step + 1 };
      case 'TicketRejected':
        return { ...state, state: 'Rejected' };
      case 'TicketCancelled':
        return { ...state, state: 'Cancelled' };
      case 'TicketReopened':
        return { ...state, state: 'Pending', step: 0, request: event.data.request, flow: event.data.flow, outcome: null };
      case 'TicketFulfilled':
        return { ...state, outcome: event.data.outcome };
      case 'TicketArchived':
        return { ...state, archived: true };
      default:
        return state;
    }
  },
};

export const ticketEventTypes: readonly TicketEvent['type'][] = [
  'TicketSubmitted', 'TicketApproved', 'TicketRejected', 'TicketCancelled', 'TicketReopened', 'TicketFulfilled', 'TicketArchived',
];
