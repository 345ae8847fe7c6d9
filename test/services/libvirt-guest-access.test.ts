// Guest access and anti-spoofing on real libvirtd + QEMU, through Stratus's API
// (npm run test:services libvirt): a VM created with SSH keys and a root password boots with
// a cloud-init seed ISO attached as a CD-ROM (virsh domblklist), whose files (read back with
// isoinfo) hold the key and only a hash of the password; the guest agent channel is there but
// a blank image runs no agent, so guest access fails GUEST_AGENT_UNAVAILABLE; anti-spoofing
// puts clean-traffic on the NIC only when on; expunge removes the seed with the VM.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519Key } from '../support/ssh-keys.js';
import { removeDir, startStratus, type TestStratus } from '../support/stratus.js';

const uri = process.env.STRATUS_TEST_LIBVIRT_URI;
const network = process.env.STRATUS_TEST_LIBVIRT_NETWORK;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const rootPassword = 'Kvm-Root-Secret-2026';
const key = ed25519Key(21, 'ops@stratus');

const virsh = (...args: string[]) => execFileSync('virsh', ['-q', '-c', uri!, ...args], { encoding: 'utf8' }).trim();
const isoFile = (iso: string, name: string) => execFileSync('isoinfo', ['-R', '-i', iso, '-x', `/${name}`], { encoding: 'utf8' });

describe.skipIf(!uri)('guest access on libvirt + QEMU, end to end', () => {
  let stratus: TestStratus;
  let auth: string;
  const ids = {} as Record<'image' | 'offering' | 'l3', string>;
  const storageDir = `/var/lib/stratus/libvirt-guest-access-${process.pid}`;

  const wait = { Prefer: 'wait=120' };
  const post = (path: string, body: object = {}) => request(stratus.app).post(path).set('Authorization', auth).set(wait).send(body);
  const get = (path: string) => request(stratus.app).get(path).set('Authorization', auth);
  const created = async (path: string, body: object) => {
    const response = await post(path, body);
    if (response.status !== 201) throw new Error(`POST ${path} answered ${response.status}: ${JSON.stringify(response.body)}`);
    return response.body.id as string;
  };
  const vmBody = (name: string, extra: object = {}) => ({ name, instanceOfferingId: ids.offering, imageId: ids.image, l3NetworkIds: [ids.l3], ...extra });

  beforeAll(async () => {
    if (network) process.env.STRATUS_LIBVIRT_NETWORK = network;
    else process.env.STRATUS_LIBVIRT_USER_NETWORKING = 'true';
    process.env.STRATUS_LIBVIRT_GRACE_STOP_MS = '1000';
    process.env.STRATUS_LIBVIRT_STORAGE_DIR = storageDir;
    stratus = await startStratus();
    auth = await stratus.login();

    const dir = join(stratus.dataDir, 'images');
    mkdirSync(dir, { recursive: true });
    const imageFile = join(dir, 'blank.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', imageFile, '64M']);
    const bytes = readFileSync(imageFile);
    const zoneId = await created('/v1/zones', { name: 'zone-kvm' });
    const clusterId = await created('/v1/clusters', { zoneId, name: 'kvm', hypervisorType: 'KVM' });
    await created('/v1/hosts', { name: 'this-machine', clusterId, hypervisorType: 'KVM', managementIp: '127.0.0.1', username: 'root', password: 'unused-on-a-local-uri', libvirtUri: uri });
    await created('/v1/primary-storages', { zoneId, name: 'local', type: 'LocalStorage', url: '/var/lib/stratus/volumes', totalCapacityBytes: 100 * GiB });
    ids.image = await created('/v1/images', {
      name: 'blank', url: pathToFileURL(imageFile).href, format: 'qcow2', platform: 'Linux', sha256: createHash('sha256').update(bytes).digest('hex'), sizeBytes: bytes.length,
    });
    ids.offering = await created('/v1/instance-offerings', { name: 'tiny', cpuCount: 1, memoryBytes: 128 * MiB });
    const l2NetworkId = await created('/v1/l2-networks', { zoneId, name: 'flat', physicalInterface: 'eth0' });
    ids.l3 = await created('/v1/l3-networks', { l2NetworkId, name: 'private' });
    await created(`/v1/l3-networks/${ids.l3}/ip-ranges`, { startIp: '10.31.0.10', endIp: '10.31.0.40', gateway: '10.31.0.1', netmask: '255.255.255.0' });
  });

  afterAll(async () => {
    await stratus?.stop();
    if (stratus) removeDir(stratus.dataDir);
    for (const name of virsh('list', '--all', '--name').split('\n').filter((n) => n.startsWith('stratus-'))) {
      try { virsh('destroy', name); } catch { /* off */ }
      try { virsh('undefine', name, '--snapshots-metadata'); } catch { /* gone */ }
    }
    for (const pool of ['stratus-images', 'stratus-volumes']) {
      for (const step of ['pool-destroy', 'pool-undefine']) {
        try { virsh(step, pool); } catch { /* not there */ }
      }
    }
    removeDir(storageDir);
  });

  let vmId: string;
  let seedPath: string;

  it('creates a VM with SSH keys and a root password: Running, with the seed ISO attached as a CD-ROM', async () => {
    const vm = await post('/v1/vm-instances', vmBody('seeded', { sshKeys: [key], rootPassword }));
    expect(vm.status, JSON.stringify(vm.body)).toBe(201);
    expect(vm.body).toMatchObject({ state: 'Running', antiSpoofing: true, guestAccess: { sshKeys: [key], rootPasswordSet: true } });
    vmId = vm.body.id as string;
    const blocks = virsh('domblklist', `stratus-${vmId}`, '--details');
    const cdrom = blocks.split('\n').map((line) => line.trim().split(/\s+/)).find((columns) => columns[1] === 'cdrom');
    expect(cdrom, blocks).toBeDefined();
    seedPath = cdrom![3]!;
    expect(seedPath).toBe(join(storageDir, 'volumes', `${vmId}.seed.iso`));
  });

  it('the ISO is labelled cidata and holds the key, a hash of the password (never the password) and the static address', async () => {
    expect(execFileSync('isoinfo', ['-d', '-i', seedPath], { encoding: 'utf8' })).toMatch(/Volume id: cidata/);
    const userData = isoFile(seedPath, 'user-data');
    expect(userData).toMatch(/^#cloud-config\n/);
    expect(userData).toContain(JSON.stringify(key));
    expect(userData).toMatch(/password: "\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}", type: hash/);
    expect(readFileSync(seedPath).includes(rootPassword)).toBe(false);
    expect(isoFile(seedPath, 'meta-data')).toContain(`instance-id: "${vmId}"`);
    const detail = (await get(`/v1/vm-instances/${vmId}`).expect(200)).body as { nics: Array<{ ip: string; mac: string }> };
    const networkConfig = isoFile(seedPath, 'network-config');
    expect(networkConfig).toContain(`addresses: ["${detail.nics[0]!.ip}/24"]`);
    expect(networkConfig).toContain(`macaddress: "${detail.nics[0]!.mac}"`);
  });

  it('has the guest agent channel, but a blank image runs no agent: GUEST_AGENT_UNAVAILABLE', async () => {
    expect(virsh('dumpxml', `stratus-${vmId}`)).toContain("name='org.qemu.guest_agent.0'");
    const refused = await post(`/v1/vm-instances/${vmId}/guest-access`, { sshKeys: [key], password: 'Another-Secret-1' });
    expect(refused.status, JSON.stringify(refused.body)).toBe(409);
    expect(refused.body.code).toBe('GUEST_AGENT_UNAVAILABLE');
  });

  it('filters the NIC with clean-traffic and its IP and MAC only when anti-spoofing is on', async () => {
    const xml = virsh('dumpxml', `stratus-${vmId}`);
    const detail = (await get(`/v1/vm-instances/${vmId}`).expect(200)).body as { nics: Array<{ ip: string }> };
    if (network) {
      expect(xml).toContain("filter='clean-traffic'");
      expect(xml).toContain(`<parameter name='IP' value='${detail.nics[0]!.ip}'/>`);
    }
    const open = await post('/v1/vm-instances', vmBody('unfiltered', { antiSpoofing: false }));
    expect(open.status, JSON.stringify(open.body)).toBe(201);
    expect(open.body.antiSpoofing).toBe(false);
    expect(virsh('dumpxml', `stratus-${open.body.id as string}`)).not.toContain('filterref');
    expect(virsh('domblklist', `stratus-${open.body.id as string}`, '--details')).not.toContain('cdrom');
  });

  it('removes the seed with the VM: gone after delete and expunge', async () => {
    expect(existsSync(seedPath)).toBe(true);
    await request(stratus.app).delete(`/v1/vm-instances/${vmId}`).set('Authorization', auth).set(wait).expect(200);
    await post(`/v1/vm-instances/${vmId}/expunge`).expect(200);
    expect(existsSync(seedPath)).toBe(false);
  });
});
