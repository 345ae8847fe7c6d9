import type { EventMetadata } from '../../adapters/eventstore/port.js';
import type { StopType } from '../../domain/compute/vm.js';
import { DomainError } from '../../domain/shared/errors.js';
import { powerVm, type VmCommandDeps } from '../compute/vm-commands.js';
import { loadVm } from '../compute/vm-store.js';
import { loadProject } from './projects.js';
import { vmQuotaKey } from './quota.js';

// "Disable all resources" of a project (reference/002, Manage a Project) and the reclaim
// action "stop resources": every VM of the project that runs (or is paused, crashed, unknown)
// is stopped through the same command the API's stop uses. The project's VMs are read from
// its own stream — every VM created in it holds a reservation there — not from a read model
// that may lag behind a VM just created.

/** States a stop applies to (the VM decider's own list); others are skipped. */
const stoppable = new Set(['Running', 'Paused', 'Unknown', 'Crashed']);

export interface StopProjectVmsOutcome {
  /** VMs whose stop was recorded: their stop goes on in the VM process. */
  stopping: string[];
  /** VMs not running (stopped, destroyed, created, failed): nothing to do. */
  skipped: string[];
  /** VMs that could not be stopped now (busy with another operation …). */
  failed: Array<{ vmId: string; code: string; message: string }>;
}

/** The ids of every VM created in the project and not expunged (its quota reservations name them). */
export async function vmIdsOfProject(deps: Pick<VmCommandDeps, 'store'>, projectId: string): Promise<string[]> {
  const { state } = await loadProject(deps.store, projectId);
  if (!state.exists) throw new DomainError('PROJECT_NOT_FOUND', `no project ${projectId}`, 'not_found');
  const prefix = vmQuotaKey('');
  return [...state.reservations.keys()].filter((key) => key.startsWith(prefix)).map((key) => key.slice(prefix.length));
}

/**
 * Stops the project's running VMs. `metadata` names who asks (the system actor for a
 * reclaim, the admin for disable-resources); `taskId` is null because one VM's stop must not
 * end the caller's task — the caller owns its task and ends it with this outcome.
 */
export async function stopProjectVms(
  deps: VmCommandDeps, projectId: string, metadata: EventMetadata, options: { stopType?: StopType } = {},
): Promise<StopProjectVmsOutcome> {
  const outcome: StopProjectVmsOutcome = { stopping: [], skipped: [], failed: [] };
  for (const vmId of await vmIdsOfProject(deps, projectId)) {
    const { state } = await loadVm(deps.store, vmId);
    if (!state.exists || state.expunged || state.projectId !== projectId || !stoppable.has(state.state) && !state.process) {
      outcome.skipped.push(vmId);
      continue;
    }
    try {
      await powerVm(deps, vmId, { type: 'StopVm', stopType: options.stopType ?? 'grace' }, { taskId: null, metadata });
      outcome.stopping.push(vmId);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      outcome.failed.push({ vmId, code: error.code, message: error.message });
    }
  }
  return outcome;
}
