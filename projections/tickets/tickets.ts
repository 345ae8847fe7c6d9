import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { TicketProcessEvent } from '../../domain/tickets/process.js';
import type { FlowStep, TicketEvent } from '../../domain/tickets/ticket.js';
import { isoTime, type Projection } from '../shared/projection.js';

// Ticket inboxes: tickets (with the approver their current step awaits, so "pending for me"
// is a query, and everyone who decided a step of it, so "resolved by me" is one too; each
// decision is in the ticket's history), and ticket processes (to find a project's process for
// a ticket type).

export const ticketsCollection = 'tickets';
export const ticketProcessesCollection = 'ticket_processes';

export const ticketFields = {
  id: 'string', projectId: 'string', applicantId: 'string', type: 'string', state: 'string', archived: 'boolean', frozen: 'boolean',
  processId: 'string', decidedBy: 'string', 'awaiting.kind': 'string', 'awaiting.userId': 'string', createdAt: 'time', updatedAt: 'time',
} as const;
export const ticketProcessFields = { id: 'string', projectId: 'string', name: 'string', enabled: 'boolean' } as const;

const awaitingOf = (steps: FlowStep[], step: number) => {
  const approver = steps[step]?.approver;
  return approver ? { kind: approver.kind, ...(approver.kind === 'user' ? { userId: approver.userId } : {}) } : null;
};

export const ticketsProjection: Projection = {
  name: 'tickets',
  // 3: the per-decision collection (ticket_decisions) is gone: "resolved by me" reads decidedBy.
  version: 3,
  collections: [ticketsCollection, ticketProcessesCollection],
  indexes: [
    { collection: ticketsCollection, fields: [['applicantId', 1], ['createdAt', -1]] },
    { collection: ticketsCollection, fields: [['projectId', 1], ['state', 1]] },
    { collection: ticketsCollection, fields: [['processId', 1], ['state', 1]] },
    { collection: ticketsCollection, fields: [['decidedBy', 1]], multiValued: true },
    { collection: ticketProcessesCollection, fields: [['projectId', 1]] },
  ],
  handles: [
    'TicketSubmitted', 'TicketApproved', 'TicketRejected', 'TicketCancelled', 'TicketReopened', 'TicketFulfilled', 'TicketArchived',
    'TicketResubmitted', 'TicketFrozen', 'TicketUnfrozen',
    'TicketProcessCreated', 'TicketProcessChanged', 'TicketProcessDisabled', 'TicketProcessEnabled', 'TicketProcessDeleted',
  ],

  async apply(recorded: RecordedEvent, batch: WriteBatch) {
    if (recorded.type.startsWith('TicketProcess')) {
      const event = recorded as unknown as TicketProcessEvent;
      const id = event.data.processId;
      switch (event.type) {
        case 'TicketProcessCreated':
          batch.upsert(ticketProcessesCollection, { id, projectId: event.data.projectId, name: event.data.name, ticketTypes: event.data.ticketTypes, steps: event.data.steps, enabled: true, createdAt: isoTime(event.data.at) });
          return;
        case 'TicketProcessChanged':
          batch.patch(ticketProcessesCollection, id, { name: event.data.name, ticketTypes: event.data.ticketTypes, steps: event.data.steps });
          return;
        case 'TicketProcessDisabled':
        case 'TicketProcessEnabled':
          batch.patch(ticketProcessesCollection, id, { enabled: event.type === 'TicketProcessEnabled' });
          return;
        case 'TicketProcessDeleted':
          batch.delete(ticketProcessesCollection, id);
          return;
      }
      return;
    }
    const event = recorded as unknown as TicketEvent;
    const id = event.data.ticketId;
    const touched = { version: recorded.version, updatedAt: isoTime(recorded.recordedAt) };
    if (event.type === 'TicketSubmitted') {
      const { projectId, applicantId, applicantName, type, request, flow, at } = event.data;
      batch.upsert(ticketsCollection, {
        id, projectId, applicantId, applicantName, type, request, processId: flow.processId, steps: flow.steps, step: 0,
        awaiting: awaitingOf(flow.steps, 0), state: 'Pending', history: [{ action: 'submitted', by: applicantName, at: isoTime(at) }],
        outcome: null, archived: false, frozen: false, decidedBy: [], createdAt: isoTime(at), ...touched,
      });
      return;
    }
    const doc = await batch.get(ticketsCollection, id);
    if (!doc) return;
    const history = doc.history as object[];
    switch (event.type) {
      case 'TicketApproved':
      case 'TicketRejected': {
        const approved = event.type === 'TicketApproved';
        const final = approved && event.data.final;
        const step = approved && !final ? event.data.step + 1 : event.data.step;
        batch.patch(ticketsCollection, id, {
          state: approved ? (final ? 'FinalApproved' : 'IntermediateApproved') : 'Rejected',
          step, awaiting: approved && !final ? awaitingOf(doc.steps as FlowStep[], step) : null,
          history: [...history, { action: approved ? 'approved' : 'rejected', step: event.data.step, by: event.data.approverName, remarks: event.data.remarks, at: isoTime(event.data.at) }],
          decidedBy: [...new Set([...((doc.decidedBy as string[] | undefined) ?? []), event.data.approverId])],
          ...touched,
        });
        return;
      }
      case 'TicketCancelled':
        batch.patch(ticketsCollection, id, { state: 'Cancelled', awaiting: null, history: [...history, { action: 'cancelled', at: isoTime(event.data.at) }], ...touched });
        return;
      case 'TicketReopened':
        batch.patch(ticketsCollection, id, {
          state: 'Pending', step: 0, request: event.data.request, processId: event.data.flow.processId, steps: event.data.flow.steps,
          awaiting: awaitingOf(event.data.flow.steps, 0), outcome: null, frozen: false, history: [...history, { action: 'reopened', at: isoTime(event.data.at) }], ...touched,
        });
        return;
      case 'TicketResubmitted':
        batch.patch(ticketsCollection, id, {
          state: 'Pending', step: 0, processId: event.data.flow.processId, steps: event.data.flow.steps, awaiting: awaitingOf(event.data.flow.steps, 0), frozen: false,
          history: [...history, { action: 'resubmitted', by: 'system', reason: event.data.reason, at: isoTime(event.data.at) }], ...touched,
        });
        return;
      case 'TicketFrozen':
      case 'TicketUnfrozen':
        batch.patch(ticketsCollection, id, {
          frozen: event.type === 'TicketFrozen',
          history: [...history, { action: event.type === 'TicketFrozen' ? 'frozen' : 'unfrozen', by: 'system', reason: event.data.reason, at: isoTime(event.data.at) }], ...touched,
        });
        return;
      case 'TicketFulfilled':
        batch.patch(ticketsCollection, id, { outcome: event.data.outcome, history: [...history, { action: event.data.outcome.ok ? 'fulfilled' : 'failed', at: isoTime(event.data.at) }], ...touched });
        return;
      case 'TicketArchived':
        batch.patch(ticketsCollection, id, { archived: true, ...touched });
        return;
    }
  },
};
