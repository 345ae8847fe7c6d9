import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { diskOfferingDecider, diskOfferingStream } from '../../domain/compute/offering.js';
import { primaryStorageDecider, primaryStorageStream } from '../../domain/compute/primary-storage.js';
import { volumeDecider, volumeStream } from '../../domain/compute/volume.js';
import { DomainError } from '../../domain/shared/errors.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';
import { newId } from '../shared/ids.js';
import { dataVolumeAmounts, volumeQuotaKey, withQuota } from '../tenancy/quota.js';

// Creating a data volume records it, NotInstantiated: no host holds it and no storage is
// reserved yet. Its bytes are reserved, and its file created, when it is first attached to a
// VM — on the VM's host and primary storage (or the primary storage asked for here, which
// the VM must then be on). A volume that is never attached costs nothing.

export interface CreateVolumeRequest {
  name: string;
  description?: string;
  /** Exactly one of diskOfferingId and sizeBytes. */
  diskOfferingId?: string;
  sizeBytes?: number;
  primaryStorageId?: string;
  /** Given by the VM process (dataDiskOfferingIds): a deterministic id makes the creation idempotent. */
  volumeId?: string;
  createdForVmInstanceId?: string;
  /** The project (tenancy) the volume is created in: its data volume quota is reserved first. */
  projectId?: string;
}

export async function createVolume(deps: { store: EventStore; clock: Clock }, request: CreateVolumeRequest, metadata: EventMetadata) {
  const sizeBytes = await sizeOf(deps.store, request);
  if (request.primaryStorageId) await requirePrimaryStorage(deps.store, request.primaryStorageId);
  const volumeId = request.volumeId ?? newId();
  const command: Parameters<typeof volumeDecider.decide>[0] = { type: 'CreateVolume', volumeId, name: request.name, sizeBytes, now: deps.clock.now() };
  if (request.description !== undefined) command.description = request.description;
  if (request.diskOfferingId) command.diskOfferingId = request.diskOfferingId;
  if (request.primaryStorageId) command.primaryStorageId = request.primaryStorageId;
  if (request.createdForVmInstanceId) command.createdForVmInstanceId = request.createdForVmInstanceId;
  // Tenancy: the volume's events record its project; its count and size are reserved in the project first.
  const recordedWith = request.projectId ? { ...metadata, projectId: request.projectId } : metadata;
  const outcome = await withQuota(deps.store, request.projectId, volumeQuotaKey(volumeId), dataVolumeAmounts(sizeBytes), recordedWith,
    () => handleCommand(deps.store, volumeDecider, volumeStream(volumeId), command, recordedWith));
  return { id: volumeId, sizeBytes, position: outcome.position };
}

async function sizeOf(store: EventStore, request: CreateVolumeRequest): Promise<number> {
  if ((request.diskOfferingId === undefined) === (request.sizeBytes === undefined)) {
    throw new DomainError('INVALID_VOLUME_SIZE', 'give either diskOfferingId or sizeBytes', 'invalid', {
      fields: [{ field: 'diskOfferingId', message: 'give either diskOfferingId or sizeBytes, not both or neither' }],
    });
  }
  if (request.sizeBytes !== undefined) return request.sizeBytes;
  const { state } = await loadAggregate(store, diskOfferingDecider, diskOfferingStream(request.diskOfferingId!));
  if (!state.exists || state.deleted) {
    throw new DomainError('DISK_OFFERING_NOT_FOUND', `no disk offering ${request.diskOfferingId}`, 'not_found', {
      fields: [{ field: 'diskOfferingId', message: 'no such disk offering' }],
    });
  }
  return state.sizeBytes;
}

async function requirePrimaryStorage(store: EventStore, primaryStorageId: string) {
  const { state } = await loadAggregate(store, primaryStorageDecider, primaryStorageStream(primaryStorageId));
  if (!state.exists) {
    throw new DomainError('PRIMARY_STORAGE_NOT_FOUND', `no primary storage ${primaryStorageId}`, 'not_found', {
      fields: [{ field: 'primaryStorageId', message: 'no such primary storage' }],
    });
  }
}
