import type { EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { fold } from '../../domain/shared/decider.js';
import { vmDecider, type VmEvent, type VmState } from '../../domain/compute/vm.js';
import { createProcessRunner, type ProcessRunner } from '../compute/provisioning-runner.js';
import { metadataFor, systemActor } from '../shared/request-context.js';
import { imageQuotaKey, l3QuotaKey, releaseQuota, releaseQuotas, snapshotQuotaKey, vmQuotaKey, vmRunningKey, volumeQuotaKey } from './quota.js';

// Gives a project's quota back when a resource created in it no longer holds anything:
//  - a VM: its provisioning failed and was rolled back (it rests in Error), or it was expunged.
//    A destroyed-but-recoverable VM still counts: nothing of `vm.num` is released on destroy.
//  - a running period of a VM: when the VM comes to rest not running (stopped, destroyed,
//    failed to start, found stopped), or when it is started again without having been seen to
//    stop (from Unknown). Only the period the event ends is released (see quota.ts).
//  - a data volume when it is expunged; a snapshot when its creation fails or it is deleted;
//    an image when it is expunged; an L3 network when it is deleted.
// A checkpointed subscription; releases are keyed by the resource, so a redelivery changes nothing.

const vmEventTypes = [
  'VmProvisioningRolledBack', 'VmInstanceExpunged', 'VmStopped', 'VmOperationFailed', 'VmInstanceDestroyed', 'VmDestroyFailed',
  'VmPowerStateSynced', 'VmStartRequested',
] as const;

/** Released for good: the key of the resource whose stream the event is in. */
const resourceGone: Record<string, (event: RecordedEvent) => string> = {
  VolumeExpunged: (event) => volumeQuotaKey((event.data as { volumeId: string }).volumeId),
  VolumeSnapshotCreationFailed: (event) => snapshotQuotaKey((event.data as { snapshotId: string }).snapshotId),
  VolumeSnapshotDeleted: (event) => snapshotQuotaKey((event.data as { snapshotId: string }).snapshotId),
  ImageExpunged: (event) => imageQuotaKey((event.data as { imageId: string }).imageId),
  L3NetworkDeleted: (event) => l3QuotaKey((event.data as { l3NetworkId: string }).l3NetworkId),
};

export const quotaReleaseEventTypes: readonly string[] = [...vmEventTypes, ...Object.keys(resourceGone)];

/** States in which a VM holds a running slot. */
const runningStates: ReadonlySet<VmState> = new Set<VmState>(['Starting', 'Running', 'Rebooting', 'Pausing', 'Paused', 'Resuming', 'Stopping', 'Unknown']);

/** The project a VM was created in, from its creation event. */
export async function projectOfVm(store: EventStore, vmId: string): Promise<string | undefined> {
  const [first] = await store.readStream(`vm-${vmId}`, { limit: 1 });
  return first?.type === 'VmInstanceCreated' ? (first.data as { projectId?: string }).projectId : undefined;
}

/** The project a resource was created in: recorded with its first event (its data, or the metadata of a project session's command). */
export async function projectOfStream(store: EventStore, stream: string): Promise<string | undefined> {
  const [first] = await store.readStream(stream, { limit: 1 });
  if (!first) return undefined;
  return (first.data as { projectId?: string }).projectId ?? first.metadata.projectId;
}

/** The command that began the running period `event` belongs to (for a start: the one before it). */
function startCommandBefore(events: readonly RecordedEvent[], version: number): string | undefined {
  for (let index = Math.min(version, events.length) - 1; index >= 0; index--) {
    const event = events[index]!;
    const starts = event.type === 'VmStartRequested'
      || (event.type === 'VmInstanceCreated' && (event.data as { strategy?: string }).strategy === 'InstantStart');
    if (starts) return event.metadata.commandId;
  }
  return undefined;
}

async function releaseForVm(store: EventStore, event: RecordedEvent, metadata: ReturnType<typeof metadataFor>) {
  const vmId = (event.data as { vmId: string }).vmId;
  // Most VMs belong to no project: one event read tells.
  const projectId = await projectOfVm(store, vmId);
  if (!projectId) return;
  const history = await store.readStream(event.stream, { limit: event.version + 1 });
  const keys: string[] = [];
  const startCommandId = startCommandBefore(history, event.version);
  const vm = fold(vmDecider, history as unknown as VmEvent[]);
  const stillRunning = vm.exists && !vm.expunged && runningStates.has(vm.state);
  if (startCommandId !== undefined && (event.type === 'VmStartRequested' || !stillRunning)) keys.push(vmRunningKey(vmId, startCommandId));
  const creationUndone = event.type === 'VmProvisioningRolledBack' && (event.data as { state?: string }).state === 'Error';
  if (creationUndone || event.type === 'VmInstanceExpunged') keys.push(vmQuotaKey(vmId));
  await releaseQuotas(store, projectId, keys, metadata);
}

export async function releaseQuotaFor(store: EventStore, event: RecordedEvent): Promise<void> {
  const metadata = metadataFor({ actor: systemActor, correlationId: event.metadata.correlationId ?? event.id }, { causationId: event.id });
  if ((vmEventTypes as readonly string[]).includes(event.type)) return releaseForVm(store, event, metadata);
  const keyOf = resourceGone[event.type];
  if (!keyOf) return;
  const projectId = await projectOfStream(store, event.stream);
  if (projectId) await releaseQuota(store, projectId, keyOf(event), metadata);
}

export function createQuotaReleaseProcess(deps: { eventStore: EventStore; readStore: ReadStore; log: { warn(d: object, m: string): void; error(d: object, m: string): void } }): ProcessRunner {
  return createProcessRunner({
    name: 'tenancy-quota-release',
    eventStore: deps.eventStore,
    readStore: deps.readStore,
    log: deps.log,
    handles: quotaReleaseEventTypes,
    handle: (event) => releaseQuotaFor(deps.eventStore, event),
  });
}
