import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import { createProcessRunner, type ProcessLogger, type ProcessRunner } from '../compute/provisioning-runner.js';
import { metadataFor, systemActor } from '../shared/request-context.js';
import { alignTicket } from './flows.js';

// The process follower (a process manager): open tickets follow their process as it changes
// — an edit resubmits them through the new steps, a deletion through the default process, a
// disable freezes them until the enable (reference/002, "Process Management").
//
// Why a checkpointed subscription and not the process command handler: a process has any
// number of open tickets, each its own stream, so no single append can change the process and
// its tickets together; a handler that crashed halfway would leave tickets behind for good.
// Here every process event is handled at least once, and alignment is idempotent (the ticket
// decider only moves a ticket forward to a newer version of its process).
//
// Why no ticket is missed: the tickets of a process are found in the tickets read model once
// it has caught up with the process event, which covers every ticket filed before that event.
// A ticket filed (or reopened, or resubmitted to this process) concurrently may have taken
// the process as it was just before; its own event comes after the process event, and this
// follower aligns it when that event arrives, loading the process as it is by then. The
// approve/reject path aligns the ticket before deciding too, so a decision never lands on a
// ticket whose process changed before the decision was asked for.

export const processFollowerEventTypes = [
  'TicketProcessChanged', 'TicketProcessDeleted', 'TicketProcessDisabled', 'TicketProcessEnabled',
  'TicketSubmitted', 'TicketReopened', 'TicketResubmitted',
] as const;

/** The tickets projection's collection (named here: commands do not import projections). */
const ticketsCollection = 'tickets';
const pageSize = 500;

export interface ProcessFollowerDeps {
  store: EventStore;
  readStore: ReadStore;
  clock: Clock;
  /** Resolves true once the tickets read model has applied every event up to `position`. */
  ticketsCaughtUp(position: number): Promise<boolean>;
  log: ProcessLogger;
}

async function alignProcessTickets(deps: ProcessFollowerDeps, event: RecordedEvent): Promise<void> {
  const processId = (event.data as { processId: string }).processId;
  if (!(await deps.ticketsCaughtUp(event.position))) {
    // The runner retries a failing handler with backoff: the event is handled once the read model is there.
    throw new DomainError('TICKETS_NOT_CAUGHT_UP', `the tickets read model has not reached position ${event.position} yet`, 'conflict');
  }
  const metadata = metadataFor({ actor: systemActor, correlationId: event.metadata.correlationId ?? event.id }, { causationId: event.id });
  // Paged by id: alignment may move a ticket off this process, which must not shift the pages.
  let after = '';
  for (;;) {
    const page = await deps.readStore.find(ticketsCollection,
      { processId, state: { $in: ['Pending', 'IntermediateApproved'] }, id: { $gt: after } }, { sort: [['id', 1]], limit: pageSize });
    for (const ticket of page) await alignTicket(deps, ticket.id, metadata);
    if (page.length < pageSize) return;
    after = page[page.length - 1]!.id;
  }
}

export async function followProcessEvent(deps: ProcessFollowerDeps, event: RecordedEvent): Promise<void> {
  if (event.type.startsWith('TicketProcess')) {
    await alignProcessTickets(deps, event);
    return;
  }
  const ticketId = (event.data as { ticketId: string }).ticketId;
  await alignTicket(deps, ticketId, metadataFor({ actor: systemActor, correlationId: event.metadata.correlationId ?? event.id }, { causationId: event.id }));
}

export function createTicketProcessFollower(deps: ProcessFollowerDeps): ProcessRunner {
  return createProcessRunner({
    name: 'ticket-process-follower',
    eventStore: deps.store,
    readStore: deps.readStore,
    log: deps.log,
    handles: processFollowerEventTypes,
    handle: (event) => followProcessEvent(deps, event),
  });
}
