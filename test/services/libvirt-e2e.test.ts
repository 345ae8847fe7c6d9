// End to end on real libvirtd + QEMU, through Stratus's API, on a host added with
// hypervisorType KVM and libvirtUri qemu:///system (npm run test:services libvirt).
// A blank qcow2 image is enough: the firmware boots and finds nothing, QEMU runs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, startStratus, type TestStratus } from '../support/stratus.js';

const uri = process.env.STRATUS_TEST_LIBVIRT_URI;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

const virsh = (...args: string[]) => execFileSync('virsh', ['-q', '-c', uri!, ...args], { encoding: 'utf8' }).trim();
const domstate = (vmId: string) => {
  try { return virsh('domstate', `stratus-${vmId}`); } catch { return 'absent'; }
};

describe.skipIf(!uri)('Stratus on libvirt + QEMU, end to end', () => {
  let stratus: TestStratus;
  let auth: string;
  const ids = {} as Record<'host' | 'image' | 'badImage' | 'offering' | 'l3' | 'vm', string>;

  const wait = { Prefer: 'wait=120' };
  const post = (path: string, body: object = {}) => request(stratus.app).post(path).set('Authorization', auth).set(wait).send(body);
  const del = (path: string) => request(stratus.app).delete(path).set('Authorization', auth).set(wait);
  const get = (path: string) => request(stratus.app).get(path).set('Authorization', auth);
  const created = async (path: string, body: object) => {
    const response = await post(path, body);
    if (response.status !== 201) throw new Error(`POST ${path} answered ${response.status}: ${JSON.stringify(response.body)}`);
    return response.body.id as string;
  };

  beforeAll(async () => {
    if (process.env.STRATUS_TEST_LIBVIRT_NETWORK) process.env.STRATUS_LIBVIRT_NETWORK = process.env.STRATUS_TEST_LIBVIRT_NETWORK;
    else process.env.STRATUS_LIBVIRT_USER_NETWORKING = 'true';
    // Nothing in a blank disk answers ACPI: a short grace period, then the cold fallback.
    process.env.STRATUS_LIBVIRT_GRACE_STOP_MS = '1000';
    process.env.STRATUS_LIBVIRT_STORAGE_DIR = `/var/lib/stratus/libvirt-e2e-${process.pid}`;
    stratus = await startStratus();
    auth = await stratus.login();

    const dir = join(stratus.dataDir, 'images');
    mkdirSync(dir, { recursive: true });
    const imageFile = join(dir, 'blank.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', imageFile, '64M']);
    const bytes = readFileSync(imageFile);
    const sha256 = createHash('sha256').update(bytes).digest('hex');

    const zoneId = await created('/v1/zones', { name: 'zone-kvm' });
    const clusterId = await created('/v1/clusters', { zoneId, name: 'kvm', hypervisorType: 'KVM' });
    ids.host = await created('/v1/hosts', { name: 'this-machine', clusterId, hypervisorType: 'KVM', managementIp: '127.0.0.1', username: 'root', password: 'unused-on-a-local-uri', libvirtUri: uri });
    await created('/v1/primary-storages', { zoneId, name: 'local', type: 'LocalStorage', url: '/var/lib/stratus/volumes', totalCapacityBytes: 100 * GiB });
    const url = pathToFileURL(imageFile).href;
    ids.image = await created('/v1/images', { name: 'blank', url, format: 'qcow2', platform: 'Linux', sha256, sizeBytes: bytes.length });
    ids.badImage = await created('/v1/images', { name: 'tampered', url, format: 'qcow2', platform: 'Linux', sha256: '0'.repeat(64), sizeBytes: bytes.length });
    ids.offering = await created('/v1/instance-offerings', { name: 'tiny', cpuCount: 1, memoryBytes: 128 * MiB });
    const l2NetworkId = await created('/v1/l2-networks', { zoneId, name: 'flat', physicalInterface: 'eth0' });
    ids.l3 = await created('/v1/l3-networks', { l2NetworkId, name: 'private' });
    await created(`/v1/l3-networks/${ids.l3}/ip-ranges`, { startIp: '10.30.0.10', endIp: '10.30.0.40', gateway: '10.30.0.1', netmask: '255.255.255.0' });
  });

  afterAll(async () => {
    await stratus?.stop();
    if (stratus) removeDir(stratus.dataDir);
    // The pools point into this run's storage directory: undefine them for the next run.
    for (const pool of ['stratus-images', 'stratus-volumes']) {
      for (const step of ['pool-destroy', 'pool-undefine']) {
        try { virsh(step, pool); } catch { /* not there */ }
      }
    }
    removeDir(process.env.STRATUS_LIBVIRT_STORAGE_DIR!);
  });

  const vmBody = (name: string, extra: object = {}) => ({ name, instanceOfferingId: ids.offering, imageId: ids.image, l3NetworkIds: [ids.l3], ...extra });

  /** Polls the read model until the VM shows `state` (the power sync job runs every few seconds). */
  async function untilState(vmId: string, state: string): Promise<string> {
    let seen = '';
    for (let attempt = 0; attempt < 120; attempt++) {
      seen = (await get(`/v1/vm-instances/${vmId}`).expect(200)).body.state as string;
      if (seen === state) return seen;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return seen;
  }

  it('the host is Connected with the capacity libvirt reports', async () => {
    const host = await get(`/v1/hosts/${ids.host}`).expect(200);
    expect(host.body).toMatchObject({ state: 'Connected', hypervisorType: 'KVM' });
    expect(host.body.cpuTotal).toBeGreaterThan(0);
  });

  it('creates a VM that runs in libvirt, with its NIC filtered by clean-traffic', async () => {
    const vm = await post('/v1/vm-instances', vmBody('kvm-1'));
    expect(vm.status, JSON.stringify(vm.body)).toBe(201);
    expect(vm.body.state).toBe('Running');
    ids.vm = vm.body.id;
    expect(domstate(ids.vm)).toBe('running');
    const xml = virsh('dumpxml', `stratus-${ids.vm}`);
    expect(xml).toContain(vm.body.nics[0].mac);
    if (process.env.STRATUS_TEST_LIBVIRT_NETWORK) expect(xml).toContain("filter='clean-traffic'");
    expect(xml).toMatch(/<graphics type='vnc'/);
    expect(xml).not.toMatch(/passwd=/); // dumpxml without --security-info hides it
  });

  it('stops (grace, falling back to cold) and starts', async () => {
    expect((await post(`/v1/vm-instances/${ids.vm}/stop`, { type: 'grace' }).expect(200)).body.state).toBe('Stopped');
    expect(domstate(ids.vm)).toBe('shut off');
    expect((await post(`/v1/vm-instances/${ids.vm}/start`).expect(200)).body.state).toBe('Running');
    expect(domstate(ids.vm)).toBe('running');
  });

  it('pauses and resumes', async () => {
    expect((await post(`/v1/vm-instances/${ids.vm}/pause`).expect(200)).body.state).toBe('Paused');
    expect(domstate(ids.vm)).toBe('paused');
    expect((await post(`/v1/vm-instances/${ids.vm}/resume`).expect(200)).body.state).toBe('Running');
    expect(domstate(ids.vm)).toBe('running');
  });

  it('snapshots the root volume while running, and reverts it once stopped', async () => {
    const snapshot = await post('/v1/volume-snapshots', { vmInstanceId: ids.vm, name: 'before' });
    expect(snapshot.status, JSON.stringify(snapshot.body)).toBe(200);
    expect((await post(`/v1/volume-snapshots/${snapshot.body.id}/revert`)).status).toBe(409);
    await post(`/v1/vm-instances/${ids.vm}/stop`, { type: 'cold' }).expect(200);
    const reverted = await post(`/v1/volume-snapshots/${snapshot.body.id}/revert`);
    expect(reverted.status, JSON.stringify(reverted.body)).toBe(200);
    expect((await post(`/v1/vm-instances/${ids.vm}/start`).expect(200)).body.state).toBe('Running');
  });

  it('notices a VM whose QEMU process was killed out of band', async () => {
    const pid = Number(readFileSync(`/var/run/libvirt/qemu/stratus-${ids.vm}.pid`, 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    expect(await untilState(ids.vm, 'Stopped')).toBe('Stopped');
    expect(domstate(ids.vm)).toBe('shut off');
  });

  it('refuses an image whose sha256 does not match', async () => {
    const failed = await post('/v1/vm-instances', vmBody('tampered', { imageId: ids.badImage }));
    expect(failed.status).toBe(409);
    expect(failed.body.code).toBe('IMAGE_CHECKSUM_MISMATCH');
  });

  it('deletes under Delay (domain undefined, files kept), recovers, then expunges: domain and files gone', async () => {
    const before = (await get(`/v1/vm-instances/${ids.vm}`).expect(200)).body;
    const rootVolumeId = (before.volumes as Array<{ id: string; type: string }>).find((volume) => volume.type === 'Root')!.id;
    const rootFile = virsh('vol-path', '--pool', 'stratus-volumes', `${rootVolumeId}.qcow2`);
    expect(existsSync(rootFile)).toBe(true);
    const deleted = await del(`/v1/vm-instances/${ids.vm}`).expect(200);
    expect(deleted.body.state).toBe('Destroyed');
    expect(domstate(ids.vm)).toBe('absent');
    expect(existsSync(rootFile)).toBe(true);
    expect((await post(`/v1/vm-instances/${ids.vm}/recover`).expect(200)).body.state).toBe('Stopped');
    expect((await post(`/v1/vm-instances/${ids.vm}/start`).expect(200)).body.state).toBe('Running');
    expect(domstate(ids.vm)).toBe('running');
    await del(`/v1/vm-instances/${ids.vm}`).expect(200);
    await post(`/v1/vm-instances/${ids.vm}/expunge`).expect(200);
    expect(domstate(ids.vm)).toBe('absent');
    expect(existsSync(rootFile)).toBe(false);
  });
});
