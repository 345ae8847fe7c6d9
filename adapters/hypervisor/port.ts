// The hypervisor port (DESIGN.md §6): a driver executes one operation against one host.
//
// Operations and results are plain JSON: they travel over the bus (in-process today,
// Kafka in the scale-out shape) from the effect dispatcher to the agent beside the host.
// Delivery is at least once, so EVERY operation is idempotent: running an operation that
// has already been done succeeds again with the same result (define an existing VM, start
// a running one, delete a missing volume, destroy a VM that is gone …).
//
// Secrets never travel in clear: the host password and any password inside an operation
// are sealed with the key ring and opened only inside the agent (`OperationContext.openSecret`).

export type HypervisorType = 'KVM' | 'Simulator';

/** Capacity a Simulator host pretends to have (KVM hosts report theirs through host.probe). */
export interface SimulatedCapacity {
  cpuCount: number;
  memoryBytes: number;
  /** Local storage for volumes and cached images; unlimited when absent. */
  storageBytes?: number;
}

/** How the agent reaches a host. Built by the agent from the host stream; never stored or logged. */
export interface HostAccess {
  hostId: string;
  hypervisorType: HypervisorType;
  managementIp: string;
  username: string;
  /** Decrypted only inside the agent, just before the driver runs. */
  password?: string;
  /** libvirt connection URI; default `qemu+ssh://<username>@<managementIp>/system`. */
  libvirtUri?: string;
  simulatedCapacity?: SimulatedCapacity;
}

export type ImageFormat = 'qcow2' | 'raw' | 'iso';
export type VolumeFormat = 'qcow2' | 'raw';
export type StopType = 'grace' | 'cold';

/** Power state of a VM on its host, as the hypervisor sees it. */
export type VmPowerState = 'Running' | 'Stopped' | 'Paused';

export interface VmVolumeSpec {
  volumeId: string;
  /** Guest device name, e.g. `vda`, `vdb`. */
  device: string;
  /** Where the volume lives on the host, when the caller knows it (from volume.create). */
  path?: string;
}

export interface VmNicSpec {
  nicId: string;
  mac: string;
  ip: string;
  l3NetworkId: string;
  /** Given with a cloud-init seed, whose network-config sets the address statically. */
  netmask?: string;
  gateway?: string;
}

/**
 * Access into the guest given at create time (cloud-init NoCloud seed): OpenSSH public keys
 * for root and the image's default user, and a root password sealed with the key ring.
 */
export interface GuestAccessSpec {
  sshKeys: string[];
  sealedRootPassword?: string;
}

/** Every operation a driver understands, discriminated by `op`. */
export type HypervisorOperation =
  | { op: 'host.probe' }
  /** Fetch an image (file:// or http(s)://) into the host's cache and verify its sha256. */
  | { op: 'image.prepare'; imageId: string; url: string; format: ImageFormat; sha256: string }
  /** A blank volume, or (with imageId, which must have been prepared) one backed by the image. */
  | { op: 'volume.create'; volumeId: string; sizeBytes: number; format: VolumeFormat; imageId?: string }
  | { op: 'volume.delete'; volumeId: string }
  | {
      op: 'vm.define';
      vmId: string;
      name: string;
      cpuCount: number;
      memoryBytes: number;
      volumes: VmVolumeSpec[];
      nics: VmNicSpec[];
      /** VNC password sealed with the key ring; a driver may generate one when absent. */
      sealedVncPassword?: string;
      /** A cloud-init seed with these keys and password is attached (and removed with the VM). */
      guestAccess?: GuestAccessSpec;
      /** IP/MAC/ARP spoofing protection on every NIC; the driver's default when absent. */
      antiSpoofing?: boolean;
    }
  | { op: 'vm.start'; vmId: string }
  | { op: 'vm.stop'; vmId: string; type: StopType }
  | { op: 'vm.reboot'; vmId: string }
  | { op: 'vm.pause'; vmId: string }
  | { op: 'vm.resume'; vmId: string }
  /** Power off and undefine. Volumes are left alone (volume.delete removes them). */
  | { op: 'vm.destroy'; vmId: string }
  | { op: 'vm.state'; vmId: string }
  | { op: 'volume.attach'; vmId: string; volumeId: string; device: string; path?: string }
  | { op: 'volume.detach'; vmId: string; volumeId: string }
  | { op: 'snapshot.create'; volumeId: string; snapshotId: string }
  | { op: 'snapshot.revert'; volumeId: string; snapshotId: string }
  | { op: 'snapshot.delete'; volumeId: string; snapshotId: string }
  /** Rotate the VNC password of a defined VM without restarting it. */
  | { op: 'vnc.setPassword'; vmId: string; sealedPassword: string }
  /**
   * Through the QEMU guest agent of a running VM: add SSH keys to a guest user's
   * authorized_keys and/or set its password (sealed). GUEST_AGENT_UNAVAILABLE when the
   * agent is not connected.
   */
  | { op: 'vm.guestAccess'; vmId: string; username: string; sshKeys?: string[]; sealedPassword?: string };

export type OperationName = HypervisorOperation['op'];

/** Every operation name (validation of requests that name one, e.g. fault injection). */
export const operationNames = [
  'host.probe', 'image.prepare', 'volume.create', 'volume.delete', 'vm.define', 'vm.start', 'vm.stop', 'vm.reboot',
  'vm.pause', 'vm.resume', 'vm.destroy', 'vm.state', 'volume.attach', 'volume.detach', 'snapshot.create',
  'snapshot.revert', 'snapshot.delete', 'vnc.setPassword', 'vm.guestAccess',
] as const satisfies readonly OperationName[];
export type OperationOf<N extends OperationName> = Extract<HypervisorOperation, { op: N }>;

export interface VmSummary {
  vmId: string;
  state: VmPowerState;
}

/** The result of each operation, by name. */
export interface OperationResults {
  'host.probe': {
    cpuCount: number;
    memoryBytes: number;
    /** Memory not used by VMs (for a simulator: capacity minus defined VMs). */
    freeMemoryBytes: number;
    storageBytes?: number;
    freeStorageBytes?: number;
    hypervisor: string;
    version: string;
    /** VMs the host knows about, for state sync. */
    vms: VmSummary[];
  };
  'image.prepare': { imageId: string; path: string; sizeBytes: number; sha256: string };
  'volume.create': { volumeId: string; path: string; sizeBytes: number; format: VolumeFormat };
  'volume.delete': { volumeId: string };
  'vm.define': VmSummary;
  'vm.start': VmSummary;
  'vm.stop': VmSummary;
  'vm.reboot': VmSummary;
  'vm.pause': VmSummary;
  'vm.resume': VmSummary;
  'vm.destroy': { vmId: string };
  'vm.state': VmSummary;
  'volume.attach': { vmId: string; volumeId: string; device: string };
  'volume.detach': { vmId: string; volumeId: string };
  'snapshot.create': { volumeId: string; snapshotId: string; sizeBytes: number };
  'snapshot.revert': { volumeId: string; snapshotId: string };
  'snapshot.delete': { volumeId: string; snapshotId: string };
  'vnc.setPassword': { vmId: string };
  'vm.guestAccess': { vmId: string; keysAdded: number; passwordSet: boolean };
}

export type ResultOf<O extends HypervisorOperation> = OperationResults[O['op']];
export type AnyOperationResult = OperationResults[OperationName];

/** Stable error codes a driver reports. Routes map them to domain outcomes. */
export const hypervisorErrorCodes = [
  'HOST_UNREACHABLE',
  'HOST_NOT_FOUND',
  'AUTHENTICATION_FAILED',
  'IMAGE_NOT_FOUND',
  'IMAGE_FETCH_FAILED',
  'IMAGE_CHECKSUM_MISMATCH',
  'IMAGE_NOT_PREPARED',
  'VOLUME_NOT_FOUND',
  'VOLUME_IN_USE',
  'VOLUME_NOT_ATTACHED',
  'DEVICE_IN_USE',
  'SNAPSHOT_NOT_FOUND',
  'VM_NOT_FOUND',
  'VM_NOT_STOPPED',
  'VM_NOT_RUNNING',
  'VM_NOT_PAUSED',
  'INSUFFICIENT_CAPACITY',
  'INVALID_OPERATION',
  'UNSUPPORTED_OPERATION',
  'GUEST_AGENT_UNAVAILABLE',
  'OPERATION_TIMEOUT',
  'INJECTED_FAULT',
  'DRIVER_UNAVAILABLE',
  'DRIVER_ERROR',
] as const;

export type HypervisorErrorCode = (typeof hypervisorErrorCodes)[number];

/** What travels on the wire when an operation fails. */
export interface HypervisorErrorInfo {
  code: HypervisorErrorCode;
  message: string;
}

/** Thrown by drivers; the agent turns it into a failed outcome. Never carries a secret. */
export class HypervisorError extends Error {
  constructor(readonly code: HypervisorErrorCode, message: string) {
    super(message);
    this.name = 'HypervisorError';
  }

  toInfo(): HypervisorErrorInfo {
    return { code: this.code, message: this.message };
  }
}

/** The outcome of an operation as it travels back to the dispatcher. */
export type OperationOutcome<R = AnyOperationResult> =
  | { ok: true; result: R }
  | { ok: false; error: HypervisorErrorInfo };

export interface OperationContext {
  /** Correlates log lines and de-duplicates deliveries; derived from the causing event. */
  operationId: string;
  /** Opens a value sealed with the key ring (passwords inside operations). */
  openSecret(sealed: string): string;
  /** Aborted when the operation is given up (its timeout passed); a driver should stop waiting. */
  signal?: AbortSignal;
}

export interface HypervisorDriver {
  /** `simulator`, `libvirt` … */
  readonly name: string;
  /**
   * Runs one operation against one host. Resolves with the operation's result; rejects with
   * a HypervisorError (any other rejection is reported as DRIVER_ERROR).
   */
  execute<O extends HypervisorOperation>(host: HostAccess, operation: O, context: OperationContext): Promise<ResultOf<O>>;
  close?(): Promise<void>;
}

// --- Fault injection (simulator hosts) -------------------------------------------------
// Tests, configuration (STRATUS_SIMULATOR_FAULTS) and the API (POST /v1/simulator/hosts/
// <hostId>/faults) inject faults through this interface; in the embedded shape the simulator
// driver implements it directly.

export type SimulatorFault =
  /** The next `count` operations (of kind `op`, if given) fail with `code` (default INJECTED_FAULT). */
  | { kind: 'fail'; count?: number; op?: OperationName; code?: HypervisorErrorCode; message?: string }
  /** The next `count` operations (of kind `op`, if given) never answer: the operation timeout fires. */
  | { kind: 'hang'; count?: number; op?: OperationName }
  /** Every operation fails HOST_UNREACHABLE until `up`. */
  | { kind: 'down' }
  | { kind: 'up' }
  /** Removes every fail/hang rule and brings the host up. */
  | { kind: 'clear' }
  /** Connects or disconnects the QEMU guest agent of one VM (not connected by default: a blank image runs none). */
  | { kind: 'guestAgent'; vmId: string; connected: boolean };

export interface FaultRuleView {
  kind: 'fail' | 'hang';
  remaining: number;
  op?: OperationName;
  code?: HypervisorErrorCode;
}

export interface HostFaultsView {
  down: boolean;
  rules: FaultRuleView[];
  /** Operations hanging right now. */
  hanging: number;
}

export interface FaultInjector {
  /** `target` is a host id, a management IP, or `*` for every host. */
  inject(target: string, fault: SimulatorFault): Promise<void>;
  faults(hostId: string, managementIp?: string): Promise<HostFaultsView>;
}
