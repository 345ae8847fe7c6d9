import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import { createSnapshot, deleteSnapshot, revertSnapshot } from '../../commands/compute/snapshots.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { volumeSnapshotListFields, volumeSnapshotsCollection } from '../../projections/compute/volume-snapshots.js';
import { endpoint, type Endpoint } from '../shared/endpoint.js';
import { listAndDetailEndpoints, type ReadDeps } from './resources.js';
import { volumeZoneScope } from './volume-zone-scope.js';
import { runLongTask } from './volumes.js';
import { descriptionSchema, nameSchema } from './zones.js';
import type { Response } from 'express';
import { assertInProject, assertStreamInProject, projectForCreate } from '../tenancy/scope.js';
import { volumeStream } from '../../domain/compute/volume.js';
import { vmStream } from '../../domain/compute/vm.js';
import { volumeSnapshotStream } from '../../domain/compute/volume-snapshot.js';
import { volumesCollection } from '../../projections/compute/volumes.js';

// Volume snapshots of data and root volumes. A root volume is named by its VM
// (`vmInstanceId`) or by its id as GET /v1/volumes lists it. Revert only while the VM using
// the volume is Stopped (VM_NOT_STOPPED otherwise).

const createBody = z.strictObject({
  name: nameSchema,
  description: descriptionSchema,
  volumeId: z.string().min(1).optional(),
  vmInstanceId: z.string().min(1).optional(),
}).refine((body) => body.volumeId !== undefined || body.vmInstanceId !== undefined, {
  message: 'give volumeId, or vmInstanceId for the VM\'s root volume',
  path: ['volumeId'],
});

const snapshotView = z.object({ id: z.string(), volumeId: z.string(), state: z.string(), taskId: z.string() });

export function volumeSnapshotEndpoints(deps: ReadDeps & { eventStore: EventStore; clock: Clock; tasks: Tasks }): Endpoint[] {
  const snapshotDeps = { store: deps.eventStore, clock: deps.clock, readStore: deps.readStore };
  /** Tenancy: a project session snapshots its project's disks only (a root volume belongs to its VM's project). */
  async function assertDiskInProject(res: Response, body: { volumeId?: string; vmInstanceId?: string }) {
    if (body.vmInstanceId !== undefined) {
      await assertStreamInProject(res, deps.eventStore, vmStream(body.vmInstanceId), { code: 'VM_NOT_FOUND', detail: `no VM instance ${body.vmInstanceId}` });
    } else if (body.volumeId !== undefined) {
      const notFound = { code: 'VOLUME_NOT_FOUND', detail: `no volume ${body.volumeId}` };
      const [first] = await deps.eventStore.readStream(volumeStream(body.volumeId), { limit: 1 });
      if (first) await assertStreamInProject(res, deps.eventStore, volumeStream(body.volumeId), notFound);
      else assertInProject(res, await deps.readStore.get(volumesCollection, body.volumeId), notFound); // a root volume, listed with its VM's project
    }
  }
  const assertSnapshotInProject = (res: Response, id: string) =>
    assertStreamInProject(res, deps.eventStore, volumeSnapshotStream(id), { code: 'VOLUME_SNAPSHOT_NOT_FOUND', detail: `no volume snapshot ${id}` });
  return [
    endpoint({
      method: 'post',
      path: '/v1/volume-snapshots',
      tag: 'volume-snapshots',
      summary: 'Take a snapshot of a data volume (volumeId) or of a VM\'s root volume (vmInstanceId, or the root volume\'s id)',
      permission: 'volume-snapshot:create',
      body: createBody,
      responses: { 200: { description: 'Taken', schema: snapshotView.extend({ sizeBytes: z.number() }) }, 202: { description: 'Being taken: follow the task' } },
      async handle({ req, res, body }) {
        const resourceIds = [body.volumeId ?? body.vmInstanceId!];
        await assertDiskInProject(res, body);
        const projectId = projectForCreate(res, undefined);
        await runLongTask(req, res, deps.tasks, { action: 'CreateVolumeSnapshot', resourceType: 'volume-snapshot', resourceIds, request: body },
          async (metadata) => ({ ...(await createSnapshot(snapshotDeps, { ...body, ...(projectId !== undefined ? { projectId } : {}) }, metadata, { wait: true })) }));
      },
    }),
    ...listAndDetailEndpoints(deps, {
      path: '/v1/volume-snapshots', tag: 'volume-snapshots', resource: 'volume-snapshot', collection: volumeSnapshotsCollection, fields: volumeSnapshotListFields,
      // A snapshot is in the zone of its volume's storage and host, which it records.
      zoneScope: volumeZoneScope(deps),
      projectScope: 'own',
    }),
    endpoint({
      method: 'post',
      path: '/v1/volume-snapshots/:id/revert',
      tag: 'volume-snapshots',
      summary: 'Revert the volume to this snapshot; the VM using the volume must be Stopped',
      permission: 'volume-snapshot:revert',
      responses: { 200: { description: 'Reverted', schema: snapshotView }, 202: { description: 'Reverting: follow the task' } },
      async handle({ req, res, params }) {
        const id = params.id!;
        await assertSnapshotInProject(res, id);
        await runLongTask(req, res, deps.tasks, { action: 'RevertVolumeSnapshot', resourceType: 'volume-snapshot', resourceIds: [id], request: { id } },
          async (metadata) => ({ ...(await revertSnapshot(snapshotDeps, id, metadata, { wait: true })) }));
      },
    }),
    endpoint({
      method: 'delete',
      path: '/v1/volume-snapshots/:id',
      tag: 'volume-snapshots',
      summary: 'Delete a snapshot (on the host that holds its volume)',
      permission: 'volume-snapshot:delete',
      responses: { 200: { description: 'Deleted', schema: snapshotView }, 202: { description: 'Deleting: follow the task' } },
      async handle({ req, res, params }) {
        const id = params.id!;
        await assertSnapshotInProject(res, id);
        await runLongTask(req, res, deps.tasks, { action: 'DeleteVolumeSnapshot', resourceType: 'volume-snapshot', resourceIds: [id], request: { id } },
          async (metadata) => ({ ...(await deleteSnapshot(snapshotDeps, id, metadata, { wait: true })) }));
      },
    }),
  ];
}
