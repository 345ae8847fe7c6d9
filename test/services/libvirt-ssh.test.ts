// A KVM host reached the default way, over qemu+ssh (npm run test:services: servers/libvirt.sh
// and servers/sshd.sh): added through the API by its management address 127.0.0.1, user root
// and password, with no libvirtUri, so the driver connects to qemu+ssh://root@127.0.0.1/system.
// On first contact Stratus installs its management key with the password (SSH_ASKPASS), learns
// the host's key into its own known_hosts, and from then on connects with the key. A VM is
// created, seen Running in libvirt, stopped and deleted over that connection. Volume snapshots
// run qemu-img on the host over the same management connection: one is taken while the VM is
// Stopped, reverted (the data written after it is gone) and deleted, and one taken and deleted
// while it runs (QMP through virsh). Neither the password nor the private key ever reaches an event.
import { execFileSync } from 'node:child_process';
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

  it('snapshots a root volume over ssh: taken while Stopped, reverted, deleted; taken and deleted while Running', async () => {
    const vm = await kvm.post('/v1/vm-instances', kvm.vmBody('snapshots-over-ssh'));
    expect(vm.status, JSON.stringify(vm.body)).toBe(201);
    const id = vm.body.id as string;
    const rootVolumeId = (vm.body.volumes as Array<{ id: string; type: string }>).find((volume) => volume.type === 'Root')!.id;
    const rootFile = kvm.virsh('vol-path', '--pool', 'stratus-volumes', `${rootVolumeId}.qcow2`);
    // This machine is the host: its qemu-img shows what the driver did over ssh.
    const snapshotsOnHost = () => ((JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', rootFile], { encoding: 'utf8' })) as {
      snapshots?: Array<{ name: string }>;
    }).snapshots ?? []).map((snapshot) => snapshot.name);
    const qemuIo = (command: string) => execFileSync('qemu-io', ['-f', 'qcow2', '-c', command, rootFile], { encoding: 'utf8' });

    await kvm.post(`/v1/vm-instances/${id}/stop`, { type: 'cold' }).expect(200);
    const stopped = await kvm.post('/v1/volume-snapshots', { vmInstanceId: id, name: 'while-stopped' });
    expect(stopped.status, JSON.stringify(stopped.body)).toBe(200);
    const stoppedId = stopped.body.id as string;
    expect(snapshotsOnHost()).toContain(stoppedId);

    // Data written after the snapshot is gone once reverted.
    qemuIo('write -P 0xab 0 64k');
    expect(qemuIo('read -P 0xab 0 64k')).not.toMatch(/Pattern verification failed/);
    const reverted = await kvm.post(`/v1/volume-snapshots/${stoppedId}/revert`);
    expect(reverted.status, JSON.stringify(reverted.body)).toBe(200);
    expect(qemuIo('read -P 0 0 64k')).not.toMatch(/Pattern verification failed/);

    const deleted = await kvm.del(`/v1/volume-snapshots/${stoppedId}`);
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(200);
    expect(snapshotsOnHost()).not.toContain(stoppedId);

    expect((await kvm.post(`/v1/vm-instances/${id}/start`).expect(200)).body.state).toBe('Running');
    const running = await kvm.post('/v1/volume-snapshots', { vmInstanceId: id, name: 'while-running' });
    expect(running.status, JSON.stringify(running.body)).toBe(200);
    expect(snapshotsOnHost()).toContain(running.body.id);
    await kvm.del(`/v1/volume-snapshots/${running.body.id as string}`).expect(200);
    expect(snapshotsOnHost()).not.toContain(running.body.id);

    await kvm.del(`/v1/vm-instances/${id}`).expect(200);
    await kvm.post(`/v1/vm-instances/${id}/expunge`).expect(200);
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
