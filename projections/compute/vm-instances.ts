import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import { vmDecider, vmEventTypes, type VmEvent, type VmInstance } from '../../domain/compute/vm.js';
import { vmView, type VmVolumeView } from '../../domain/compute/vm-view.js';
import { isoTime, type Projection } from '../shared/projection.js';

// The VM list and detail (`/v1/vm-instances`). Each document keeps the VM aggregate's state
// beside its view: the view is computed by the same function the process uses for a task's
// result (vmView), from the state the decider's own `evolve` folds — so the read model can
// never tell a different story than the VM's stream. Data volumes come from the volume
// streams' attach and detach events. An expunged VM is gone from the list.

export const vmInstancesCollection = 'vm_instances';

/** Fields the query language may filter and sort on. */
export const vmInstanceFields = {
  id: 'string',
  name: 'string',
  description: 'string',
  state: 'string',
  hostId: 'string',
  lastHostId: 'string',
  zoneId: 'string',
  clusterId: 'string',
  imageId: 'string',
  instanceOfferingId: 'string',
  cpuCount: 'number',
  memoryBytes: 'number',
  strategy: 'string',
  deletionPolicy: 'string',
  createdAt: 'time',
  updatedAt: 'time',
  destroyedAt: 'time',
  expungeAt: 'time',
  'error.code': 'string',
  projectId: 'string',
} as const;

/** What the stored document holds besides the view (never shown). */
export const vmInstanceInternalFields = ['aggregate', 'dataVolumes'] as const;

interface VolumeAttachment {
  volumeId: string;
  vmInstanceId: string;
  device?: string;
}

export const vmInstancesProjection: Projection = {
  name: 'vm-instances',
  // 2: the view shows antiSpoofing and guestAccess (rebuilt so that older VMs show them too).
  version: 2,
  collections: [vmInstancesCollection],
  indexes: [
    { collection: vmInstancesCollection, fields: [['createdAt', -1]] },
    { collection: vmInstancesCollection, fields: [['state', 1], ['createdAt', -1]] },
    { collection: vmInstancesCollection, fields: [['hostId', 1]] },
    { collection: vmInstancesCollection, fields: [['name', 1]] },
  ],
  handles: [...vmEventTypes, 'VolumeAttached', 'VolumeDetached'],

  async apply(recorded: RecordedEvent, batch: WriteBatch) {
    if (recorded.type === 'VolumeAttached' || recorded.type === 'VolumeDetached') {
      await applyAttachment(recorded, batch);
      return;
    }
    const event = recorded as unknown as VmEvent;
    const vmId = event.data.vmId;
    const doc = event.type === 'VmInstanceCreated' ? undefined : await batch.get(vmInstancesCollection, vmId);
    if (event.type !== 'VmInstanceCreated' && !doc) return;
    const previous = (doc?.aggregate as VmInstance | undefined) ?? vmDecider.initialState;
    const state = vmDecider.evolve(previous, event);
    if (!state.exists) return;
    if (state.expunged) {
      batch.delete(vmInstancesCollection, vmId);
      return;
    }
    const dataVolumes = (doc?.dataVolumes as VmVolumeView[] | undefined) ?? [];
    batch.upsert(vmInstancesCollection, {
      ...vmView(state, dataVolumes),
      version: recorded.version,
      updatedAt: isoTime(recorded.recordedAt),
      dataVolumes,
      aggregate: state,
    });
  },
};

async function applyAttachment(recorded: RecordedEvent, batch: WriteBatch) {
  const data = recorded.data as VolumeAttachment;
  const doc = await batch.get(vmInstancesCollection, data.vmInstanceId);
  if (!doc) return;
  const others = ((doc.dataVolumes as VmVolumeView[] | undefined) ?? []).filter((volume) => volume.id !== data.volumeId);
  const dataVolumes = recorded.type === 'VolumeAttached'
    ? [...others, { id: data.volumeId, type: 'Data' as const, device: data.device ?? '' }]
    : others;
  batch.patch(vmInstancesCollection, data.vmInstanceId, {
    dataVolumes,
    volumes: [...((doc.volumes as VmVolumeView[] | undefined) ?? []).filter((volume) => volume.type === 'Root'), ...dataVolumes],
  });
}
