import { describe, expect, it } from 'vitest';
import { fold } from '../../../domain/shared/decider.js';
import {
  holdings, taskOutcomeOf, vmDecider, type AllocatedNic, type VmAggregate, type VmCommand, type VmEvent, type VmInstance,
} from '../../../domain/compute/vm.js';
import { scenario } from '../../support/given-when-then.js';

// The VM aggregate as given events / when command / then events (or a refusal code). Long
// histories are built by running earlier commands through the decider (`history`), so each
// test shows the one transition it is about.

const vm = scenario(vmDecider);
const vmId = 'vm-1';
const now = Date.UTC(2026, 0, 1);
const GiB = 1024 ** 3;
const image = { imageId: 'img-1', url: 'file:///images/cirros.qcow2', format: 'qcow2' as const, sha256: 'a'.repeat(64) };
const nic: AllocatedNic = { nicId: 'nic-1', l3NetworkId: 'l3-1', ip: '10.0.0.10', mac: 'fa:00:00:00:00:01', gateway: '10.0.0.1', netmask: '255.255.255.0' };

function createCommand(strategy: 'InstantStart' | 'JustCreate' | 'CreateStopped' = 'InstantStart'): VmCommand {
  return {
    type: 'CreateVm', vmId, name: 'web-1', instanceOfferingId: 'offering-1', cpuCount: 2, memoryBytes: 2 * GiB, imageId: 'img-1',
    l3NetworkIds: ['l3-1'], rootDiskSizeBytes: 10 * GiB, strategy, rootVolumeId: 'root-1', nicIds: ['nic-1'], taskId: 'task-create', now,
  };
}

/** Runs commands through the decider: the events they produce, in order. */
function history(...commands: Array<VmCommand | ((state: VmInstance) => VmCommand)>): VmEvent[] {
  const events: VmEvent[] = [];
  let state: VmAggregate = vmDecider.initialState;
  for (const command of commands) {
    const resolved = typeof command === 'function' ? command(state as VmInstance) : command;
    const decided = vmDecider.decide(resolved, state);
    for (const event of decided) state = vmDecider.evolve(state, event);
    events.push(...decided);
  }
  return events;
}

const stateAfter = (events: VmEvent[]) => fold(vmDecider, events) as VmInstance;

/** Success of the current step (whatever its seq). */
const ok = () => (state: VmInstance): VmCommand => ({ type: 'RecordStepSucceeded', seq: state.seq, now });
const fail = (code = 'INJECTED_FAULT') => (state: VmInstance): VmCommand => ({ type: 'RecordStepFailed', seq: state.seq, error: { code, message: code }, now });
const allocated = (state: VmInstance): VmCommand => ({
  type: 'RecordResourcesAllocated', seq: state.seq, hostId: 'host-1', zoneId: 'zone-1', clusterId: 'cluster-1', nics: [nic], primaryStorageId: 'ps-1', image,
});

type Step = VmCommand | ((state: VmInstance) => VmCommand);

// Fixtures are the commands that lead to a state, so that a test can go on from them.
const runningSteps: Step[] = [createCommand(), allocated, ok()];
const stoppedSteps: Step[] = [...runningSteps, { type: 'StopVm', stopType: 'grace', taskId: 't-stop' }, ok()];
const pausedSteps: Step[] = [...runningSteps, { type: 'PauseVm', taskId: 't-pause' }, ok()];
const destroyedSteps: Step[] = [...stoppedSteps, { type: 'DestroyVm', policy: 'Delay', expungePeriodSeconds: 600, taskId: 't-del', now }, ok(), ok()];
const recoveredSteps: Step[] = [...destroyedSteps, { type: 'RecoverVm', hostId: 'host-2', zoneId: 'zone-1', clusterId: 'cluster-1', nics: [nic], taskId: 't-rec' }];

const createdInstantStart = () => history(createCommand());
const running = () => history(...runningSteps);
const stopped = () => history(...stoppedSteps);
const paused = () => history(...pausedSteps);
const destroyedDelay = () => history(...destroyedSteps);

const defineSpec = {
  name: 'web-1', cpuCount: 2, memoryBytes: 2 * GiB,
  volumes: [{ volumeId: 'root-1', device: 'vda' }],
  nics: [{ nicId: 'nic-1', mac: nic.mac, ip: nic.ip, l3NetworkId: 'l3-1' }],
};

describe('creating a VM', () => {
  it('InstantStart records the VM and asks for its resources', () => {
    vm.given().when(createCommand()).then([
      {
        type: 'VmInstanceCreated',
        data: {
          vmId, name: 'web-1', description: '', instanceOfferingId: 'offering-1', cpuCount: 2, memoryBytes: 2 * GiB, imageId: 'img-1',
          l3NetworkIds: ['l3-1'], nics: [{ nicId: 'nic-1', l3NetworkId: 'l3-1' }], rootVolume: { volumeId: 'root-1', sizeBytes: 10 * GiB },
          dataDiskOfferingIds: [], zoneId: null, clusterId: null, hostId: null, strategy: 'InstantStart', createdAt: now, taskId: 'task-create',
        },
      },
      {
        type: 'VmAllocationRequested',
        data: {
          vmId, seq: 1, instanceOfferingId: 'offering-1', cpuCount: 2, memoryBytes: 2 * GiB, imageId: 'img-1',
          nics: [{ nicId: 'nic-1', l3NetworkId: 'l3-1' }], rootVolume: { volumeId: 'root-1', sizeBytes: 10 * GiB }, zoneId: null, clusterId: null, hostId: null,
        },
      },
    ]);
  });

  it('JustCreate only records the VM (Created, nothing reserved)', () => {
    const events = vmDecider.decide(createCommand('JustCreate'), vmDecider.initialState);
    expect(events.map((event) => event.type)).toEqual(['VmInstanceCreated']);
    const state = stateAfter(events);
    expect(state.state).toBe('Created');
    expect(state.process).toBeNull();
  });

  it('refuses an invalid VM and a second create of the same id', () => {
    vm.given().when({ ...createCommand(), name: ' ' } as VmCommand).thenFails('INVALID_VM_INSTANCE');
    vm.given().when({ ...createCommand(), l3NetworkIds: [], nicIds: [] } as VmCommand).thenFails('INVALID_VM_INSTANCE');
    vm.given().when({ ...createCommand(), rootDiskSizeBytes: 0 } as VmCommand).thenFails('INVALID_VM_INSTANCE');
    vm.given(...createdInstantStart()).when(createCommand()).thenFails('VM_EXISTS');
  });

  it('allocated resources lead to building the VM on the chosen host: image, root volume, define, start', () => {
    vm.given(...createdInstantStart()).when(allocated(stateAfter(createdInstantStart()))).then([
      {
        type: 'VmResourcesAllocated',
        data: { vmId, hostId: 'host-1', zoneId: 'zone-1', clusterId: 'cluster-1', nics: [nic], rootVolume: { volumeId: 'root-1', sizeBytes: 10 * GiB, primaryStorageId: 'ps-1' } },
      },
      { type: 'VmBuildRequested', data: { vmId, seq: 2, hostId: 'host-1', image, rootVolume: { volumeId: 'root-1', sizeBytes: 10 * GiB }, define: defineSpec, start: true } },
    ]);
  });

  it('ignores a stale or repeated result', () => {
    const given = history(createCommand(), allocated);
    vm.given(...given).when({ type: 'RecordStepSucceeded', seq: 1, now }).then([]);
    vm.given(...given).when({ type: 'RecordResourcesAllocated', seq: 1, hostId: 'host-2', zoneId: 'z', clusterId: 'c', nics: [], primaryStorageId: 'ps', image }).then([]);
    vm.given(...given).when({ type: 'RecordStepFailed', seq: 7, error: { code: 'X', message: 'x' }, now }).then([]);
  });

  it('a finished build leaves the VM with its root volume, defined and Running', () => {
    const building = history(createCommand(), allocated);
    expect(stateAfter(building).state).toBe('Created');
    vm.given(...building).when(ok()(stateAfter(building))).then([
      { type: 'VmRootVolumeCreated', data: { vmId, volumeId: 'root-1', hostId: 'host-1' } },
      { type: 'VmDefined', data: { vmId, hostId: 'host-1' } },
      { type: 'VmStarted', data: { vmId, hostId: 'host-1', taskId: 'task-create' } },
    ]);
    const state = stateAfter(running());
    expect(state.state).toBe('Running');
    expect(holdings(state)).toEqual({ host: 'host-1', nics: ['nic-1'], storage: 'ps-1', defined: true, rootVolumeCreated: true });
  });

  it('CreateStopped builds without starting and ends Stopped', () => {
    const building = history(createCommand('CreateStopped'), allocated);
    expect(building.at(-1)).toMatchObject({ type: 'VmBuildRequested', data: { start: false } });
    vm.given(...building).when(ok()(stateAfter(building))).then([
      { type: 'VmRootVolumeCreated', data: { vmId, volumeId: 'root-1', hostId: 'host-1' } },
      { type: 'VmDefined', data: { vmId, hostId: 'host-1' } },
      { type: 'VmProvisioningCompleted', data: { vmId, taskId: 'task-create' } },
    ]);
    expect(stateAfter(history(createCommand('CreateStopped'), allocated, ok())).state).toBe('Stopped');
  });

  it('a JustCreate VM is provisioned by its first start', () => {
    const justCreated = history(createCommand('JustCreate'));
    const events = vmDecider.decide({ type: 'StartVm', taskId: 't-start' }, stateAfter(justCreated));
    expect(events.map((event) => event.type)).toEqual(['VmStartRequested', 'VmAllocationRequested']);
    const started = history(createCommand('JustCreate'), { type: 'StartVm', taskId: 't-start' }, allocated, ok());
    expect(started.at(-1)).toEqual({ type: 'VmStarted', data: { vmId, hostId: 'host-1', taskId: 't-start' } });
    expect(stateAfter(started).state).toBe('Running');
  });
});

describe('a failed provisioning rolls back everything it holds', () => {
  it('fails at allocation with nothing held: rolled back at once, state Error, task failed', () => {
    const given = createdInstantStart();
    const error = { code: 'NO_HOST_AVAILABLE', message: 'NO_HOST_AVAILABLE' };
    vm.given(...given).when(fail('NO_HOST_AVAILABLE')(stateAfter(given))).then([
      { type: 'VmProvisioningFailed', data: { vmId, step: 'allocate', error } },
      { type: 'VmProvisioningRolledBack', data: { vmId, error, state: 'Error', taskId: 'task-create' } },
    ]);
    const state = stateAfter([...given, ...vmDecider.decide(fail('NO_HOST_AVAILABLE')(stateAfter(given)), stateAfter(given))]);
    expect(state.state).toBe('Error');
    expect(state.error).toEqual(error);
  });

  it('fails building (image checksum): undefines, releases compute, deletes the root volume, releases storage, rests in Error', () => {
    const given = history(createCommand(), allocated);
    const error = { code: 'IMAGE_CHECKSUM_MISMATCH', message: 'IMAGE_CHECKSUM_MISMATCH' };
    // What the build did before it failed is not known: everything is undone (idempotently).
    vm.given(...given).when(fail('IMAGE_CHECKSUM_MISMATCH')(stateAfter(given))).then([
      { type: 'VmProvisioningFailed', data: { vmId, step: 'build', error } },
      { type: 'VmUndefineRequested', data: { vmId, seq: 3, hostId: 'host-1' } },
    ]);
    const undefining = history(createCommand(), allocated, fail('IMAGE_CHECKSUM_MISMATCH'));
    vm.given(...undefining).when(ok()(stateAfter(undefining))).then([
      { type: 'VmUndefined', data: { vmId, hostId: 'host-1' } },
      { type: 'VmComputeReleaseRequested', data: { vmId, seq: 4, hostId: 'host-1', nics: [{ nicId: 'nic-1', l3NetworkId: 'l3-1' }] } },
    ]);
    const releasing = history(createCommand(), allocated, fail('IMAGE_CHECKSUM_MISMATCH'), ok());
    vm.given(...releasing).when(ok()(stateAfter(releasing))).then([
      { type: 'VmComputeReleased', data: { vmId, hostId: 'host-1' } },
      { type: 'VmRootVolumeDeleteRequested', data: { vmId, seq: 5, hostId: 'host-1', volumeId: 'root-1' } },
    ]);
    const deleting = history(createCommand(), allocated, fail('IMAGE_CHECKSUM_MISMATCH'), ok(), ok());
    vm.given(...deleting).when(ok()(stateAfter(deleting))).then([
      { type: 'VmRootVolumeDeleted', data: { vmId, volumeId: 'root-1' } },
      { type: 'VmStorageReleaseRequested', data: { vmId, seq: 6, primaryStorageId: 'ps-1', volumeId: 'root-1' } },
    ]);
    const storage = history(createCommand(), allocated, fail('IMAGE_CHECKSUM_MISMATCH'), ok(), ok(), ok());
    vm.given(...storage).when(ok()(stateAfter(storage))).then([
      { type: 'VmStorageReleased', data: { vmId, volumeId: 'root-1' } },
      { type: 'VmProvisioningRolledBack', data: { vmId, error, state: 'Error', taskId: 'task-create' } },
    ]);
    const rested = stateAfter(history(createCommand(), allocated, fail('IMAGE_CHECKSUM_MISMATCH'), ok(), ok(), ok(), ok()));
    expect(rested.state).toBe('Error');
    expect(rested.error).toEqual(error);
    expect(holdings(rested)).toEqual({ host: null, nics: [], storage: null, defined: false, rootVolumeCreated: false });
  });

  it('a build that times out is rolled back the same way', () => {
    const error = { code: 'OPERATION_TIMEOUT', message: 'OPERATION_TIMEOUT' };
    const steps = history(createCommand(), allocated, fail('OPERATION_TIMEOUT'), ok(), ok(), ok(), ok());
    expect(steps.slice(-10).map((event) => event.type)).toEqual([
      'VmProvisioningFailed', 'VmUndefineRequested', 'VmUndefined', 'VmComputeReleaseRequested', 'VmComputeReleased',
      'VmRootVolumeDeleteRequested', 'VmRootVolumeDeleted', 'VmStorageReleaseRequested', 'VmStorageReleased', 'VmProvisioningRolledBack',
    ]);
    expect(steps.at(-1)).toEqual({ type: 'VmProvisioningRolledBack', data: { vmId, error, state: 'Error', taskId: 'task-create' } });
  });

  it('a first start of a JustCreate VM that fails goes back to Created', () => {
    const events = history(createCommand('JustCreate'), { type: 'StartVm', taskId: 't-start' }, fail('NO_HOST_AVAILABLE'));
    expect(events.at(-1)).toMatchObject({ type: 'VmProvisioningRolledBack', data: { state: 'Created', taskId: 't-start' } });
    expect(stateAfter(events).state).toBe('Created');
  });

  it('a rollback step the host refuses stalls (the task ends), and is retried later', () => {
    const given = history(createCommand(), allocated, fail('INJECTED_FAULT'));
    const error = { code: 'HOST_UNREACHABLE', message: 'HOST_UNREACHABLE' };
    vm.given(...given).when(fail('HOST_UNREACHABLE')(stateAfter(given))).then([
      { type: 'VmRollbackStalled', data: { vmId, step: 'undefine', error, stalledAt: now, taskId: 'task-create' } },
    ]);
    const stalled = history(createCommand(), allocated, fail('INJECTED_FAULT'), fail('HOST_UNREACHABLE'));
    vm.given(...stalled).when({ type: 'RetryRollback', now }).then([
      { type: 'VmTeardownRetried', data: { vmId } },
      { type: 'VmUndefineRequested', data: { vmId, seq: 4, hostId: 'host-1' } },
    ]);
    // A retry of a rollback that is not stalled does nothing.
    vm.given(...given).when({ type: 'RetryRollback', now }).then([]);
    const finished = history(createCommand(), allocated, fail('INJECTED_FAULT'), fail('HOST_UNREACHABLE'), { type: 'RetryRollback', now }, ok(), ok(), ok(), ok());
    // The task already failed when the rollback stalled: the end of the rollback ends no task.
    expect(finished.at(-1)).toMatchObject({ type: 'VmProvisioningRolledBack', data: { taskId: null } });
  });

  it('refuses to destroy a VM while it is being provisioned or rolled back', () => {
    vm.given(...createdInstantStart()).when({ type: 'DestroyVm', policy: 'Delay', expungePeriodSeconds: 1, taskId: 't', now }).thenFails('VM_BUSY');
  });
});

describe('power operations', () => {
  it('stop (grace or cold) from Running', () => {
    vm.given(...running()).when({ type: 'StopVm', stopType: 'cold', taskId: 't-stop' }).then([
      { type: 'VmStopRequested', data: { vmId, type: 'cold', taskId: 't-stop' } },
      { type: 'VmPowerOperationRequested', data: { vmId, seq: 3, hostId: 'host-1', operation: 'stop', stopType: 'cold' } },
    ]);
    const stopping = history(...runningSteps, { type: 'StopVm', stopType: 'grace', taskId: 't-stop' });
    expect(stateAfter(stopping).state).toBe('Stopping');
    vm.given(...stopping).when(ok()(stateAfter(stopping))).then([
      { type: 'VmStopped', data: { vmId, hostId: 'host-1', type: 'grace', taskId: 't-stop' } },
    ]);
    vm.given(...stopping).when(fail('INJECTED_FAULT')(stateAfter(stopping))).then([
      { type: 'VmOperationFailed', data: { vmId, operation: 'stop', error: { code: 'INJECTED_FAULT', message: 'INJECTED_FAULT' }, state: 'Running', taskId: 't-stop' } },
    ]);
    vm.given(...stopping).when(fail('OPERATION_TIMEOUT')(stateAfter(stopping))).then([
      { type: 'VmOperationFailed', data: { vmId, operation: 'stop', error: { code: 'OPERATION_TIMEOUT', message: 'OPERATION_TIMEOUT' }, state: 'Unknown', taskId: 't-stop' } },
    ]);
  });

  it('start from Stopped, Crashed or Unknown', () => {
    vm.given(...stopped()).when({ type: 'StartVm', taskId: 't-start' }).then([
      { type: 'VmStartRequested', data: { vmId, taskId: 't-start' } },
      { type: 'VmPowerOperationRequested', data: { vmId, seq: 4, hostId: 'host-1', operation: 'start' } },
    ]);
    const crashed = [...stopped(), { type: 'VmPowerStateSynced', data: { vmId, from: 'Stopped', to: 'Crashed' } } as VmEvent];
    expect(vmDecider.decide({ type: 'StartVm', taskId: 't' }, stateAfter(crashed)).map((event) => event.type)).toEqual(['VmStartRequested', 'VmPowerOperationRequested']);
    const starting = history(...stoppedSteps, { type: 'StartVm', taskId: 't-start' });
    vm.given(...starting).when(fail('INJECTED_FAULT')(stateAfter(starting))).then([
      { type: 'VmOperationFailed', data: { vmId, operation: 'start', error: { code: 'INJECTED_FAULT', message: 'INJECTED_FAULT' }, state: 'Stopped', taskId: 't-start' } },
    ]);
  });

  it('reboot, pause and resume', () => {
    vm.given(...running()).when({ type: 'RebootVm', taskId: 't' }).then([
      { type: 'VmRebootRequested', data: { vmId, taskId: 't' } },
      { type: 'VmPowerOperationRequested', data: { vmId, seq: 3, hostId: 'host-1', operation: 'reboot' } },
    ]);
    const rebooting = history(...runningSteps, { type: 'RebootVm', taskId: 't' });
    expect(stateAfter(rebooting).state).toBe('Rebooting');
    vm.given(...rebooting).when(ok()(stateAfter(rebooting))).then([{ type: 'VmRebooted', data: { vmId, hostId: 'host-1', taskId: 't' } }]);

    vm.given(...running()).when({ type: 'PauseVm', taskId: 't' }).then([
      { type: 'VmPauseRequested', data: { vmId, taskId: 't' } },
      { type: 'VmPowerOperationRequested', data: { vmId, seq: 3, hostId: 'host-1', operation: 'pause' } },
    ]);
    expect(stateAfter(paused()).state).toBe('Paused');
    vm.given(...paused()).when({ type: 'ResumeVm', taskId: 't' }).then([
      { type: 'VmResumeRequested', data: { vmId, taskId: 't' } },
      { type: 'VmPowerOperationRequested', data: { vmId, seq: 4, hostId: 'host-1', operation: 'resume' } },
    ]);
    const resuming = history(...pausedSteps, { type: 'ResumeVm', taskId: 't' });
    expect(stateAfter(resuming).state).toBe('Resuming');
    vm.given(...resuming).when(ok()(stateAfter(resuming))).then([{ type: 'VmResumed', data: { vmId, hostId: 'host-1', taskId: 't' } }]);
    const pausing = history(...runningSteps, { type: 'PauseVm', taskId: 't' });
    vm.given(...pausing).when(fail()(stateAfter(pausing))).then([
      { type: 'VmOperationFailed', data: { vmId, operation: 'pause', error: { code: 'INJECTED_FAULT', message: 'INJECTED_FAULT' }, state: 'Running', taskId: 't' } },
    ]);
    // A paused VM can be stopped.
    expect(vmDecider.decide({ type: 'StopVm', stopType: 'cold', taskId: 't' }, stateAfter(paused())).map((e) => e.type)).toEqual(['VmStopRequested', 'VmPowerOperationRequested']);
  });

  it('refuses operations the state does not allow, with their codes', () => {
    vm.given(...running()).when({ type: 'StartVm', taskId: 't' }).thenFails('VM_ALREADY_RUNNING');
    vm.given(...stopped()).when({ type: 'StopVm', stopType: 'grace', taskId: 't' }).thenFails('VM_ALREADY_STOPPED');
    vm.given(...stopped()).when({ type: 'RebootVm', taskId: 't' }).thenFails('VM_NOT_RUNNING');
    vm.given(...stopped()).when({ type: 'PauseVm', taskId: 't' }).thenFails('VM_NOT_RUNNING');
    vm.given(...running()).when({ type: 'ResumeVm', taskId: 't' }).thenFails('VM_NOT_PAUSED');
    vm.given(...paused()).when({ type: 'StartVm', taskId: 't' }).thenFails('VM_NOT_STOPPED');
    const starting = history(...stoppedSteps, { type: 'StartVm', taskId: 't' });
    vm.given(...starting).when({ type: 'StopVm', stopType: 'cold', taskId: 't' }).thenFails('VM_BUSY');
    vm.given(...starting).when({ type: 'DestroyVm', policy: 'Delay', expungePeriodSeconds: 1, taskId: 't', now }).thenFails('VM_BUSY');
    vm.given().when({ type: 'StartVm', taskId: 't' }).thenFails('VM_NOT_FOUND');
  });
});

describe('destroying under each deletion policy', () => {
  const destroy = (policy: 'Direct' | 'Delay' | 'Never') => ({ type: 'DestroyVm', policy, expungePeriodSeconds: 600, taskId: 't-del', now } as const);

  it('Delay: undefines, releases compute and IPs, keeps the root volume; expunge is due after the period', () => {
    vm.given(...running()).when(destroy('Delay')).then([
      { type: 'VmDestroyRequested', data: { vmId, policy: 'Delay', expungePeriodSeconds: 600, taskId: 't-del' } },
      { type: 'VmUndefineRequested', data: { vmId, seq: 3, hostId: 'host-1' } },
    ]);
    const undefining = history(...runningSteps, destroy('Delay'));
    expect(stateAfter(undefining).state).toBe('Destroying');
    vm.given(...undefining).when(ok()(stateAfter(undefining))).then([
      { type: 'VmUndefined', data: { vmId, hostId: 'host-1' } },
      { type: 'VmComputeReleaseRequested', data: { vmId, seq: 4, hostId: 'host-1', nics: [{ nicId: 'nic-1', l3NetworkId: 'l3-1' }] } },
    ]);
    const releasing = history(...runningSteps, destroy('Delay'), ok());
    vm.given(...releasing).when({ type: 'RecordStepSucceeded', seq: 4, now: now + 5 }).then([
      { type: 'VmComputeReleased', data: { vmId, hostId: 'host-1' } },
      { type: 'VmInstanceDestroyed', data: { vmId, policy: 'Delay', destroyedAt: now + 5, expungeAt: now + 5 + 600_000, taskId: 't-del' } },
    ]);
    const state = stateAfter(destroyedDelay());
    expect(state.state).toBe('Destroyed');
    expect(holdings(state)).toEqual({ host: null, nics: [], storage: 'ps-1', defined: false, rootVolumeCreated: true });
  });

  it('Never: Destroyed with no expunge time', () => {
    const events = history(...stoppedSteps, destroy('Never'), ok(), ok());
    expect(events.at(-1)).toEqual({ type: 'VmInstanceDestroyed', data: { vmId, policy: 'Never', destroyedAt: now, expungeAt: null, taskId: 't-del' } });
  });

  it('Direct: destroyed and expunged in one go; the DELETE task ends with the expunge', () => {
    const releasing = history(...stoppedSteps, destroy('Direct'), ok());
    vm.given(...releasing).when(ok()(stateAfter(releasing))).then([
      { type: 'VmComputeReleased', data: { vmId, hostId: 'host-1' } },
      { type: 'VmInstanceDestroyed', data: { vmId, policy: 'Direct', destroyedAt: now, expungeAt: now, taskId: null } },
      { type: 'VmExpungeStarted', data: { vmId, taskId: 't-del' } },
      { type: 'VmRootVolumeDeleteRequested', data: { vmId, seq: 6, hostId: 'host-1', volumeId: 'root-1' } },
    ]);
    const gone = history(...stoppedSteps, destroy('Direct'), ok(), ok(), ok(), ok());
    expect(gone.at(-1)).toEqual({ type: 'VmInstanceExpunged', data: { vmId, expungedAt: now, taskId: 't-del' } });
    expect(stateAfter(gone).expunged).toBe(true);
  });

  it('a VM that holds nothing (JustCreate, or rolled back) is destroyed at once', () => {
    vm.given(...history(createCommand('JustCreate'))).when(destroy('Never')).then([
      { type: 'VmDestroyRequested', data: { vmId, policy: 'Never', expungePeriodSeconds: 600, taskId: 't-del' } },
      { type: 'VmInstanceDestroyed', data: { vmId, policy: 'Never', destroyedAt: now, expungeAt: null, taskId: 't-del' } },
    ]);
  });

  it('a host that refuses the undefine fails the destroy: the VM is back as it was', () => {
    const undefining = history(...runningSteps, destroy('Delay'));
    vm.given(...undefining).when(fail()(stateAfter(undefining))).then([
      { type: 'VmDestroyFailed', data: { vmId, error: { code: 'INJECTED_FAULT', message: 'INJECTED_FAULT' }, state: 'Running', taskId: 't-del' } },
    ]);
  });

  it('refuses to destroy twice, and to start, stop or change a destroyed VM', () => {
    vm.given(...destroyedDelay()).when(destroy('Delay')).thenFails('VM_ALREADY_DESTROYED');
    vm.given(...destroyedDelay()).when({ type: 'StartVm', taskId: 't' }).thenFails('VM_DESTROYED');
    vm.given(...destroyedDelay()).when({ type: 'StopVm', stopType: 'cold', taskId: 't' }).thenFails('VM_DESTROYED');
    vm.given(...destroyedDelay()).when({ type: 'RebootVm', taskId: 't' }).thenFails('VM_DESTROYED');
    vm.given(...destroyedDelay()).when({ type: 'ChangeOffering', instanceOfferingId: 'o2', cpuCount: 4, memoryBytes: GiB }).thenFails('VM_DESTROYED');
  });
});

describe('recover and expunge', () => {
  it('recovers a destroyed VM to Stopped with its resources reserved again; its first start defines it', () => {
    vm.given(...destroyedDelay()).when({ type: 'RecoverVm', hostId: 'host-2', zoneId: 'zone-1', clusterId: 'cluster-1', nics: [nic], taskId: 't-rec' }).then([
      { type: 'VmInstanceRecovered', data: { vmId, hostId: 'host-2', zoneId: 'zone-1', clusterId: 'cluster-1', nics: [nic], taskId: 't-rec' } },
    ]);
    const recovered = history(...recoveredSteps);
    const state = stateAfter(recovered);
    expect(state.state).toBe('Stopped');
    expect(state.expungeAt).toBeNull();
    expect(holdings(state)).toEqual({ host: 'host-2', nics: ['nic-1'], storage: 'ps-1', defined: false, rootVolumeCreated: true });
    vm.given(...recovered).when({ type: 'StartVm', taskId: 't-start' }).then([
      { type: 'VmStartRequested', data: { vmId, taskId: 't-start' } },
      { type: 'VmDefineRequested', data: { vmId, seq: 6, hostId: 'host-2', define: defineSpec, start: true } },
    ]);
    const defining = history(...recoveredSteps, { type: 'StartVm', taskId: 't-start' });
    vm.given(...defining).when(ok()(stateAfter(defining))).then([
      { type: 'VmDefined', data: { vmId, hostId: 'host-2' } },
      { type: 'VmStarted', data: { vmId, hostId: 'host-2', taskId: 't-start' } },
    ]);
    // A define that fails on start leaves the VM Stopped, its reservations kept.
    vm.given(...defining).when(fail()(stateAfter(defining))).then([
      { type: 'VmOperationFailed', data: { vmId, operation: 'start', error: { code: 'INJECTED_FAULT', message: 'INJECTED_FAULT' }, state: 'Stopped', taskId: 't-start' } },
    ]);
  });

  it('refuses to recover what is not destroyed or was never built', () => {
    vm.given(...running()).when({ type: 'RecoverVm', hostId: 'h', zoneId: 'z', clusterId: 'c', nics: [], taskId: 't' }).thenFails('VM_NOT_DESTROYED');
    const failedAndDestroyed = history(createCommand(), fail('NO_HOST_AVAILABLE'), { type: 'DestroyVm', policy: 'Delay', expungePeriodSeconds: 1, taskId: 't', now });
    expect(stateAfter(failedAndDestroyed).state).toBe('Destroyed');
    vm.given(...failedAndDestroyed).when({ type: 'RecoverVm', hostId: 'h', zoneId: 'z', clusterId: 'c', nics: [], taskId: 't' }).thenFails('VM_NOT_RECOVERABLE');
  });

  it('expunges a destroyed VM: deletes its root volume, releases its storage, then it is gone', () => {
    vm.given(...destroyedDelay()).when({ type: 'ExpungeVm', taskId: 't-exp', now }).then([
      { type: 'VmExpungeStarted', data: { vmId, taskId: 't-exp' } },
      { type: 'VmRootVolumeDeleteRequested', data: { vmId, seq: 6, hostId: 'host-1', volumeId: 'root-1' } },
    ]);
    const deleting = history(...destroyedSteps, { type: 'ExpungeVm', taskId: 't-exp', now });
    expect(stateAfter(deleting).state).toBe('Expunging');
    vm.given(...deleting).when(ok()(stateAfter(deleting))).then([
      { type: 'VmRootVolumeDeleted', data: { vmId, volumeId: 'root-1' } },
      { type: 'VmStorageReleaseRequested', data: { vmId, seq: 7, primaryStorageId: 'ps-1', volumeId: 'root-1' } },
    ]);
    const releasing = history(...destroyedSteps, { type: 'ExpungeVm', taskId: 't-exp', now }, ok());
    vm.given(...releasing).when(ok()(stateAfter(releasing))).then([
      { type: 'VmStorageReleased', data: { vmId, volumeId: 'root-1' } },
      { type: 'VmInstanceExpunged', data: { vmId, expungedAt: now, taskId: 't-exp' } },
    ]);
    vm.given(...deleting).when(fail('HOST_UNREACHABLE')(stateAfter(deleting))).then([
      { type: 'VmExpungeFailed', data: { vmId, error: { code: 'HOST_UNREACHABLE', message: 'HOST_UNREACHABLE' }, taskId: 't-exp' } },
    ]);
    expect(stateAfter(history(...destroyedSteps, { type: 'ExpungeVm', taskId: 't-exp', now }, fail('HOST_UNREACHABLE'))).state).toBe('Destroyed');
  });

  it('refuses to expunge a live VM, to touch an expunged one, and to expunge twice at once', () => {
    vm.given(...running()).when({ type: 'ExpungeVm', taskId: 't', now }).thenFails('VM_NOT_DESTROYED');
    const gone = history(...destroyedSteps, { type: 'ExpungeVm', taskId: 't', now }, ok(), ok());
    vm.given(...gone).when({ type: 'StartVm', taskId: 't' }).thenFails('VM_EXPUNGED');
    vm.given(...gone).when({ type: 'ExpungeVm', taskId: 't', now }).thenFails('VM_EXPUNGED');
    vm.given(...gone).when({ type: 'RecordStepSucceeded', seq: 7, now }).then([]);
    const expunging = history(...destroyedSteps, { type: 'ExpungeVm', taskId: 't', now });
    vm.given(...expunging).when({ type: 'ExpungeVm', taskId: 't2', now }).thenFails('VM_BUSY');
  });
});

describe('rename, describe, change offering, host sync', () => {
  it('renames and describes; an empty name is refused; nothing new records nothing', () => {
    vm.given(...running()).when({ type: 'UpdateVm', name: 'web-2', description: 'front' }).then([
      { type: 'VmInstanceUpdated', data: { vmId, name: 'web-2', description: 'front' } },
    ]);
    vm.given(...running()).when({ type: 'UpdateVm', name: 'web-1' }).then([]);
    vm.given(...running()).when({ type: 'UpdateVm', name: '' }).thenFails('INVALID_VM_NAME');
  });

  it('changes the offering of a stopped VM only', () => {
    vm.given(...stopped()).when({ type: 'ChangeOffering', instanceOfferingId: 'offering-2', cpuCount: 4, memoryBytes: 4 * GiB }).then([
      {
        type: 'VmOfferingChanged',
        data: { vmId, instanceOfferingId: 'offering-2', cpuCount: 4, memoryBytes: 4 * GiB, previous: { instanceOfferingId: 'offering-1', cpuCount: 2, memoryBytes: 2 * GiB } },
      },
    ]);
    vm.given(...running()).when({ type: 'ChangeOffering', instanceOfferingId: 'offering-2', cpuCount: 4, memoryBytes: 4 * GiB }).thenFails('VM_NOT_STOPPED');
  });

  it('records a power state the host reports, unless an operation is under way', () => {
    vm.given(...running()).when({ type: 'SyncPowerState', observed: 'Crashed' }).then([
      { type: 'VmPowerStateSynced', data: { vmId, from: 'Running', to: 'Crashed' } },
    ]);
    vm.given(...running()).when({ type: 'SyncPowerState', observed: 'Running' }).then([]);
    vm.given(...history(...stoppedSteps, { type: 'StartVm', taskId: 't' })).when({ type: 'SyncPowerState', observed: 'Stopped' }).then([]);
  });
});

describe('task outcomes', () => {
  it('names the task an event ends and how', () => {
    expect(taskOutcomeOf({ type: 'VmStarted', data: { vmId, hostId: 'h', taskId: 't' } })).toEqual({ taskId: 't', ok: true });
    expect(taskOutcomeOf({ type: 'VmStarted', data: { vmId, hostId: 'h', taskId: null } })).toBeUndefined();
    expect(taskOutcomeOf({ type: 'VmProvisioningRolledBack', data: { vmId, error: { code: 'E', message: 'm' }, state: 'Error', taskId: 't' } }))
      .toEqual({ taskId: 't', ok: false, error: { code: 'E', message: 'm' } });
    expect(taskOutcomeOf({ type: 'VmDefined', data: { vmId, hostId: 'h' } })).toBeUndefined();
  });
});
