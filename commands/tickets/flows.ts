import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { ticketProcessDecider, ticketProcessStream } from '../../domain/tickets/process.js';
import {
  defaultFlow, ticketDecider, ticketStream, type LiveTicket, type ProcessSnapshot, type TicketCommand, type TicketEvent, type TicketFlow, type TicketType,
} from '../../domain/tickets/ticket.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';

// Which flow a ticket follows: the one it is filed with (its project's enabled process for
// its type, else the default submit → admin), and later its process as that process changes.
// `alignTicket` hands the ticket decider the process as the event store has it now; both the
// process follower (after a process event) and the approve/reject path (before deciding) call
// it, and the decider keeps it idempotent and forward-only.

export interface FlowDeps {
  store: EventStore;
  readStore: ReadStore;
  clock: Clock;
}

/** The tickets projection's collection of processes (named here: commands do not import projections). */
const ticketProcessesCollection = 'ticket_processes';

/**
 * The flow a ticket of `type` is filed with in `projectId`: its enabled process (other than
 * `except`), else the default. Should two processes cover the type, the newest wins: creating
 * a process for a type takes the type over for new tickets.
 */
export async function flowFor(deps: FlowDeps, projectId: string, type: TicketType, except?: string): Promise<TicketFlow> {
  const candidates = await deps.readStore.find(ticketProcessesCollection, { projectId, enabled: true }, { sort: [['createdAt', -1]], limit: 1000 });
  for (const candidate of candidates) {
    if (candidate.id === except || !(candidate.ticketTypes as string[]).includes(type)) continue;
    // The read model finds the candidate; the process's own stream says what it is now.
    const { state, version } = await loadAggregate(deps.store, ticketProcessDecider, ticketProcessStream(candidate.id));
    if (state.exists && !state.deleted && state.enabled && state.ticketTypes.includes(type)) return { processId: state.processId, steps: state.steps, processVersion: version };
  }
  return defaultFlow;
}

/** Process `processId` as it stands, seen from a ticket of `type`. */
export async function processSnapshot(store: EventStore, processId: string, type: TicketType): Promise<ProcessSnapshot> {
  const { state, version } = await loadAggregate(store, ticketProcessDecider, ticketProcessStream(processId));
  if (!state.exists) return { processId, version, name: processId, status: 'deleted', coversType: false, steps: [] };
  return {
    processId, version, name: state.name, steps: state.steps, coversType: state.ticketTypes.includes(type),
    status: state.deleted ? 'deleted' : state.enabled ? 'enabled' : 'disabled',
  };
}

/**
 * Brings an open ticket in line with its process: resubmitted through changed steps, back
 * through the default process (or another covering its type) when its process no longer
 * takes it, frozen while its process is disabled. Returns the events written (none if it
 * already was in line).
 */
export async function alignTicket(deps: FlowDeps, ticketId: string, metadata: EventMetadata): Promise<{ events: TicketEvent['type'][]; ticket: LiveTicket | undefined }> {
  const plan = await planAlignment(deps, ticketId);
  if (!plan.command) return { events: [], ticket: plan.ticket };
  const outcome = await handleCommand(deps.store, ticketDecider, ticketStream(ticketId), plan.command, metadata);
  return { events: outcome.events.map((event) => event.type as TicketEvent['type']), ticket: outcome.state.exists ? outcome.state : undefined };
}

/** What aligning the ticket would do now: the command, and the events it would decide (none: in line). */
export async function planAlignment(deps: FlowDeps, ticketId: string): Promise<{ ticket: LiveTicket | undefined; command?: TicketCommand; events: TicketEvent[] }> {
  const { state } = await loadAggregate(deps.store, ticketDecider, ticketStream(ticketId));
  if (!state.exists || state.flow.processId === null || (state.state !== 'Pending' && state.state !== 'IntermediateApproved')) {
    return { ticket: state.exists ? state : undefined, events: [] };
  }
  const process = await processSnapshot(deps.store, state.flow.processId, state.type);
  // A deleted process sends its tickets through the default process (reference/002); one that
  // dropped the ticket's type, through whichever process covers the type now.
  const fallback = process.status === 'deleted' ? defaultFlow
    : !process.coversType ? await flowFor(deps, state.projectId, state.type, process.processId) : defaultFlow;
  const command: TicketCommand = { type: 'AlignTicketWithProcess', process, fallback, now: deps.clock.now() };
  return { ticket: state, command, events: ticketDecider.decide(command, state) };
}
