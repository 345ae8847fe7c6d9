import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import type { TestStratus } from '../support/stratus.js';

// What the volume stories need around them: a zone with one simulated host, local primary
// storage, an image (a real file, so that its sha256 verifies), offerings and a flat network.

export const GiB = 1024 ** 3;

export interface ComputeInventory {
  zone: string;
  cluster: string;
  host: string;
  storage: string;
  image: string;
  offering: string;
  diskOffering: string;
  l3: string;
}

export async function buildComputeInventory(stratus: TestStratus, auth: string, imageDir: string, storageBytes = 1024 * GiB): Promise<ComputeInventory> {
  const post = async (path: string, body: object) => {
    const response = await request(stratus.app).post(path).set('Authorization', auth).send(body);
    if (response.status !== 201) throw new Error(`${path} answered ${response.status}: ${JSON.stringify(response.body)}`);
    return response.body.id as string;
  };
  const zone = await post('/v1/zones', { name: 'zone' });
  const cluster = await post('/v1/clusters', { zoneId: zone, name: 'sim', hypervisorType: 'Simulator' });
  const host = await post('/v1/hosts', {
    name: 'sim-1', clusterId: cluster, hypervisorType: 'Simulator', managementIp: '192.0.2.41', username: 'root', password: 'secret',
    simulatedCapacity: { cpuCount: 32, memoryBytes: 128 * GiB },
  });
  const storage = await post('/v1/primary-storages', { zoneId: zone, name: 'local', type: 'LocalStorage', url: '/var/lib/stratus', totalCapacityBytes: storageBytes });
  await post('/v1/image-stores', { zoneId: zone, name: 'images', url: 'file:///srv/images' });
  const bytes = Buffer.from('a tiny bootable image, for the simulator only');
  const imagePath = join(imageDir, 'tiny.qcow2');
  writeFileSync(imagePath, bytes);
  const image = await post('/v1/images', {
    name: 'tiny', url: imagePath, format: 'qcow2', platform: 'Linux', sha256: createHash('sha256').update(bytes).digest('hex'), sizeBytes: bytes.length,
  });
  const offering = await post('/v1/instance-offerings', { name: 'small', cpuCount: 1, memoryBytes: GiB });
  const diskOffering = await post('/v1/disk-offerings', { name: '10G', sizeBytes: 10 * GiB });
  const l2 = await post('/v1/l2-networks', { zoneId: zone, name: 'flat', physicalInterface: 'eth0' });
  const l3 = await post('/v1/l3-networks', { l2NetworkId: l2, name: 'private' });
  await post(`/v1/l3-networks/${l3}/ip-ranges`, { startIp: '10.20.0.10', endIp: '10.20.0.50', gateway: '10.20.0.1', netmask: '255.255.255.0' });
  return { zone, cluster, host, storage, image, offering, diskOffering, l3 };
}

export { eventually } from '../support/eventually.js';
