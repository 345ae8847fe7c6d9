import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { deletableKinds, deletionSettingNames, type DeletableKind } from '../../domain/compute/deletion-policy.js';
import { settingValue } from '../../domain/settings/settings.js';
import { readSettings } from '../settings/settings.js';
import { systemActor } from '../shared/request-context.js';
import type { DueJob } from '../shared/timer-loop.js';
import type { Tasks } from '../tasks/tasks.js';
import { expungeImage } from './image-expunge.js';
import { expungeVolume } from './volume-expunge.js';
import { expungeVm } from './vm-commands.js';
import { handleVmCommand, loadVm } from './vm-store.js';

// The delayed-deletion expunger (FACTS.md deletion policy), one for VMs, volumes and images.
// Every `<kind>.expungeInterval` seconds it looks in the expunge schedule for resources of
// that kind whose `expungeAt` — fixed by their destroy event — has passed, and expunges each
// as a system task (so the audit log shows it). An expunge that fails stays scheduled and is
// tried at the next interval; one cut by a crash resumes on its own (process manager and
// effect outbox) — so nothing stays half expunged. VM rollbacks that stalled on a host are
// retried at the VM interval too.

export interface ExpungerDeps {
  store: EventStore;
  readStore: ReadStore;
  clock: Clock;
  tasks: Pick<Tasks, 'start'>;
  log: { warn(details: object, message: string): void };
}

const batchLimit = 500;

const actions: Record<DeletableKind, string> = { vm: 'ExpungeVmInstance', volume: 'ExpungeVolume', image: 'ExpungeImage' };

export function createExpungerJob(deps: ExpungerDeps): DueJob {
  const lastRun = new Map<string, number>();

  /** True when `kind`'s interval has passed since its last check (the first check runs at once). */
  function intervalPassed(kind: string, intervalSeconds: number, now: number): boolean {
    const last = lastRun.get(kind);
    if (last !== undefined && now - last < intervalSeconds * 1000) return false;
    lastRun.set(kind, now);
    return true;
  }

  async function expungeOne(kind: DeletableKind, resourceId: string, dueAt: number) {
    const context = { actor: systemActor, correlationId: `expunge-${kind}-${resourceId}-${dueAt}` };
    const spec = { action: actions[kind], resourceType: kind, resourceIds: [resourceId], request: { id: resourceId, reason: 'expunge period passed' } };
    switch (kind) {
      case 'vm': {
        // The schedule may lag behind the VM: ask the VM itself before starting a task.
        const { state } = await loadVm(deps.store, resourceId);
        if (!state.exists || state.expunged || state.state !== 'Destroyed' || state.process) return;
        await deps.tasks.start(context, { ...spec, completedBy: 'process' }, async ({ taskId, metadata }) => {
          await expungeVm(deps, resourceId, { taskId, metadata });
          return { result: { id: resourceId } };
        });
        return;
      }
      case 'volume':
        await deps.tasks.start(context, spec, async ({ metadata }) => ({ result: await expungeVolume(deps, resourceId, metadata) }));
        return;
      case 'image':
        await deps.tasks.start(context, spec, async ({ metadata }) => ({ result: { id: resourceId, ...(await expungeImage(deps, resourceId, metadata)) } }));
        return;
    }
  }

  async function retryRollback(vmId: string, metadata: EventMetadata) {
    await handleVmCommand(deps.store, vmId, { type: 'RetryRollback', now: deps.clock.now() }, metadata);
  }

  return {
    name: 'deletion-expunger',
    async run(now) {
      const settings = await readSettings(deps.store);
      for (const kind of deletableKinds) {
        const interval = Number(settingValue(settings, deletionSettingNames(kind).expungeInterval));
        if (!intervalPassed(kind, interval, now)) continue;
        const due = await deps.readStore.find('expunge_schedule', { kind, state: 'Destroyed', dueAt: { $lte: now } }, { sort: [['dueAt', 1]], limit: batchLimit });
        for (const entry of due) {
          try {
            await expungeOne(kind, entry.resourceId as string, entry.dueAt as number);
          } catch (error) {
            deps.log.warn({ err: error, kind, resourceId: entry.resourceId }, 'could not start an expunge; tried again at the next interval');
          }
        }
        if (kind === 'vm') {
          const stalled = await deps.readStore.find('expunge_schedule', { kind: 'vm-rollback', state: 'Stalled', dueAt: { $lte: now } }, { limit: batchLimit });
          for (const entry of stalled) {
            const vmId = entry.resourceId as string;
            await retryRollback(vmId, { correlationId: `rollback-retry-${vmId}-${now}`, actor: systemActor, schemaVersion: 1 })
              .catch((error: unknown) => deps.log.warn({ err: error, vmId }, 'could not retry a stalled rollback'));
          }
        }
      }
    },
  };
}
