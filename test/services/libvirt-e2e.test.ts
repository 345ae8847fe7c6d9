// End to end on real libvirtd + QEMU, through Stratus's API, on a host added with
// hypervisorType KVM and libvirtUri qemu:///system (npm run test:services libvirt).
// A blank qcow2 image is enough: the firmware boots and finds nothing, QEMU runs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLibvirtInventory, stopLibvirtInventory, type LibvirtInventory } from '../support/libvirt-inventory.js';

const uri = process.env.STRATUS_TEST_LIBVIRT_URI;
const storageDir = `/var/lib/stratus/libvirt-e2e-${process.pid}`;

describe.skipIf(!uri)('Stratus on libvirt + QEMU, end to end', () => {
  let kvm: LibvirtInventory;
  const ids = {} as Record<'host' | 'image' | 'badImage' | 'vm', string>;
  const post = (path: string, body: object = {}) => kvm.post(path, body);
  const del = (path: string) => kvm.del(path);
  const get = (path: string) => kvm.get(path);
  const created = (path: string, body: object) => kvm.created(path, body);
  const virsh = (...args: string[]) => kvm.virsh(...args);
  const domstate = (vmId: string) => kvm.domstate(vmId);
  const vmBody = (name: string, extra: object = {}) => kvm.vmBody(name, extra);

  beforeAll(async () => {
    kvm = await startLibvirtInventory({
      uri: uri!,
      host: { managementIp: '127.0.0.1', username: 'root', password: 'unused-on-a-local-uri', libvirtUri: uri! },
      storageDir,
      subnet: '10.30.0',
      ...(process.env.STRATUS_TEST_LIBVIRT_NETWORK ? { network: process.env.STRATUS_TEST_LIBVIRT_NETWORK } : {}),
      // Five 1-vCPU VMs at once on a 2-core machine, as any KVM cloud over-commits vCPUs.
      cpuOvercommit: 8,
    });
    ids.host = kvm.ids.host;
    ids.image = kvm.ids.image;
    ids.badImage = await created('/v1/images', { name: 'tampered', url: pathToFileURL(kvm.imageFile).href, format: 'qcow2', platform: 'Linux', sha256: '0'.repeat(64), sizeBytes: readFileSync(kvm.imageFile).length });
  });

  afterAll(async () => {
    await stopLibvirtInventory(kvm, { uri: uri!, storageDir });
  });

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

  it('creates four VMs at once from an image not cached yet: all Running, the image fetched into the cache once', async () => {
    const dir = join(kvm.stratus.dataDir, 'images');
    const imageFile = join(dir, 'second.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', imageFile, '32M']);
    const bytes = readFileSync(imageFile);
    const imageId = await created('/v1/images', {
      name: 'second', url: pathToFileURL(imageFile).href, format: 'qcow2', platform: 'Linux', sha256: createHash('sha256').update(bytes).digest('hex'), sizeBytes: bytes.length,
    });
    const vms = await Promise.all([1, 2, 3, 4].map((index) => post('/v1/vm-instances', vmBody(`at-once-${index}`, { imageId }))));
    for (const vm of vms) expect(vm.status, JSON.stringify(vm.body)).toBe(201);
    for (const vm of vms) expect(domstate(vm.body.id as string)).toBe('running');
    expect(virsh('vol-list', '--pool', 'stratus-images').split('\n').filter((line) => line.trim().startsWith(`${imageId}.`))).toHaveLength(1);
    for (const vm of vms) {
      await del(`/v1/vm-instances/${vm.body.id as string}`).expect(200);
      await post(`/v1/vm-instances/${vm.body.id as string}/expunge`).expect(200);
      expect(domstate(vm.body.id as string)).toBe('absent');
    }
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
