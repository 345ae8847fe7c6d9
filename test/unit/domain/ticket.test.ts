import { describe, it } from 'vitest';
import { defaultFlow, ticketDecider, type TicketActor, type TicketEvent, type TicketFlow } from '../../../domain/tickets/ticket.js';
import { ticketProcessDecider } from '../../../domain/tickets/process.js';
import { scenario } from '../../support/given-when-then.js';

const ticketId = 't1';
const member: TicketActor = { userId: 'm', username: 'mia', isAdmin: false, projectRole: 'member' };
const projectAdmin: TicketActor = { userId: 'pa', username: 'pat', isAdmin: false, projectRole: 'project-admin' };
const admin: TicketActor = { userId: 'a', username: 'admin', isAdmin: true };
const named: TicketActor = { userId: 'n', username: 'nora', isAdmin: false };
const twoSteps: TicketFlow = { processId: 'p', steps: [{ name: 'project admin', approver: { kind: 'project-admin' } }, { name: 'admin', approver: { kind: 'admin' } }] };
const request = { name: 'vm-1' };
const submitted = (flow: TicketFlow = twoSteps): TicketEvent => ({
  type: 'TicketSubmitted', data: { ticketId, projectId: 'pr', applicantId: 'm', applicantName: 'mia', type: 'ApplyVm', request, flow, at: 1 },
});
const approved = (step: number, by: TicketActor, final: boolean): TicketEvent => ({
  type: 'TicketApproved', data: { ticketId, step, approverId: by.userId, approverName: by.username, remarks: '', final, at: 2 },
});
const rejected: TicketEvent = { type: 'TicketRejected', data: { ticketId, step: 0, approverId: 'pa', approverName: 'pat', remarks: 'too big', at: 2 } };
const cancelled: TicketEvent = { type: 'TicketCancelled', data: { ticketId, at: 2 } };
const fulfilled: TicketEvent = { type: 'TicketFulfilled', data: { ticketId, outcome: { ok: true, resourceIds: ['vm'], taskId: 'task' }, at: 3 } };
const given = scenario(ticketDecider).given;

describe('ticket decider', () => {
  it('submits a ticket holding its request and its flow', () => {
    given().when({ type: 'SubmitTicket', ticketId, projectId: 'pr', applicant: member, ticketType: 'ApplyVm', request, flow: twoSteps, now: 1 }).then([submitted()]);
    given(submitted()).when({ type: 'SubmitTicket', ticketId, projectId: 'pr', applicant: member, ticketType: 'ApplyVm', request, flow: twoSteps, now: 1 }).thenFails('TICKET_EXISTS');
    given().when({ type: 'SubmitTicket', ticketId, projectId: 'pr', applicant: member, ticketType: 'ApplyVm', request, flow: { processId: null, steps: [] }, now: 1 }).thenFails('INVALID_TICKET_FLOW');
  });
  it('is approved step by step, in order: intermediate, then final', () => {
    given(submitted()).when({ type: 'ApproveTicket', approver: projectAdmin, now: 2 }).then([approved(0, projectAdmin, false)]);
    given(submitted(), approved(0, projectAdmin, false)).when({ type: 'ApproveTicket', approver: admin, now: 2 }).then([approved(1, admin, true)]);
    given(submitted(defaultFlow)).when({ type: 'ApproveTicket', approver: admin, now: 2 }).then([approved(0, admin, true)]);
  });
  it('refuses an approval out of order, or by someone not in the step', () => {
    given(submitted()).when({ type: 'ApproveTicket', approver: admin, now: 2 }).thenFails('NOT_STEP_APPROVER');
    given(submitted()).when({ type: 'ApproveTicket', approver: member, now: 2 }).thenFails('NOT_STEP_APPROVER');
    given(submitted(), approved(0, projectAdmin, false)).when({ type: 'ApproveTicket', approver: projectAdmin, now: 2 }).thenFails('NOT_STEP_APPROVER');
    const toNora: TicketFlow = { processId: 'p', steps: [{ name: 'nora', approver: { kind: 'user', userId: 'n' } }] };
    given(submitted(toNora)).when({ type: 'ApproveTicket', approver: admin, now: 2 }).thenFails('NOT_STEP_APPROVER');
    given(submitted(toNora)).when({ type: 'ApproveTicket', approver: named, now: 2 }).then([approved(0, named, true)]);
  });
  it('refuses to approve a cancelled, rejected or already approved ticket', () => {
    given(submitted(), cancelled).when({ type: 'ApproveTicket', approver: projectAdmin, now: 2 }).thenFails('TICKET_NOT_PENDING');
    given(submitted(), rejected).when({ type: 'ApproveTicket', approver: projectAdmin, now: 2 }).thenFails('TICKET_NOT_PENDING');
    given(submitted(defaultFlow), approved(0, admin, true)).when({ type: 'ApproveTicket', approver: admin, now: 2 }).thenFails('TICKET_NOT_PENDING');
    given().when({ type: 'ApproveTicket', approver: admin, now: 2 }).thenFails('TICKET_NOT_FOUND');
  });
  it('is rejected with remarks by the step approver only', () => {
    given(submitted()).when({ type: 'RejectTicket', approver: projectAdmin, remarks: 'too big', now: 2 }).then([rejected]);
    given(submitted()).when({ type: 'RejectTicket', approver: projectAdmin, remarks: ' ', now: 2 }).thenFails('REMARKS_REQUIRED');
    given(submitted()).when({ type: 'RejectTicket', approver: admin, remarks: 'no', now: 2 }).thenFails('NOT_STEP_APPROVER');
  });
  it('is cancelled by its applicant while open, and reopened after a rejection or a cancel', () => {
    given(submitted()).when({ type: 'CancelTicket', by: member, now: 2 }).then([cancelled]);
    given(submitted()).when({ type: 'CancelTicket', by: projectAdmin, now: 2 }).thenFails('NOT_TICKET_APPLICANT');
    given(submitted(defaultFlow), approved(0, admin, true)).when({ type: 'CancelTicket', by: member, now: 2 }).thenFails('TICKET_NOT_PENDING');
    given(submitted(), rejected).when({ type: 'ReopenTicket', by: member, flow: twoSteps, now: 4 })
      .then([{ type: 'TicketReopened', data: { ticketId, request, flow: twoSteps, at: 4 } }]);
    given(submitted()).when({ type: 'ReopenTicket', by: member, flow: twoSteps, now: 4 }).thenFails('TICKET_NOT_CLOSED');
    given(submitted(), cancelled).when({ type: 'ReopenTicket', by: projectAdmin, flow: twoSteps, now: 4 }).thenFails('NOT_TICKET_APPLICANT');
    given(submitted(), rejected, { type: 'TicketReopened', data: { ticketId, request, flow: twoSteps, at: 4 } })
      .when({ type: 'ApproveTicket', approver: projectAdmin, now: 5 }).then([{ ...approved(0, projectAdmin, false), data: { ...approved(0, projectAdmin, false).data, at: 5 } } as TicketEvent]);
  });
  it('records its fulfilment once, only after final approval', () => {
    given(submitted(defaultFlow), approved(0, admin, true)).when({ type: 'RecordFulfilment', outcome: { ok: true, resourceIds: ['vm'], taskId: 'task' }, now: 3 }).then([fulfilled]);
    given(submitted(defaultFlow), approved(0, admin, true), fulfilled).when({ type: 'RecordFulfilment', outcome: { ok: true, resourceIds: ['x'], taskId: 'task' }, now: 3 }).then([]);
    given(submitted()).when({ type: 'RecordFulfilment', outcome: { ok: true, resourceIds: [], taskId: null }, now: 3 }).thenFails('TICKET_NOT_APPROVED');
  });
  it('is archived (deleted by its applicant) only once resolved', () => {
    given(submitted(defaultFlow), approved(0, admin, true), fulfilled).when({ type: 'ArchiveTicket', by: member, now: 4 }).then([{ type: 'TicketArchived', data: { ticketId, at: 4 } }]);
    given(submitted()).when({ type: 'ArchiveTicket', by: member, now: 4 }).thenFails('TICKET_NOT_RESOLVED');
    given(submitted(), rejected).when({ type: 'ArchiveTicket', by: admin, now: 4 }).thenFails('NOT_TICKET_APPLICANT');
  });
});

describe('ticket process decider', () => {
  const steps = twoSteps.steps;
  const created = { type: 'TicketProcessCreated' as const, data: { processId: 'p', projectId: 'pr', name: 'two steps', ticketTypes: ['ApplyVm' as const], steps, at: 1 } };
  const givenProcess = scenario(ticketProcessDecider).given;
  it('creates a process for VM ticket types with ordered steps', () => {
    givenProcess().when({ type: 'CreateTicketProcess', processId: 'p', projectId: 'pr', name: 'two steps', ticketTypes: ['ApplyVm'], steps, now: 1 }).then([created]);
  });
  it('refuses project cycle and quota types, no steps, and a missing process', () => {
    givenProcess().when({ type: 'CreateTicketProcess', processId: 'p', projectId: 'pr', name: 'x', ticketTypes: ['ModifyProjectQuota'], steps, now: 1 }).thenFails('INVALID_TICKET_PROCESS');
    givenProcess().when({ type: 'CreateTicketProcess', processId: 'p', projectId: 'pr', name: 'x', ticketTypes: ['ApplyVm'], steps: [], now: 1 }).thenFails('INVALID_TICKET_PROCESS');
    givenProcess().when({ type: 'DisableTicketProcess' }).thenFails('TICKET_PROCESS_NOT_FOUND');
    givenProcess(created, { type: 'TicketProcessDeleted', data: { processId: 'p' } }).when({ type: 'EnableTicketProcess' }).thenFails('TICKET_PROCESS_NOT_FOUND');
  });
  it('is disabled and enabled once each', () => {
    givenProcess(created).when({ type: 'DisableTicketProcess' }).then([{ type: 'TicketProcessDisabled', data: { processId: 'p' } }]);
    givenProcess(created).when({ type: 'EnableTicketProcess' }).then([]);
  });
});
