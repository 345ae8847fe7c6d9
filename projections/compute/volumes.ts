import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { VolumeEvent } from '../../domain/compute/volume.js';
import type { VmEvent } from '../../domain/compute/vm-events.js';
import { isoTime, type Projection } from '../shared/projection.js';
import { projectFieldOf } from '../tenancy/project-of.js';

// The volume list (`GET /v1/volumes`): data volumes from their own streams, and each VM's
// root volume from the VM's events (a root volume lives inside the VM aggregate; listing it
// here gives it an id that volume snapshots can name). An expunged volume leaves the list.

export const volumesCollection = 'volumes';

export const volumeListFields = {
  id: 'string',
  name: 'string',
  type: 'string',
  state: 'string',
  attachState: 'string',
  sizeBytes: 'number',
  vmInstanceId: 'string',
  device: 'string',
  diskOfferingId: 'string',
  primaryStorageId: 'string',
  hostId: 'string',
  deletionPolicy: 'string',
  createdAt: 'time',
  destroyedAt: 'time',
  expungeAt: 'time',
  projectId: 'string',
} as const;

const volumeEventTypes: readonly VolumeEvent['type'][] = [
  'VolumeCreated', 'VolumeInstantiationRequested', 'VolumeInstantiated', 'VolumeInstantiationFailed',
  'VolumeAttachRequested', 'VolumeAttached', 'VolumeAttachFailed', 'VolumeDetachRequested', 'VolumeDetached', 'VolumeDetachFailed',
  'VolumeDestroyed', 'VolumeRecovered', 'VolumeExpungeStarted', 'VolumeExpungeFailed', 'VolumeExpunged',
];

const rootVolumeEventTypes: readonly VmEvent['type'][] = [
  'VmInstanceCreated', 'VmInstanceUpdated', 'VmResourcesAllocated', 'VmRootVolumeCreated', 'VmRootVolumeDeleted',
  'VmInstanceDestroyed', 'VmInstanceRecovered', 'VmInstanceExpunged',
];

/** Root volume documents are keyed by the root volume's id; the VM's events know it by VM id. */
const rootIndex = 'volumes_root_by_vm';

export const volumesProjection: Projection = {
  name: 'volumes',
  version: 2,
  collections: [volumesCollection, rootIndex],
  indexes: [
    { collection: volumesCollection, fields: [['createdAt', -1]] },
    { collection: volumesCollection, fields: [['state', 1], ['createdAt', -1]] },
    { collection: volumesCollection, fields: [['vmInstanceId', 1]] },
    { collection: volumesCollection, fields: [['type', 1], ['createdAt', -1]] },
  ],
  handles: [...volumeEventTypes, ...rootVolumeEventTypes],

  async apply(recorded: RecordedEvent, batch: WriteBatch) {
    if (recorded.type.startsWith('Volume')) await applyVolumeEvent(recorded as unknown as VolumeEvent, batch);
    else await applyVmEvent(recorded as unknown as VmEvent & RecordedEvent, batch);
  },
};

async function applyVolumeEvent(event: VolumeEvent, batch: WriteBatch) {
  const id = event.data.volumeId;
  const set = (fields: Record<string, unknown>) => batch.patch(volumesCollection, id, fields);
  const detached = { vmInstanceId: null, attachState: null, device: null };
  switch (event.type) {
    case 'VolumeCreated':
      batch.upsert(volumesCollection, {
        id,
        name: event.data.name,
        description: event.data.description,
        type: 'Data',
        state: 'NotInstantiated',
        attachState: null,
        sizeBytes: event.data.sizeBytes,
        diskOfferingId: event.data.diskOfferingId,
        vmInstanceId: null,
        device: null,
        primaryStorageId: event.data.primaryStorageId,
        requestedPrimaryStorageId: event.data.primaryStorageId,
        hostId: null,
        instantiated: false,
        createdForVmInstanceId: event.data.createdForVmInstanceId,
        createdAt: isoTime(event.data.createdAt),
        deletionPolicy: null,
        destroyedAt: null,
        expungeAt: null,
        ...projectFieldOf(event as unknown as RecordedEvent),
      });
      return;
    case 'VolumeInstantiationRequested':
      set({ state: 'Creating', hostId: event.data.hostId, primaryStorageId: event.data.primaryStorageId });
      return;
    case 'VolumeInstantiated':
      set({ state: 'Ready', instantiated: true, hostId: event.data.hostId, primaryStorageId: event.data.primaryStorageId });
      return;
    case 'VolumeInstantiationFailed': {
      const doc = await batch.get(volumesCollection, id);
      set({ state: 'NotInstantiated', hostId: null, primaryStorageId: doc?.requestedPrimaryStorageId ?? null, ...detached });
      return;
    }
    case 'VolumeAttachRequested':
      set({ vmInstanceId: event.data.vmInstanceId, attachState: 'Attaching', device: event.data.device });
      return;
    case 'VolumeAttached':
      set({ attachState: 'Attached', hostId: event.data.hostId });
      return;
    case 'VolumeDetachRequested':
      set({ attachState: 'Detaching' });
      return;
    case 'VolumeDetachFailed':
      set({ attachState: 'Attached' });
      return;
    case 'VolumeAttachFailed':
    case 'VolumeDetached':
      set(detached);
      return;
    case 'VolumeDestroyed':
      set({
        state: 'Destroyed',
        deletionPolicy: event.data.policy,
        destroyedAt: isoTime(event.data.destroyedAt),
        expungeAt: event.data.expungeAt === null ? null : isoTime(event.data.expungeAt),
      });
      return;
    case 'VolumeRecovered': {
      // A recovered volume is what it was before: on its host if it had been instantiated.
      const doc = await batch.get(volumesCollection, id);
      set({ state: doc?.instantiated ? 'Ready' : 'NotInstantiated', deletionPolicy: null, destroyedAt: null, expungeAt: null });
      return;
    }
    case 'VolumeExpungeStarted':
      set({ state: 'Expunging' });
      return;
    case 'VolumeExpungeFailed':
      set({ state: 'Destroyed' });
      return;
    case 'VolumeExpunged':
      batch.delete(volumesCollection, id);
      return;
  }
}

async function applyVmEvent(event: VmEvent & RecordedEvent, batch: WriteBatch) {
  if (event.type === 'VmInstanceCreated') {
    const { rootVolume } = event.data;
    batch.upsert(rootIndex, { id: event.data.vmId, volumeId: rootVolume.volumeId });
    batch.upsert(volumesCollection, {
      id: rootVolume.volumeId,
      name: rootVolumeName(event.data.name),
      description: '',
      type: 'Root',
      state: 'NotInstantiated',
      attachState: 'Attached',
      sizeBytes: rootVolume.sizeBytes,
      diskOfferingId: null,
      vmInstanceId: event.data.vmId,
      device: 'vda',
      primaryStorageId: null,
      requestedPrimaryStorageId: null,
      hostId: null,
      instantiated: false,
      createdForVmInstanceId: event.data.vmId,
      createdAt: isoTime(event.data.createdAt),
      deletionPolicy: null,
      destroyedAt: null,
      expungeAt: null,
      ...projectFieldOf(event),
    });
    return;
  }
  const index = await batch.get(rootIndex, event.data.vmId);
  if (!index) return;
  const id = index.volumeId as string;
  const set = (fields: Record<string, unknown>) => batch.patch(volumesCollection, id, fields);
  switch (event.type) {
    case 'VmInstanceUpdated':
      if (event.data.name !== undefined) set({ name: rootVolumeName(event.data.name) });
      return;
    case 'VmResourcesAllocated':
      set({ hostId: event.data.hostId, primaryStorageId: event.data.rootVolume.primaryStorageId });
      return;
    case 'VmRootVolumeCreated':
      set({ state: 'Ready', instantiated: true });
      return;
    case 'VmRootVolumeDeleted':
      set({ state: 'NotInstantiated', instantiated: false, hostId: null });
      return;
    case 'VmInstanceDestroyed':
      // A root volume shares its VM's fate and its deletion policy.
      set({
        state: 'Destroyed',
        deletionPolicy: event.data.policy,
        destroyedAt: isoTime(event.data.destroyedAt),
        expungeAt: event.data.expungeAt === null ? null : isoTime(event.data.expungeAt),
      });
      return;
    case 'VmInstanceRecovered': {
      const doc = await batch.get(volumesCollection, id);
      set({ state: doc?.instantiated ? 'Ready' : 'NotInstantiated', hostId: event.data.hostId, deletionPolicy: null, destroyedAt: null, expungeAt: null });
      return;
    }
    case 'VmInstanceExpunged':
      batch.delete(volumesCollection, id);
      batch.delete(rootIndex, event.data.vmId);
      return;
  }
}

/** ZStack names a root volume after its VM. */
const rootVolumeName = (vmName: string) => `ROOT-for-${vmName}`;
