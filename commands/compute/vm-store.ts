import type { EventMetadata, EventStore, RecordedEvent } from '../../adapters/eventstore/port.js';
import { vmDecider, vmStream, type VmAggregate, type VmCommand, type VmInstance } from '../../domain/compute/vm.js';
import { DomainError } from '../../domain/shared/errors.js';
import { createAggregateCache } from '../shared/cached-command.js';
import type { CommandOutcome } from '../shared/handle-command.js';
import { systemActor } from '../shared/request-context.js';
import { idFromName } from '../shared/ids.js';

// Every command on a VM stream goes through this cache: a VM's results, its user's commands
// and its process's steps queue per VM in this process instead of racing, and each reads
// only the events written since the state it holds.

export const vmAggregates = createAggregateCache(vmDecider, { maxStreams: 50_000 });

export function handleVmCommand(store: EventStore, vmId: string, command: VmCommand, metadata: EventMetadata, options: { expectedVersion?: number } = {}): Promise<CommandOutcome<VmAggregate>> {
  return vmAggregates.handle(store, vmStream(vmId), command, metadata, options);
}

export async function loadVm(store: EventStore, vmId: string): Promise<{ state: VmAggregate; version: number }> {
  return vmAggregates.load(store, vmStream(vmId));
}

/** The VM, or VM_NOT_FOUND (never created, or expunged). */
export async function requireVm(store: EventStore, vmId: string): Promise<{ vm: VmInstance; version: number }> {
  const { state, version } = await loadVm(store, vmId);
  if (!state.exists || state.expunged) throw new DomainError('VM_NOT_FOUND', `no VM instance ${vmId}`, 'not_found');
  return { vm: state, version };
}

/**
 * Metadata of a command a process or route issues because of `event`: same correlation and
 * actor (the process acts for whoever asked), caused by the event, with a command id
 * derived from it (so a repeat is recognizable as the same command).
 */
export function metadataCausedBy(event: Pick<RecordedEvent, 'id' | 'metadata'>, purpose: string): EventMetadata {
  return {
    commandId: idFromName(`${event.id}:${purpose}`),
    correlationId: event.metadata.correlationId ?? event.id,
    causationId: event.id,
    actor: event.metadata.actor ?? systemActor,
    schemaVersion: 1,
  };
}
