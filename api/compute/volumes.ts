import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { attachVolume, detachVolume } from '../../commands/compute/volume-attach.js';
import { createVolume } from '../../commands/compute/volume-create.js';
import { deleteVolume, recoverVolume } from '../../commands/compute/volume-delete.js';
import { expungeVolume } from '../../commands/compute/volume-expunge.js';
import type { TaskSpec, Tasks } from '../../commands/tasks/tasks.js';
import { DomainError } from '../../domain/shared/errors.js';
import { volumeListFields, volumesCollection } from '../../projections/compute/volumes.js';
import { endpoint, requestContextOf, type Endpoint } from '../shared/endpoint.js';
import { respondWithTask } from '../shared/task-response.js';
import { zoneOfVm } from '../../commands/compute/zone-of.js';
import { primaryStoragesCollection } from '../../projections/compute/primary-storages.js';
import { listAndDetailEndpoints, runQuickTask, type ReadDeps } from './resources.js';
import { volumeZoneScope } from './volume-zone-scope.js';
import { assertZoneWritable, isZoneScoped, zoneOfDocument } from '../shared/zone-scope.js';
import { createdSchema, descriptionSchema, nameSchema } from './zones.js';
import { assertStreamInProject, projectForCreate } from '../tenancy/scope.js';
import { volumeStream } from '../../domain/compute/volume.js';
import { vmStream } from '../../domain/compute/vm.js';

// Data volumes: create, attach to a VM, detach, delete under volume.deletionPolicy, recover,
// expunge. Operations that go through a host (attach, detach, expunge) are long tasks: 202
// with the task's location, or the outcome at once with `Prefer: wait=<s>`. The list also
// shows every VM's root volume (type Root), which volume snapshots can name.

const createBody = z.strictObject({
  name: nameSchema,
  description: descriptionSchema,
  diskOfferingId: z.string().min(1).optional(),
  sizeBytes: z.number().int().positive().optional(),
  primaryStorageId: z.string().min(1).optional(),
}).refine((body) => (body.diskOfferingId === undefined) !== (body.sizeBytes === undefined), {
  message: 'give either diskOfferingId or sizeBytes',
  path: ['diskOfferingId'],
});

const attachBody = z.strictObject({ vmInstanceId: z.string().min(1) });

const attachView = z.object({ volumeId: z.string(), vmInstanceId: z.string(), device: z.string(), state: z.string(), taskId: z.string() });
const lifecycleView = z.object({ id: z.string(), state: z.string(), taskId: z.string() });

/** Runs an operation that goes through a host as a long task (202 unless `Prefer: wait`). */
export async function runLongTask(
  req: Request,
  res: Response,
  tasks: Tasks,
  spec: TaskSpec,
  work: (metadata: EventMetadata) => Promise<Record<string, unknown>>,
): Promise<void> {
  const started = await tasks.start(requestContextOf(req, res), spec, async ({ metadata }) => {
    const { position: _position, attachmentId: _attachment, ...result } = await work(metadata);
    return { result };
  });
  await respondWithTask(req, res, tasks, started, { successStatus: 200, long: true });
}

export function volumeEndpoints(deps: ReadDeps & { eventStore: EventStore; clock: Clock; tasks: Tasks }): Endpoint[] {
  const store = { store: deps.eventStore, clock: deps.clock };
  const zones = volumeZoneScope(deps);
  const spec = (action: string, id: string, request: unknown = { id }): TaskSpec => ({ action, resourceType: 'volume', resourceIds: [id], request });
  /** Tenancy: a project session acts on its project's volumes only. */
  const assertVolumeInProject = (res: Response, id: string) =>
    assertStreamInProject(res, deps.eventStore, volumeStream(id), { code: 'VOLUME_NOT_FOUND', detail: `no volume ${id}` });
  return [
    endpoint({
      method: 'post',
      path: '/v1/volumes',
      tag: 'volumes',
      summary: 'Create a data volume from a disk offering or a size. It is NotInstantiated (no host, no storage used) until it is first attached to a VM.',
      permission: 'volume:create',
      body: createBody,
      responses: { 201: { description: 'Created', schema: createdSchema } },
      async handle({ req, res, body }) {
        if (body.primaryStorageId !== undefined && isZoneScoped(res, 'volume:create')) {
          const zoneId = await zoneOfDocument(deps.readStore, primaryStoragesCollection, body.primaryStorageId);
          if (zoneId !== undefined) await assertZoneWritable(deps, req, res, { permission: 'volume:create', zoneId, action: 'CreateVolume', resourceType: 'volume' });
        }
        const projectId = projectForCreate(res, undefined);
        await runQuickTask(req, res, deps.tasks, { action: 'CreateVolume', resourceType: 'volume', request: body },
          (metadata) => createVolume(store, { ...body, ...(projectId !== undefined ? { projectId } : {}) }, metadata), 201);
      },
    }),
    ...listAndDetailEndpoints(deps, { path: '/v1/volumes', tag: 'volumes', resource: 'volume', collection: volumesCollection, fields: volumeListFields, zoneScope: zones, projectScope: 'own' }),
    endpoint({
      method: 'post',
      path: '/v1/volumes/:id/attach',
      tag: 'volumes',
      summary: 'Attach a data volume to a VM that is defined on its host (created on that host and its primary storage first if need be)',
      permission: 'volume:attach',
      body: attachBody,
      responses: { 200: { description: 'Attached', schema: attachView }, 202: { description: 'Attaching: follow the task' } },
      async handle({ req, res, params, body }) {
        const id = params.id!;
        await assertVolumeInProject(res, id);
        await assertStreamInProject(res, deps.eventStore, vmStream(body.vmInstanceId), { code: 'VM_NOT_FOUND', detail: `no VM instance ${body.vmInstanceId}` });
        await zones.assertWritable(req, res, 'volume:attach', { action: 'AttachVolume', id });
        if (isZoneScoped(res, 'volume:attach')) {
          const vmZone = await zoneOfVm(deps.eventStore, body.vmInstanceId);
          if (vmZone !== undefined) await assertZoneWritable(deps, req, res, { permission: 'volume:attach', zoneId: vmZone, action: 'AttachVolume', resourceType: 'volume', resourceIds: [id, body.vmInstanceId] });
        }
        await runLongTask(req, res, deps.tasks, spec('AttachVolume', id, { id, vmInstanceId: body.vmInstanceId }),
          async (metadata) => ({ ...(await attachVolume(store, id, body.vmInstanceId, metadata, { wait: true })) }));
      },
    }),
    endpoint({
      method: 'post',
      path: '/v1/volumes/:id/detach',
      tag: 'volumes',
      summary: 'Detach a data volume from its VM (the volume and its data are kept)',
      permission: 'volume:detach',
      responses: { 200: { description: 'Detached' }, 202: { description: 'Detaching: follow the task' } },
      async handle({ req, res, params }) {
        const id = params.id!;
        await assertVolumeInProject(res, id);
        await zones.assertWritable(req, res, 'volume:detach', { action: 'DetachVolume', id });
        await runLongTask(req, res, deps.tasks, spec('DetachVolume', id),
          async (metadata) => ({ ...(await detachVolume(store, id, metadata, { wait: true })) }));
      },
    }),
    endpoint({
      method: 'delete',
      path: '/v1/volumes/:id',
      tag: 'volumes',
      summary: 'Delete a data volume under volume.deletionPolicy (Direct: expunged at once; Delay: Destroyed and recoverable until volume.expungePeriod has passed; Never: Destroyed for ever). An attached volume is refused (VOLUME_ATTACHED): detach it first.',
      permission: 'volume:delete',
      responses: { 200: { description: 'Deleted', schema: lifecycleView.extend({ policy: z.string(), expungeAt: z.string().nullable() }) } },
      async handle({ req, res, params }) {
        const id = params.id!;
        await requireDataVolume(deps, id);
        await assertVolumeInProject(res, id);
        await zones.assertWritable(req, res, 'volume:delete', { action: 'DeleteVolume', id });
        // Direct includes the host's deletion: answered when done, like every other quick delete.
        await runQuickTask(req, res, deps.tasks, spec('DeleteVolume', id), async (metadata) => ({ ...(await deleteVolume(store, id, metadata)) }));
      },
    }),
    endpoint({
      method: 'post',
      path: '/v1/volumes/:id/recover',
      tag: 'volumes',
      summary: 'Recover a Destroyed volume (deleted under Delay or Never): it is back as it was, detached',
      permission: 'volume:recover',
      responses: { 200: { description: 'Recovered', schema: lifecycleView } },
      async handle({ req, res, params }) {
        const id = params.id!;
        await requireDataVolume(deps, id);
        await assertVolumeInProject(res, id);
        await zones.assertWritable(req, res, 'volume:recover', { action: 'RecoverVolume', id });
        await runQuickTask(req, res, deps.tasks, spec('RecoverVolume', id), (metadata) => recoverVolume(store, id, metadata));
      },
    }),
    endpoint({
      method: 'post',
      path: '/v1/volumes/:id/expunge',
      tag: 'volumes',
      summary: 'Expunge a Destroyed volume now: its file, its snapshots and its storage are gone for good',
      permission: 'volume:expunge',
      responses: { 200: { description: 'Expunged', schema: lifecycleView }, 202: { description: 'Expunging: follow the task' } },
      async handle({ req, res, params }) {
        const id = params.id!;
        await requireDataVolume(deps, id);
        await assertVolumeInProject(res, id);
        await zones.assertWritable(req, res, 'volume:expunge', { action: 'ExpungeVolume', id });
        await runLongTask(req, res, deps.tasks, spec('ExpungeVolume', id), async (metadata) => {
          const outcome = await expungeVolume(store, id, metadata, { wait: true });
          return { id, state: outcome.expunged ? 'Expunged' : 'Expunging', position: outcome.position };
        });
      },
    }),
  ];
}

/**
 * A root volume is listed here but lives and dies with its VM: deleting, recovering or
 * expunging it is done on the VM.
 */
async function requireDataVolume(deps: ReadDeps, id: string) {
  const listed = await deps.readStore.get(volumesCollection, id);
  if (listed?.type === 'Root') {
    throw new DomainError('ROOT_VOLUME_FOLLOWS_VM', `volume ${id} is the root volume of VM ${String(listed.vmInstanceId)}: delete, recover or expunge the VM instead`);
  }
}
