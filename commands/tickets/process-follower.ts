import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { DomainError } from '../../domain/shared/errors.js';
import type { TicketEvent } from '../../domain/tickets/ticket.js';
import { createProcessRunner, type ProcessLogger, type ProcessRunner } from '../compute/provisioning-runner.js';
import { metadataFor, systemActor, type RequestContext } from '../shared/request-context.js';
import type { Tasks } from '../tasks/tasks.js';
import { alignTicket, planAlignment } from './flows.js';

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
//
// Each ticket it changes is a system task (ResubmitTicket, FreezeTicket, UnfreezeTicket), so
// the audit log shows it; the task's idempotency key is the causing event and the ticket, so a
// redelivered event is not audited twice.

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
  tasks: Pick<Tasks, 'start' | 'wait'>;
  /** Resolves true once the tickets read model has applied every event up to `position`. */
  ticketsCaughtUp(position: number): Promise<boolean>;
  log: ProcessLogger;
}

const actions: Record<string, string> = { TicketResubmitted: 'ResubmitTicket', TicketFrozen: 'FreezeTicket', TicketUnfrozen: 'UnfreezeTicket' };

/** Aligns one ticket with its process because of `cause`, as an audited system task when there is something to do. */
async function alignAudited(deps: ProcessFollowerDeps, ticketId: string, cause: RecordedEvent): Promise<void> {
  const plan = await planAlignment(deps, ticketId);
  const first = plan.events[0] as TicketEvent | undefined;
  if (!first) return;
  const context: RequestContext = { actor: systemActor, correlationId: cause.metadata.correlationId ?? cause.id, idempotencyKey: `ticket-align-${cause.id}-${ticketId}` };
  const reason = 'reason' in first.data ? first.data.reason : undefined;
  const started = await deps.tasks.start(context, {
    action: actions[first.type] ?? 'AlignTicket', resourceType: 'ticket', resourceIds: [ticketId], request: { ticketId, processId: plan.ticket?.flow.processId, reason },
  }, async ({ metadata }) => ({ result: (await alignTicket(deps, ticketId, { ...metadata, causationId: cause.id })).events }));
  await deps.tasks.wait(started.taskId, 60_000);
  // Whatever became of the task (a repeat of the key answers with the first outcome), the ticket ends in line.
  await alignTicket(deps, ticketId, metadataFor({ actor: systemActor, correlationId: context.correlationId }, { causationId: cause.id }));
}

async function alignProcessTickets(deps: ProcessFollowerDeps, event: RecordedEvent): Promise<void> {
  const processId = (event.data as { processId: string }).processId;
  if (!(await deps.ticketsCaughtUp(event.position))) {
    // The runner retries a failing handler with backoff: the event is handled once the read model is there.
    throw new DomainError('TICKETS_NOT_CAUGHT_UP', `the tickets read model has not reached position ${event.position} yet`, 'conflict');
  }
  // Paged by id: alignment may move a ticket off this process, which must not shift the pages.
  let after = '';
  for (;;) {
    const page = await deps.readStore.find(ticketsCollection,
      { processId, state: { $in: ['Pending', 'IntermediateApproved'] }, id: { $gt: after } }, { sort: [['id', 1]], limit: pageSize });
    for (const ticket of page) await alignAudited(deps, ticket.id, event);
    if (page.length < pageSize) return;
    after = page[page.length - 1]!.id;
  }
}

export async function followProcessEvent(deps: ProcessFollowerDeps, event: RecordedEvent): Promise<void> {
  if (event.type.startsWith('TicketProcess')) {
    await alignProcessTickets(deps, event);
    return;
  }
  await alignAudited(deps, (event.data as { ticketId: string }).ticketId, event);
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
