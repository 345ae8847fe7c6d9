import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../adapters/clock/manual.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import { openSqliteEventStore } from '../../adapters/eventstore/sqlite.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { openSqliteReadStore } from '../../adapters/readstore/sqlite.js';
import type { Principal } from '../../commands/identity/principal.js';
import { handleCommand, loadAggregate } from '../../commands/shared/handle-command.js';
import { systemActor } from '../../commands/shared/request-context.js';
import { createTasks } from '../../commands/tasks/tasks.js';
import { followProcessEvent, type ProcessFollowerDeps } from '../../commands/tickets/process-follower.js';
import { actOnTicket, submitTicket, type TicketDeps } from '../../commands/tickets/tickets.js';
import { projectDecider, projectStream } from '../../domain/tenancy/project.js';
import { ticketProcessDecider, ticketProcessStream, type TicketProcessCommand } from '../../domain/tickets/process.js';
import { ticketDecider, ticketStream, type FlowStep } from '../../domain/tickets/ticket.js';
import { createProjectionRunner, type ProjectionRunner } from '../../projections/shared/runner.js';
import { ticketsProjection } from '../../projections/tickets/tickets.js';

// The two ways a ticket catches up with its process, without the follower running in the
// background (so that nothing here depends on who gets there first): the approve/reject path
// aligns the ticket itself before deciding, and the follower — handed the events one by one —
// finds tickets filed before a process event in the read model and tickets filed with a stale
// process by their own event; handling an event twice changes nothing.

let store: EventStore;
let readStore: ReadStore;
let runner: ProjectionRunner;
let deps: TicketDeps & ProcessFollowerDeps;
const metadata = { actor: systemActor, correlationId: 'test', schemaVersion: 1 };
const projectId = 'p-1';
const processId = 'proc-1';
const twoSteps: FlowStep[] = [{ name: 'project admin', approver: { kind: 'project-admin' } }, { name: 'admin', approver: { kind: 'admin' } }];
const adminOnly: FlowStep[] = [{ name: 'admin only', approver: { kind: 'admin' } }];

const principal = (userId: string, extra: Partial<Principal> = {}): Principal => ({
  actor: { kind: 'user', id: userId, name: userId }, userId, username: userId, roles: [], grants: [], zones: 'all', zoneScope: 'all', ...extra,
});
const member = principal('mia', { project: { projectId, role: 'member' } });
const projectAdmin = principal('pat', { project: { projectId, role: 'project-admin' } });

beforeEach(async () => {
  const clock = manualClock();
  store = openSqliteEventStore({ file: ':memory:', clock });
  readStore = openSqliteReadStore({ file: ':memory:' });
  runner = createProjectionRunner({ eventStore: store, readStore, projections: [ticketsProjection], log: pino({ level: 'silent' }) });
  await runner.start();
  const log = pino({ level: 'silent' });
  deps = { store, readStore, clock, log, tasks: createTasks({ store, clock, log }), ticketsCaughtUp: async (position) => runner.waitFor(position, 10_000, 'tickets') };
  await handleCommand(store, projectDecider, projectStream(projectId), { type: 'CreateProject', projectId, name: 'alpha', now: clock.now() }, metadata);
  await processCommand({ type: 'CreateTicketProcess', processId, projectId, name: 'two steps', ticketTypes: ['DeleteVm'], steps: twoSteps, now: clock.now() });
  await caughtUp();
});
afterEach(async () => {
  await runner.stop();
  await store.close();
  await readStore.close();
});

const processCommand = (command: TicketProcessCommand) => handleCommand(store, ticketProcessDecider, ticketProcessStream(processId), command, metadata);
const caughtUp = async () => expect(await runner.waitFor(await store.headPosition(), 10_000)).toBe(true);
const file = async (ticketId: string) => submitTicket(deps, ticketId, member, { projectId, type: 'DeleteVm', request: { vmId: 'vm-1' } }, metadata);
const ticket = async (ticketId: string) => (await loadAggregate(store, ticketDecider, ticketStream(ticketId))).state;
const eventsOf = async (ticketId: string) => (await store.readStream(ticketStream(ticketId))).map((event) => event.type);

async function lastEventOf(stream: string) {
  const events = await store.readStream(stream);
  return events[events.length - 1]!;
}

describe('the approve/reject path', () => {
  it('resubmits a ticket whose process changed before deciding, and refuses the decision', async () => {
    await file('t-1');
    await processCommand({ type: 'ChangeTicketProcess', steps: adminOnly });
    await expect(actOnTicket(deps, 't-1', projectAdmin, { type: 'ApproveTicket' }, metadata)).rejects.toMatchObject({ code: 'TICKET_RESUBMITTED' });
    expect(await ticket('t-1')).toMatchObject({ state: 'Pending', step: 0, flow: { processId, steps: adminOnly } });
    // Now it is in line: the project admin is no longer its approver.
    await expect(actOnTicket(deps, 't-1', projectAdmin, { type: 'ApproveTicket' }, metadata)).rejects.toMatchObject({ code: 'NOT_STEP_APPROVER' });
  });

  it('freezes a ticket whose process was disabled, and thaws it once enabled', async () => {
    await file('t-2');
    await processCommand({ type: 'DisableTicketProcess' });
    await expect(actOnTicket(deps, 't-2', projectAdmin, { type: 'RejectTicket', remarks: 'no' }, metadata)).rejects.toMatchObject({ code: 'TICKET_FROZEN' });
    await processCommand({ type: 'EnableTicketProcess' });
    expect(await actOnTicket(deps, 't-2', projectAdmin, { type: 'ApproveTicket' }, metadata)).toMatchObject({ state: 'IntermediateApproved', frozen: false });
    expect(await eventsOf('t-2')).toEqual(['TicketSubmitted', 'TicketFrozen', 'TicketUnfrozen', 'TicketApproved']);
  });
});

describe('the process follower', () => {
  it('aligns the tickets filed before a process event, once, however often the event comes', async () => {
    await file('t-3');
    await file('t-4');
    await processCommand({ type: 'ChangeTicketProcess', steps: adminOnly });
    const changed = await lastEventOf(ticketProcessStream(processId));
    await followProcessEvent(deps, changed);
    await followProcessEvent(deps, changed);
    for (const ticketId of ['t-3', 't-4']) {
      expect(await ticket(ticketId)).toMatchObject({ state: 'Pending', flow: { steps: adminOnly } });
      expect(await eventsOf(ticketId)).toEqual(['TicketSubmitted', 'TicketResubmitted']);
    }
    // Each resubmission is a system task, audited once.
    const tasks = (await store.readAll({ after: 0, limit: 10_000 })).filter((event) => event.type === 'TaskStarted').map((event) => event.data as { action: string; resourceIds: string[] });
    expect(tasks.filter((task) => task.action === 'ResubmitTicket').map((task) => task.resourceIds[0]).sort()).toEqual(['t-3', 't-4']);
  });

  it('aligns a ticket filed with the process as it was just before a change, by the ticket\'s own event', async () => {
    // The ticket took the process at its version 0 (two steps) but was appended after the change.
    await processCommand({ type: 'ChangeTicketProcess', steps: adminOnly });
    const changed = await lastEventOf(ticketProcessStream(processId));
    await handleCommand(store, ticketDecider, ticketStream('t-5'), {
      type: 'SubmitTicket', ticketId: 't-5', projectId, applicant: { userId: 'mia', username: 'mia', isAdmin: false }, ticketType: 'DeleteVm',
      request: { vmId: 'vm-1' }, flow: { processId, steps: twoSteps, processVersion: 0 }, now: 1,
    }, metadata);
    await followProcessEvent(deps, await lastEventOf(ticketStream('t-5')));
    expect(await ticket('t-5')).toMatchObject({ state: 'Pending', flow: { processId, steps: adminOnly, processVersion: 1 } });
    // A late handling of the older event changes nothing.
    await followProcessEvent(deps, changed);
    expect(await eventsOf('t-5')).toEqual(['TicketSubmitted', 'TicketResubmitted']);
  });

  it('sends the tickets of a deleted process through the default one, and leaves finished tickets alone', async () => {
    await file('t-6');
    await file('t-7');
    await actOnTicket(deps, 't-7', member, { type: 'CancelTicket' }, metadata);
    await processCommand({ type: 'DeleteTicketProcess' });
    await followProcessEvent(deps, await lastEventOf(ticketProcessStream(processId)));
    expect(await ticket('t-6')).toMatchObject({ state: 'Pending', flow: { processId: null, steps: [{ approver: { kind: 'admin' } }] } });
    expect(await eventsOf('t-7')).toEqual(['TicketSubmitted', 'TicketCancelled']);
    // New tickets take the default process too.
    expect((await file('t-8')).flow.processId).toBeNull();
  });
});
