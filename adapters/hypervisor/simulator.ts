// The simulator driver (DESIGN.md §6): hosts that exist only in this process, for tests,
// demos and benchmarks. Deterministic: no randomness and no clock, so the same operations
// give the same results. Each host keeps its VMs, volumes, snapshots and image cache, and
// refuses what its capacity (`simulatedCapacity`, or the defaults) cannot hold. Images are
// really read (file:// or http(s)://) and verified against their sha256.
//
// Every operation is idempotent, as the port requires: repeating one that is done gives the
// same result. The state survives a restart of the management node when a journal file is
// given (a real hypervisor keeps its VMs when Stratus restarts; the simulator must too, or
// an effect redelivered after a crash would find its VM gone).
//
// Faults (fail, hang, host down) are injected per host, by management IP, or for every host.
import {
  HypervisorError,
  type FaultInjector,
  type FaultRuleView,
  type HostAccess,
  type HostFaultsView,
  type HypervisorDriver,
  type HypervisorErrorCode,
  type HypervisorOperation,
  type OperationContext,
  type OperationName,
  type OperationOf,
  type OperationResults,
  operationNames,
  type ResultOf,
  type SimulatedCapacity,
  type SimulatorFault,
  type VmNicSpec,
  type VmPowerState,
  type VolumeFormat,
  type ImageFormat,
} from './port.js';
import { digestImage } from './image-source.js';
import { openSimulatorJournal, type SimulatorJournal } from './simulator-journal.js';

export const defaultSimulatedCapacity: Required<Pick<SimulatedCapacity, 'cpuCount' | 'memoryBytes'>> = {
  cpuCount: 64,
  memoryBytes: 256 * 1024 ** 3,
};

export interface SimulatorOptions {
  /** JSON-lines file that keeps host state across restarts; in memory only when absent. */
  journalFile?: string;
  /** Capacity of a host added without `simulatedCapacity`. */
  defaultCapacity?: SimulatedCapacity;
}

export interface ImageRecord { imageId: string; url: string; format: ImageFormat; path: string; sizeBytes: number; sha256: string }
export interface VolumeRecord {
  volumeId: string;
  path: string;
  sizeBytes: number;
  format: VolumeFormat;
  imageId?: string;
  attachedTo?: { vmId: string; device: string };
  snapshots: Record<string, { sizeBytes: number }>;
  /** The snapshot the volume was last reverted to. */
  revertedTo?: string;
}
export interface VmRecord {
  vmId: string;
  name: string;
  cpuCount: number;
  memoryBytes: number;
  state: VmPowerState;
  volumes: Array<{ volumeId: string; device: string }>;
  nics: VmNicSpec[];
  /** How many times the VNC password was set (never the password). */
  vncPasswordChanges: number;
  /** Starts, reboots … for tests that check an operation really happened once. */
  powerCycles: number;
  /** What the VM was defined with: the seed's keys and whether it set a root password (never the password). */
  guestAccess?: { sshKeys: string[]; rootPasswordSet: boolean };
  antiSpoofing?: boolean;
  /** Keys and password changes that went through the guest agent (never the password). */
  agentSshKeys?: string[];
  agentPasswordChanges?: number;
}

/** A host as the simulator sees it (copies: changing them changes nothing). */
export interface SimulatedHostView {
  hostId: string;
  capacity: { cpuCount: number; memoryBytes: number; storageBytes?: number };
  images: ImageRecord[];
  volumes: VolumeRecord[];
  vms: VmRecord[];
  /** Operations executed (not refused by a fault) on this host, by name. */
  executed: Partial<Record<OperationName, number>>;
}

export interface SimulatorDriver extends HypervisorDriver, FaultInjector {
  /** The synchronous face of `inject`, for tests. */
  fail(target: string, options?: { count?: number; op?: OperationName; code?: HypervisorErrorCode; message?: string }): void;
  hang(target: string, options?: { count?: number; op?: OperationName }): void;
  down(target: string): void;
  up(target: string): void;
  clear(target?: string): void;
  host(hostId: string): SimulatedHostView | undefined;
  /** Connects or disconnects a VM's guest agent (the synchronous face of the `guestAgent` fault). */
  guestAgent(vmId: string, connected: boolean): void;
  /** Total VMs over all hosts. */
  vmCount(): number;
}

interface HostState {
  hostId: string;
  capacity: { cpuCount: number; memoryBytes: number; storageBytes?: number };
  images: Map<string, ImageRecord>;
  volumes: Map<string, VolumeRecord>;
  vms: Map<string, VmRecord>;
  executed: Partial<Record<OperationName, number>>;
}

interface Rule {
  target: string;
  kind: 'fail' | 'hang';
  count: number;
  op?: OperationName;
  code?: HypervisorErrorCode;
  message?: string;
  /** Operations this rule has already caught, per host. */
  used: Map<string, number>;
}

const basePath = '/var/lib/stratus/simulator';

export function createSimulatorDriver(options: SimulatorOptions = {}): SimulatorDriver {
  const defaults = options.defaultCapacity ?? defaultSimulatedCapacity;
  const hosts = new Map<string, HostState>();
  let rules: Rule[] = [];
  const downTargets = new Set<string>();
  const hanging = new Map<string, number>();
  /** VMs whose guest agent answers; by VM id, so it can be set before the VM is defined. */
  const connectedAgents = new Set<string>();
  const journal: SimulatorJournal | undefined = options.journalFile ? openSimulatorJournal(options.journalFile) : undefined;

  if (journal) {
    for (const entry of journal.replay()) {
      const host = hostState(entry.hostId);
      const map = entry.kind === 'vm' ? host.vms : entry.kind === 'volume' ? host.volumes : host.images;
      if (entry.value === null) map.delete(entry.id);
      else (map as Map<string, unknown>).set(entry.id, entry.value);
    }
    journal.compact(function* () {
      for (const host of hosts.values()) {
        for (const image of host.images.values()) yield { hostId: host.hostId, kind: 'image' as const, id: image.imageId, value: image };
        for (const volume of host.volumes.values()) yield { hostId: host.hostId, kind: 'volume' as const, id: volume.volumeId, value: volume };
        for (const vm of host.vms.values()) yield { hostId: host.hostId, kind: 'vm' as const, id: vm.vmId, value: vm };
      }
    }());
  }

  function hostState(hostId: string): HostState {
    let host = hosts.get(hostId);
    if (!host) {
      host = { hostId, capacity: { ...defaults }, images: new Map(), volumes: new Map(), vms: new Map(), executed: {} };
      hosts.set(hostId, host);
    }
    return host;
  }

  const save = {
    vm(host: HostState, vm: VmRecord) { host.vms.set(vm.vmId, vm); journal?.write({ hostId: host.hostId, kind: 'vm', id: vm.vmId, value: vm }); },
    dropVm(host: HostState, vmId: string) { host.vms.delete(vmId); journal?.write({ hostId: host.hostId, kind: 'vm', id: vmId, value: null }); },
    volume(host: HostState, volume: VolumeRecord) { host.volumes.set(volume.volumeId, volume); journal?.write({ hostId: host.hostId, kind: 'volume', id: volume.volumeId, value: volume }); },
    dropVolume(host: HostState, volumeId: string) { host.volumes.delete(volumeId); journal?.write({ hostId: host.hostId, kind: 'volume', id: volumeId, value: null }); },
    image(host: HostState, image: ImageRecord) { host.images.set(image.imageId, image); journal?.write({ hostId: host.hostId, kind: 'image', id: image.imageId, value: image }); },
  };

  // --- faults ---------------------------------------------------------------------------

  const targetsOf = (access: Pick<HostAccess, 'hostId' | 'managementIp'>) => [access.hostId, access.managementIp, '*'];

  function isDown(access: Pick<HostAccess, 'hostId' | 'managementIp'>) {
    return targetsOf(access).some((target) => downTargets.has(target));
  }

  function takeRule(access: HostAccess, op: OperationName): Rule | undefined {
    const targets = targetsOf(access);
    const rule = rules.find((candidate) =>
      targets.includes(candidate.target)
      && (candidate.op === undefined || candidate.op === op)
      && (candidate.used.get(access.hostId) ?? 0) < candidate.count);
    if (rule) rule.used.set(access.hostId, (rule.used.get(access.hostId) ?? 0) + 1);
    return rule;
  }

  function addRule(target: string, kind: 'fail' | 'hang', spec: { count?: number; op?: OperationName; code?: HypervisorErrorCode; message?: string }) {
    const count = spec.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new Error('a fault count must be a positive integer');
    const rule: Rule = { target, kind, count, used: new Map() };
    if (spec.op) rule.op = spec.op;
    if (kind === 'fail') {
      rule.code = spec.code ?? 'INJECTED_FAULT';
      if (spec.message) rule.message = spec.message;
    }
    rules.push(rule);
  }

  function clear(target?: string) {
    if (target === undefined || target === '*') {
      rules = [];
      downTargets.clear();
      return;
    }
    rules = rules.filter((rule) => rule.target !== target);
    downTargets.delete(target);
  }

  function applyFault(target: string, fault: SimulatorFault) {
    switch (fault.kind) {
      case 'fail': addRule(target, 'fail', fault); return;
      case 'hang': addRule(target, 'hang', fault); return;
      case 'down': downTargets.add(target); return;
      case 'up':
        if (target === '*') downTargets.clear();
        else downTargets.delete(target);
        return;
      case 'clear': clear(target); return;
      case 'guestAgent':
        if (fault.connected) connectedAgents.add(fault.vmId);
        else connectedAgents.delete(fault.vmId);
        return;
    }
  }

  function faultsOf(hostId: string, managementIp?: string): HostFaultsView {
    const access = { hostId, managementIp: managementIp ?? hostId };
    const targets = targetsOf(access);
    const views: FaultRuleView[] = [];
    for (const rule of rules) {
      if (!targets.includes(rule.target)) continue;
      const remaining = rule.count - (rule.used.get(hostId) ?? 0);
      if (remaining <= 0) continue;
      const view: FaultRuleView = { kind: rule.kind, remaining };
      if (rule.op) view.op = rule.op;
      if (rule.code) view.code = rule.code;
      views.push(view);
    }
    return { down: isDown(access), rules: views, hanging: hanging.get(hostId) ?? 0 };
  }

  function hangUntilAborted(hostId: string, operation: HypervisorOperation, signal: AbortSignal | undefined): Promise<never> {
    hanging.set(hostId, (hanging.get(hostId) ?? 0) + 1);
    return new Promise<never>((_resolve, reject) => {
      const giveUp = () => {
        hanging.set(hostId, (hanging.get(hostId) ?? 1) - 1);
        reject(new HypervisorError('OPERATION_TIMEOUT', `${operation.op} on host ${hostId} hung (injected) and was given up`));
      };
      if (signal?.aborted) giveUp();
      else signal?.addEventListener('abort', giveUp, { once: true });
    });
  }

  // --- operations -----------------------------------------------------------------------

  function vmOf(host: HostState, vmId: string): VmRecord {
    const vm = host.vms.get(vmId);
    if (!vm) throw new HypervisorError('VM_NOT_FOUND', `no VM ${vmId} on host ${host.hostId}`);
    return vm;
  }

  function volumeOf(host: HostState, volumeId: string): VolumeRecord {
    const volume = host.volumes.get(volumeId);
    if (!volume) throw new HypervisorError('VOLUME_NOT_FOUND', `no volume ${volumeId} on host ${host.hostId}`);
    return volume;
  }

  function powered(host: HostState, vm: VmRecord, state: VmPowerState, cycled = false) {
    save.vm(host, { ...vm, state, powerCycles: vm.powerCycles + (cycled ? 1 : 0) });
    return { vmId: vm.vmId, state };
  }

  function ensureRoomToRun(host: HostState, vm: VmRecord) {
    let cpu = 0;
    let memory = 0;
    for (const other of host.vms.values()) {
      if (other.vmId === vm.vmId || other.state === 'Stopped') continue;
      cpu += other.cpuCount;
      memory += other.memoryBytes;
    }
    if (cpu + vm.cpuCount > host.capacity.cpuCount || memory + vm.memoryBytes > host.capacity.memoryBytes) {
      throw new HypervisorError('INSUFFICIENT_CAPACITY',
        `host ${host.hostId} cannot run VM ${vm.vmId} (${vm.cpuCount} vCPU, ${vm.memoryBytes} bytes): `
        + `${host.capacity.cpuCount - cpu} vCPU and ${host.capacity.memoryBytes - memory} bytes free`);
    }
  }

  function storageUsed(host: HostState): number {
    let used = 0;
    for (const volume of host.volumes.values()) used += volume.sizeBytes;
    for (const image of host.images.values()) used += image.sizeBytes;
    return used;
  }

  type Handlers = { [N in OperationName]: (host: HostState, operation: OperationOf<N>, context: OperationContext) => Promise<OperationResults[N]> | OperationResults[N] };

  const handlers: Handlers = {
    'host.probe'(host) {
      let memory = 0;
      for (const vm of host.vms.values()) if (vm.state !== 'Stopped') memory += vm.memoryBytes;
      const result: OperationResults['host.probe'] = {
        cpuCount: host.capacity.cpuCount,
        memoryBytes: host.capacity.memoryBytes,
        freeMemoryBytes: host.capacity.memoryBytes - memory,
        hypervisor: 'simulator',
        version: '1',
        vms: [...host.vms.values()].map((vm) => ({ vmId: vm.vmId, state: vm.state })).sort((a, b) => a.vmId.localeCompare(b.vmId)),
      };
      if (host.capacity.storageBytes !== undefined) {
        result.storageBytes = host.capacity.storageBytes;
        result.freeStorageBytes = host.capacity.storageBytes - storageUsed(host);
      }
      return result;
    },

    async 'image.prepare'(host, operation, context) {
      const expected = operation.sha256.toLowerCase();
      const cached = host.images.get(operation.imageId);
      if (cached && cached.sha256 === expected && cached.url === operation.url) return imageResult(cached);
      const digest = await digestImage(operation.url, context.signal ? { signal: context.signal } : {});
      if (digest.sha256 !== expected) {
        throw new HypervisorError('IMAGE_CHECKSUM_MISMATCH',
          `image ${operation.imageId} from ${operation.url} has sha256 ${digest.sha256}, expected ${expected}; the copy was discarded`);
      }
      const record: ImageRecord = {
        imageId: operation.imageId,
        url: operation.url,
        format: operation.format,
        path: `${basePath}/${host.hostId}/images/${operation.imageId}.${operation.format}`,
        sizeBytes: digest.sizeBytes,
        sha256: digest.sha256,
      };
      save.image(host, record);
      return imageResult(record);
    },

    'volume.create'(host, operation) {
      const existing = host.volumes.get(operation.volumeId);
      if (existing) return volumeResult(existing);
      if (!Number.isSafeInteger(operation.sizeBytes) || operation.sizeBytes <= 0) {
        throw new HypervisorError('INVALID_OPERATION', `volume size must be a positive number of bytes, not ${operation.sizeBytes}`);
      }
      if (operation.imageId !== undefined && !host.images.has(operation.imageId)) {
        throw new HypervisorError('IMAGE_NOT_PREPARED', `image ${operation.imageId} is not in host ${host.hostId}'s cache: prepare it first`);
      }
      if (host.capacity.storageBytes !== undefined && storageUsed(host) + operation.sizeBytes > host.capacity.storageBytes) {
        throw new HypervisorError('INSUFFICIENT_CAPACITY', `host ${host.hostId} has no room for a volume of ${operation.sizeBytes} bytes`);
      }
      const record: VolumeRecord = {
        volumeId: operation.volumeId,
        path: `${basePath}/${host.hostId}/volumes/${operation.volumeId}.${operation.format}`,
        sizeBytes: operation.sizeBytes,
        format: operation.format,
        snapshots: {},
      };
      if (operation.imageId !== undefined) record.imageId = operation.imageId;
      save.volume(host, record);
      return volumeResult(record);
    },

    'volume.delete'(host, operation) {
      const volume = host.volumes.get(operation.volumeId);
      if (volume?.attachedTo) {
        throw new HypervisorError('VOLUME_IN_USE', `volume ${operation.volumeId} is attached to VM ${volume.attachedTo.vmId}`);
      }
      if (volume) save.dropVolume(host, operation.volumeId);
      return { volumeId: operation.volumeId };
    },

    'vm.define'(host, operation) {
      const existing = host.vms.get(operation.vmId);
      if (existing) return { vmId: existing.vmId, state: existing.state };
      if (operation.cpuCount > host.capacity.cpuCount || operation.memoryBytes > host.capacity.memoryBytes) {
        throw new HypervisorError('INSUFFICIENT_CAPACITY', `VM ${operation.vmId} is larger than host ${host.hostId}`);
      }
      const devices = new Set<string>();
      for (const spec of operation.volumes) {
        const volume = volumeOf(host, spec.volumeId);
        if (volume.attachedTo && volume.attachedTo.vmId !== operation.vmId) {
          throw new HypervisorError('VOLUME_IN_USE', `volume ${spec.volumeId} is attached to VM ${volume.attachedTo.vmId}`);
        }
        if (devices.has(spec.device)) throw new HypervisorError('DEVICE_IN_USE', `device ${spec.device} is given twice`);
        devices.add(spec.device);
      }
      for (const spec of operation.volumes) {
        save.volume(host, { ...volumeOf(host, spec.volumeId), attachedTo: { vmId: operation.vmId, device: spec.device } });
      }
      save.vm(host, {
        vmId: operation.vmId,
        name: operation.name,
        cpuCount: operation.cpuCount,
        memoryBytes: operation.memoryBytes,
        state: 'Stopped',
        volumes: operation.volumes.map(({ volumeId, device }) => ({ volumeId, device })),
        nics: operation.nics.map((nic) => ({ ...nic })),
        vncPasswordChanges: operation.sealedVncPassword ? 1 : 0,
        powerCycles: 0,
        ...(operation.guestAccess ? {
          guestAccess: { sshKeys: [...operation.guestAccess.sshKeys], rootPasswordSet: operation.guestAccess.sealedRootPassword !== undefined },
        } : {}),
        ...(operation.antiSpoofing !== undefined ? { antiSpoofing: operation.antiSpoofing } : {}),
      });
      return { vmId: operation.vmId, state: 'Stopped' };
    },

    'vm.start'(host, operation) {
      const vm = vmOf(host, operation.vmId);
      if (vm.state === 'Running') return { vmId: vm.vmId, state: vm.state };
      if (vm.state === 'Paused') throw new HypervisorError('VM_NOT_STOPPED', `VM ${vm.vmId} is paused: resume it`);
      ensureRoomToRun(host, vm);
      return powered(host, vm, 'Running', true);
    },

    'vm.stop'(host, operation) {
      const vm = vmOf(host, operation.vmId);
      if (vm.state === 'Stopped') return { vmId: vm.vmId, state: vm.state };
      return powered(host, vm, 'Stopped');
    },

    'vm.reboot'(host, operation) {
      const vm = vmOf(host, operation.vmId);
      if (vm.state !== 'Running') throw new HypervisorError('VM_NOT_RUNNING', `VM ${vm.vmId} is ${vm.state}`);
      return powered(host, vm, 'Running', true);
    },

    'vm.pause'(host, operation) {
      const vm = vmOf(host, operation.vmId);
      if (vm.state === 'Paused') return { vmId: vm.vmId, state: vm.state };
      if (vm.state !== 'Running') throw new HypervisorError('VM_NOT_RUNNING', `VM ${vm.vmId} is ${vm.state}`);
      return powered(host, vm, 'Paused');
    },

    'vm.resume'(host, operation) {
      const vm = vmOf(host, operation.vmId);
      if (vm.state === 'Running') return { vmId: vm.vmId, state: vm.state };
      if (vm.state !== 'Paused') throw new HypervisorError('VM_NOT_PAUSED', `VM ${vm.vmId} is ${vm.state}`);
      return powered(host, vm, 'Running');
    },

    'vm.destroy'(host, operation) {
      const vm = host.vms.get(operation.vmId);
      if (vm) {
        for (const { volumeId } of vm.volumes) {
          const volume = host.volumes.get(volumeId);
          if (volume?.attachedTo?.vmId === vm.vmId) {
            const { attachedTo: _detached, ...rest } = volume;
            save.volume(host, rest);
          }
        }
        save.dropVm(host, vm.vmId);
      }
      return { vmId: operation.vmId };
    },

    'vm.state'(host, operation) {
      const vm = vmOf(host, operation.vmId);
      return { vmId: vm.vmId, state: vm.state };
    },

    'volume.attach'(host, operation) {
      const vm = vmOf(host, operation.vmId);
      const volume = volumeOf(host, operation.volumeId);
      if (volume.attachedTo) {
        if (volume.attachedTo.vmId === vm.vmId && volume.attachedTo.device === operation.device) {
          return { vmId: vm.vmId, volumeId: volume.volumeId, device: operation.device };
        }
        throw new HypervisorError('VOLUME_IN_USE', `volume ${volume.volumeId} is attached to VM ${volume.attachedTo.vmId} as ${volume.attachedTo.device}`);
      }
      if (vm.volumes.some((entry) => entry.device === operation.device)) {
        throw new HypervisorError('DEVICE_IN_USE', `VM ${vm.vmId} already has a volume on ${operation.device}`);
      }
      save.volume(host, { ...volume, attachedTo: { vmId: vm.vmId, device: operation.device } });
      save.vm(host, { ...vm, volumes: [...vm.volumes, { volumeId: volume.volumeId, device: operation.device }] });
      return { vmId: vm.vmId, volumeId: volume.volumeId, device: operation.device };
    },

    'volume.detach'(host, operation) {
      const volume = host.volumes.get(operation.volumeId);
      if (volume?.attachedTo && volume.attachedTo.vmId !== operation.vmId) {
        throw new HypervisorError('VOLUME_NOT_ATTACHED', `volume ${operation.volumeId} is attached to VM ${volume.attachedTo.vmId}, not ${operation.vmId}`);
      }
      if (volume?.attachedTo) {
        const { attachedTo: _detached, ...rest } = volume;
        save.volume(host, rest);
      }
      const vm = host.vms.get(operation.vmId);
      if (vm?.volumes.some((entry) => entry.volumeId === operation.volumeId)) {
        save.vm(host, { ...vm, volumes: vm.volumes.filter((entry) => entry.volumeId !== operation.volumeId) });
      }
      return { vmId: operation.vmId, volumeId: operation.volumeId };
    },

    'snapshot.create'(host, operation) {
      const volume = volumeOf(host, operation.volumeId);
      const existing = volume.snapshots[operation.snapshotId];
      if (existing) return { volumeId: volume.volumeId, snapshotId: operation.snapshotId, sizeBytes: existing.sizeBytes };
      const sizeBytes = volume.sizeBytes;
      save.volume(host, { ...volume, snapshots: { ...volume.snapshots, [operation.snapshotId]: { sizeBytes } } });
      return { volumeId: volume.volumeId, snapshotId: operation.snapshotId, sizeBytes };
    },

    'snapshot.revert'(host, operation) {
      const volume = volumeOf(host, operation.volumeId);
      if (!volume.snapshots[operation.snapshotId]) {
        throw new HypervisorError('SNAPSHOT_NOT_FOUND', `volume ${volume.volumeId} has no snapshot ${operation.snapshotId}`);
      }
      const vm = volume.attachedTo ? host.vms.get(volume.attachedTo.vmId) : undefined;
      if (vm && vm.state !== 'Stopped') {
        throw new HypervisorError('VM_NOT_STOPPED', `volume ${volume.volumeId} belongs to VM ${vm.vmId}, which is ${vm.state}`);
      }
      save.volume(host, { ...volume, revertedTo: operation.snapshotId });
      return { volumeId: volume.volumeId, snapshotId: operation.snapshotId };
    },

    'snapshot.delete'(host, operation) {
      const volume = host.volumes.get(operation.volumeId);
      if (volume?.snapshots[operation.snapshotId]) {
        const { [operation.snapshotId]: _deleted, ...snapshots } = volume.snapshots;
        save.volume(host, { ...volume, snapshots });
      }
      return { volumeId: operation.volumeId, snapshotId: operation.snapshotId };
    },

    'vnc.setPassword'(host, operation, context) {
      const vm = vmOf(host, operation.vmId);
      let password: string;
      try {
        password = context.openSecret(operation.sealedPassword);
      } catch {
        throw new HypervisorError('INVALID_OPERATION', 'the VNC password could not be opened with the key ring');
      }
      if (password.length === 0) throw new HypervisorError('INVALID_OPERATION', 'the VNC password is empty');
      save.vm(host, { ...vm, vncPasswordChanges: vm.vncPasswordChanges + 1 });
      return { vmId: vm.vmId };
    },

    'vm.guestAccess'(host, operation, context) {
      const vm = vmOf(host, operation.vmId);
      if (vm.state !== 'Running') throw new HypervisorError('VM_NOT_RUNNING', `VM ${vm.vmId} is ${vm.state}: its guest agent runs only while it runs`);
      if (!connectedAgents.has(vm.vmId)) throw new HypervisorError('GUEST_AGENT_UNAVAILABLE', `the QEMU guest agent of VM ${vm.vmId} is not connected`);
      if (operation.sealedPassword !== undefined) {
        let password: string;
        try {
          password = context.openSecret(operation.sealedPassword);
        } catch {
          throw new HypervisorError('INVALID_OPERATION', 'the password could not be opened with the key ring');
        }
        if (password.length === 0) throw new HypervisorError('INVALID_OPERATION', 'the password is empty');
      }
      const keys = operation.sshKeys ?? [];
      const known = new Set(vm.agentSshKeys ?? []);
      save.vm(host, {
        ...vm,
        agentSshKeys: [...known, ...keys.filter((key) => !known.has(key))],
        agentPasswordChanges: (vm.agentPasswordChanges ?? 0) + (operation.sealedPassword !== undefined ? 1 : 0),
      });
      return { vmId: vm.vmId, keysAdded: keys.length, passwordSet: operation.sealedPassword !== undefined };
    },
  };

  const driver: SimulatorDriver = {
    name: 'simulator',

    async execute<O extends HypervisorOperation>(access: HostAccess, operation: O, context: OperationContext): Promise<ResultOf<O>> {
      const handler = handlers[operation.op] as unknown as ((host: HostState, operation: O, context: OperationContext) => Promise<ResultOf<O>> | ResultOf<O>) | undefined;
      if (!handler) throw new HypervisorError('UNSUPPORTED_OPERATION', `the simulator does not know ${String(operation.op)}`);
      if (isDown(access)) throw new HypervisorError('HOST_UNREACHABLE', `host ${access.hostId} (${access.managementIp}) is down`);
      const rule = takeRule(access, operation.op);
      if (rule?.kind === 'fail') {
        throw new HypervisorError(rule.code ?? 'INJECTED_FAULT', rule.message ?? `${operation.op} on host ${access.hostId} failed (injected fault)`);
      }
      if (rule?.kind === 'hang') return hangUntilAborted(access.hostId, operation, context.signal);
      const host = hostState(access.hostId);
      if (access.simulatedCapacity) host.capacity = { ...access.simulatedCapacity };
      const result = await handler(host, operation, context);
      host.executed[operation.op] = (host.executed[operation.op] ?? 0) + 1;
      return result;
    },

    async inject(target, fault) { applyFault(target, fault); },
    async faults(hostId, managementIp) { return faultsOf(hostId, managementIp); },
    fail(target, spec = {}) { addRule(target, 'fail', spec); },
    hang(target, spec = {}) { addRule(target, 'hang', spec); },
    down(target) { downTargets.add(target); },
    up(target) { applyFault(target, { kind: 'up' }); },
    guestAgent(vmId, connected) { applyFault('*', { kind: 'guestAgent', vmId, connected }); },
    clear,

    host(hostId) {
      const host = hosts.get(hostId);
      if (!host) return undefined;
      return structuredClone({
        hostId,
        capacity: host.capacity,
        images: [...host.images.values()],
        volumes: [...host.volumes.values()],
        vms: [...host.vms.values()],
        executed: host.executed,
      });
    },

    vmCount() {
      let count = 0;
      for (const host of hosts.values()) count += host.vms.size;
      return count;
    },

    async close() {
      journal?.close();
    },
  };
  return driver;
}

function imageResult(image: ImageRecord): OperationResults['image.prepare'] {
  return { imageId: image.imageId, path: image.path, sizeBytes: image.sizeBytes, sha256: image.sha256 };
}

function volumeResult(volume: VolumeRecord): OperationResults['volume.create'] {
  return { volumeId: volume.volumeId, path: volume.path, sizeBytes: volume.sizeBytes, format: volume.format };
}

// --- configuration ------------------------------------------------------------------------

export interface ConfiguredFault { target: string; fault: SimulatorFault }

/**
 * Parses STRATUS_SIMULATOR_FAULTS: a JSON array of faults, each with the host it targets
 * (`host`: a host id, a management IP, or `*`), e.g.
 * `[{"host":"10.0.0.5","kind":"fail","count":2,"op":"vm.start"},{"host":"*","kind":"hang","op":"image.prepare"}]`.
 */
export function parseSimulatorFaults(text: string | undefined): ConfiguredFault[] {
  if (text === undefined || text.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`STRATUS_SIMULATOR_FAULTS is not valid JSON: ${(error as Error).message}`);
  }
  const items = Array.isArray(parsed) ? parsed : [parsed];
  return items.map((item, index) => {
    const where = `STRATUS_SIMULATOR_FAULTS[${index}]`;
    if (typeof item !== 'object' || item === null) throw new Error(`${where} must be an object`);
    const { host, ...rest } = item as Record<string, unknown>;
    if (typeof host !== 'string' || host === '') throw new Error(`${where}.host must name a host id, a management IP or *`);
    const problem = simulatorFaultProblem(rest);
    if (problem) throw new Error(`${where}: ${problem}`);
    return { target: host, fault: rest as SimulatorFault };
  });
}

/** Why `value` is not a SimulatorFault, or undefined when it is one. */
export function simulatorFaultProblem(value: Record<string, unknown>): string | undefined {
  const kinds = ['fail', 'hang', 'down', 'up', 'clear', 'guestAgent'];
  if (typeof value.kind !== 'string' || !kinds.includes(value.kind)) return `kind must be one of ${kinds.join(', ')}`;
  if (value.kind === 'guestAgent') {
    if (typeof value.vmId !== 'string' || value.vmId === '') return 'a guestAgent fault names the VM (vmId)';
    if (typeof value.connected !== 'boolean') return 'a guestAgent fault says whether the agent is connected (connected: true|false)';
  }
  if (value.count !== undefined && (!Number.isInteger(value.count) || (value.count as number) < 1)) return 'count must be a positive integer';
  if (value.op !== undefined && !(operationNames as readonly string[]).includes(value.op as string)) return `op must be one of ${operationNames.join(', ')}`;
  return undefined;
}
