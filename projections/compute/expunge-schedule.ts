import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import { isoTime, type Projection } from '../shared/projection.js';

// The due-time read model of deletion (DESIGN.md §3): one entry per destroyed VM, volume or
// image that is to be expunged (Never: no entry), due at the `expungeAt` its destroy event
// fixed; and one per VM whose rollback stalled on its host, due for a retry. The expunger
// polls it; the aggregates decide (a lagging entry only delays or repeats a no-op).

export const expungeScheduleCollection = 'expunge_schedule';

export type ScheduleKind = 'vm' | 'volume' | 'image' | 'vm-rollback';

export interface ScheduleEntry {
  id: string;
  kind: ScheduleKind;
  resourceId: string;
  /** Destroyed: waiting for its time; Expunging: under way; Stalled: a rollback to retry. */
  state: 'Destroyed' | 'Expunging' | 'Stalled';
  /** Epoch ms. */
  dueAt: number;
  due: string;
  [field: string]: unknown;
}

export const scheduleId = (kind: ScheduleKind, resourceId: string) => `${kind}:${resourceId}`;

export const expungeScheduleProjection: Projection = {
  name: 'expunge-schedule',
  version: 1,
  collections: [expungeScheduleCollection],
  indexes: [{ collection: expungeScheduleCollection, fields: [['kind', 1], ['state', 1], ['dueAt', 1]] }],
  handles: [
    'VmInstanceDestroyed', 'VmExpungeStarted', 'VmExpungeFailed', 'VmInstanceRecovered', 'VmInstanceExpunged',
    'VmRollbackStalled', 'VmTeardownRetried', 'VmProvisioningRolledBack',
    'VolumeDestroyed', 'VolumeExpungeStarted', 'VolumeExpungeFailed', 'VolumeRecovered', 'VolumeExpunged',
    'ImageDeleted', 'ImageRecovered', 'ImageExpunged',
  ],

  apply(event: RecordedEvent, batch: WriteBatch) {
    const data = event.data as Record<string, unknown>;
    const schedule = (kind: ScheduleKind, resourceId: string, dueAt: number | null, state: ScheduleEntry['state'] = 'Destroyed') => {
      if (dueAt === null) return; // Never: kept for ever
      const entry: ScheduleEntry = { id: scheduleId(kind, resourceId), kind, resourceId, state, dueAt, due: isoTime(dueAt) };
      batch.upsert(expungeScheduleCollection, entry);
    };
    const mark = (kind: ScheduleKind, resourceId: string, state: ScheduleEntry['state']) => batch.patch(expungeScheduleCollection, scheduleId(kind, resourceId), { state });
    const drop = (kind: ScheduleKind, resourceId: string) => batch.delete(expungeScheduleCollection, scheduleId(kind, resourceId));
    switch (event.type) {
      case 'VmInstanceDestroyed': return schedule('vm', data.vmId as string, data.expungeAt as number | null);
      case 'VmExpungeStarted': return mark('vm', data.vmId as string, 'Expunging');
      case 'VmExpungeFailed': return mark('vm', data.vmId as string, 'Destroyed');
      case 'VmInstanceRecovered':
      case 'VmInstanceExpunged': return drop('vm', data.vmId as string);
      case 'VmRollbackStalled': return schedule('vm-rollback', data.vmId as string, data.stalledAt as number, 'Stalled');
      case 'VmTeardownRetried':
      case 'VmProvisioningRolledBack': return drop('vm-rollback', data.vmId as string);
      case 'VolumeDestroyed': return schedule('volume', data.volumeId as string, data.expungeAt as number | null);
      case 'VolumeExpungeStarted': return mark('volume', data.volumeId as string, 'Expunging');
      case 'VolumeExpungeFailed': return mark('volume', data.volumeId as string, 'Destroyed');
      case 'VolumeRecovered':
      case 'VolumeExpunged': return drop('volume', data.volumeId as string);
      case 'ImageDeleted': return schedule('image', data.imageId as string, data.expungeAt as number | null);
      case 'ImageRecovered':
      case 'ImageExpunged': return drop('image', data.imageId as string);
      default: return;
    }
  },
};
