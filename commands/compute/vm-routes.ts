import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { HypervisorOperation } from '../../adapters/hypervisor/port.js';
import { vmHypervisorRequestTypes, type DefineSpec, type VmEvent } from '../../domain/compute/vm.js';
import { DomainError } from '../../domain/shared/errors.js';
import { operationIdFor, type Effect, type EffectRoute } from '../effects/effect.js';
import { markImageError } from './images.js';
import { handleVmCommand } from './vm-store.js';

// The VM's hypervisor steps as effects (DESIGN.md §6). A step event asks for one or more
// operations on the VM's host; the dispatcher keys them by VM (effect.ts orderKeyOf), so
// they run there one after the other, in order, while other VMs' operations proceed. The step's outcome is that of its last operation, or of the
// first that fails (the later ones then fail too, or find nothing to do, and are stale by
// the time they report: the VM has moved to another step).

export const vmRouteName = 'vm-lifecycle';

interface StepContext {
  vmId: string;
  seq: number;
  last: boolean;
  [key: string]: string | number | boolean;
}

function defineOperation(vmId: string, define: DefineSpec): HypervisorOperation {
  return {
    op: 'vm.define', vmId, name: define.name, cpuCount: define.cpuCount, memoryBytes: define.memoryBytes, volumes: define.volumes, nics: define.nics,
    // The root password stays sealed on the bus: only the agent beside the host opens it (OperationContext.openSecret).
    ...(define.guestAccess ? { guestAccess: define.guestAccess } : {}),
    ...(define.antiSpoofing !== undefined ? { antiSpoofing: define.antiSpoofing } : {}),
  };
}

/** The operations a step event asks for, in the order they must run. */
export function operationsOf(event: VmEvent): { hostId: string; seq: number; operations: HypervisorOperation[] } | undefined {
  switch (event.type) {
    case 'VmBuildRequested': {
      const { vmId, image, rootVolume, define } = event.data;
      const operations: HypervisorOperation[] = [
        { op: 'image.prepare', imageId: image.imageId, url: image.url, format: image.format, sha256: image.sha256 },
        { op: 'volume.create', volumeId: rootVolume.volumeId, sizeBytes: rootVolume.sizeBytes, format: 'qcow2', imageId: image.imageId },
        defineOperation(vmId, define),
      ];
      if (event.data.start) operations.push({ op: 'vm.start', vmId });
      return { hostId: event.data.hostId, seq: event.data.seq, operations };
    }
    case 'VmDefineRequested': {
      const operations: HypervisorOperation[] = [defineOperation(event.data.vmId, event.data.define)];
      if (event.data.start) operations.push({ op: 'vm.start', vmId: event.data.vmId });
      return { hostId: event.data.hostId, seq: event.data.seq, operations };
    }
    case 'VmPowerOperationRequested': {
      const { vmId, operation } = event.data;
      const op: HypervisorOperation = operation === 'stop'
        ? { op: 'vm.stop', vmId, type: event.data.stopType ?? 'grace' }
        : { op: `vm.${operation}`, vmId } as HypervisorOperation;
      return { hostId: event.data.hostId, seq: event.data.seq, operations: [op] };
    }
    case 'VmUndefineRequested':
      return { hostId: event.data.hostId, seq: event.data.seq, operations: [{ op: 'vm.destroy', vmId: event.data.vmId }] };
    case 'VmRootVolumeDeleteRequested':
      return { hostId: event.data.hostId, seq: event.data.seq, operations: [{ op: 'volume.delete', volumeId: event.data.volumeId }] };
    default:
      return undefined;
  }
}

export const vmEffectRoute: EffectRoute = {
  name: vmRouteName,
  handles: vmHypervisorRequestTypes,

  effectsOf(event: RecordedEvent): Effect[] {
    const step = operationsOf(event as unknown as VmEvent);
    if (!step) return [];
    const vmId = (event.data as { vmId: string }).vmId;
    return step.operations.map((operation, index) => ({
      operationId: operationIdFor(event, `${index}:${operation.op}`),
      hostId: step.hostId,
      operation,
      context: { vmId, seq: step.seq, last: index === step.operations.length - 1 } satisfies StepContext,
    }));
  },

  async onResult(result, deps) {
    const { vmId, seq, last } = result.effect.context as StepContext;
    const now = deps.clock.now();
    if (result.outcome.ok) {
      if (last) await handleVmCommand(deps.eventStore, vmId, { type: 'RecordStepSucceeded', seq, now }, result.metadata);
      return;
    }
    const { error } = result.outcome;
    const operation = result.effect.operation;
    if (operation.op === 'image.prepare' && error.code === 'IMAGE_CHECKSUM_MISMATCH') {
      // The image itself is bad, not this host: no VM should be built from it until it is fixed.
      await markImageError({ store: deps.eventStore, clock: deps.clock }, operation.imageId, error.message, result.metadata).catch((refusal: unknown) => {
        if (!(refusal instanceof DomainError)) throw refusal; // the image is gone or destroyed meanwhile: nothing to mark
      });
    }
    await handleVmCommand(deps.eventStore, vmId, {
      type: 'RecordStepFailed', seq, error: { code: error.code, message: `${operation.op}: ${error.message}` }, now,
    }, result.metadata);
  },
};
