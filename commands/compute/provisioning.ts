import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { fold } from '../../domain/shared/decider.js';
import { DomainError } from '../../domain/shared/errors.js';
import {
  taskOutcomeOf, vmDecider, vmProcessRequestTypes,
  type VmAllocationRequested, type VmComputeReleaseRequested, type VmEvent, type VmInstance, type VmStorageReleaseRequested,
} from '../../domain/compute/vm.js';
import type { Tasks } from '../tasks/tasks.js';
import { createProcessRunner, type ProcessContext, type ProcessLogger, type ProcessRunner } from './provisioning-runner.js';
import { allocateVmResources, releaseVmCompute, releaseVmStorage } from './vm-resources.js';
import { handleVmCommand, metadataCausedBy, vmAggregates } from './vm-store.js';
import { vmView } from '../../domain/compute/vm-view.js';

// The VM process manager (DESIGN.md §3): the part of a VM's life that is not a hypervisor
// operation. It reacts to the VM's step events — reserve resources, give compute back, give
// storage back — by acting on other aggregates and reporting the result to the VM, whose
// decider says what comes next; and it ends the tasks of operations when the VM reaches
// their outcome (create, start, stop … destroy, expunge), so that a task outlives a crash.
// Hypervisor steps go through the effect routes (vm-routes.ts) the same way.

export const vmProcessName = 'vm-lifecycle';

export interface VmProcessDeps {
  eventStore: EventStore;
  readStore: ReadStore;
  clock: Clock;
  tasks: Pick<Tasks, 'finish'>;
  log: ProcessLogger;
}

const outcomeTypes = [
  'VmProvisioningCompleted', 'VmStarted', 'VmStopped', 'VmRebooted', 'VmPaused', 'VmResumed', 'VmInstanceDestroyed', 'VmInstanceExpunged',
  'VmOperationFailed', 'VmProvisioningRolledBack', 'VmRollbackStalled', 'VmDestroyFailed', 'VmExpungeFailed',
] as const;

export const vmProcessHandles: readonly string[] = [...vmProcessRequestTypes, ...outcomeTypes];

export function createVmProcess(deps: VmProcessDeps): ProcessRunner {
  const resources = { store: deps.eventStore, readStore: deps.readStore };

  async function allocate(event: RecordedEvent, data: VmAllocationRequested['data'], context: ProcessContext) {
    const metadata = metadataCausedBy(event, 'allocate');
    try {
      const allocation = await allocateVmResources(resources, data, metadata, context);
      await handleVmCommand(deps.eventStore, data.vmId, { type: 'RecordResourcesAllocated', seq: data.seq, ...allocation }, metadata);
    } catch (error) {
      // A refusal is the VM's outcome; anything else (the store failing) is retried.
      if (!(error instanceof DomainError)) throw error;
      await handleVmCommand(deps.eventStore, data.vmId, {
        type: 'RecordStepFailed', seq: data.seq, error: { code: error.code, message: error.message }, now: deps.clock.now(),
      }, metadata);
    }
  }

  async function releaseCompute(event: RecordedEvent, data: VmComputeReleaseRequested['data']) {
    const metadata = metadataCausedBy(event, 'release-compute');
    await releaseVmCompute(resources, data.vmId, data.hostId, data.nics, metadata);
    await handleVmCommand(deps.eventStore, data.vmId, { type: 'RecordStepSucceeded', seq: data.seq, now: deps.clock.now() }, metadata);
  }

  async function releaseStorage(event: RecordedEvent, data: VmStorageReleaseRequested['data']) {
    const metadata = metadataCausedBy(event, 'release-storage');
    // The last step of an expunge also gives back what a recover cut short by a crash may
    // have reserved (keyed by the VM, so nothing else is touched): nothing is left behind.
    const vm = await vmAt(event);
    if (vm && !vm.hostReserved && !vm.ipsAllocated) await releaseVmCompute(resources, vm.vmId, vm.hostId, vm.nics, metadata);
    await releaseVmStorage(resources, data.primaryStorageId, data.volumeId, metadata);
    await handleVmCommand(deps.eventStore, data.vmId, { type: 'RecordStepSucceeded', seq: data.seq, now: deps.clock.now() }, metadata);
  }

  /** The VM as it was when `event` was written. */
  async function vmAt(event: RecordedEvent): Promise<VmInstance | undefined> {
    // Usually the VM has not moved on since: the state this process holds is that one.
    const latest = vmAggregates.peek(deps.eventStore, event.stream);
    if (latest?.version === event.version) return latest.state.exists ? latest.state : undefined;
    const events = await deps.eventStore.readStream(event.stream, { limit: event.version + 1 });
    const state = fold(vmDecider, events as unknown as VmEvent[]);
    return state.exists ? state : undefined;
  }

  async function endTask(event: RecordedEvent) {
    const outcome = taskOutcomeOf(event as unknown as VmEvent);
    if (!outcome) return;
    const metadata = metadataCausedBy(event, 'end-task');
    if (!outcome.ok) {
      await deps.tasks.finish(outcome.taskId, { ok: false, error: { ...outcome.error, kind: 'conflict' } }, metadata);
      return;
    }
    const vm = await vmAt(event);
    await deps.tasks.finish(outcome.taskId, { ok: true, result: vm ? vmView(vm) : { id: event.stream.slice('vm-'.length) } }, metadata);
  }

  return createProcessRunner({
    name: vmProcessName,
    eventStore: deps.eventStore,
    readStore: deps.readStore,
    log: deps.log,
    handles: vmProcessHandles,
    async handle(event, context) {
      const vmEvent = event as unknown as VmEvent;
      switch (vmEvent.type) {
        case 'VmAllocationRequested':
          return allocate(event, vmEvent.data, context);
        case 'VmComputeReleaseRequested':
          return releaseCompute(event, vmEvent.data);
        case 'VmStorageReleaseRequested':
          return releaseStorage(event, vmEvent.data);
        default:
          return endTask(event);
      }
    },
  });
}
