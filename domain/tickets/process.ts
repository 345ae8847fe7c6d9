import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';
import type { FlowStep, TicketType } from './ticket.js';

// A custom ticket process of a project (stream `ticket-process-<id>`): ordered approval steps
// for some ticket types. Project cycle and quota tickets always follow the default process
// (reference/002), so a custom process covers the VM ticket types only.

export const customisableTicketTypes = ['ApplyVm', 'DeleteVm', 'ModifyVmConfiguration'] as const satisfies readonly TicketType[];

export type TicketProcessEvent =
  | DomainEvent<'TicketProcessCreated', { processId: string; projectId: string; name: string; ticketTypes: TicketType[]; steps: FlowStep[]; at: number }>
  | DomainEvent<'TicketProcessChanged', { processId: string; name: string; ticketTypes: TicketType[]; steps: FlowStep[] }>
  | DomainEvent<'TicketProcessDisabled', { processId: string }>
  | DomainEvent<'TicketProcessEnabled', { processId: string }>
  | DomainEvent<'TicketProcessDeleted', { processId: string }>;

export type TicketProcessCommand =
  | { type: 'CreateTicketProcess'; processId: string; projectId: string; name: string; ticketTypes: TicketType[]; steps: FlowStep[]; now: number }
  | { type: 'ChangeTicketProcess'; name?: string; ticketTypes?: TicketType[]; steps?: FlowStep[] }
  | { type: 'DisableTicketProcess' }
  | { type: 'EnableTicketProcess' }
  | { type: 'DeleteTicketProcess' };

export type TicketProcessAggregate =
  | { exists: false }
  | { exists: true; processId: string; projectId: string; name: string; ticketTypes: TicketType[]; steps: FlowStep[]; enabled: boolean; deleted: boolean };

export const ticketProcessStream = (processId: string) => `ticket-process-${processId}`;

function validate(ticketTypes: readonly TicketType[], steps: readonly FlowStep[], name: string) {
  const problems: Array<{ field: string; message: string }> = [];
  if (!name.trim()) problems.push({ field: 'name', message: 'must not be empty' });
  if (ticketTypes.length === 0) problems.push({ field: 'ticketTypes', message: 'at least one ticket type' });
  for (const [index, type] of ticketTypes.entries()) {
    if (!(customisableTicketTypes as readonly string[]).includes(type)) problems.push({ field: `ticketTypes.${index}`, message: `${type} always follows the default process` });
  }
  if (steps.length === 0) problems.push({ field: 'steps', message: 'at least one approval step' });
  if (problems.length > 0) throw new DomainError('INVALID_TICKET_PROCESS', problems.map((p) => `${p.field} ${p.message}`).join('; '), 'invalid', { fields: problems });
}

export const ticketProcessDecider: Decider<TicketProcessCommand, TicketProcessAggregate, TicketProcessEvent> = {
  initialState: { exists: false },
  decide(command, state) {
    if (command.type === 'CreateTicketProcess') {
      if (state.exists) throw new DomainError('TICKET_PROCESS_EXISTS', 'the ticket process exists');
      validate(command.ticketTypes, command.steps, command.name);
      const { processId, projectId, name, ticketTypes, steps } = command;
      return [{ type: 'TicketProcessCreated', data: { processId, projectId, name, ticketTypes, steps, at: command.now } }];
    }
    if (!state.exists || state.deleted) throw new DomainError('TICKET_PROCESS_NOT_FOUND', 'no such ticket process', 'not_found');
    const processId = state.processId;
    switch (command.type) {
      case 'ChangeTicketProcess': {
        const next = { name: command.name ?? state.name, ticketTypes: command.ticketTypes ?? state.ticketTypes, steps: command.steps ?? state.steps };
        validate(next.ticketTypes, next.steps, next.name);
        return [{ type: 'TicketProcessChanged', data: { processId, ...next } }];
      }
      case 'DisableTicketProcess':
        return state.enabled ? [{ type: 'TicketProcessDisabled', data: { processId } }] : [];
      case 'EnableTicketProcess':
        return state.enabled ? [] : [{ type: 'TicketProcessEnabled', data: { processId } }];
      case 'DeleteTicketProcess':
        return [{ type: 'TicketProcessDeleted', data: { processId } }];
    }
  },
  evolve(state, event) {
    if (event.type === 'TicketProcessCreated') {
      const { processId, projectId, name, ticketTypes, steps } = event.data;
      return { exists: true, processId, projectId, name, ticketTypes, steps, enabled: true, deleted: false };
    }
    if (!state.exists) return state;
    switch (event.type) {
      case 'TicketProcessChanged': return { ...state, name: event.data.name, ticketTypes: event.data.ticketTypes, steps: event.data.steps };
      case 'TicketProcessDisabled': return { ...state, enabled: false };
      case 'TicketProcessEnabled': return { ...state, enabled: true };
      case 'TicketProcessDeleted': return { ...state, deleted: true };
      default: return state;
    }
  },
};
