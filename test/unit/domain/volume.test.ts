import { describe, expect, it } from 'vitest';
import { expungeAtFor } from '../../../domain/compute/deletion-policy.js';
import { volumeDecider, type VmFacts, type VolumeEvent } from '../../../domain/compute/volume.js';
import { scenario } from '../../support/given-when-then.js';

const volume = scenario(volumeDecider);
const GiB = 1024 ** 3;

const created: VolumeEvent = {
  type: 'VolumeCreated',
  data: { volumeId: 'v1', name: 'data', description: '', sizeBytes: 10 * GiB, diskOfferingId: 'do1', primaryStorageId: null, createdForVmInstanceId: null, createdAt: 1000 },
};
const pinned: VolumeEvent = { type: 'VolumeCreated', data: { ...created.data, primaryStorageId: 'ps1' } as never };
const vm: VmFacts = { vmInstanceId: 'vm1', state: 'Running', hostId: 'h1', primaryStorageId: 'ps1' };
const instantiationRequested: VolumeEvent = {
  type: 'VolumeInstantiationRequested',
  data: { volumeId: 'v1', operationId: 'a1', hostId: 'h1', primaryStorageId: 'ps1', sizeBytes: 10 * GiB, vmInstanceId: 'vm1', requestedAt: 2000 },
};
const capacityReserved: VolumeEvent = {
  type: 'VolumeCapacityReserved',
  data: { volumeId: 'v1', operationId: 'a1', hostId: 'h1', primaryStorageId: 'ps1', sizeBytes: 10 * GiB },
};
const attachAwaiting: VolumeEvent = {
  type: 'VolumeAttachRequested',
  data: { volumeId: 'v1', attachmentId: 'a1', vmInstanceId: 'vm1', hostId: 'h1', device: 'vdb', path: null, awaitsInstantiation: true, requestedAt: 2000 },
};
const instantiated: VolumeEvent = {
  type: 'VolumeInstantiated',
  data: { volumeId: 'v1', operationId: 'a1', hostId: 'h1', primaryStorageId: 'ps1', path: '/ps1/v1.qcow2', attachment: { attachmentId: 'a1', vmInstanceId: 'vm1', hostId: 'h1', device: 'vdb' }, instantiatedAt: 3000 },
};
const attached: VolumeEvent = {
  type: 'VolumeAttached',
  data: { volumeId: 'v1', attachmentId: 'a1', vmInstanceId: 'vm1', hostId: 'h1', device: 'vdb', attachedAt: 4000 },
};
const detachRequested: VolumeEvent = {
  type: 'VolumeDetachRequested',
  data: { volumeId: 'v1', attachmentId: 'a1', operationId: 'd1', vmInstanceId: 'vm1', hostId: 'h1', requestedAt: 5000 },
};
const detached: VolumeEvent = {
  type: 'VolumeDetached',
  data: { volumeId: 'v1', attachmentId: 'a1', vmInstanceId: 'vm1', reason: 'Requested', detachedAt: 6000 },
};
/** Created, instantiated by an attach, attached, then detached: Ready on h1/ps1, free. */
const creating = [created, instantiationRequested, attachAwaiting, capacityReserved];
const readyDetached = [...creating, instantiated, attached, detachRequested, detached];
const attachedToVm1 = [...creating, instantiated, attached];
const destroyedDelay: VolumeEvent = { type: 'VolumeDestroyed', data: { volumeId: 'v1', policy: 'Delay', destroyedAt: 7000, expungeAt: 7000 + 259_200_000 } };
const error = { code: 'INJECTED_FAULT', message: 'boom' };

describe('volume decider: create', () => {
  it('creates a data volume, not yet instantiated', () => {
    volume.given().when({ type: 'CreateVolume', volumeId: 'v1', name: 'data', sizeBytes: 10 * GiB, diskOfferingId: 'do1', now: 1000 }).then([created]);
  });

  it('refuses a second creation of the same volume, and a size that is not a positive integer', () => {
    volume.given(created).when({ type: 'CreateVolume', volumeId: 'v1', name: 'data', sizeBytes: GiB, now: 1 }).thenFails('VOLUME_EXISTS');
    volume.given().when({ type: 'CreateVolume', volumeId: 'v1', name: 'data', sizeBytes: 0, now: 1 }).thenFails('INVALID_VOLUME_SIZE');
    volume.given().when({ type: 'CreateVolume', volumeId: 'v1', name: 'data', sizeBytes: 1.5, now: 1 }).thenFails('INVALID_VOLUME_SIZE');
  });
});

describe('volume decider: attach', () => {
  const attach = (...args: [facts?: VmFacts | null, attachmentId?: string]) => {
    const facts = args[0] === null ? undefined : args[0] ?? vm;
    return { type: 'AttachVolume', vmInstanceId: facts?.vmInstanceId ?? 'vm1', vm: facts, attachmentId: args[1] ?? 'a1', device: 'vdb', now: 2000 } as const;
  };

  it('instantiates a new volume on the VM host and primary storage, then attaches it', () => {
    volume.given(created).when(attach()).then([instantiationRequested, attachAwaiting]);
  });

  it('has the host create the volume only once its primary storage has granted the bytes', () => {
    volume.given(created, instantiationRequested, attachAwaiting).when({ type: 'ConfirmCapacity', operationId: 'a1' }).then([capacityReserved]);
    volume.given(...creating).when({ type: 'ConfirmCapacity', operationId: 'a1' }).then([]);
    volume.given(created, instantiationRequested, attachAwaiting).when({ type: 'ConfirmCapacity', operationId: 'other' }).then([]);
  });

  it('carries the waiting attachment on when the instantiation succeeds', () => {
    volume.given(...creating)
      .when({ type: 'CompleteInstantiation', operationId: 'a1', outcome: { ok: true, path: '/ps1/v1.qcow2' }, now: 3000 })
      .then([instantiated]);
  });

  it('ends the attachment when the instantiation fails, releasing the capacity reserved for it', () => {
    const failed = (capacityReserved: boolean): VolumeEvent => ({
      type: 'VolumeInstantiationFailed',
      data: { volumeId: 'v1', operationId: 'a1', vmInstanceId: 'vm1', attachmentId: 'a1', primaryStorageId: 'ps1', capacityReserved, error, failedAt: 3000 },
    });
    volume.given(...creating)
      .when({ type: 'CompleteInstantiation', operationId: 'a1', outcome: { ok: false, error }, now: 3000 })
      .then([failed(true)]);
    // The primary storage refused the bytes: nothing to release.
    const full = { code: 'PRIMARY_STORAGE_CAPACITY_EXCEEDED', message: 'full' };
    volume.given(pinned, instantiationRequested, attachAwaiting)
      .when({ type: 'CompleteInstantiation', operationId: 'a1', outcome: { ok: false, error: full }, now: 3000 })
      .then([{ ...failed(false), data: { ...failed(false).data, error: full } } as VolumeEvent]);
    // And the volume can be attached again.
    volume.given(...creating, failed(true)).when(attach(vm, 'a2'))
      .then([
        { ...instantiationRequested, data: { ...instantiationRequested.data, operationId: 'a2' } } as VolumeEvent,
        { ...attachAwaiting, data: { ...attachAwaiting.data, attachmentId: 'a2' } } as VolumeEvent,
      ]);
  });

  it('ignores a stale or repeated instantiation result', () => {
    volume.given(...creating, instantiated)
      .when({ type: 'CompleteInstantiation', operationId: 'a1', outcome: { ok: true, path: '/x' }, now: 3001 }).then([]);
    volume.given(...creating)
      .when({ type: 'CompleteInstantiation', operationId: 'other', outcome: { ok: true, path: '/x' }, now: 3001 }).then([]);
  });

  it('records the attachment once the hypervisor has attached the volume', () => {
    volume.given(...creating, instantiated)
      .when({ type: 'CompleteAttach', attachmentId: 'a1', outcome: { ok: true }, now: 4000 }).then([attached]);
    volume.given(...attachedToVm1).when({ type: 'CompleteAttach', attachmentId: 'a1', outcome: { ok: true }, now: 4001 }).then([]);
  });

  it('leaves the volume Ready and free when the hypervisor fails to attach it', () => {
    volume.given(...creating, instantiated)
      .when({ type: 'CompleteAttach', attachmentId: 'a1', outcome: { ok: false, error }, now: 4000 })
      .then([{ type: 'VolumeAttachFailed', data: { volumeId: 'v1', attachmentId: 'a1', vmInstanceId: 'vm1', error, failedAt: 4000 } }]);
  });

  it('attaches an instantiated volume directly, at its known path', () => {
    volume.given(...readyDetached).when(attach({ ...vm, vmInstanceId: 'vm2' }, 'a2')).then([{
      type: 'VolumeAttachRequested',
      data: { volumeId: 'v1', attachmentId: 'a2', vmInstanceId: 'vm2', hostId: 'h1', device: 'vdb', path: '/ps1/v1.qcow2', awaitsInstantiation: false, requestedAt: 2000 },
    }]);
  });

  it('treats attaching again to the same VM as done', () => {
    volume.given(...attachedToVm1).when(attach(vm, 'a9')).then([]);
  });

  it('refuses: attached elsewhere, unknown VM, destroyed VM, VM never placed, other primary storage or host, destroyed or unknown volume, busy volume', () => {
    volume.given(...attachedToVm1).when(attach({ ...vm, vmInstanceId: 'vm2' }, 'a2')).thenFails('VOLUME_ALREADY_ATTACHED');
    volume.given(created).when(attach(null)).thenFails('VM_NOT_FOUND');
    volume.given(created).when(attach({ ...vm, state: 'Destroyed' })).thenFails('VM_DESTROYED');
    volume.given(created).when(attach({ vmInstanceId: 'vm1', state: 'Stopped' })).thenFails('VM_NOT_PLACED');
    volume.given(pinned).when(attach({ ...vm, primaryStorageId: 'ps2' })).thenFails('PRIMARY_STORAGE_MISMATCH');
    volume.given(...readyDetached).when(attach({ ...vm, primaryStorageId: 'ps2' })).thenFails('PRIMARY_STORAGE_MISMATCH');
    volume.given(...readyDetached).when(attach({ ...vm, hostId: 'h2' })).thenFails('VOLUME_ON_OTHER_HOST');
    volume.given(created, destroyedDelay).when(attach()).thenFails('VOLUME_DESTROYED');
    volume.given().when(attach()).thenFails('VOLUME_NOT_FOUND');
    volume.given(...attachedToVm1, detachRequested).when(attach(vm, 'a2')).thenFails('VOLUME_BUSY');
    volume.given(pinned, instantiationRequested).when(attach(vm, 'a2')).thenFails('VOLUME_BUSY');
  });

  it('attaches a pinned volume to a VM on its primary storage', () => {
    volume.given(pinned).when(attach()).then([instantiationRequested, attachAwaiting]);
  });
});

describe('volume decider: detach', () => {
  it('detaches through the VM host, then records it', () => {
    volume.given(...attachedToVm1).when({ type: 'DetachVolume', operationId: 'd1', now: 5000 }).then([detachRequested]);
    volume.given(...attachedToVm1, detachRequested).when({ type: 'CompleteDetach', operationId: 'd1', outcome: { ok: true }, now: 6000 }).then([detached]);
  });

  it('stays attached when the hypervisor fails to detach', () => {
    const failed: VolumeEvent = { type: 'VolumeDetachFailed', data: { volumeId: 'v1', attachmentId: 'a1', operationId: 'd1', vmInstanceId: 'vm1', error, failedAt: 6000 } };
    volume.given(...attachedToVm1, detachRequested).when({ type: 'CompleteDetach', operationId: 'd1', outcome: { ok: false, error }, now: 6000 }).then([failed]);
    volume.given(...attachedToVm1, detachRequested, failed).when({ type: 'DetachVolume', operationId: 'd2', now: 7000 })
      .then([{ ...detachRequested, data: { ...detachRequested.data, operationId: 'd2', requestedAt: 7000 } } as VolumeEvent]);
  });

  it('treats a repeated detach as under way and a stale result as nothing', () => {
    volume.given(...attachedToVm1, detachRequested).when({ type: 'DetachVolume', operationId: 'd2', now: 5001 }).then([]);
    volume.given(...readyDetached).when({ type: 'CompleteDetach', operationId: 'd1', outcome: { ok: true }, now: 6001 }).then([]);
  });

  it('refuses to detach a volume that is not attached, or still attaching', () => {
    volume.given(created).when({ type: 'DetachVolume', operationId: 'd1', now: 5000 }).thenFails('VOLUME_NOT_ATTACHED');
    volume.given(created, instantiationRequested, attachAwaiting).when({ type: 'DetachVolume', operationId: 'd1', now: 5000 }).thenFails('VOLUME_BUSY');
    volume.given().when({ type: 'DetachVolume', operationId: 'd1', now: 5000 }).thenFails('VOLUME_NOT_FOUND');
  });

  it('lets a volume go when its VM is destroyed, without asking the (gone) VM', () => {
    volume.given(...attachedToVm1).when({ type: 'ReleaseFromVm', vmInstanceId: 'vm1', reason: 'VmDestroyed', now: 8000 })
      .then([{ type: 'VolumeDetached', data: { volumeId: 'v1', attachmentId: 'a1', vmInstanceId: 'vm1', reason: 'VmDestroyed', detachedAt: 8000 } }]);
    // Also while it is still being instantiated for that VM: the attachment is cancelled.
    volume.given(created, instantiationRequested, attachAwaiting).when({ type: 'ReleaseFromVm', vmInstanceId: 'vm1', reason: 'VmCreationFailed', now: 8000 })
      .then([{ type: 'VolumeDetached', data: { volumeId: 'v1', attachmentId: 'a1', vmInstanceId: 'vm1', reason: 'VmCreationFailed', detachedAt: 8000 } }]);
    volume.given(...attachedToVm1).when({ type: 'ReleaseFromVm', vmInstanceId: 'vm2', reason: 'VmDestroyed', now: 8000 }).then([]);
    volume.given(...readyDetached).when({ type: 'ReleaseFromVm', vmInstanceId: 'vm1', reason: 'VmDestroyed', now: 8000 }).then([]);
  });

  it('instantiates without attaching when the VM went away meanwhile', () => {
    const cancelled: VolumeEvent = { type: 'VolumeDetached', data: { volumeId: 'v1', attachmentId: 'a1', vmInstanceId: 'vm1', reason: 'VmDestroyed', detachedAt: 2500 } };
    volume.given(...creating, cancelled)
      .when({ type: 'CompleteInstantiation', operationId: 'a1', outcome: { ok: true, path: '/ps1/v1.qcow2' }, now: 3000 })
      .then([{ ...instantiated, data: { ...instantiated.data, attachment: null } } as VolumeEvent]);
  });
});

describe('volume decider: deletion policy', () => {
  const destroy = (policy: 'Direct' | 'Delay' | 'Never') => ({ type: 'DestroyVolume', policy, expungePeriodSeconds: 259_200, now: 7000 }) as const;

  it('computes when a destroyed volume is due: at once (Direct), after the period from the destroy (Delay), never', () => {
    expect(expungeAtFor('Direct', 7000, 259_200)).toBe(7000);
    expect(expungeAtFor('Delay', 7000, 259_200)).toBe(7000 + 259_200_000);
    expect(expungeAtFor('Never', 7000, 259_200)).toBeNull();
  });

  it('destroys a detached volume under each policy', () => {
    volume.given(...readyDetached).when(destroy('Delay')).then([destroyedDelay]);
    volume.given(created).when(destroy('Direct')).then([{ type: 'VolumeDestroyed', data: { volumeId: 'v1', policy: 'Direct', destroyedAt: 7000, expungeAt: 7000 } }]);
    volume.given(created).when(destroy('Never')).then([{ type: 'VolumeDestroyed', data: { volumeId: 'v1', policy: 'Never', destroyedAt: 7000, expungeAt: null } }]);
  });

  it('refuses to destroy an attached volume (detach it first), or one being created; destroying twice is once', () => {
    volume.given(...attachedToVm1).when(destroy('Delay')).thenFails('VOLUME_ATTACHED');
    volume.given(created, instantiationRequested, attachAwaiting).when(destroy('Delay')).thenFails('VOLUME_ATTACHED');
    volume.given(...readyDetached, destroyedDelay).when(destroy('Direct')).then([]);
    volume.given().when(destroy('Delay')).thenFails('VOLUME_NOT_FOUND');
  });

  it('recovers a destroyed volume to what it was', () => {
    const recovered: VolumeEvent = { type: 'VolumeRecovered', data: { volumeId: 'v1', recoveredAt: 8000 } };
    volume.given(...readyDetached, destroyedDelay).when({ type: 'RecoverVolume', now: 8000 }).then([recovered]);
    // Back to Ready: it attaches directly again.
    volume.given(...readyDetached, destroyedDelay, recovered)
      .when({ type: 'AttachVolume', vmInstanceId: 'vm1', vm, attachmentId: 'a3', device: 'vdb', now: 9000 })
      .then([{ type: 'VolumeAttachRequested', data: { volumeId: 'v1', attachmentId: 'a3', vmInstanceId: 'vm1', hostId: 'h1', device: 'vdb', path: '/ps1/v1.qcow2', awaitsInstantiation: false, requestedAt: 9000 } }]);
  });

  it('refuses to recover: a volume not destroyed, one deleted Direct, one being or already expunged', () => {
    const directly: VolumeEvent = { type: 'VolumeDestroyed', data: { volumeId: 'v1', policy: 'Direct', destroyedAt: 7000, expungeAt: 7000 } };
    const started: VolumeEvent = { type: 'VolumeExpungeStarted', data: { volumeId: 'v1', operationId: 'x1', instantiated: false, hostId: null, primaryStorageId: null, startedAt: 8000 } };
    const expunged: VolumeEvent = { type: 'VolumeExpunged', data: { volumeId: 'v1', operationId: 'x1', primaryStorageId: null, expungedAt: 8000 } };
    volume.given(created).when({ type: 'RecoverVolume', now: 8000 }).thenFails('VOLUME_NOT_DESTROYED');
    volume.given(created, directly).when({ type: 'RecoverVolume', now: 8000 }).thenFails('VOLUME_NOT_RECOVERABLE');
    volume.given(created, destroyedDelay, started).when({ type: 'RecoverVolume', now: 8000 }).thenFails('VOLUME_EXPUNGING');
    volume.given(created, destroyedDelay, started, expunged).when({ type: 'RecoverVolume', now: 8000 }).thenFails('VOLUME_NOT_FOUND');
  });
});

describe('volume decider: expunge', () => {
  const start = { type: 'StartExpunge', operationId: 'x1', now: 9000 } as const;
  const startedOnHost: VolumeEvent = {
    type: 'VolumeExpungeStarted',
    data: { volumeId: 'v1', operationId: 'x1', instantiated: true, hostId: 'h1', primaryStorageId: 'ps1', startedAt: 9000 },
  };

  it('deletes an instantiated volume on its host and releases its primary storage', () => {
    volume.given(...readyDetached, destroyedDelay).when(start).then([startedOnHost]);
    volume.given(...readyDetached, destroyedDelay, startedOnHost).when({ type: 'CompleteExpunge', operationId: 'x1', outcome: { ok: true }, now: 9500 })
      .then([{ type: 'VolumeExpunged', data: { volumeId: 'v1', operationId: 'x1', primaryStorageId: 'ps1', expungedAt: 9500 } }]);
  });

  it('expunges a volume that never reached a host without a host operation, and with no capacity to give back', () => {
    volume.given(pinned, destroyedDelay).when(start)
      .then([{ type: 'VolumeExpungeStarted', data: { volumeId: 'v1', operationId: 'x1', instantiated: false, hostId: null, primaryStorageId: null, startedAt: 9000 } }]);
    volume.given(created, destroyedDelay).when(start)
      .then([{ type: 'VolumeExpungeStarted', data: { volumeId: 'v1', operationId: 'x1', instantiated: false, hostId: null, primaryStorageId: null, startedAt: 9000 } }]);
  });

  it('returns to Destroyed when the host fails to delete it, so that the expunger tries again', () => {
    const failed: VolumeEvent = { type: 'VolumeExpungeFailed', data: { volumeId: 'v1', operationId: 'x1', error, failedAt: 9500 } };
    volume.given(...readyDetached, destroyedDelay, startedOnHost).when({ type: 'CompleteExpunge', operationId: 'x1', outcome: { ok: false, error }, now: 9500 }).then([failed]);
    volume.given(...readyDetached, destroyedDelay, startedOnHost, failed).when({ ...start, operationId: 'x2' })
      .then([{ ...startedOnHost, data: { ...startedOnHost.data, operationId: 'x2' } } as VolumeEvent]);
  });

  it('is idempotent: expunging while expunging or after is nothing; stale results are nothing', () => {
    volume.given(...readyDetached, destroyedDelay, startedOnHost).when({ ...start, operationId: 'x2' }).then([]);
    const expunged: VolumeEvent = { type: 'VolumeExpunged', data: { volumeId: 'v1', operationId: 'x1', primaryStorageId: 'ps1', expungedAt: 9500 } };
    volume.given(...readyDetached, destroyedDelay, startedOnHost, expunged).when(start).then([]);
    volume.given(...readyDetached, destroyedDelay, startedOnHost, expunged).when({ type: 'CompleteExpunge', operationId: 'x1', outcome: { ok: true }, now: 9600 }).then([]);
    volume.given(...readyDetached, destroyedDelay, startedOnHost).when({ type: 'CompleteExpunge', operationId: 'other', outcome: { ok: true }, now: 9600 }).then([]);
  });

  it('refuses to expunge a volume that is not destroyed, or does not exist', () => {
    volume.given(...readyDetached).when(start).thenFails('VOLUME_NOT_DESTROYED');
    volume.given().when(start).thenFails('VOLUME_NOT_FOUND');
  });

  it('refuses every use of an expunged volume', () => {
    const gone = [...readyDetached, destroyedDelay, startedOnHost,
      { type: 'VolumeExpunged', data: { volumeId: 'v1', operationId: 'x1', primaryStorageId: 'ps1', expungedAt: 9500 } } as VolumeEvent];
    volume.given(...gone).when({ type: 'AttachVolume', vmInstanceId: 'vm1', vm, attachmentId: 'a4', device: 'vdb', now: 1 }).thenFails('VOLUME_NOT_FOUND');
    volume.given(...gone).when({ type: 'DestroyVolume', policy: 'Delay', expungePeriodSeconds: 1, now: 1 }).thenFails('VOLUME_NOT_FOUND');
  });
});
