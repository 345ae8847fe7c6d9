import type { Clock } from '../../adapters/clock/port.js';
import { WrongExpectedVersionError, type EventStore, type RecordedEvent } from '../../adapters/eventstore/port.js';
import type { MailSender } from '../../adapters/mail/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import { fold } from '../../domain/shared/decider.js';
import type { ProjectEvent } from '../../domain/tenancy/project.js';
import { ticketDecider, type TicketEvent } from '../../domain/tickets/ticket.js';
import { createProcessRunner, type ProcessContext, type ProcessRunner } from '../compute/provisioning-runner.js';
import { metadataFor, systemActor } from '../shared/request-context.js';
import { loadProject } from '../tenancy/projects.js';
import { awaitingApproval, projectExpiring, ticketApproved, ticketRejected, type Notice, type TicketFacts } from './messages.js';
import { approverUserIds, projectMemberIds } from './recipients.js';
import { smtpServerOf } from './smtp-settings.js';
import { emailOf } from './user-email.js';

// Notification e-mails, a checkpointed reaction to events:
//  - a ticket submitted, reopened, resubmitted or approved at an intermediate step: to the
//    approvers of the step it now waits on;
//  - a ticket finally approved or rejected: to its applicant;
//  - a project's expiry reminder (recorded once per deadline by the reclaim timer): to its members.
// Each causing event is mailed once: what was sent is recorded in `notification-<event id>`
// (recipients as user ids, never addresses), and a redelivered event whose record exists is
// skipped. A send that fails is recorded (NotificationFailed) and not retried — a mail server
// that is down must not hold back the others. With no SMTP host set, nothing is sent.

export const notificationStream = (causeEventId: string) => `notification-${causeEventId}`;

export const notifiedEventTypes = [
  'TicketSubmitted', 'TicketReopened', 'TicketResubmitted', 'TicketApproved', 'TicketRejected', 'ProjectExpiryReminded',
] as const;

export interface NotifierDeps {
  store: EventStore;
  readStore: ReadStore;
  clock: Clock;
  secrets: SecretBox;
  mail: MailSender;
  log: { info?(details: object, message: string): void; warn(details: object, message: string): void; error(details: object, message: string): void };
}

interface Planned { kind: string; userIds: string[]; notice: Notice }

async function ticketFacts(deps: NotifierDeps, event: RecordedEvent): Promise<{ facts: TicketFacts; history: RecordedEvent[] }> {
  const history = await deps.store.readStream(event.stream, { limit: event.version + 1 });
  const submitted = history[0]?.data as Extract<TicketEvent, { type: 'TicketSubmitted' }>['data'];
  const { state: project } = await loadProject(deps.store, submitted.projectId);
  return {
    facts: { ticketId: submitted.ticketId, type: submitted.type, projectName: project.exists ? project.name : submitted.projectId, applicantName: submitted.applicantName },
    history,
  };
}

/** What `event` calls for: who gets which message (nothing when it calls for none). */
export async function planNotification(deps: NotifierDeps, event: RecordedEvent): Promise<Planned | undefined> {
  if (event.type === 'ProjectExpiryReminded') {
    const data = (event as unknown as Extract<ProjectEvent, { type: 'ProjectExpiryReminded' }>).data;
    const { state: project } = await loadProject(deps.store, data.projectId);
    if (!project.exists || project.reclaimPolicy.kind !== 'ByTime') return undefined;
    return { kind: 'ProjectExpiryReminder', userIds: await projectMemberIds(deps.store, data.projectId), notice: projectExpiring(project.name, data.deadline, project.reclaimPolicy.action) };
  }
  const { facts, history } = await ticketFacts(deps, event);
  const ticket = fold(ticketDecider, history as unknown as TicketEvent[]);
  if (!ticket.exists) return undefined;
  const applicant = [ticket.applicantId];
  if (event.type === 'TicketRejected') {
    const data = (event.data as Extract<TicketEvent, { type: 'TicketRejected' }>['data']);
    return { kind: 'TicketRejected', userIds: applicant, notice: ticketRejected(facts, data.approverName, data.remarks) };
  }
  if (event.type === 'TicketApproved' && (event.data as { final: boolean }).final) {
    const data = (event.data as Extract<TicketEvent, { type: 'TicketApproved' }>['data']);
    return { kind: 'TicketApproved', userIds: applicant, notice: ticketApproved(facts, data.approverName, data.remarks) };
  }
  // Waiting on a step: its approvers are told.
  if (ticket.state !== 'Pending' && ticket.state !== 'IntermediateApproved') return undefined;
  const step = ticket.flow.steps[ticket.step];
  if (!step) return undefined;
  const userIds = await approverUserIds(deps, ticket.projectId, step.approver);
  return { kind: 'TicketAwaitingApproval', userIds, notice: awaitingApproval(facts, step.name) };
}

/**
 * Events older than this are not mailed: the notifier's first start on an existing store (its
 * checkpoint at zero) must not mail the whole history, and a day-old "please approve" is stale.
 */
const maxAgeMs = 24 * 60 * 60 * 1000;

export async function notify(deps: NotifierDeps, event: RecordedEvent, context: ProcessContext = { suspect: false }): Promise<void> {
  if (deps.clock.now() - event.recordedAt > maxAgeMs) return;
  const stream = notificationStream(event.id);
  if (context.suspect && (await deps.store.readStream(stream, { limit: 1 })).length > 0) return;
  const server = await smtpServerOf(deps.store, deps.secrets);
  if (!server) return;
  const planned = await planNotification(deps, event);
  if (!planned) return;
  const recipients: string[] = [];
  const userIds: string[] = [];
  for (const userId of [...new Set(planned.userIds)]) {
    const address = await emailOf(deps.store, deps.secrets, userId);
    if (address) { recipients.push(address); userIds.push(userId); }
  }
  if (recipients.length === 0) return;
  const metadata = metadataFor({ actor: systemActor, correlationId: event.metadata.correlationId ?? event.id }, { causationId: event.id });
  const base = { causeEventId: event.id, causeType: event.type, kind: planned.kind, userIds, subject: planned.notice.subject, at: deps.clock.now() };
  let recorded: { type: string; data: object };
  try {
    // One message per recipient: addresses of colleagues are not handed to each other.
    for (const to of recipients) await deps.mail.send(server, { to: [to], ...planned.notice });
    recorded = { type: 'NotificationSent', data: base };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    deps.log.warn({ causeEventId: event.id, kind: planned.kind, err: message }, 'notification e-mail could not be sent');
    recorded = { type: 'NotificationFailed', data: { ...base, error: message.slice(0, 500) } };
  }
  try {
    await deps.store.append(stream, [{ ...recorded, metadata }], 'no_stream');
  } catch (error) {
    if (!(error instanceof WrongExpectedVersionError)) throw error;
  }
}

export function createNotifier(deps: NotifierDeps): ProcessRunner {
  return createProcessRunner({
    name: 'notifications-mail',
    eventStore: deps.store,
    readStore: deps.readStore,
    log: deps.log,
    handles: notifiedEventTypes,
    handle: (event, context) => notify(deps, event, context),
    maxInFlight: 100,
  });
}
