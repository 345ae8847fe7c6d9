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

describe('ticket decider: more refusals', () => {
  it('refuses to approve twice, to reopen an approved ticket, and to reopen a deleted one', () => {
    given(submitted(defaultFlow), approved(0, admin, true)).when({ type: 'ApproveTicket', approver: admin, now: 3 }).thenFails('TICKET_NOT_PENDING');
    given(submitted(defaultFlow), approved(0, admin, true), fulfilled).when({ type: 'ReopenTicket', by: member, flow: defaultFlow, now: 4 }).thenFails('TICKET_NOT_CLOSED');
    given(submitted(), rejected, { type: 'TicketArchived', data: { ticketId, at: 3 } }).when({ type: 'ReopenTicket', by: member, flow: twoSteps, now: 4 }).thenFails('TICKET_ARCHIVED');
    given(submitted(), approved(0, projectAdmin, false)).when({ type: 'RejectTicket', approver: admin, remarks: '', now: 3 }).thenFails('REMARKS_REQUIRED');
    given(submitted(), cancelled).when({ type: 'RejectTicket', approver: projectAdmin, remarks: 'no', now: 3 }).thenFails('TICKET_NOT_PENDING');
  });
  it('lets the manager of the project\'s department decide a department-manager step, and nobody else', () => {
    const toManager: TicketFlow = { processId: 'p', steps: [{ name: 'department manager', approver: { kind: 'department-manager' } }] };
    const manager: TicketActor = { userId: 'dm', username: 'dora', isAdmin: false, departmentManager: true };
    given(submitted(toManager)).when({ type: 'ApproveTicket', approver: manager, now: 2 }).then([approved(0, manager, true)]);
    given(submitted(toManager)).when({ type: 'ApproveTicket', approver: admin, now: 2 }).thenFails('NOT_STEP_APPROVER');
    given(submitted(toManager)).when({ type: 'ApproveTicket', approver: { ...manager, departmentManager: false }, now: 2 }).thenFails('NOT_STEP_APPROVER');
  });
});

describe('ticket decider: following its process', () => {
  const flowAt = (version: number, steps = twoSteps.steps): TicketFlow => ({ processId: 'p', steps, processVersion: version });
  const process = (version: number, status: 'enabled' | 'disabled' | 'deleted', steps = twoSteps.steps, coversType = true) => ({ processId: 'p', version, name: 'two steps', status, coversType, steps });
  const adminOnly = [{ name: 'admin', approver: { kind: 'admin' as const } }];
  const align = (snapshot: ReturnType<typeof process>, now = 5) => ({ type: 'AlignTicketWithProcess' as const, process: snapshot, fallback: defaultFlow, now });
  const frozen: TicketEvent = { type: 'TicketFrozen', data: { ticketId, processId: 'p', processVersion: 2, reason: 'process "two steps" was disabled', at: 5 } };
  const resubmitted = (flow: TicketFlow, reason: string): TicketEvent => ({ type: 'TicketResubmitted', data: { ticketId, flow, reason, at: 5 } });

  it('is resubmitted through the changed steps of its process, from the first step', () => {
    given(submitted(flowAt(0)), approved(0, projectAdmin, false)).when(align(process(1, 'enabled', adminOnly)))
      .then([resubmitted(flowAt(1, adminOnly), 'process "two steps" changed: resubmitted through its new steps')]);
    // After the resubmission the first step of the new steps awaits: the admin, not the project admin.
    given(submitted(flowAt(0)), approved(0, projectAdmin, false), resubmitted(flowAt(1, adminOnly), 'changed'))
      .when({ type: 'ApproveTicket', approver: admin, now: 6 }).then([{ type: 'TicketApproved', data: { ticketId, step: 0, approverId: 'a', approverName: 'admin', remarks: '', final: true, at: 6 } }]);
  });
  it('is not touched by a change that leaves its steps as they are, a stale or repeated alignment, or another process', () => {
    given(submitted(flowAt(0))).when(align(process(1, 'enabled'))).then([]);
    given(submitted(flowAt(3))).when(align(process(2, 'enabled', adminOnly))).then([]);
    given(submitted(flowAt(0)), resubmitted(flowAt(1, adminOnly), 'changed')).when(align(process(1, 'enabled', adminOnly))).then([]);
    given(submitted(defaultFlow)).when(align(process(4, 'deleted'))).then([]);
  });
  it('leaves a finished ticket alone', () => {
    given(submitted(flowAt(0)), cancelled).when(align(process(1, 'enabled', adminOnly))).then([]);
    given(submitted(flowAt(0)), rejected).when(align(process(1, 'deleted'))).then([]);
    given(submitted(flowAt(0)), approved(0, projectAdmin, false), approved(1, admin, true)).when(align(process(1, 'disabled'))).then([]);
  });
  it('goes back through the default process when its process is deleted or drops its type', () => {
    given(submitted(flowAt(0)), approved(0, projectAdmin, false)).when(align(process(1, 'deleted')))
      .then([resubmitted(defaultFlow, 'process "two steps" was deleted: resubmitted through the default process')]);
    given(submitted(flowAt(0))).when(align(process(1, 'enabled', twoSteps.steps, false)))
      .then([resubmitted(defaultFlow, 'process "two steps" no longer covers ApplyVm tickets: resubmitted through the default process')]);
  });
  it('is frozen while its process is disabled: no approval or rejection, but its applicant may still cancel it', () => {
    given(submitted(flowAt(0))).when(align(process(2, 'disabled'))).then([frozen]);
    given(submitted(flowAt(0)), frozen).when(align(process(3, 'disabled', adminOnly))).then([]);
    given(submitted(flowAt(0)), frozen).when({ type: 'ApproveTicket', approver: projectAdmin, now: 6 }).thenFails('TICKET_FROZEN');
    given(submitted(flowAt(0)), frozen).when({ type: 'RejectTicket', approver: projectAdmin, remarks: 'no', now: 6 }).thenFails('TICKET_FROZEN');
    given(submitted(flowAt(0)), frozen).when({ type: 'CancelTicket', by: member, now: 6 }).then([{ type: 'TicketCancelled', data: { ticketId, at: 6 } }]);
  });
  it('thaws when its process is enabled again, resubmitted if the steps changed meanwhile', () => {
    given(submitted(flowAt(0)), frozen).when(align(process(3, 'enabled')))
      .then([{ type: 'TicketUnfrozen', data: { ticketId, processId: 'p', processVersion: 3, reason: 'process "two steps" was enabled', at: 5 } }]);
    given(submitted(flowAt(0)), frozen).when(align(process(4, 'enabled', adminOnly)))
      .then([resubmitted(flowAt(4, adminOnly), 'process "two steps" changed: resubmitted through its new steps')]);
    given(submitted(flowAt(0)), frozen, { type: 'TicketUnfrozen', data: { ticketId, processId: 'p', processVersion: 3, reason: 'enabled', at: 5 } })
      .when({ type: 'ApproveTicket', approver: projectAdmin, now: 6 }).then([{ ...approved(0, projectAdmin, false), data: { ...approved(0, projectAdmin, false).data, at: 6 } } as TicketEvent]);
  });
});
