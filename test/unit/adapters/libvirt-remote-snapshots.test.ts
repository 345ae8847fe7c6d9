// Volume snapshots on a host reached over the default qemu+ssh URI, against a fake virsh and a
// fake ssh: qemu-img runs on the host through the management connection (the same ssh and
// configuration file as virsh's wrapper), every word quoted for the remote shell, never on
// the agent's machine; ids are validated before anything runs; a remote URI of another kind
// is still refused.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createLibvirtDriver } from '../../../adapters/hypervisor/libvirt.js';
import type { CommandResult, CommandRunner } from '../../../adapters/hypervisor/libvirt-commands.js';
import type { HostAccess, OperationContext } from '../../../adapters/hypervisor/port.js';

const dirs: string[] = [];
afterEach(() => { for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true }); });

function remoteHost() {
  const root = mkdtempSync(join(tmpdir(), 'stratus-remote-snapshots-'));
  dirs.push(root);
  // The key check (`ssh … true`) passes: the management key opens the host.
  const ssh = join(root, 'fake-ssh');
  writeFileSync(ssh, '#!/bin/sh\nexit 0\n');
  chmodSync(ssh, 0o755);
  const sshDir = join(root, 'ssh');
  const snapshots = new Set<string>();
  const remote: string[][] = [];
  let localQemuImg = 0;
  const ok = (stdout = ''): CommandResult => ({ stdout, stderr: '' });
  const runner: CommandRunner = {
    async virsh(_uri, args) {
      const [command, ...rest] = args;
      switch (command) {
        case 'pool-list': return ok('stratus-images\nstratus-volumes\n');
        case 'pool-info': return ok('State: running\n');
        case 'pool-refresh': case 'pool-autostart': return ok();
        case 'vol-list': return ok(" root-1.qcow2   /pool/volumes/root-1.qcow2\n");
        case 'vol-path': return ok(`/pool/volumes/${rest[rest.length - 1]}\n`);
        case 'vol-info': return ok('Name: root-1.qcow2\nCapacity: 1048576 bytes\nAllocation: 4096 bytes\n');
        case 'list': return ok('');
        default: throw new Error(`the fake virsh does not know ${command}`);
      }
    },
    async virshShell() { throw new Error('not used'); },
    async qemuImg() { localQemuImg += 1; return ok('{}'); },
    async run(file, args) {
      expect(file).toBe(ssh);
      remote.push([...args]);
      // The host's side: the last argument is the command line its shell runs.
      const line = args[args.length - 1]!;
      const words = [...line.matchAll(/'([^']*)'/g)].map((match) => match[1]!);
      if (words[1] === 'info') return ok(JSON.stringify({ format: 'qcow2', snapshots: [...snapshots].map((name) => ({ name })) }));
      if (words[1] === 'snapshot' && words[2] === '-c') snapshots.add(words[3]!);
      if (words[1] === 'snapshot' && words[2] === '-d') snapshots.delete(words[3]!);
      return ok();
    },
    findTool: () => undefined,
  };
  const driver = createLibvirtDriver({ runner, sshDir, ssh, storageDir: '/pool' });
  const host = (libvirtUri?: string): HostAccess => ({
    hostId: randomUUID(), hypervisorType: 'KVM', managementIp: '192.0.2.9', username: 'root', ...(libvirtUri ? { libvirtUri } : {}),
  });
  const context = (): OperationContext => ({ operationId: randomUUID(), openSecret: (sealed) => sealed });
  return { driver, host, context, sshDir, snapshots, remote, localQemuImg: () => localQemuImg };
}

describe('volume snapshots on a host reached over qemu+ssh', () => {
  it('creates, reverts and deletes with qemu-img run on the host over the management ssh', async () => {
    const fake = remoteHost();
    const host = fake.host();
    const created = await fake.driver.execute(host, { op: 'snapshot.create', volumeId: 'root-1', snapshotId: 'snap-1' }, fake.context());
    expect(created).toEqual({ volumeId: 'root-1', snapshotId: 'snap-1', sizeBytes: 1048576 });
    expect(fake.snapshots.has('snap-1')).toBe(true);
    expect(fake.remote).toContainEqual(['-F', join(fake.sshDir, 'config'), '-l', 'root', '--', '192.0.2.9',
      "'qemu-img' 'info' '-U' '--output=json' '/pool/volumes/root-1.qcow2'"]);
    expect(fake.remote).toContainEqual(['-F', join(fake.sshDir, 'config'), '-l', 'root', '--', '192.0.2.9',
      "'qemu-img' 'snapshot' '-c' 'snap-1' '/pool/volumes/root-1.qcow2'"]);

    await fake.driver.execute(host, { op: 'snapshot.revert', volumeId: 'root-1', snapshotId: 'snap-1' }, fake.context());
    expect(fake.remote.map((args) => args[args.length - 1])).toContain("'qemu-img' 'snapshot' '-a' 'snap-1' '/pool/volumes/root-1.qcow2'");

    await fake.driver.execute(host, { op: 'snapshot.delete', volumeId: 'root-1', snapshotId: 'snap-1' }, fake.context());
    expect(fake.snapshots.size).toBe(0);
    expect(fake.localQemuImg()).toBe(0);
  });

  it('answers SNAPSHOT_NOT_FOUND for a revert to a snapshot the volume does not have', async () => {
    const fake = remoteHost();
    await expect(fake.driver.execute(fake.host(), { op: 'snapshot.revert', volumeId: 'root-1', snapshotId: 'missing' }, fake.context()))
      .rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
  });

  it('refuses a snapshot id that is not an id before running anything on the host', async () => {
    const fake = remoteHost();
    for (const snapshotId of ["x' ; touch /tmp/owned ; '", '-d', '$(id)', 'a b']) {
      await expect(fake.driver.execute(fake.host(), { op: 'snapshot.create', volumeId: 'root-1', snapshotId }, fake.context()))
        .rejects.toMatchObject({ code: 'INVALID_OPERATION' });
    }
    expect(fake.remote).toEqual([]);
  });

  it('still refuses snapshots on a remote URI without the management connection', async () => {
    const fake = remoteHost();
    await expect(fake.driver.execute(fake.host('qemu+tcp://192.0.2.9/system'), { op: 'snapshot.create', volumeId: 'root-1', snapshotId: 'snap-1' }, fake.context()))
      .rejects.toMatchObject({ code: 'UNSUPPORTED_OPERATION' });
    expect(fake.remote).toEqual([]);
    expect(fake.localQemuImg()).toBe(0);
  });
});
