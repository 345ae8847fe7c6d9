import type { EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { createProcessRunner, type ProcessRunner } from '../compute/provisioning-runner.js';
import { metadataFor, systemActor } from '../shared/request-context.js';
import { releaseVmQuota } from './quota.js';

// Gives a project's quota back when a VM created in it no longer holds anything: its
// provisioning failed and was rolled back (it rests in Error, holding nothing), or it was
// expunged. A destroyed-but-recoverable VM still counts: nothing is released on destroy.
// A checkpointed subscription; releases are keyed by the VM, so a redelivery changes nothing.

export const quotaReleaseEventTypes = ['VmProvisioningRolledBack', 'VmInstanceExpunged'] as const;

/** The project a VM was created in, from its creation event. */
export async function projectOfVm(store: EventStore, vmId: string): Promise<string | undefined> {
  const [first] = await store.readStream(`vm-${vmId}`, { limit: 1 });
  return first?.type === 'VmInstanceCreated' ? (first.data as { projectId?: string }).projectId : undefined;
}

export async function releaseQuotaFor(store: EventStore, event: RecordedEvent): Promise<void> {
  const data = event.data as { vmId: string; state?: string };
  // A rollback that leaves the VM in another state (a failed start of an existing VM) ends no creation.
  if (event.type === 'VmProvisioningRolledBack' && data.state !== 'Error') return;
  const projectId = await projectOfVm(store, data.vmId);
  if (!projectId) return;
  await releaseVmQuota(store, projectId, data.vmId, metadataFor({ actor: systemActor, correlationId: event.metadata.correlationId ?? event.id }, { causationId: event.id }));
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
