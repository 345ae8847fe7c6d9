import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import request from 'supertest';

// Builds, through the API, what VMs need: a zone, a cluster of simulated hosts, primary
// storage, an image (a real file whose sha256 the simulator verifies), instance offerings
// and a flat L3 network with an IP range. Used by the VM tests and the VM benchmark, over
// supertest or fetch alike (`post` answers status and JSON body).

export type Post = (path: string, body: object) => Promise<{ status: number; body: any }>;

/** A `Post` over supertest against an app, as the holder of `authorization`. */
export function postWith(app: Parameters<typeof request>[0], authorization: string): Post {
  return async (path, body) => {
    const response = await request(app).post(path).set('Authorization', authorization).send(body);
    return { status: response.status, body: response.body };
  };
}

export const GiB = 1024 ** 3;

export interface VmInventory {
  zoneId: string;
  clusterId: string;
  hostIds: string[];
  primaryStorageId: string;
  imageId: string;
  imageFile: string;
  /** An image whose registered sha256 is wrong: building from it fails its verification. */
  badImageId: string;
  offerings: { small: string; large: string };
  l3NetworkId: string;
}

export interface InventoryOptions {
  dir: string;
  hosts: number;
  hostCapacity: { cpuCount: number; memoryBytes: number };
  /** Last octet range of 10.20.x.y addresses: e.g. 10.20.0.10 – 10.20.0.200. */
  ipRange: { startIp: string; endIp: string; gateway: string; netmask: string };
  storageBytes?: number;
}

async function created(post: Post, path: string, body: object): Promise<string> {
  const response = await post(path, body);
  if (response.status !== 201) throw new Error(`POST ${path} answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body.id as string;
}

export async function buildVmInventory(post: Post, options: InventoryOptions): Promise<VmInventory> {
  mkdirSync(options.dir, { recursive: true });
  const imageFile = join(options.dir, 'tiny-linux.qcow2');
  const content = Buffer.from('QFI\xfb tiny image for tests '.repeat(64));
  writeFileSync(imageFile, content);
  const sha256 = createHash('sha256').update(content).digest('hex');

  const zoneId = await created(post, '/v1/zones', { name: 'zone-vm' });
  const clusterId = await created(post, '/v1/clusters', { zoneId, name: 'sim-cluster', hypervisorType: 'Simulator' });
  const hostIds: string[] = [];
  for (let index = 0; index < options.hosts; index++) {
    hostIds.push(await created(post, '/v1/hosts', {
      name: `sim-${index + 1}`, clusterId, hypervisorType: 'Simulator', managementIp: `192.0.2.${index + 1}`, username: 'root', password: 'simulated',
      simulatedCapacity: options.hostCapacity,
    }));
  }
  const primaryStorageId = await created(post, '/v1/primary-storages', {
    zoneId, name: 'local', type: 'LocalStorage', url: '/var/lib/stratus/volumes', totalCapacityBytes: options.storageBytes ?? 1_000_000 * GiB,
  });
  const url = pathToFileURL(imageFile).href;
  const imageId = await created(post, '/v1/images', { name: 'tiny-linux', url, format: 'qcow2', platform: 'Linux', sha256, sizeBytes: content.length });
  const badImageId = await created(post, '/v1/images', { name: 'tampered', url, format: 'qcow2', platform: 'Linux', sha256: '0'.repeat(64), sizeBytes: content.length });
  const small = await created(post, '/v1/instance-offerings', { name: 'small', cpuCount: 1, memoryBytes: GiB });
  const large = await created(post, '/v1/instance-offerings', { name: 'large', cpuCount: 4, memoryBytes: 4 * GiB });
  const l2NetworkId = await created(post, '/v1/l2-networks', { zoneId, name: 'flat', physicalInterface: 'eth0' });
  const l3NetworkId = await created(post, '/v1/l3-networks', { l2NetworkId, name: 'private' });
  await created(post, `/v1/l3-networks/${l3NetworkId}/ip-ranges`, options.ipRange);
  return { zoneId, clusterId, hostIds, primaryStorageId, imageId, imageFile, badImageId, offerings: { small, large }, l3NetworkId };
}
