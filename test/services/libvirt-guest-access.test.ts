// Guest access and anti-spoofing on real libvirtd + QEMU, through Stratus's API
// (npm run test:services libvirt): a VM created with SSH keys and a root password boots with
// a cloud-init seed ISO attached as a CD-ROM (virsh domblklist), whose files (read back with
// isoinfo) hold the key and only a hash of the password; the guest agent channel is there but
// a blank image runs no agent, so guest access fails GUEST_AGENT_UNAVAILABLE; anti-spoofing
// puts clean-traffic on the NIC only when on; expunge removes the seed with the VM.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLibvirtInventory, stopLibvirtInventory, type LibvirtInventory } from '../support/libvirt-inventory.js';
import { ed25519Key } from '../support/ssh-keys.js';

const uri = process.env.STRATUS_TEST_LIBVIRT_URI;
const network = process.env.STRATUS_TEST_LIBVIRT_NETWORK;
const rootPassword = 'Kvm-Root-Secret-2026';
const key = ed25519Key(21, 'ops@stratus');

const isoFile = (iso: string, name: string) => execFileSync('isoinfo', ['-R', '-i', iso, '-x', `/${name}`], { encoding: 'utf8' });

describe.skipIf(!uri)('guest access on libvirt + QEMU, end to end', () => {
  let kvm: LibvirtInventory;
  const storageDir = `/var/lib/stratus/libvirt-guest-access-${process.pid}`;
  const post = (path: string, body: object = {}) => kvm.post(path, body);
  const get = (path: string) => kvm.get(path);
  const virsh = (...args: string[]) => kvm.virsh(...args);
  const vmBody = (name: string, extra: object = {}) => kvm.vmBody(name, extra);

  beforeAll(async () => {
    kvm = await startLibvirtInventory({
      uri: uri!,
      host: { managementIp: '127.0.0.1', username: 'root', password: 'unused-on-a-local-uri', libvirtUri: uri! },
      storageDir,
      subnet: '10.31.0',
      ...(network ? { network } : {}),
    });
  });

  afterAll(async () => {
    await stopLibvirtInventory(kvm, { uri: uri!, storageDir });
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
    await kvm.del(`/v1/vm-instances/${vmId}`).expect(200);
    await post(`/v1/vm-instances/${vmId}/expunge`).expect(200);
    expect(existsSync(seedPath)).toBe(false);
  });
});
