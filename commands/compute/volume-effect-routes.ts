import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { OperationOutcome } from '../../adapters/hypervisor/port.js';
import { volumeDecider, volumeStream, type VolumeEvent } from '../../domain/compute/volume.js';
import { operationIdFor, type Effect, type EffectDeps, type EffectResult, type EffectRoute } from '../effects/effect.js';
import { handleCommand } from '../shared/handle-command.js';
import { completeInstantiation } from './volume-attach.js';
import { failExpunge, finishExpunge } from './volume-expunge.js';

// What data-volume events ask of a host, and what its answers become. Each route derives
// its effect from one event alone and turns the outcome into a command on the volume
// stream; stale or repeated outcomes change nothing (the decider checks the operation id).

const contextOf = (effect: EffectResult['effect']) => effect.context as { volumeId: string; operationId: string };

const asOutcome = (outcome: OperationOutcome) =>
  outcome.ok ? ({ ok: true } as const) : ({ ok: false, error: { code: outcome.error.code, message: outcome.error.message } } as const);

const depsOf = (deps: EffectDeps) => ({ store: deps.eventStore, clock: deps.clock });

/** volume.create on the host, once the primary storage has granted the bytes. */
export const volumeCreateRoute: EffectRoute = {
  name: 'volume.instantiate',
  handles: ['VolumeCapacityReserved'],
  effectsOf(recorded: RecordedEvent): Effect[] {
    const event = recorded as unknown as Extract<VolumeEvent, { type: 'VolumeCapacityReserved' }>;
    return [{
      operationId: operationIdFor(recorded, 'volume.create'),
      hostId: event.data.hostId,
      operation: { op: 'volume.create', volumeId: event.data.volumeId, sizeBytes: event.data.sizeBytes, format: 'qcow2' },
      context: { volumeId: event.data.volumeId, operationId: event.data.operationId },
    }];
  },
  async onResult(result, deps) {
    const { volumeId, operationId } = contextOf(result.effect);
    const outcome = result.outcome.ok
      ? { ok: true as const, path: (result.outcome.result as { path: string }).path }
      : asOutcome(result.outcome) as { ok: false; error: { code: string; message: string } };
    await completeInstantiation(depsOf(deps), volumeId, operationId, outcome, result.metadata);
  },
};

/**
 * volume.attach on the VM's host: asked by VolumeAttachRequested for a volume already on
 * the host, or carried by VolumeInstantiated for one that had to be created first.
 */
export const volumeAttachRoute: EffectRoute = {
  name: 'volume.attach',
  handles: ['VolumeAttachRequested', 'VolumeInstantiated'],
  effectsOf(recorded: RecordedEvent): Effect[] {
    const event = recorded as unknown as VolumeEvent;
    let attach: { attachmentId: string; vmInstanceId: string; hostId: string; device: string; path: string | null } | null = null;
    if (event.type === 'VolumeAttachRequested' && !event.data.awaitsInstantiation) attach = event.data;
    if (event.type === 'VolumeInstantiated' && event.data.attachment) attach = { ...event.data.attachment, path: event.data.path };
    if (!attach) return [];
    const operation: Effect['operation'] = { op: 'volume.attach', vmId: attach.vmInstanceId, volumeId: event.data.volumeId, device: attach.device };
    if (attach.path) operation.path = attach.path;
    return [{
      operationId: operationIdFor(recorded, 'volume.attach'),
      hostId: attach.hostId,
      operation,
      context: { volumeId: event.data.volumeId, operationId: attach.attachmentId },
    }];
  },
  async onResult(result, deps) {
    const { volumeId, operationId } = contextOf(result.effect);
    await handleCommand(deps.eventStore, volumeDecider, volumeStream(volumeId), {
      type: 'CompleteAttach', attachmentId: operationId, outcome: asOutcome(result.outcome), now: deps.clock.now(),
    }, result.metadata);
  },
};

export const volumeDetachRoute: EffectRoute = {
  name: 'volume.detach',
  handles: ['VolumeDetachRequested'],
  effectsOf(recorded: RecordedEvent): Effect[] {
    const event = recorded as unknown as Extract<VolumeEvent, { type: 'VolumeDetachRequested' }>;
    return [{
      operationId: operationIdFor(recorded, 'volume.detach'),
      hostId: event.data.hostId,
      operation: { op: 'volume.detach', vmId: event.data.vmInstanceId, volumeId: event.data.volumeId },
      context: { volumeId: event.data.volumeId, operationId: event.data.operationId },
    }];
  },
  async onResult(result, deps) {
    const { volumeId, operationId } = contextOf(result.effect);
    await handleCommand(deps.eventStore, volumeDecider, volumeStream(volumeId), {
      type: 'CompleteDetach', operationId, outcome: asOutcome(result.outcome), now: deps.clock.now(),
    }, result.metadata);
  },
};

/** volume.delete on the host of an expunged volume that had reached one. */
export const volumeDeleteRoute: EffectRoute = {
  name: 'volume.delete',
  handles: ['VolumeExpungeStarted'],
  effectsOf(recorded: RecordedEvent): Effect[] {
    const event = recorded as unknown as Extract<VolumeEvent, { type: 'VolumeExpungeStarted' }>;
    if (!event.data.instantiated || !event.data.hostId) return [];
    return [{
      operationId: operationIdFor(recorded, 'volume.delete'),
      hostId: event.data.hostId,
      operation: { op: 'volume.delete', volumeId: event.data.volumeId },
      context: { volumeId: event.data.volumeId, operationId: event.data.operationId },
    }];
  },
  async onResult(result, deps) {
    const { volumeId, operationId } = contextOf(result.effect);
    if (result.outcome.ok) await finishExpunge(depsOf(deps), volumeId, operationId, result.metadata);
    else await failExpunge(depsOf(deps), volumeId, operationId, result.outcome.error, result.metadata);
  },
};

export const volumeEffectRoutes: readonly EffectRoute[] = [volumeCreateRoute, volumeAttachRoute, volumeDetachRoute, volumeDeleteRoute];
