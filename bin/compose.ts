import type { Server } from 'node:http';
import { resolve } from 'node:path';
import type { Clock } from '../adapters/clock/port.js';
import { systemClock } from '../adapters/clock/system.js';
import { instrumentEventStore } from '../adapters/eventstore/instrumented.js';
import type { EventStore } from '../adapters/eventstore/port.js';
import { openSqliteEventStore } from '../adapters/eventstore/sqlite.js';
import type { ReadStore } from '../adapters/readstore/port.js';
import { openSqliteReadStore } from '../adapters/readstore/sqlite.js';
import type { SecretBox } from '../adapters/secrets/port.js';
import { loadKeyRing } from '../adapters/secrets/keyring.js';
import { createApp } from '../api/app.js';
import { createMetrics, registerProjectionLag } from '../api/shared/metrics.js';
import type { Logger } from '../api/shared/endpoint.js';
import { bootstrapAdmin } from '../commands/identity/bootstrap-admin.js';
import { failInterruptedTasks } from '../commands/tasks/interrupted.js';
import { createTasks, type Tasks } from '../commands/tasks/tasks.js';
import { allProjections } from '../projections/index.js';
import { createProjectionRunner, ensureIndexes, type ProjectionRunner } from '../projections/shared/runner.js';
import { createProjectionThreadRunner } from './projection-thread-runner.js';
import { createCheckpointWatcher } from '../projections/shared/checkpoint-watcher.js';
import { sqliteFile, type Config } from './config.js';
import { isKurrentUrl, openScaleOutStores, usesScaleOutStores } from './scale-out-stores.js';
import { openKurrentEventStore } from '../adapters/eventstore/kurrentdb.js';
import { composeEffects, type ComposedEffects, type EffectsOptions } from './effects.js';
import { createVolumeProcessManager, type VolumeProcessManager } from '../commands/compute/volume-process-manager.js';
import { createVmLifecycle, type VmLifecycle } from '../commands/compute/vm-lifecycle.js';
import { createUserDepartureProcess } from '../commands/tenancy/user-departure.js';
import { createQuotaReleaseProcess } from '../commands/tenancy/quota-release.js';
import { createTicketFulfilment } from '../commands/tickets/fulfilment.js';
import type { MailSender } from '../adapters/mail/port.js';
import { createSmtpSender } from '../adapters/mail/smtp.js';
import { createNotifier } from '../commands/notifications/notifier.js';
import { createReclaimJob } from '../commands/tenancy/reclaim.js';
import { createTimerLoop, type TimerLoop } from '../commands/shared/timer-loop.js';
import { createTicketProcessFollower } from '../commands/tickets/process-follower.js';

export const version = '0.1.0';

export interface Stratus {
  app: ReturnType<typeof createApp>;
  eventStore: EventStore;
  readStore: ReadStore;
  runner: ProjectionRunner;
  tasks: Tasks;
  secrets: SecretBox;
  /** The effect pipeline: bus, simulator, dispatcher, agent and their timer loop. */
  effects: ComposedEffects;
  /** Turns VM events into data-volume commands (create/attach for new VMs, detach on destroy …). */
  volumeProcessManager: VolumeProcessManager;
  /** The VM process manager (provisioning, teardown, task outcomes) and the deletion expunger's timer. */
  vmLifecycle: VmLifecycle;
  /** Reclaim by time (expiry reminders, deadline actions); tests with a manual clock call `timer.tick()`. */
  reclaim: { timer: TimerLoop };
  /** Notification e-mails (tickets, project expiry) through `mail`. */
  notifier: { drained(timeoutMs?: number): Promise<boolean> };
  /** Gives project quota back when resources stop, fail or are expunged; tests wait for it with `drained()`. */
  quotaRelease: { drained(timeoutMs?: number): Promise<boolean> };
  /** Takes deleted users out of departments and user groups; tests wait for it with `drained()`. */
  userDeparture: { drained(timeoutMs?: number): Promise<boolean> };
  /** Set on first start when the admin password was generated: show it once. */
  generatedAdminPassword?: string;
  close(): Promise<void>;
}

/** The event store alone (an agent reads host streams and needs no read store). */
export function openEventStore(config: Config, clock: Clock): { eventStore: EventStore } {
  const eventStore = isKurrentUrl(config.eventStoreUrl)
    ? openKurrentEventStore({ url: config.eventStoreUrl })
    : openSqliteEventStore({ file: sqliteFile(config.eventStoreUrl, 'STRATUS_EVENTSTORE'), clock });
  return { eventStore };
}

export function openStores(config: Config, clock: Clock, hooks: { onEventsCommitted?: () => void } = {}) {
  if (usesScaleOutStores(config)) return openScaleOutStores(config, clock);
  const eventStore = openSqliteEventStore({ file: sqliteFile(config.eventStoreUrl, 'STRATUS_EVENTSTORE'), clock, onCommit: hooks.onEventsCommitted });
  const readStore = openSqliteReadStore({ file: sqliteFile(config.readStoreUrl, 'STRATUS_READSTORE') });
  return { eventStore, readStore };
}

/** The SQLite files of the embedded stores, when both are files another thread can open. */
function sharedSqliteFiles(config: Config): { eventStoreFile: string; readStoreFile: string } | undefined {
  const eventStoreFile = sqliteFile(config.eventStoreUrl, 'STRATUS_EVENTSTORE');
  const readStoreFile = sqliteFile(config.readStoreUrl, 'STRATUS_READSTORE');
  const shareable = (file: string) => file !== '' && file !== ':memory:' && !file.startsWith('file:');
  return shareable(eventStoreFile) && shareable(readStoreFile) ? { eventStoreFile, readStoreFile } : undefined;
}

/** The composition root: configuration → adapters → commands, projections and the API. */
export async function composeStratus(config: Config, options: { log: Logger; clock?: Clock; effects?: EffectsOptions; mail?: MailSender }): Promise<Stratus> {
  const { log } = options;
  const clock = options.clock ?? systemClock;
  if (config.busUrl !== 'local' && !config.busUrl.startsWith('kafka://')) throw new Error(`STRATUS_BUS ${config.busUrl} is not supported: use local or kafka://host:9092[,host2:9092…]`);
  const metrics = createMetrics();
  const scaleOut = config.topology === 'scale-out';
  // Embedded: the projections run in a thread of their own (bin/projection-thread.ts), woken by
  // every commit of the event store — unless the stores are not files two threads can share.
  const threadFiles = !scaleOut && config.projectionThread && !usesScaleOutStores(config) ? sharedSqliteFiles(config) : undefined;
  let wakeProjectionThread = () => {};
  const stores = openStores(config, clock, { onEventsCommitted: () => wakeProjectionThread() });
  const eventStore = instrumentEventStore(stores.eventStore, (count) => metrics.eventsAppended.inc(count));
  const readStore = stores.readStore;
  const secrets = loadKeyRing({ masterKey: config.masterKey, previousKeys: config.previousMasterKeys, keyFile: resolve(config.dataDir, 'master.key') });
  const tasks = createTasks({ store: eventStore, clock, log });
  // Scale-out: `stratus project` workers apply the projections; this process follows their checkpoints.
  if (scaleOut && !config.masterKey) throw new Error('STRATUS_TOPOLOGY=scale-out needs STRATUS_MASTER_KEY: every serve node and agent must seal and open secrets with the same key');
  let runner: ProjectionRunner;
  if (scaleOut) runner = createCheckpointWatcher({ eventStore, readStore, projections: allProjections, log });
  else if (threadFiles) {
    const threadRunner = createProjectionThreadRunner({ ...threadFiles, projections: allProjections, log });
    wakeProjectionThread = threadRunner.committed;
    runner = threadRunner;
  } else runner = createProjectionRunner({ eventStore, readStore, projections: allProjections, log });
  registerProjectionLag(metrics, eventStore, runner);

  const startedAt = clock.now();
  const bootstrap = await bootstrapAdmin({ store: eventStore, clock }, config.adminPassword);
  // The thread declares the projections' indexes in its own connection; declaring them here
  // first tells this connection which fields are multi-valued before it serves a query.
  if (threadFiles) for (const projection of allProjections) await ensureIndexes(readStore, projection);
  await runner.start();
  const effects = composeEffects(config, { eventStore, readStore, clock, secrets, log }, { inProcessAgent: !scaleOut, ...options.effects });
  await effects.start();
  const volumeProcessManager = createVolumeProcessManager({ eventStore, readStore, clock, tasks, log });
  await volumeProcessManager.start();
  const vmLifecycle = createVmLifecycle({ eventStore, readStore, clock, tasks, log });
  await vmLifecycle.start();
  // Tenancy: gives a project's quota back when a VM's creation fails or it is expunged.
  const quotaRelease = createQuotaReleaseProcess({ eventStore, readStore, log });
  await quotaRelease.start();
  // Tenancy: a deleted user leaves every department, user group and project.
  const userDeparture = createUserDepartureProcess({ store: eventStore, readStore, clock, log, caughtUp: (position, projection) => runner.waitFor(position, 30_000, projection) });
  await userDeparture.start();
  // Tickets: a finally approved ticket's request runs as a task, for its applicant.
  const ticketFulfilment = createTicketFulfilment({ store: eventStore, readStore, clock, tasks, log });
  await ticketFulfilment.start();
  // Tenancy: reclaim by time (reminders and deadline actions) on a timer; e-mail notifications.
  const reclaimTimer = createTimerLoop({ clock, jobs: [createReclaimJob({ store: eventStore, readStore, clock, tasks, log })], intervalMs: 60_000, log });
  reclaimTimer.start();
  const mail = options.mail ?? createSmtpSender();
  const notifier = createNotifier({ store: eventStore, readStore, clock, secrets, mail, log });
  await notifier.start();
  // Open tickets follow their process: resubmitted when it changes or is deleted, frozen while it is disabled.
  const ticketProcessFollower = createTicketProcessFollower({ store: eventStore, readStore, clock, tasks, log, ticketsCaughtUp: (position) => runner.waitFor(position, 30_000, 'tickets') });
  await ticketProcessFollower.start();
  // Once the task list has caught up, give tasks cut off by an earlier crash their outcome.
  // In the scale-out shape another API node may be running the tasks this one would find
  // unfinished: only the embedded process can tell that a task was cut off by its own stop.
  const recovery = scaleOut ? Promise.resolve() : eventStore.headPosition()
    .then((head) => runner.waitFor(head, 3_600_000, 'tasks'))
    .then((caughtUp) => (caughtUp ? failInterruptedTasks({ store: eventStore, readStore, clock, startedAt }) : 0))
    .then((count) => { if (count > 0) log.info({ count }, 'tasks interrupted by the last stop marked failed'); })
    .then(() => vmLifecycle.failOrphanedTasks(startedAt))
    .then((count) => { if (count > 0) log.info({ count }, 'VM tasks whose work was cut off before the VM got it marked failed'); })
    .catch((error: unknown) => log.error({ err: error }, 'could not mark interrupted tasks'));
  const app = createApp({ eventStore, readStore, clock, tasks, runner, log, metrics, trustedProxies: config.trustedProxies, version, secrets, ...(scaleOut ? {} : { faultInjector: effects.simulator }), hostProbe: effects.hostProbe.probe, requestOperation: effects.operationRequester.request });

  const stratus: Stratus = {
    app, eventStore, readStore, runner, tasks, secrets, effects, volumeProcessManager, vmLifecycle,
    reclaim: { timer: reclaimTimer }, notifier, quotaRelease, userDeparture,
    async close() {
      await reclaimTimer.stop();
      await tasks.drain();
      await volumeProcessManager.stop();
      await vmLifecycle.stop();
      await ticketFulfilment.stop();
      await notifier.stop();
      await mail.close();
      await ticketProcessFollower.stop();
      await quotaRelease.stop();
      await userDeparture.stop();
      await effects.stop();
      await runner.stop();
      await recovery;
      await eventStore.close();
      await readStore.close();
    },
  };
  if (bootstrap.generatedPassword) stratus.generatedAdminPassword = bootstrap.generatedPassword;
  return stratus;
}

export function listen(app: Stratus['app'], port: number, host: string): Promise<Server> {
  return new Promise((resolvePromise, reject) => {
    const server = app.listen(port, host, (error?: Error) => (error ? reject(error) : resolvePromise(server)));
  });
}
