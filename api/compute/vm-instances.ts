import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import type { Doc, ReadStore } from '../../adapters/readstore/port.js';
import { newId } from '../../commands/shared/ids.js';
import type { TaskSpec, TaskWork, Tasks } from '../../commands/tasks/tasks.js';
import {
  changeVmOffering, createVm, destroyVm, expungeVm, powerVm, recoverVm, updateVm, type VmCommandDeps,
} from '../../commands/compute/vm-commands.js';
import { createStrategies } from '../../domain/compute/vm.js';
import { vmInstanceFields, vmInstanceInternalFields, vmInstancesCollection } from '../../projections/compute/vm-instances.js';
import type { ProjectionRunner } from '../../projections/shared/runner.js';
import { endpoint, requestContextOf, type Endpoint } from '../shared/endpoint.js';
import { ifMatchVersion } from '../shared/etag.js';
import { prepareList } from '../shared/list.js';
import { ProblemError } from '../shared/problem.js';
import { respondWithTask } from '../shared/task-response.js';
import { awaitPosition } from './resources.js';
import { vmZoneScope } from './vm-zone-scope.js';
import { bothScopes } from '../shared/zone-scope.js';
import { assertInProject, assertStreamUsableInProject, projectForCreate, projectListScope, projectZone } from '../tenancy/scope.js';
import { imageStream } from '../../domain/compute/image.js';
import { l3NetworkStream } from '../../domain/network/l3-network.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import type { OperationRequester } from '../../commands/effects/operation-request.js';
import { setGuestAccess } from '../../commands/compute/vm-guest-access.js';
import { maxSshKeys } from '../../domain/compute/guest-access.js';

// /v1/vm-instances. Long operations (create, start, stop, reboot, pause, resume, DELETE,
// expunge) are tasks a process completes: 202 + Location, or the outcome with
// `Prefer: wait=<s>`. Quick ones (PATCH, recover, change-offering) answer with the VM.
// The detail carries an ETag (the VM stream's version); `If-Match` makes a write
// conditional on it (412 when the VM changed).

const idSchema = z.string().min(1).max(64);

const createBody = z.strictObject({
  name: z.string().trim().min(1).max(255),
  description: z.string().max(4096).optional(),
  instanceOfferingId: idSchema,
  imageId: idSchema,
  l3NetworkIds: z.array(idSchema).min(1).max(16),
  rootDiskSize: z.number().int().positive().optional(),
  dataDiskOfferingIds: z.array(idSchema).max(24).optional(),
  zoneId: idSchema.optional(),
  clusterId: idSchema.optional(),
  hostId: idSchema.optional(),
  strategy: z.enum(createStrategies).optional(),
  projectId: idSchema.optional().describe('The project the VM belongs to: its quota is reserved first (a project session: always its own)'),
  sshKeys: z.array(z.string().min(1).max(16_384)).max(maxSshKeys).optional()
    .describe('OpenSSH public keys for root and the image\'s default user, given through a cloud-init seed (CD-ROM)'),
  rootPassword: z.string().min(1).max(256).optional()
    .describe('Root password set through the cloud-init seed; encrypted at once, stored and shown nowhere'),
  antiSpoofing: z.boolean().optional().describe('IP/MAC/ARP spoofing protection on its NICs (default: the setting vm.antiSpoofing)'),
});

const guestAccessBody = z.strictObject({
  username: z.string().min(1).max(32).optional().describe('The guest user (default root)'),
  sshKeys: z.array(z.string().min(1).max(16_384)).max(maxSshKeys).optional().describe('OpenSSH public keys added to the user\'s authorized_keys'),
  password: z.string().min(1).max(256).optional().describe('The user\'s new password; encrypted at once, stored nowhere'),
}).refine((body) => (body.sshKeys?.length ?? 0) > 0 || body.password !== undefined, { message: 'give sshKeys, a password, or both' });
const guestAccessResult = z.object({ id: z.string(), username: z.string(), keysAdded: z.number(), passwordSet: z.boolean(), taskId: z.string() });

const updateBody = z.strictObject({
  name: z.string().trim().min(1).max(255).optional(),
  description: z.string().max(4096).optional(),
}).refine((body) => body.name !== undefined || body.description !== undefined, { message: 'give a name or a description' });

const stopBody = z.strictObject({ type: z.enum(['grace', 'cold']).optional() });
const changeOfferingBody = z.strictObject({ instanceOfferingId: idSchema });

const nicView = z.object({ nicId: z.string(), l3NetworkId: z.string(), ip: z.string().nullable(), mac: z.string().nullable(), gateway: z.string().nullable(), netmask: z.string().nullable() });
const vmView = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  state: z.string(),
  hostId: z.string().nullable(),
  lastHostId: z.string().nullable(),
  zoneId: z.string().nullable(),
  clusterId: z.string().nullable(),
  nics: z.array(nicView),
  volumes: z.array(z.object({ id: z.string(), type: z.enum(['Root', 'Data']), device: z.string(), sizeBytes: z.number().optional(), primaryStorageId: z.string().nullable().optional() })),
  instanceOfferingId: z.string(),
  cpuCount: z.number(),
  memoryBytes: z.number(),
  imageId: z.string(),
  strategy: z.string(),
  createdAt: z.string(),
  deletionPolicy: z.string().nullable(),
  destroyedAt: z.string().nullable(),
  expungeAt: z.string().nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  antiSpoofing: z.boolean(),
  guestAccess: z.object({ sshKeys: z.array(z.string()), rootPasswordSet: z.boolean() }).nullable(),
});
const taskAccepted = { 202: { description: 'Accepted: follow the task at Location (or send Prefer: wait=<seconds>)' } };

export interface VmApiDeps {
  eventStore: EventStore;
  readStore: ReadStore;
  runner: ProjectionRunner;
  clock: Clock;
  tasks: Tasks;
  /** Seals root passwords given at create time and guest passwords. */
  secrets?: SecretBox;
  /** Guest agent commands through the VM's host agent (absent: the guest-access endpoint answers 503). */
  requestOperation?: OperationRequester;
}

/** The document as users see it: without what the read model keeps for itself. */
function publicView(doc: Doc): Record<string, unknown> {
  const view: Record<string, unknown> = { ...doc };
  for (const field of vmInstanceInternalFields) delete view[field];
  delete view.version;
  return view;
}


const versionOption = (req: Request) => {
  const expectedVersion = ifMatchVersion(req.get('if-match'));
  return expectedVersion === undefined ? {} : { expectedVersion };
};

export function vmInstanceEndpoints(deps: VmApiDeps): Endpoint[] {
  const commandDeps: VmCommandDeps = { store: deps.eventStore, readStore: deps.readStore, clock: deps.clock, ...(deps.secrets ? { secrets: deps.secrets } : {}) };
  const zones = vmZoneScope(deps);

  async function runTask(req: Request, res: Response, spec: TaskSpec, work: TaskWork<unknown>, options: { successStatus: 200 | 201; long: boolean }) {
    // Tenancy: a project session acts on its project's VMs only.
    if (spec.action !== 'CreateVmInstance') {
      for (const vmId of spec.resourceIds ?? []) assertInProject(res, await deps.readStore.get(vmInstancesCollection, vmId), { code: 'VM_NOT_FOUND', detail: `no VM instance ${vmId}` });
      // Zone scoping: a zone-scoped principal acts on its zones' VMs only.
      await zones.assertWritable(req, res, spec);
    }
    const started = await deps.tasks.start(requestContextOf(req, res), spec, work);
    await respondWithTask(req, res, deps.tasks, started, options);
  }

  /** An operation a process carries on: the work records its first events, the process ends the task. */
  type Run = (vmId: string, req: Request, task: { taskId: string; metadata: EventMetadata }, options: { expectedVersion?: number }) => Promise<void>;
  function processOperation(verb: string, action: string, summary: string, permission: string, run: Run, body?: z.ZodType) {
    return endpoint({
      method: 'post',
      path: `/v1/vm-instances/:id/${verb}`,
      tag: 'vm-instances',
      summary,
      permission,
      ...(body ? { body } : {}),
      responses: { 200: { description: 'Done (with Prefer: wait)', schema: vmView }, ...taskAccepted },
      async handle({ req, res, params, body: requestBody }) {
        const vmId = params.id!;
        const options = versionOption(req);
        await runTask(req, res, { action, resourceType: 'vm', resourceIds: [vmId], request: { vmId, ...(requestBody ?? {}) }, completedBy: 'process' },
          async (task) => { await run(vmId, req, task, options); return { result: { id: vmId } }; },
          { successStatus: 200, long: true });
      },
    });
  }

  return [
    endpoint({
      method: 'post',
      path: '/v1/vm-instances',
      tag: 'vm-instances',
      summary: 'Create a VM: placed, given addresses and a root volume, built on its host and (InstantStart) started — a task',
      permission: 'vm:create',
      body: createBody,
      responses: { 201: { description: 'Created (JustCreate, or with Prefer: wait)', schema: vmView }, ...taskAccepted },
      async handle({ req, res, body }) {
        const vmId = newId();
        const justCreate = body.strategy === 'JustCreate';
        const projectId = projectForCreate(res, body.projectId);
        if (projectId !== undefined) body.projectId = projectId;
        // A project's VMs go to the project's zone unless another is asked (its networks must be there).
        body.zoneId ??= await projectZone(deps.readStore, projectId);
        if (body.zoneId === undefined) delete body.zoneId;
        // A project session builds on its project's or shared images and networks only.
        await assertStreamUsableInProject(res, deps.eventStore, imageStream(body.imageId), { code: 'IMAGE_NOT_FOUND', detail: `no image ${body.imageId}` });
        for (const l3NetworkId of body.l3NetworkIds) {
          await assertStreamUsableInProject(res, deps.eventStore, l3NetworkStream(l3NetworkId), { code: 'L3_NETWORK_NOT_FOUND', detail: `no L3 network ${l3NetworkId}` });
        }
        await zones.prepareCreate(req, res, body, vmId);
        await runTask(req, res, {
          action: 'CreateVmInstance', resourceType: 'vm', resourceIds: [vmId], request: body, ...(justCreate ? {} : { completedBy: 'process' as const }),
        }, async (task) => ({ result: await createVm(commandDeps, vmId, body, task) }), { successStatus: 201, long: !justCreate });
      },
    }),
    endpoint({
      method: 'get',
      path: '/v1/vm-instances',
      tag: 'vm-instances',
      summary: 'List VMs (destroyed ones included: q=state=Destroyed)',
      permission: 'vm:list',
      listQuery: true,
      responses: { 200: { description: 'VMs', schema: z.object({ items: z.array(vmView), total: z.number().optional() }) } },
      async handle({ req, res }) {
        const query = await prepareList(req, deps, { collection: vmInstancesCollection, fields: vmInstanceFields, defaultSort: [['createdAt', -1]], scope: bothScopes(projectListScope(res), zones.listScope(res)) });
        const items = await deps.readStore.find(vmInstancesCollection, query.filter, query.options);
        const body: { items: unknown[]; total?: number } = { items: items.map(publicView) };
        if (query.count) body.total = await deps.readStore.count(vmInstancesCollection, query.filter);
        res.json(body);
      },
    }),
    endpoint({
      method: 'get',
      path: '/v1/vm-instances/:id',
      tag: 'vm-instances',
      summary: 'One VM, with its ETag',
      permission: 'vm:read',
      responses: { 200: { description: 'The VM', schema: vmView } },
      async handle({ req, res, params }) {
        await awaitPosition(req, deps.runner);
        const doc = await deps.readStore.get(vmInstancesCollection, params.id!);
        if (!doc) throw new ProblemError(404, 'VM_NOT_FOUND', `no VM instance ${params.id}`);
        assertInProject(res, doc, { code: 'VM_NOT_FOUND', detail: `no VM instance ${params.id}` });
        await zones.assertReadable(res, doc, { code: 'VM_NOT_FOUND', detail: `no VM instance ${params.id}` });
        res.setHeader('ETag', `"${doc.version as number}"`);
        res.json(publicView(doc));
      },
    }),
    endpoint({
      method: 'patch',
      path: '/v1/vm-instances/:id',
      tag: 'vm-instances',
      summary: 'Rename or describe a VM',
      permission: 'vm:update',
      body: updateBody,
      responses: { 200: { description: 'Updated', schema: vmView } },
      async handle({ req, res, params, body }) {
        const vmId = params.id!;
        const options = versionOption(req);
        await runTask(req, res, { action: 'UpdateVmInstance', resourceType: 'vm', resourceIds: [vmId], request: { vmId, ...body } },
          async ({ metadata }) => ({ result: await updateVm(commandDeps, vmId, body, metadata, options) }), { successStatus: 200, long: false });
      },
    }),
    endpoint({
      method: 'delete',
      path: '/v1/vm-instances/:id',
      tag: 'vm-instances',
      summary: 'Destroy a VM under vm.deletionPolicy: Direct expunges it, Delay keeps it Destroyed and recoverable for vm.expungePeriod, Never keeps it Destroyed',
      permission: 'vm:delete',
      responses: { 200: { description: 'Destroyed (with Prefer: wait)', schema: vmView }, ...taskAccepted },
      async handle({ req, res, params }) {
        const vmId = params.id!;
        const options = versionOption(req);
        await runTask(req, res, { action: 'DestroyVmInstance', resourceType: 'vm', resourceIds: [vmId], request: { vmId }, completedBy: 'process' },
          async (task) => ({ result: { id: vmId, ...(await destroyVm(commandDeps, vmId, task, options)) } }), { successStatus: 200, long: true });
      },
    }),
    processOperation('start', 'StartVmInstance', 'Start a stopped VM (a VM created with JustCreate is built first)', 'vm:start',
      (vmId, _req, task, options) => powerVm(commandDeps, vmId, { type: 'StartVm' }, task, options)),
    processOperation('stop', 'StopVmInstance', 'Stop a VM: type grace (ACPI shutdown, the default) or cold (power off)', 'vm:stop',
      (vmId, req, task, options) => powerVm(commandDeps, vmId, { type: 'StopVm', stopType: (req.body as { type?: 'grace' | 'cold' } | undefined)?.type ?? 'grace' }, task, options),
      stopBody),
    processOperation('reboot', 'RebootVmInstance', 'Reboot a running VM', 'vm:reboot',
      (vmId, _req, task, options) => powerVm(commandDeps, vmId, { type: 'RebootVm' }, task, options)),
    processOperation('pause', 'PauseVmInstance', 'Pause a running VM', 'vm:pause',
      (vmId, _req, task, options) => powerVm(commandDeps, vmId, { type: 'PauseVm' }, task, options)),
    processOperation('resume', 'ResumeVmInstance', 'Resume a paused VM', 'vm:resume',
      (vmId, _req, task, options) => powerVm(commandDeps, vmId, { type: 'ResumeVm' }, task, options)),
    processOperation('expunge', 'ExpungeVmInstance', 'Expunge a destroyed VM now: its root volume is deleted and its storage released; it cannot be recovered', 'vm:expunge',
      (vmId, _req, task, options) => expungeVm(commandDeps, vmId, task, options)),
    endpoint({
      method: 'post',
      path: '/v1/vm-instances/:id/recover',
      tag: 'vm-instances',
      summary: 'Recover a destroyed VM: it is Stopped again, with its host capacity and addresses reserved again',
      permission: 'vm:recover',
      responses: { 200: { description: 'Recovered', schema: vmView } },
      async handle({ req, res, params }) {
        const vmId = params.id!;
        const options = versionOption(req);
        await runTask(req, res, { action: 'RecoverVmInstance', resourceType: 'vm', resourceIds: [vmId], request: { vmId } },
          async (task) => ({ result: await recoverVm(commandDeps, vmId, task, options) }), { successStatus: 200, long: false });
      },
    }),
    endpoint({
      method: 'post',
      path: '/v1/vm-instances/:id/guest-access',
      tag: 'vm-instances',
      summary: 'Add SSH keys to a guest user and/or set its password on a running VM, through its QEMU guest agent (GUEST_AGENT_UNAVAILABLE when the agent is not connected)',
      permission: 'vm:guest-access',
      body: guestAccessBody,
      responses: { 200: { description: 'Done in the guest', schema: guestAccessResult } },
      async handle({ req, res, params, body }) {
        const vmId = params.id!;
        const { secrets, requestOperation } = deps;
        if (!secrets || !requestOperation) throw new ProblemError(503, 'GUEST_AGENT_UNAVAILABLE', 'this Stratus cannot reach hypervisor agents');
        // The task records the request with the password redacted (`password` is a secret field name).
        await runTask(req, res, { action: 'SetVmGuestAccess', resourceType: 'vm', resourceIds: [vmId], request: { vmId, ...body } },
          async ({ metadata }) => ({
            result: await setGuestAccess({ store: deps.eventStore, secrets, requestOperation }, vmId, body,
              metadata.correlationId ? { correlationId: metadata.correlationId } : {}),
          }),
          { successStatus: 200, long: false });
      },
    }),
    endpoint({
      method: 'post',
      path: '/v1/vm-instances/:id/change-offering',
      tag: 'vm-instances',
      summary: 'Give a stopped VM another instance offering (its host must have room for it)',
      permission: 'vm:update',
      body: changeOfferingBody,
      responses: { 200: { description: 'Changed', schema: vmView } },
      async handle({ req, res, params, body }) {
        const vmId = params.id!;
        const options = versionOption(req);
        await runTask(req, res, { action: 'ChangeVmInstanceOffering', resourceType: 'vm', resourceIds: [vmId], request: { vmId, ...body } },
          async ({ metadata }) => ({ result: await changeVmOffering(commandDeps, vmId, body.instanceOfferingId, metadata, options) }),
          { successStatus: 200, long: false });
      },
    }),
  ];
}
