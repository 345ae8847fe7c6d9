import { z } from 'zod';
import type { EventStore } from '../../adapters/eventstore/port.js';
import { hypervisorErrorCodes, operationNames, type FaultInjector, type SimulatorFault } from '../../adapters/hypervisor/port.js';
import { loadAggregate } from '../../commands/shared/handle-command.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { hostDecider, hostStream } from '../../domain/compute/host.js';
import { DomainError } from '../../domain/shared/errors.js';
import { endpoint, requestContextOf, type Endpoint } from '../shared/endpoint.js';
import { ProblemError } from '../shared/problem.js';
import { respondWithTask } from '../shared/task-response.js';

// Fault injection into simulator hosts over the API (admins: `simulator:update`), so that
// an operator or an end-to-end test can rehearse failures: failed or hung operations, a
// host that goes down. Each injection is a task, hence audited.

const count = z.number().int().min(1).max(1_000_000).optional().describe('how many operations (default 1)');
const op = z.enum(operationNames).optional().describe('only operations of this kind (default any)');

const faultBody = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('fail'),
    count,
    op,
    code: z.enum(hypervisorErrorCodes).optional().describe('error code reported (default INJECTED_FAULT)'),
    message: z.string().min(1).max(500).optional(),
  }),
  z.strictObject({ kind: z.literal('hang'), count, op }),
  z.strictObject({ kind: z.literal('down') }),
  z.strictObject({ kind: z.literal('up') }),
  z.strictObject({ kind: z.literal('clear') }),
  z.strictObject({
    kind: z.literal('guestAgent'),
    vmId: z.string().min(1).max(64).describe('the VM whose QEMU guest agent is connected or not (not connected by default)'),
    connected: z.boolean(),
  }),
]);

const faultsView = z.object({
  hostId: z.string(),
  down: z.boolean(),
  rules: z.array(z.object({ kind: z.enum(['fail', 'hang']), remaining: z.number(), op: z.string().optional(), code: z.string().optional() })),
  hanging: z.number(),
});

export function simulatorEndpoints(deps: { eventStore: EventStore; tasks: Tasks; faultInjector?: FaultInjector }): Endpoint[] {
  async function simulatorHost(hostId: string) {
    const { state } = await loadAggregate(deps.eventStore, hostDecider, hostStream(hostId));
    if (!state.exists || state.removed) throw new ProblemError(404, 'HOST_NOT_FOUND', `no host ${hostId}`);
    if (state.hypervisorType !== 'Simulator') {
      throw new DomainError('NOT_A_SIMULATOR_HOST', `host ${hostId} is a ${state.hypervisorType} host; faults are injected into Simulator hosts only`, 'conflict');
    }
    return state;
  }

  function injector(): FaultInjector {
    if (!deps.faultInjector) throw new ProblemError(404, 'SIMULATOR_NOT_ENABLED', 'this Stratus runs no simulator');
    return deps.faultInjector;
  }

  return [
    endpoint({
      method: 'get',
      path: '/v1/simulator/hosts/:hostId/faults',
      tag: 'simulator',
      summary: 'Faults pending on a simulator host',
      permission: 'simulator:read',
      responses: { 200: { description: 'Pending faults', schema: faultsView } },
      async handle({ res, params }) {
        const host = await simulatorHost(params.hostId!);
        res.json({ hostId: host.hostId, ...await injector().faults(host.hostId, host.managementIp) });
      },
    }),
    endpoint({
      method: 'post',
      path: '/v1/simulator/hosts/:hostId/faults',
      tag: 'simulator',
      summary: 'Inject a fault into a simulator host: fail or hang its next operations, take it down or up, clear, or connect/disconnect a VM\'s guest agent',
      permission: 'simulator:update',
      body: faultBody,
      responses: { 200: { description: 'Injected; the host\'s pending faults', schema: faultsView.extend({ taskId: z.string() }) } },
      async handle({ req, res, params, body }) {
        const host = await simulatorHost(params.hostId!);
        const faults = injector();
        const fault = withoutUndefined(body) as SimulatorFault;
        const started = await deps.tasks.start(
          requestContextOf(req, res),
          { action: 'InjectSimulatorFault', resourceType: 'host', resourceIds: [host.hostId], request: fault },
          async () => {
            await faults.inject(host.hostId, fault);
            // Up and clear mean "this host is fine again", also when its faults were set by management IP.
            if (fault.kind === 'up' || fault.kind === 'clear') await faults.inject(host.managementIp, fault);
            return { result: { hostId: host.hostId, ...await faults.faults(host.hostId, host.managementIp) } };
          },
        );
        await respondWithTask(req, res, deps.tasks, started, { successStatus: 200 });
      },
    }),
  ];
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}
