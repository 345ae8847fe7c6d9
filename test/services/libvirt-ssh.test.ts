// A KVM host reached the default way, over qemu+ssh (npm run test:services: servers/libvirt.sh
// and servers/sshd.sh): added through the API by its management address 127.0.0.1, user root
// and password, with no libvirtUri, so the driver connects to qemu+ssh://root@127.0.0.1/system.
// On first contact Stratus installs its management key with the password (SSH_ASKPASS), learns
// the host's key into its own known_hosts, and from then on connects with the key. A VM is
// created, seen Running in libvirt, stopped and deleted over that connection. Neither the
// password nor the private key ever reaches an event.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLibvirtInventory, stopLibvirtInventory, type LibvirtInventory } from '../support/libvirt-inventory.js';

const uri = process.env.STRATUS_TEST_LIBVIRT_URI;
const password = process.env.STRATUS_TEST_SSH_PASSWORD;
const sshHost = process.env.STRATUS_TEST_SSH_HOST ?? '127.0.0.1';
const sshUser = process.env.STRATUS_TEST_SSH_USER ?? 'root';
const storageDir = `/var/lib/stratus/libvirt-ssh-${process.pid}`;

describe.skipIf(!uri || !password)('a KVM host over qemu+ssh, added with a password', () => {
  let kvm: LibvirtInventory;
  let vmId: string;

  beforeAll(async () => {
    kvm = await startLibvirtInventory({
      uri: uri!,
      host: { managementIp: sshHost, username: sshUser, password: password! },
      storageDir,
      subnet: '10.33.0',
      ...(process.env.STRATUS_TEST_LIBVIRT_NETWORK ? { network: process.env.STRATUS_TEST_LIBVIRT_NETWORK } : {}),
    });
  });

  afterAll(async () => {
    await stopLibvirtInventory(kvm, { uri: uri!, storageDir });
  });

  const sshDir = () => join(kvm.stratus.dataDir, 'ssh');

  it('connects over qemu+ssh: the host is Connected, the management key installed, the host key learnt', async () => {
    const host = (await kvm.get(`/v1/hosts/${kvm.ids.host}`).expect(200)).body;
    expect(host, JSON.stringify(host)).toMatchObject({ state: 'Connected', hypervisorType: 'KVM' });
    expect(host.cpuTotal).toBeGreaterThan(0);
    expect(statSync(join(sshDir(), 'id_ed25519')).mode & 0o777).toBe(0o600);
    expect(statSync(sshDir()).mode & 0o777).toBe(0o700);
    const publicKey = readFileSync(join(sshDir(), 'id_ed25519.pub'), 'utf8').trim();
    const home = sshUser === 'root' ? '/root' : `/home/${sshUser}`;
    expect(readFileSync(join(home, '.ssh', 'authorized_keys'), 'utf8').split('\n')).toContain(publicKey);
    expect(readFileSync(join(sshDir(), 'known_hosts'), 'utf8')).toMatch(/ssh-ed25519 /);
  });

  it('creates a VM that runs, stops it and deletes it, all over the ssh connection', async () => {
    const vm = await kvm.post('/v1/vm-instances', kvm.vmBody('over-ssh'));
    expect(vm.status, JSON.stringify(vm.body)).toBe(201);
    expect(vm.body.state).toBe('Running');
    vmId = vm.body.id as string;
    expect(kvm.domstate(vmId)).toBe('running');
    // The image went into the host's cache by upload (a remote URI), marked whole.
    const images = kvm.virsh('vol-list', '--pool', 'stratus-images');
    expect(images).toContain(`${kvm.ids.image}.`);
    expect(images).toMatch(/\.ready\s/);

    expect((await kvm.post(`/v1/vm-instances/${vmId}/stop`, { type: 'cold' }).expect(200)).body.state).toBe('Stopped');
    expect(kvm.domstate(vmId)).toBe('shut off');
    expect((await kvm.del(`/v1/vm-instances/${vmId}`).expect(200)).body.state).toBe('Destroyed');
    expect(kvm.domstate(vmId)).toBe('absent');
    await kvm.post(`/v1/vm-instances/${vmId}/expunge`).expect(200);
  });

  it('keeps the password and the private key out of every event', async () => {
    const privateKey = readFileSync(join(sshDir(), 'id_ed25519'), 'utf8');
    const keyBody = privateKey.split('\n').filter((line) => line && !line.startsWith('-----')).join('');
    let after = 0;
    for (;;) {
      const events = await kvm.stratus.eventStore.readAll({ after, limit: 1000 });
      if (events.length === 0) break;
      const text = JSON.stringify(events);
      expect(text).not.toContain(password!);
      expect(text).not.toContain(keyBody.slice(0, 40));
      after = events[events.length - 1]!.position;
    }
  });
});
