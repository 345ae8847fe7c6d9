import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';

// A ticket (stream `ticket-<id>`): a project member's request for a change, held exactly as
// it will be executed, approved step by step along the flow it was submitted with (a
// snapshot of its process, so that later edits of the process do not change a ticket under
// way). States follow ZStack IAM2 (FACTS.md): Pending, IntermediateApproved, FinalApproved,
// Rejected, Cancelled. After final approval the request runs once; the ticket records the
// resources it created or the failure.
//
// A ticket follows its process as the process changes (reference/002): an edit of an
// enabled process resubmits the ticket through the new steps (from step 1), a deleted process
// (or one no longer covering the ticket's type) sends it back through the default process,
// and a disabled process freezes it — no approval or rejection — until it is enabled again.
// The command layer hands the decider the process as it stands (`AlignTicketWithProcess`);
// alignments carry the process's stream version and only ever move forward, so that a late
// or repeated one changes nothing.

export const ticketTypes = ['ApplyVm', 'DeleteVm', 'ModifyVmConfiguration', 'ModifyProjectCycle', 'ModifyProjectQuota'] as const;
export type TicketType = (typeof ticketTypes)[number];

export const ticketStates = ['Pending', 'IntermediateApproved', 'FinalApproved', 'Rejected', 'Cancelled'] as const;
export type TicketState = (typeof ticketStates)[number];

export const approverKinds = ['admin', 'project-admin', 'department-manager', 'user'] as const;
export type Approver = { kind: 'admin' } | { kind: 'project-admin' } | { kind: 'department-manager' } | { kind: 'user'; userId: string };
export interface FlowStep { name: string; approver: Approver }
export interface TicketFlow {
  processId: string | null;
  steps: FlowStep[];
  /** The process's stream version this flow was taken from (absent for the default flow and old tickets). */
  processVersion?: number;
}

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
  /** Manages the department the ticket's project belongs to. */
  departmentManager?: boolean;
}

/** A ticket's process as it stands now, for aligning a ticket that follows it. */
export interface ProcessSnapshot {
  processId: string;
  /** The process's stream version. */
  version: number;
  name: string;
  status: 'enabled' | 'disabled' | 'deleted';
  /** The process still covers the ticket's type. */
  coversType: boolean;
  steps: FlowStep[];
}

export type TicketOutcome = { ok: true; resourceIds: string[]; taskId: string | null } | { ok: false; error: { code: string; message: string }; taskId: string | null };

export type TicketEvent =
  | DomainEvent<'TicketSubmitted', { ticketId: string; projectId: string; applicantId: string; applicantName: string; type: TicketType; request: unknown; flow: TicketFlow; at: number }>
  | DomainEvent<'TicketApproved', { ticketId: string; step: number; approverId: string; approverName: string; remarks: string; final: boolean; at: number }>
  | DomainEvent<'TicketRejected', { ticketId: string; step: number; approverId: string; approverName: string; remarks: string; at: number }>
  | DomainEvent<'TicketCancelled', { ticketId: string; at: number }>
  | DomainEvent<'TicketReopened', { ticketId: string; request: unknown; flow: TicketFlow; at: number }>
  | DomainEvent<'TicketFulfilled', { ticketId: string; outcome: TicketOutcome; at: number }>
  | DomainEvent<'TicketArchived', { ticketId: string; at: number }>
  | DomainEvent<'TicketResubmitted', { ticketId: string; flow: TicketFlow; reason: string; at: number }>
  | DomainEvent<'TicketFrozen', { ticketId: string; processId: string; processVersion: number; reason: string; at: number }>
  | DomainEvent<'TicketUnfrozen', { ticketId: string; processId: string; processVersion: number; reason: string; at: number }>;

export type TicketCommand =
  | { type: 'SubmitTicket'; ticketId: string; projectId: string; applicant: TicketActor; ticketType: TicketType; request: unknown; flow: TicketFlow; now: number }
  | { type: 'ApproveTicket'; approver: TicketActor; remarks?: string; now: number }
  | { type: 'RejectTicket'; approver: TicketActor; remarks: string; now: number }
  | { type: 'CancelTicket'; by: TicketActor; now: number }
  | { type: 'ReopenTicket'; by: TicketActor; request?: unknown; flow: TicketFlow; now: number }
  | { type: 'RecordFulfilment'; outcome: TicketOutcome; now: number }
  | { type: 'ArchiveTicket'; by: TicketActor; now: number }
  /** Follow the ticket's process as it stands; `fallback` is the flow for a process that no longer takes the ticket. */
  | { type: 'AlignTicketWithProcess'; process: ProcessSnapshot; fallback: TicketFlow; now: number };

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
    /** Its process is disabled: no approval or rejection until it is enabled. */
    frozen: boolean;
  };
export type LiveTicket = Extract<TicketAggregate, { exists: true }>;

export const ticketStream = (ticketId: string) => `ticket-${ticketId}`;

const open = (state: TicketState) => state === 'Pending' || state === 'IntermediateApproved';

export function approverMatches(approver: Approver, actor: TicketActor): boolean {
  switch (approver.kind) {
    case 'admin': return actor.isAdmin;
    case 'project-admin': return actor.projectRole === 'project-admin';
    case 'department-manager': return actor.departmentManager === true;
    case 'user': return actor.userId === approver.userId;
  }
}

function live(state: TicketAggregate): LiveTicket {
  if (!state.exists) throw new DomainError('TICKET_NOT_FOUND', 'no such ticket', 'not_found');
  return state;
}

function assertDecidable(ticket: LiveTicket, actor: TicketActor): FlowStep {
  if (!open(ticket.state)) throw new DomainError('TICKET_NOT_PENDING', `the ticket is ${ticket.state}: there is nothing to approve or reject`, 'conflict', { state: ticket.state });
  if (ticket.frozen) {
    throw new DomainError('TICKET_FROZEN', 'the ticket\'s process is disabled: it cannot be approved or rejected until the process is enabled again', 'conflict', { processId: ticket.flow.processId });
  }
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

const sameSteps = (a: readonly FlowStep[], b: readonly FlowStep[]) => JSON.stringify(a) === JSON.stringify(b);

/** What a change of the ticket's process means for it: resubmission, freezing, thawing or nothing. */
function align(ticket: LiveTicket, process: ProcessSnapshot, fallback: TicketFlow, now: number): TicketEvent[] {
  const ticketId = ticket.ticketId;
  if (!open(ticket.state) || ticket.flow.processId !== process.processId) return [];
  // Alignments computed from an older state of the process than the ticket already follows are stale.
  if (process.version <= (ticket.flow.processVersion ?? -1)) return [];
  const { processId, version: processVersion, name } = process;
  if (process.status === 'deleted' || !process.coversType) {
    validFlow(fallback);
    const through = fallback.processId === null ? 'the default process' : 'the process now covering its type';
    const why = process.status === 'deleted' ? `process "${name}" was deleted` : `process "${name}" no longer covers ${ticket.type} tickets`;
    return [{ type: 'TicketResubmitted', data: { ticketId, flow: fallback, reason: `${why}: resubmitted through ${through}`, at: now } }];
  }
  if (process.status === 'disabled') {
    // A disabled ("invalid") process keeps its tickets as they are; they wait for it to be enabled.
    return ticket.frozen ? [] : [{ type: 'TicketFrozen', data: { ticketId, processId, processVersion, reason: `process "${name}" was disabled`, at: now } }];
  }
  if (!sameSteps(ticket.flow.steps, process.steps)) {
    validFlow({ processId, steps: process.steps });
    return [{ type: 'TicketResubmitted', data: { ticketId, flow: { processId, steps: process.steps, processVersion }, reason: `process "${name}" changed: resubmitted through its new steps`, at: now } }];
  }
  return ticket.frozen ? [{ type: 'TicketUnfrozen', data: { ticketId, processId, processVersion, reason: `process "${name}" was enabled`, at: now } }] : [];
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
      case 'AlignTicketWithProcess':
        return align(ticket, command.process, command.fallback, command.now);
    }
  },

  evolve(state, event) {
    if (event.type === 'TicketSubmitted') {
      const { ticketId, projectId, applicantId, type, request, flow } = event.data;
      return { exists: true, ticketId, projectId, applicantId, type, request, flow, state: 'Pending', step: 0, outcome: null, archived: false, frozen: false };
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
        return { ...state, state: 'Pending', step: 0, request: event.data.request, flow: event.data.flow, outcome: null, frozen: false };
      case 'TicketFulfilled':
        return { ...state, outcome: event.data.outcome };
      case 'TicketArchived':
        return { ...state, archived: true };
      case 'TicketResubmitted':
        return { ...state, state: 'Pending', step: 0, flow: event.data.flow, frozen: false };
      case 'TicketFrozen':
      case 'TicketUnfrozen':
        return { ...state, frozen: event.type === 'TicketFrozen', flow: { ...state.flow, processVersion: event.data.processVersion } };
      default:
        return state;
    }
  },
};

export const ticketEventTypes: readonly TicketEvent['type'][] = [
  'TicketSubmitted', 'TicketApproved', 'TicketRejected', 'TicketCancelled', 'TicketReopened', 'TicketFulfilled', 'TicketArchived',
  'TicketResubmitted', 'TicketFrozen', 'TicketUnfrozen',
];
