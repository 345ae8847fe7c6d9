// The inventory the libvirt service suites build through Stratus's API, and what they clean up
// on this machine's libvirt afterwards: a whole Stratus (embedded) whose libvirt driver keeps
// its pools in a storage directory of the suite's own, a zone with a KVM cluster and host,
// local primary storage, a blank qcow2 image (the firmware boots and finds nothing: enough for
// QEMU to run), a tiny offering and an L3 network with an IP range.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import request from 'supertest';
import { removeDir, startStratus, type TestStratus } from './stratus.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** How the KVM host is added: a libvirt URI (this machine), or its address, user and password (qemu+ssh). */
export interface KvmHostSpec {
  managementIp: string;
  username: string;
  password: string;
  libvirtUri?: string;
}

export interface LibvirtInventory {
  stratus: TestStratus;
  auth: string;
  ids: { zone: string; cluster: string; host: string; image: string; offering: string; l3: string };
  /** The blank image's file and sha256, for suites that register more images. */
  imageFile: string;
  sha256: string;
  post(path: string, body?: object): request.Test;
  del(path: string): request.Test;
  get(path: string): request.Test;
  /** POST that must answer 201; gives the new id. */
  created(path: string, body: object): Promise<string>;
  vmBody(name: string, extra?: object): Record<string, unknown>;
  /** `virsh -q -c <uri> …` against the libvirt the suite checks. */
  virsh(...args: string[]): string;
  /** `virsh domstate` of a VM's domain, or `absent`. */
  domstate(vmId: string): string;
}

export interface LibvirtInventoryOptions {
  /** The libvirt the suite checks with virsh (qemu:///system on this machine). */
  uri: string;
  host: KvmHostSpec;
  /** Where the driver keeps its pools: of this suite only, removed afterwards. */
  storageDir: string;
  /** First three octets of the L3 range (each suite its own). */
  subnet: string;
  /** The isolated test network of servers/libvirt.sh, or user-mode networking without it. */
  network?: string;
  /** vCPUs the host offers per CPU (a 2-core machine taking several 1-vCPU VMs at once). */
  cpuOvercommit?: number;
}

/** Starts Stratus with the libvirt driver set for the suite and builds the inventory. */
export async function startLibvirtInventory(options: LibvirtInventoryOptions): Promise<LibvirtInventory> {
  if (options.network) process.env.STRATUS_LIBVIRT_NETWORK = options.network;
  else process.env.STRATUS_LIBVIRT_USER_NETWORKING = 'true';
  // Nothing in a blank disk answers ACPI: a short grace period, then the cold fallback.
  process.env.STRATUS_LIBVIRT_GRACE_STOP_MS = '1000';
  process.env.STRATUS_LIBVIRT_STORAGE_DIR = options.storageDir;
  if (options.cpuOvercommit) process.env.STRATUS_LIBVIRT_CPU_OVERCOMMIT = String(options.cpuOvercommit);
  else delete process.env.STRATUS_LIBVIRT_CPU_OVERCOMMIT;
  const stratus = await startStratus();
  const auth = await stratus.login();
  const wait = { Prefer: 'wait=120' };
  const post = (path: string, body: object = {}) => request(stratus.app).post(path).set('Authorization', auth).set(wait).send(body);
  const del = (path: string) => request(stratus.app).delete(path).set('Authorization', auth).set(wait);
  const get = (path: string) => request(stratus.app).get(path).set('Authorization', auth);
  const created = async (path: string, body: object) => {
    const response = await post(path, body);
    if (response.status !== 201) throw new Error(`POST ${path} answered ${response.status}: ${JSON.stringify(response.body)}`);
    return response.body.id as string;
  };
  const virsh = (...args: string[]) => execFileSync('virsh', ['-q', '-c', options.uri, ...args], { encoding: 'utf8' }).trim();

  const dir = join(stratus.dataDir, 'images');
  mkdirSync(dir, { recursive: true });
  const imageFile = join(dir, 'blank.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', imageFile, '64M']);
  const bytes = readFileSync(imageFile);
  const sha256 = createHash('sha256').update(bytes).digest('hex');

  const zone = await created('/v1/zones', { name: 'zone-kvm' });
  const cluster = await created('/v1/clusters', { zoneId: zone, name: 'kvm', hypervisorType: 'KVM' });
  const host = await created('/v1/hosts', { name: 'this-machine', clusterId: cluster, hypervisorType: 'KVM', ...options.host });
  await created('/v1/primary-storages', { zoneId: zone, name: 'local', type: 'LocalStorage', url: '/var/lib/stratus/volumes', totalCapacityBytes: 100 * GiB });
  const image = await created('/v1/images', { name: 'blank', url: pathToFileURL(imageFile).href, format: 'qcow2', platform: 'Linux', sha256, sizeBytes: bytes.length });
  const offering = await created('/v1/instance-offerings', { name: 'tiny', cpuCount: 1, memoryBytes: 128 * MiB });
  const l2NetworkId = await created('/v1/l2-networks', { zoneId: zone, name: 'flat', physicalInterface: 'eth0' });
  const l3 = await created('/v1/l3-networks', { l2NetworkId, name: 'private' });
  await created(`/v1/l3-networks/${l3}/ip-ranges`, { startIp: `${options.subnet}.10`, endIp: `${options.subnet}.40`, gateway: `${options.subnet}.1`, netmask: '255.255.255.0' });

  const ids = { zone, cluster, host, image, offering, l3 };
  return {
    stratus, auth, ids, imageFile, sha256, post, del, get, created, virsh,
    vmBody: (name, extra = {}) => ({ name, instanceOfferingId: ids.offering, imageId: ids.image, l3NetworkIds: [ids.l3], ...extra }),
    domstate(vmId) {
      try { return virsh('domstate', `stratus-${vmId}`); } catch { return 'absent'; }
    },
  };
}

/**
 * Stops Stratus and removes what the suite left on this machine: its data dir, every
 * `stratus-` domain still defined, the two pools (they point into the suite's storage
 * directory, so the next suite defines them afresh) and that directory.
 */
export async function stopLibvirtInventory(inventory: LibvirtInventory | undefined, options: Pick<LibvirtInventoryOptions, 'uri' | 'storageDir'>) {
  await inventory?.stratus.stop();
  if (inventory) removeDir(inventory.stratus.dataDir);
  const virsh = (...args: string[]) => execFileSync('virsh', ['-q', '-c', options.uri, ...args], { encoding: 'utf8' }).trim();
  for (const name of virsh('list', '--all', '--name').split('\n').filter((n) => n.startsWith('stratus-'))) {
    try { virsh('destroy', name); } catch { /* off */ }
    try { virsh('undefine', name, '--snapshots-metadata'); } catch { /* gone */ }
  }
  for (const pool of ['stratus-images', 'stratus-volumes']) {
    for (const step of ['pool-destroy', 'pool-undefine']) {
      try { virsh(step, pool); } catch { /* not there */ }
    }
  }
  removeDir(options.storageDir);
}
