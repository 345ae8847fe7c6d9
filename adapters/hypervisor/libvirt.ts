// The libvirt driver (DESIGN.md §6): the hypervisor port on KVM hosts, through virsh (and
// qemu-img for volume snapshots) against each host's connection URI.
//
// The host keeps the state, the driver keeps none: VMs are domains named `stratus-<vmId>`,
// images and volumes live in two directory pools the driver creates on first use
// (`stratus-images`, `stratus-volumes`), named so their names say what they are
// (`<imageId>.<sha256>.<bytes>.<format>`, `<volumeId>.<format>`). That is what makes every
// operation idempotent across agent restarts: the driver looks before it acts.
//
// Images are fetched on the agent's machine, hashed as they stream, and only a verified
// copy enters the host's image pool; a mismatch deletes the copy. Operations of different
// VMs run at once (the agent keys them by VM), so the image cache is guarded twice: within
// this process one fetch per image and host at a time (the others wait for its result), and
// across processes (standby agents) a copy becomes visible only once whole — on a local URI
// it is written beside the pool and renamed into it (atomic on one filesystem); on a remote
// URI it is uploaded (vol-upload) under a name of its own and then marked complete by a
// second, empty volume (libvirt cannot rename), and only marked copies are used. Root
// volumes are qcow2 overlays on the cached image.
// Snapshots are qcow2 internal snapshots: qemu-img while the VM is off, QMP while it runs.
// qemu-img needs the volume files, so it runs where they are: on this machine for a local
// URI, on the host over the management SSH connection (ssh-access.ts: the same key, settings
// and multiplexed connection as virsh's) for a host reached over the default qemu+ssh URI.
// Any other remote URI has no such channel: snapshots are refused there.
import { randomBytes } from 'node:crypto';
import { accessSync, constants, createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import {
  HypervisorError,
  type HostAccess,
  type HypervisorDriver,
  type HypervisorOperation,
  type OperationContext,
  type OperationName,
  type OperationOf,
  type OperationResults,
  type ResultOf,
  type VmPowerState,
  type VolumeFormat,
} from './port.js';
import { digestImage } from './image-source.js';
import {
  checkDevice,
  checkId,
  checkPath,
  checkPositiveInteger,
  diskXml,
  disksOfDomain,
  domainName,
  domainXml,
  offersKvm,
  parseFreeCell,
  parseNodeInfo,
  parsePoolInfo,
  parseVolInfo,
  poolXml,
  powerStateOf,
  snapshotNamesOf,
  vmIdOfDomain,
  vncXml,
  type NicNetwork,
} from './domain-xml.js';
import { createCommandRunner, isLocalUri, libvirtUriOf, type CommandRunner } from './libvirt-commands.js';
import { hostnameOf, seedFiles, seedIsoArgs, seedIsoTools, seedToolMissing, type SeedIsoTool } from './cloud-init.js';
import { addAuthorizedKeysCommand, agentReturnOf, setPasswordCommand, shellLine } from './guest-agent.js';
import { createSshAccess } from './ssh-access.js';

export interface LibvirtDriverOptions {
  /** Where the pools live on each host (default /var/lib/stratus/libvirt). */
  storageDir?: string;
  /** Where images are downloaded and verified before upload, on the agent's machine. */
  downloadDir?: string;
  /** What NICs plug into (default: the libvirt network `default`). */
  network?: NicNetwork;
  /** libvirt clean-traffic on every NIC (IP/MAC/ARP spoofing protection); on by default. */
  antiSpoofing?: boolean;
  /** Address VNC listens on (default 127.0.0.1). */
  vncListen?: string;
  /** How long a grace stop waits for the guest's ACPI shutdown before powering off. */
  graceStopTimeoutMs?: number;
  /** Force `kvm` or `qemu` (TCG); by default kvm when the host's capabilities offer it. */
  domainType?: 'kvm' | 'qemu';
  /**
   * vCPUs a host offers per physical CPU (default 1: none over-committed). The probe reports
   * the host's CPUs times this, so placement can put more vCPUs on it than it has cores.
   */
  cpuOvercommit?: number;
  /**
   * Stratus's management SSH key, known_hosts and ssh settings (ssh-access.ts), for hosts
   * reached over the default qemu+ssh URI (no libvirtUri): the key is installed with the
   * host's password on first contact. Without it, ssh runs with the agent user's own settings.
   */
  sshDir?: string;
  /** The ssh client for the management connection (default `ssh` on the PATH). */
  ssh?: string;
  /** Tools tried, in order, to build a cloud-init seed ISO (default: every one the driver knows). */
  seedIsoTools?: readonly SeedIsoTool[];
  runner?: CommandRunner;
}

const imagesPool = 'stratus-images';
const volumesPool = 'stratus-volumes';
const statePollMs = 250;
const guestAgentTimeoutSeconds = '10';
/** The cloud-init seed of a VM, beside the volumes (volume names are `<id>.qcow2|raw`: no clash). */
export const seedVolumeName = (vmId: string) => `${checkId('vm id', vmId)}.seed.iso`;

interface Attachment { vmId: string; device: string }

export function createLibvirtDriver(options: LibvirtDriverOptions = {}): HypervisorDriver {
  const runner = options.runner ?? createCommandRunner();
  const storageDir = options.storageDir ?? '/var/lib/stratus/libvirt';
  const downloadDir = options.downloadDir ?? join(tmpdir(), 'stratus-image-downloads');
  const network = options.network ?? { type: 'network', name: 'default' };
  const antiSpoofing = options.antiSpoofing ?? true;
  const vncListen = options.vncListen ?? '127.0.0.1';
  const graceStopTimeoutMs = options.graceStopTimeoutMs ?? 60_000;
  /** Pools checked (or being checked) per connection URI: concurrent operations share one check. */
  const poolsReady = new Map<string, Promise<void>>();
  const sshAccess = options.sshDir ? createSshAccess({ dir: options.sshDir, ...(options.ssh ? { ssh: options.ssh } : {}) }) : undefined;
  /** Reached over qemu+ssh with Stratus's management key (the default URI, no libvirtUri given). */
  const viaManagementSsh = (host: HostAccess) => sshAccess !== undefined && host.libvirtUri === undefined;
  const domainTypes = new Map<string, 'kvm' | 'qemu'>();
  /** Image fetches under way in this process, per URI and image: a second asker waits for the first. */
  const imageFlights = new Map<string, Promise<OperationResults['image.prepare']>>();

  /** One host's connection: every virsh call of an operation goes through it. */
  function connect(host: HostAccess, context: OperationContext) {
    const uri = viaManagementSsh(host) ? sshAccess!.uriFor(libvirtUriOf(host)) : libvirtUriOf(host);
    const signal = context.signal;
    const virsh = async (...args: string[]) => (await runner.virsh(uri, args, signal ? { signal } : {})).stdout;
    /** virsh that answers undefined when the object is missing (the look-before-acting reads). */
    const virshIfFound = async (...args: string[]) => {
      try {
        return await virsh(...args);
      } catch (error) {
        if (error instanceof HypervisorError && (error.code === 'VM_NOT_FOUND' || error.code === 'VOLUME_NOT_FOUND')) return undefined;
        throw error;
      }
    };
    /** qemu-img where the host's files are, or undefined when there is no way to run it there. */
    const qemuImg = isLocalUri(uri)
      ? async (args: string[]) => (await runner.qemuImg(args, signal ? { signal } : {})).stdout
      : viaManagementSsh(host)
        ? async (args: string[]) => {
          const command = sshAccess!.commandFor(host, ['qemu-img', ...args]);
          try {
            return (await runner.run(command.file, command.args, signal ? { signal } : {})).stdout;
          } catch (error) {
            if (error instanceof HypervisorError && /qemu-img: (command )?not found/.test(error.message)) {
              throw new HypervisorError('DRIVER_UNAVAILABLE', `qemu-img is not installed on host ${host.managementIp}`);
            }
            throw error;
          }
        }
        : undefined;
    return { uri, virsh, virshIfFound, qemuImg, signal };
  }
  type Connection = ReturnType<typeof connect>;

  async function withXmlFile<T>(xml: string, work: (file: string) => Promise<T>): Promise<T> {
    // The XML may hold a VNC password: a private directory, removed right after use.
    const dir = mkdtempSync(join(tmpdir(), 'stratus-virsh-'));
    const file = join(dir, 'spec.xml');
    writeFileSync(file, xml, { mode: 0o600 });
    try {
      return await work(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async function ensurePools(conn: Connection) {
    let ready = poolsReady.get(conn.uri);
    if (!ready) {
      ready = definePools(conn);
      poolsReady.set(conn.uri, ready);
      // A failed check is tried again by the next operation.
      ready.catch(() => poolsReady.delete(conn.uri));
    }
    await ready;
  }

  async function definePools(conn: Connection) {
    for (const [name, path] of [[imagesPool, `${storageDir}/images`], [volumesPool, `${storageDir}/volumes`]] as const) {
      const info = await conn.virsh('pool-list', '--all', '--name');
      if (!info.split('\n').map((line) => line.trim()).includes(name)) {
        await withXmlFile(poolXml(name, path), (file) => conn.virsh('pool-define', file));
        await conn.virsh('pool-build', name);
      }
      const state = await conn.virsh('pool-info', name);
      if (!/^State:\s+running/m.test(state)) await conn.virsh('pool-start', name);
      await conn.virsh('pool-autostart', name);
    }
  }

  /**
   * Re-reads a pool's directory. libvirt refuses while one of the pool's volumes is being
   * built (another VM's overlay being created at the same moment); the pool then already
   * knows every volume made through libvirt, which is all the driver looks for.
   */
  async function refreshPool(conn: Connection, pool: string) {
    try {
      await conn.virsh('pool-refresh', pool);
    } catch (error) {
      if (!(error instanceof HypervisorError && /asynchronous jobs running/i.test(error.message))) throw error;
    }
  }

  async function volumeNames(conn: Connection, pool: string): Promise<string[]> {
    await ensurePools(conn);
    await refreshPool(conn, pool);
    return (await conn.virsh('vol-list', '--pool', pool)).split('\n')
      .map((line) => line.trim().split(/\s+/)[0] ?? '')
      .filter((name) => name !== '' && name !== 'Name' && !name.startsWith('---'));
  }

  async function findVolume(conn: Connection, volumeId: string): Promise<{ name: string; path: string; format: VolumeFormat } | undefined> {
    checkId('volume id', volumeId);
    const names = await volumeNames(conn, volumesPool);
    const name = names.find((candidate) => candidate === `${volumeId}.qcow2` || candidate === `${volumeId}.raw`);
    if (!name) return undefined;
    const path = (await conn.virsh('vol-path', '--pool', volumesPool, name)).trim();
    return { name, path, format: name.endsWith('.raw') ? 'raw' : 'qcow2' };
  }

  async function volumeOf(conn: Connection, volumeId: string) {
    const volume = await findVolume(conn, volumeId);
    if (!volume) throw new HypervisorError('VOLUME_NOT_FOUND', `no volume ${volumeId} on this host`);
    return volume;
  }

  /**
   * The cached copy of an image, if a whole one is there: `<id>.<sha256>.<bytes>.<format>`
   * (renamed into place whole, on a local URI), or `<that>.<copy>` with its marker
   * `<that>.<copy>.ready` (uploaded, on a remote URI). Partial copies are never answered.
   */
  async function findImage(conn: Connection, imageId: string) {
    checkId('image id', imageId);
    const names = await volumeNames(conn, imagesPool);
    const pattern = new RegExp(`^${imageId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.([0-9a-f]{64})\\.(\\d+)\\.(qcow2|raw|iso)(\\.[0-9a-f]{12})?$`);
    const name = names.find((candidate) => {
      const match = pattern.exec(candidate);
      return match !== null && (match[4] === undefined || names.includes(`${candidate}.ready`));
    });
    if (!name) return undefined;
    const [, sha256, size, format] = pattern.exec(name)!;
    const path = (await conn.virsh('vol-path', '--pool', imagesPool, name)).trim();
    return { name, path, sha256: sha256!, sizeBytes: Number(size), format: format! };
  }

  /** Removes a cached copy (and its marker) that no longer matches its image. */
  async function dropImage(conn: Connection, name: string) {
    await conn.virshIfFound('vol-delete', '--pool', imagesPool, `${name}.ready`).catch(() => undefined);
    await conn.virshIfFound('vol-delete', '--pool', imagesPool, name);
  }

  /** Where the images pool keeps its files (on the host). */
  async function imagesDir(conn: Connection): Promise<string> {
    const xml = await conn.virsh('pool-dumpxml', imagesPool);
    const path = /<target>\s*<path>([^<]+)<\/path>/.exec(xml)?.[1];
    if (!path) throw new HypervisorError('DRIVER_ERROR', `pool ${imagesPool} has no target path`);
    return path.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&apos;/g, "'").replace(/&quot;/g, '"');
  }

  /** Streams the image into `file` (0600), hashing it; deletes the file when the checksum is wrong. */
  async function fetchVerified(conn: Connection, operation: OperationOf<'image.prepare'>, expected: string, file: string) {
    const out = createWriteStream(file, { mode: 0o600 });
    let digest;
    try {
      digest = await digestImage(operation.url, {
        ...(conn.signal ? { signal: conn.signal } : {}),
        sink: (chunk) => new Promise<void>((resolve, reject) => out.write(chunk, (error) => (error ? reject(error) : resolve()))),
      });
    } finally {
      out.end();
      await finished(out).catch(() => undefined);
    }
    if (digest.sha256 !== expected) {
      throw new HypervisorError('IMAGE_CHECKSUM_MISMATCH',
        `image ${operation.imageId} has sha256 ${digest.sha256}, expected ${expected}; the copy was discarded`);
    }
    return digest;
  }

  /** Fetches and caches an image (one flight per URI and image in this process). */
  async function prepareImage(conn: Connection, operation: OperationOf<'image.prepare'>): Promise<OperationResults['image.prepare']> {
    const expected = operation.sha256.toLowerCase();
    const cached = await findImage(conn, operation.imageId);
    if (cached && cached.sha256 === expected) {
      return { imageId: operation.imageId, path: cached.path, sizeBytes: cached.sizeBytes, sha256: cached.sha256 };
    }
    if (cached) await dropImage(conn, cached.name);
    const copy = randomBytes(6).toString('hex');
    if (isLocalUri(conn.uri)) {
      // Written beside the pool (same filesystem), renamed into it only once verified: another
      // process sees no file or the whole file, never a partial one.
      const pool = await imagesDir(conn);
      const staging = join(dirname(pool), `${imagesPool}.partial`);
      await mkdir(staging, { recursive: true, mode: 0o700 });
      const partial = join(staging, `${operation.imageId}.${copy}`);
      try {
        const digest = await fetchVerified(conn, operation, expected, partial);
        const name = `${operation.imageId}.${expected}.${digest.sizeBytes}.${operation.format}`;
        await chmod(partial, 0o644);
        await rename(partial, join(pool, name));
        await refreshPool(conn, imagesPool);
        const path = (await conn.virsh('vol-path', '--pool', imagesPool, name)).trim();
        return { imageId: operation.imageId, path, sizeBytes: digest.sizeBytes, sha256: expected };
      } finally {
        await rm(partial, { force: true });
      }
    }
    await mkdir(downloadDir, { recursive: true, mode: 0o700 });
    const local = join(downloadDir, `${operation.imageId}.${copy}.partial`);
    try {
      const digest = await fetchVerified(conn, operation, expected, local);
      const name = `${operation.imageId}.${expected}.${digest.sizeBytes}.${operation.format}.${copy}`;
      await conn.virsh('vol-create-as', imagesPool, name, String(Math.max(digest.sizeBytes, 1)), '--format', 'raw');
      try {
        await conn.virsh('vol-upload', '--pool', imagesPool, name, local);
        // The marker says the copy is whole; until it exists no process uses the copy.
        await conn.virsh('vol-create-as', imagesPool, `${name}.ready`, '1', '--format', 'raw');
      } catch (error) {
        await dropImage(conn, name).catch(() => undefined);
        throw error;
      }
      const path = (await conn.virsh('vol-path', '--pool', imagesPool, name)).trim();
      return { imageId: operation.imageId, path, sizeBytes: digest.sizeBytes, sha256: expected };
    } finally {
      await rm(local, { force: true });
    }
  }

  async function stateOf(conn: Connection, vmId: string): Promise<VmPowerState | undefined> {
    const answer = await conn.virshIfFound('domstate', domainName(vmId));
    return answer === undefined ? undefined : powerStateOf(answer);
  }

  async function requireState(conn: Connection, vmId: string): Promise<VmPowerState> {
    const state = await stateOf(conn, vmId);
    if (state === undefined) throw new HypervisorError('VM_NOT_FOUND', `no VM ${vmId} on this host`);
    return state;
  }

  async function stratusDomains(conn: Connection): Promise<Array<{ vmId: string; state: VmPowerState }>> {
    const out = await conn.virsh('list', '--all');
    const vms: Array<{ vmId: string; state: VmPowerState }> = [];
    for (const line of out.split('\n')) {
      const match = /^\s*(\S+)\s+(\S+)\s+(.+?)\s*$/.exec(line);
      const vmId = match ? vmIdOfDomain(match[2]!) : undefined;
      if (match && vmId) vms.push({ vmId, state: powerStateOf(match[3]!) });
    }
    return vms.sort((a, b) => a.vmId.localeCompare(b.vmId));
  }

  /** Which VM holds each volume file (from the persistent definitions). */
  async function attachments(conn: Connection): Promise<Map<string, Attachment>> {
    const held = new Map<string, Attachment>();
    for (const { vmId } of await stratusDomains(conn)) {
      const xml = await conn.virshIfFound('dumpxml', '--inactive', domainName(vmId));
      if (xml === undefined) continue;
      for (const disk of disksOfDomain(xml)) if (!disk.cdrom) held.set(disk.path, { vmId, device: disk.device });
    }
    return held;
  }

  async function domainTypeOf(conn: Connection): Promise<'kvm' | 'qemu'> {
    if (options.domainType) return options.domainType;
    const known = domainTypes.get(conn.uri);
    if (known) return known;
    let type: 'kvm' | 'qemu' = offersKvm(await conn.virsh('capabilities')) ? 'kvm' : 'qemu';
    // libvirt may offer kvm while this (local) process cannot open /dev/kvm in its sandbox.
    if (type === 'kvm' && isLocalUri(conn.uri)) {
      try { accessSync('/dev/kvm', constants.R_OK | constants.W_OK); } catch { type = 'qemu'; }
    }
    domainTypes.set(conn.uri, type);
    return type;
  }

  async function waitForState(conn: Connection, vmId: string, wanted: VmPowerState, timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if ((await stateOf(conn, vmId)) === wanted) return true;
      if (Date.now() >= until || conn.signal?.aborted) return false;
      await new Promise((resolve) => setTimeout(resolve, statePollMs));
    }
  }

  function openPassword(context: OperationContext, sealed: string, what = 'VNC password'): string {
    let password: string;
    try {
      password = context.openSecret(sealed);
    } catch {
      throw new HypervisorError('INVALID_OPERATION', `the ${what} could not be opened with the key ring`);
    }
    if (password.length === 0) throw new HypervisorError('INVALID_OPERATION', `the ${what} is empty`);
    return password;
  }

  /**
   * Builds the VM's cloud-init seed on the agent's machine (a private directory, removed right
   * after) and uploads it into the host's volumes pool; answers its path on the host. Built
   * again on every define (a recovered VM gets the same content: the same instance id, so
   * cloud-init does not run its first-boot modules twice).
   */
  async function uploadSeed(conn: Connection, operation: OperationOf<'vm.define'>, context: OperationContext): Promise<string> {
    const access = operation.guestAccess!;
    const tool = runner.findTool(options.seedIsoTools ?? seedIsoTools) as SeedIsoTool | undefined;
    if (!tool) throw seedToolMissing();
    const files = seedFiles({
      instanceId: operation.vmId,
      hostname: hostnameOf(operation.name, operation.vmId),
      access: {
        sshKeys: access.sshKeys,
        ...(access.sealedRootPassword !== undefined ? { rootPassword: openPassword(context, access.sealedRootPassword, 'root password') } : {}),
      },
      nics: operation.nics.map((nic) => ({
        mac: nic.mac, ip: nic.ip, ...(nic.netmask ? { netmask: nic.netmask } : {}), ...(nic.gateway ? { gateway: nic.gateway } : {}),
      })),
    });
    const dir = mkdtempSync(join(tmpdir(), 'stratus-seed-'));
    try {
      const paths = { 'user-data': join(dir, 'user-data'), 'meta-data': join(dir, 'meta-data'), ...(files['network-config'] ? { 'network-config': join(dir, 'network-config') } : {}) };
      for (const [name, path] of Object.entries(paths)) writeFileSync(path, files[name as keyof typeof files]!, { mode: 0o600 });
      const iso = join(dir, 'seed.iso');
      await runner.run(tool, seedIsoArgs(tool, iso, paths), conn.signal ? { signal: conn.signal } : {});
      const name = seedVolumeName(operation.vmId);
      await ensurePools(conn);
      await conn.virshIfFound('vol-delete', '--pool', volumesPool, name);
      await conn.virsh('vol-create-as', volumesPool, name, String(statSync(iso).size), '--format', 'raw');
      await conn.virsh('vol-upload', '--pool', volumesPool, name, iso);
      return (await conn.virsh('vol-path', '--pool', volumesPool, name)).trim();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** qemu-img on the host's volume files (the path comes from libvirt; checked all the same). */
  function qemuImgOn(conn: Connection, what: string) {
    const run = conn.qemuImg;
    if (!run) {
      throw new HypervisorError('UNSUPPORTED_OPERATION',
        `${what} needs qemu-img beside the volume files: on the agent's machine (a local URI) or over Stratus's management SSH (the default qemu+ssh URI); host ${conn.uri} is neither`);
    }
    return (args: string[], path: string) => run([...args, checkPath(path)]);
  }

  async function snapshotsOf(qemuImg: ReturnType<typeof qemuImgOn>, path: string) {
    // -U: read the header even while a running QEMU holds the image's lock.
    return snapshotNamesOf(await qemuImg(['info', '-U', '--output=json'], path));
  }

  /** QMP on a running VM, for internal snapshots of one disk without stopping it. */
  async function qmp(conn: Connection, vmId: string, command: string, args: Record<string, unknown>) {
    return conn.virsh('qemu-monitor-command', domainName(vmId), JSON.stringify({ execute: command, arguments: args }));
  }

  async function nodeNameOf(conn: Connection, vmId: string, path: string): Promise<string> {
    const answer = JSON.parse(await conn.virsh('qemu-monitor-command', domainName(vmId), JSON.stringify({ execute: 'query-block' }))) as {
      return: Array<{ inserted?: { file: string; 'node-name'?: string } }>;
    };
    const node = answer.return.find((block) => block.inserted?.file === path)?.inserted?.['node-name'];
    if (!node) throw new HypervisorError('DRIVER_ERROR', `VM ${vmId} has no block node for ${path}`);
    return node;
  }

  type Handlers = { [N in OperationName]: (conn: Connection, operation: OperationOf<N>, context: OperationContext) => Promise<OperationResults[N]> };

  const handlers: Handlers = {
    async 'host.probe'(conn) {
      const node = parseNodeInfo(await conn.virsh('nodeinfo'));
      const freeMemoryBytes = parseFreeCell(await conn.virsh('freecell', '--all'));
      const version = /Running hypervisor:\s+(\S+)\s+(\S+)/.exec(await conn.virsh('version'));
      await ensurePools(conn);
      const pool = parsePoolInfo(await conn.virsh('pool-info', '--bytes', volumesPool));
      return {
        cpuCount: Math.floor(node.cpuCount * (options.cpuOvercommit ?? 1)),
        memoryBytes: node.memoryBytes,
        freeMemoryBytes: Math.min(freeMemoryBytes, node.memoryBytes),
        storageBytes: pool.capacityBytes,
        freeStorageBytes: pool.availableBytes,
        hypervisor: `${(await domainTypeOf(conn))}/${version?.[1] ?? 'QEMU'}`,
        version: version?.[2] ?? 'unknown',
        vms: await stratusDomains(conn),
      };
    },

    async 'image.prepare'(conn, operation) {
      const expected = operation.sha256.toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(expected)) throw new HypervisorError('INVALID_OPERATION', 'an image sha256 is 64 hex digits');
      if (!['qcow2', 'raw', 'iso'].includes(operation.format)) throw new HypervisorError('INVALID_OPERATION', `unknown image format ${operation.format}`);
      checkId('image id', operation.imageId);
      const key = `${conn.uri}\u0000${operation.imageId}\u0000${expected}`;
      for (;;) {
        const flight = imageFlights.get(key);
        if (!flight) break;
        try {
          return await flight;
        } catch (error) {
          // The fetch this operation waited for was given up at ITS deadline: fetch again
          // (unless this one's deadline has passed too). Any other failure is this one's too.
          if (!(error instanceof HypervisorError && error.code === 'OPERATION_TIMEOUT') || conn.signal?.aborted) throw error;
        }
      }
      const flight = prepareImage(conn, operation);
      imageFlights.set(key, flight);
      try {
        return await flight;
      } finally {
        imageFlights.delete(key);
      }
    },

    async 'volume.create'(conn, operation) {
      const existing = await findVolume(conn, operation.volumeId);
      if (existing) {
        const info = parseVolInfo(await conn.virsh('vol-info', '--bytes', '--pool', volumesPool, existing.name));
        return { volumeId: operation.volumeId, path: existing.path, sizeBytes: info.capacityBytes, format: existing.format };
      }
      checkPositiveInteger('volume size', operation.sizeBytes);
      const format: VolumeFormat = operation.format === 'raw' ? 'raw' : 'qcow2';
      const name = `${operation.volumeId}.${format}`;
      const args = ['vol-create-as', volumesPool, name, String(operation.sizeBytes), '--format', format];
      if (operation.imageId !== undefined) {
        const image = await findImage(conn, operation.imageId);
        if (!image) throw new HypervisorError('IMAGE_NOT_PREPARED', `image ${operation.imageId} is not in this host's cache: prepare it first`);
        if (format !== 'qcow2') throw new HypervisorError('INVALID_OPERATION', 'a volume backed by an image must be qcow2');
        args.push('--backing-vol', image.path, '--backing-vol-format', image.format === 'qcow2' ? 'qcow2' : 'raw');
      }
      await conn.virsh(...args);
      const path = (await conn.virsh('vol-path', '--pool', volumesPool, name)).trim();
      return { volumeId: operation.volumeId, path, sizeBytes: operation.sizeBytes, format };
    },

    async 'volume.delete'(conn, operation) {
      const volume = await findVolume(conn, operation.volumeId);
      if (volume) {
        const holder = (await attachments(conn)).get(volume.path);
        if (holder) throw new HypervisorError('VOLUME_IN_USE', `volume ${operation.volumeId} is attached to VM ${holder.vmId}`);
        await conn.virshIfFound('vol-delete', '--pool', volumesPool, volume.name);
      }
      return { volumeId: operation.volumeId };
    },

    async 'vm.define'(conn, operation, context) {
      checkId('vm id', operation.vmId);
      const existing = await stateOf(conn, operation.vmId);
      if (existing !== undefined) return { vmId: operation.vmId, state: existing };
      const held = await attachments(conn);
      const disks = [];
      for (const spec of operation.volumes) {
        const volume = await volumeOf(conn, spec.volumeId);
        const holder = held.get(volume.path);
        if (holder && holder.vmId !== operation.vmId) throw new HypervisorError('VOLUME_IN_USE', `volume ${spec.volumeId} is attached to VM ${holder.vmId}`);
        disks.push({ device: checkDevice(spec.device), path: volume.path, format: volume.format, volumeId: spec.volumeId });
      }
      const password = operation.sealedVncPassword ? openPassword(context, operation.sealedVncPassword) : randomBytes(6).toString('base64url');
      const seedIsoPath = operation.guestAccess ? await uploadSeed(conn, operation, context) : undefined;
      const xml = domainXml({
        vmId: operation.vmId,
        title: operation.name,
        cpuCount: operation.cpuCount,
        memoryBytes: operation.memoryBytes,
        domainType: await domainTypeOf(conn),
        disks,
        nics: operation.nics.map((nic) => ({ mac: nic.mac, ip: nic.ip, nicId: nic.nicId })),
        network,
        antiSpoofing: operation.antiSpoofing ?? antiSpoofing,
        vnc: { listen: vncListen, password },
        ...(seedIsoPath ? { seedIsoPath } : {}),
        guestAgent: true,
      });
      await withXmlFile(xml, (file) => conn.virsh('define', file));
      return { vmId: operation.vmId, state: 'Stopped' };
    },

    async 'vm.start'(conn, operation) {
      const state = await requireState(conn, operation.vmId);
      if (state === 'Running') return { vmId: operation.vmId, state };
      if (state === 'Paused') throw new HypervisorError('VM_NOT_STOPPED', `VM ${operation.vmId} is paused: resume it`);
      await conn.virsh('start', domainName(operation.vmId));
      return { vmId: operation.vmId, state: await requireState(conn, operation.vmId) };
    },

    async 'vm.stop'(conn, operation) {
      const state = await requireState(conn, operation.vmId);
      if (state === 'Stopped') return { vmId: operation.vmId, state };
      const name = domainName(operation.vmId);
      if (operation.type === 'grace' && state === 'Running') {
        await conn.virshIfFound('shutdown', name).catch(() => undefined);
        if (await waitForState(conn, operation.vmId, 'Stopped', graceStopTimeoutMs)) return { vmId: operation.vmId, state: 'Stopped' };
      }
      // Cold, a paused guest (it cannot answer ACPI), or a guest that ignored the grace period.
      await conn.virshIfFound('destroy', name).catch(async (error: unknown) => {
        if ((await stateOf(conn, operation.vmId)) !== 'Stopped') throw error;
      });
      return { vmId: operation.vmId, state: await requireState(conn, operation.vmId) };
    },

    async 'vm.reboot'(conn, operation) {
      const state = await requireState(conn, operation.vmId);
      if (state !== 'Running') throw new HypervisorError('VM_NOT_RUNNING', `VM ${operation.vmId} is ${state}`);
      // reset, not reboot: a guest without ACPI support (or without an OS) would ignore a reboot request.
      await conn.virsh('reset', domainName(operation.vmId));
      return { vmId: operation.vmId, state: await requireState(conn, operation.vmId) };
    },

    async 'vm.pause'(conn, operation) {
      const state = await requireState(conn, operation.vmId);
      if (state === 'Paused') return { vmId: operation.vmId, state };
      if (state !== 'Running') throw new HypervisorError('VM_NOT_RUNNING', `VM ${operation.vmId} is ${state}`);
      await conn.virsh('suspend', domainName(operation.vmId));
      return { vmId: operation.vmId, state: await requireState(conn, operation.vmId) };
    },

    async 'vm.resume'(conn, operation) {
      const state = await requireState(conn, operation.vmId);
      if (state === 'Running') return { vmId: operation.vmId, state };
      if (state !== 'Paused') throw new HypervisorError('VM_NOT_PAUSED', `VM ${operation.vmId} is ${state}`);
      await conn.virsh('resume', domainName(operation.vmId));
      return { vmId: operation.vmId, state: await requireState(conn, operation.vmId) };
    },

    async 'vm.destroy'(conn, operation) {
      const state = await stateOf(conn, operation.vmId);
      if (state !== undefined) {
        const name = domainName(operation.vmId);
        if (state !== 'Stopped') await conn.virshIfFound('destroy', name);
        // Snapshot metadata (if any) and managed saves go with the definition; the volumes stay.
        await conn.virshIfFound('undefine', name, '--snapshots-metadata', '--managed-save');
      }
      // The cloud-init seed goes with the definition (a define builds it again), also when an
      // earlier destroy undefined the VM and stopped short of this.
      if ((await volumeNames(conn, volumesPool)).includes(seedVolumeName(operation.vmId))) {
        await conn.virshIfFound('vol-delete', '--pool', volumesPool, seedVolumeName(operation.vmId));
      }
      return { vmId: operation.vmId };
    },

    async 'vm.state'(conn, operation) {
      return { vmId: operation.vmId, state: await requireState(conn, operation.vmId) };
    },

    async 'volume.attach'(conn, operation) {
      const state = await requireState(conn, operation.vmId);
      const device = checkDevice(operation.device);
      const volume = await volumeOf(conn, operation.volumeId);
      const held = await attachments(conn);
      const holder = held.get(volume.path);
      if (holder) {
        if (holder.vmId === operation.vmId && holder.device === device) return { vmId: operation.vmId, volumeId: operation.volumeId, device };
        throw new HypervisorError('VOLUME_IN_USE', `volume ${operation.volumeId} is attached to VM ${holder.vmId} as ${holder.device}`);
      }
      if ([...held.values()].some((entry) => entry.vmId === operation.vmId && entry.device === device)) {
        throw new HypervisorError('DEVICE_IN_USE', `VM ${operation.vmId} already has a volume on ${device}`);
      }
      const xml = diskXml({ device, path: volume.path, format: volume.format, volumeId: operation.volumeId });
      await withXmlFile(xml, (file) => conn.virsh('attach-device', domainName(operation.vmId), file, '--config', ...(state === 'Stopped' ? [] : ['--live'])));
      return { vmId: operation.vmId, volumeId: operation.volumeId, device };
    },

    async 'volume.detach'(conn, operation) {
      checkId('vm id', operation.vmId);
      const volume = await findVolume(conn, operation.volumeId);
      const holder = volume ? (await attachments(conn)).get(volume.path) : undefined;
      if (holder && holder.vmId !== operation.vmId) {
        throw new HypervisorError('VOLUME_NOT_ATTACHED', `volume ${operation.volumeId} is attached to VM ${holder.vmId}, not ${operation.vmId}`);
      }
      if (holder) {
        const state = await requireState(conn, operation.vmId);
        await conn.virsh('detach-disk', domainName(operation.vmId), holder.device, '--config', ...(state === 'Stopped' ? [] : ['--live']));
      }
      return { vmId: operation.vmId, volumeId: operation.volumeId };
    },

    async 'snapshot.create'(conn, operation) {
      checkId('snapshot id', operation.snapshotId);
      const volume = await volumeOf(conn, operation.volumeId);
      const qemuImg = qemuImgOn(conn, 'a volume snapshot');
      if (volume.format !== 'qcow2') throw new HypervisorError('UNSUPPORTED_OPERATION', `volume ${operation.volumeId} is raw: only qcow2 volumes have snapshots`);
      const sizeBytes = parseVolInfo(await conn.virsh('vol-info', '--bytes', '--pool', volumesPool, volume.name)).capacityBytes;
      if ((await snapshotsOf(qemuImg, volume.path)).includes(operation.snapshotId)) return { volumeId: operation.volumeId, snapshotId: operation.snapshotId, sizeBytes };
      const holder = (await attachments(conn)).get(volume.path);
      const state = holder ? await stateOf(conn, holder.vmId) : undefined;
      if (holder && state !== undefined && state !== 'Stopped') {
        await qmp(conn, holder.vmId, 'blockdev-snapshot-internal-sync', { device: await nodeNameOf(conn, holder.vmId, volume.path), name: operation.snapshotId });
      } else {
        await qemuImg(['snapshot', '-c', operation.snapshotId], volume.path);
      }
      return { volumeId: operation.volumeId, snapshotId: operation.snapshotId, sizeBytes };
    },

    async 'snapshot.revert'(conn, operation) {
      checkId('snapshot id', operation.snapshotId);
      const volume = await volumeOf(conn, operation.volumeId);
      const qemuImg = qemuImgOn(conn, 'a volume snapshot');
      if (!(await snapshotsOf(qemuImg, volume.path)).includes(operation.snapshotId)) {
        throw new HypervisorError('SNAPSHOT_NOT_FOUND', `volume ${operation.volumeId} has no snapshot ${operation.snapshotId}`);
      }
      const holder = (await attachments(conn)).get(volume.path);
      const state = holder ? await stateOf(conn, holder.vmId) : undefined;
      if (holder && state !== undefined && state !== 'Stopped') {
        throw new HypervisorError('VM_NOT_STOPPED', `volume ${operation.volumeId} belongs to VM ${holder.vmId}, which is ${state}`);
      }
      await qemuImg(['snapshot', '-a', operation.snapshotId], volume.path);
      return { volumeId: operation.volumeId, snapshotId: operation.snapshotId };
    },

    async 'snapshot.delete'(conn, operation) {
      checkId('snapshot id', operation.snapshotId);
      const volume = await findVolume(conn, operation.volumeId);
      if (!volume) return { volumeId: operation.volumeId, snapshotId: operation.snapshotId };
      const qemuImg = qemuImgOn(conn, 'a volume snapshot');
      if (!(await snapshotsOf(qemuImg, volume.path)).includes(operation.snapshotId)) return { volumeId: operation.volumeId, snapshotId: operation.snapshotId };
      const holder = (await attachments(conn)).get(volume.path);
      const state = holder ? await stateOf(conn, holder.vmId) : undefined;
      if (holder && state !== undefined && state !== 'Stopped') {
        await qmp(conn, holder.vmId, 'blockdev-snapshot-delete-internal-sync', { device: await nodeNameOf(conn, holder.vmId, volume.path), name: operation.snapshotId });
      } else {
        await qemuImg(['snapshot', '-d', operation.snapshotId], volume.path);
      }
      return { volumeId: operation.volumeId, snapshotId: operation.snapshotId };
    },

    async 'vnc.setPassword'(conn, operation, context) {
      const state = await requireState(conn, operation.vmId);
      const password = openPassword(context, operation.sealedPassword);
      // update-device changes the password of the running QEMU (no restart) and the definition.
      await withXmlFile(vncXml({ listen: vncListen, password }), (file) =>
        conn.virsh('update-device', domainName(operation.vmId), file, '--config', ...(state === 'Stopped' ? [] : ['--live'])));
      return { vmId: operation.vmId };
    },

    async 'vm.guestAccess'(conn, operation, context) {
      const state = await requireState(conn, operation.vmId);
      if (state !== 'Running') throw new HypervisorError('VM_NOT_RUNNING', `VM ${operation.vmId} is ${state}: its guest agent runs only while it runs`);
      const name = domainName(operation.vmId);
      const keys = operation.sshKeys ?? [];
      if (keys.length > 0) {
        agentReturnOf(await conn.virsh('qemu-agent-command', '--timeout', guestAgentTimeoutSeconds, name, addAuthorizedKeysCommand(operation.username, keys)));
      }
      if (operation.sealedPassword !== undefined) {
        const command = setPasswordCommand(operation.username, openPassword(context, operation.sealedPassword, 'password'));
        // On stdin, not in virsh's arguments: the password must not show in the process list.
        const answer = await runner.virshShell(conn.uri, shellLine(['qemu-agent-command', '--timeout', guestAgentTimeoutSeconds, name, command]),
          conn.signal ? { signal: conn.signal } : {});
        agentReturnOf(answer.stdout);
      }
      return { vmId: operation.vmId, keysAdded: keys.length, passwordSet: operation.sealedPassword !== undefined };
    },
  };

  return {
    name: 'libvirt',
    async execute<O extends HypervisorOperation>(host: HostAccess, operation: O, context: OperationContext): Promise<ResultOf<O>> {
      const handler = handlers[operation.op] as unknown as ((conn: Connection, operation: O, context: OperationContext) => Promise<ResultOf<O>>) | undefined;
      if (!handler) throw new HypervisorError('UNSUPPORTED_OPERATION', `the libvirt driver does not know ${String(operation.op)}`);
      if (!viaManagementSsh(host)) return handler(connect(host, context), operation, context);
      // First contact installs the management key with the password; later ones only check it once per process.
      await sshAccess!.ensureKey(host, context.signal);
      try {
        return await handler(connect(host, context), operation, context);
      } catch (error) {
        if (error instanceof HypervisorError && (error.code === 'AUTHENTICATION_FAILED' || error.code === 'HOST_UNREACHABLE')) sshAccess!.forget(host);
        throw error;
      }
    },
  };
}
