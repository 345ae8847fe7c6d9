// The libvirt driver's image cache against a fake virsh whose pools are real directories:
// one fetch per image and host at a time within a process (operations of different VMs run
// at once), and only whole, verified copies ever become visible in the pool — renamed into
// it on a local URI, marked complete after the upload on a remote one.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createLibvirtDriver } from '../../../adapters/hypervisor/libvirt.js';
import type { CommandResult, CommandRunner } from '../../../adapters/hypervisor/libvirt-commands.js';
import { HypervisorError, type HostAccess, type OperationContext } from '../../../adapters/hypervisor/port.js';

const dirs: string[] = [];
afterEach(() => { for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true }); });

function pools() {
  const root = mkdtempSync(join(tmpdir(), 'stratus-image-cache-'));
  dirs.push(root);
  const storageDir = join(root, 'storage');
  const images = join(storageDir, 'images');
  mkdirSync(images, { recursive: true });
  mkdirSync(join(storageDir, 'volumes'), { recursive: true });
  const calls: string[][] = [];
  const ok = (stdout = ''): CommandResult => ({ stdout, stderr: '' });
  const dirOf = (pool: string) => join(storageDir, pool === 'stratus-images' ? 'images' : 'volumes');
  const runner: CommandRunner = {
    async virsh(_uri, args) {
      calls.push([...args]);
      const [command, ...rest] = args;
      // Every answer waits a turn of the event loop, as a real virsh would: concurrent operations interleave.
      await new Promise((resolve) => setImmediate(resolve));
      switch (command) {
        case 'pool-list': return ok('stratus-images\nstratus-volumes\n');
        case 'pool-info': return ok('State: running\n');
        case 'pool-refresh': case 'pool-autostart': return ok();
        case 'pool-dumpxml': return ok(`<pool type='dir'><name>${rest[0]}</name><target><path>${dirOf(rest[0]!)}</path></target></pool>`);
        case 'vol-list': {
          const dir = dirOf(rest[1]!);
          return ok(readdirSync(dir).map((name) => ` ${name}   ${join(dir, name)}`).join('\n'));
        }
        case 'vol-path': return ok(`${join(dirOf(rest[1]!), rest[2]!)}\n`);
        case 'vol-create-as': writeFileSync(join(dirOf(rest[0]!), rest[1]!), ''); return ok();
        case 'vol-upload': copyFileSync(rest[3]!, join(dirOf(rest[1]!), rest[2]!)); return ok();
        case 'vol-delete': {
          const file = join(dirOf(rest[1]!), rest[2]!);
          if (!existsSync(file)) throw new HypervisorError('VOLUME_NOT_FOUND', 'Storage volume not found');
          rmSync(file);
          return ok();
        }
        default: throw new Error(`the fake virsh does not know ${command}`);
      }
    },
    async virshShell() { throw new Error('not used'); },
    async qemuImg() { return ok('{}'); },
    async run() { return ok(); },
    findTool: () => undefined,
  };
  const image = join(root, 'source.img');
  writeFileSync(image, Buffer.from(`an image ${randomUUID()}`.repeat(1000)));
  const sha256 = createHash('sha256').update(readFileSync(image)).digest('hex');
  const driver = createLibvirtDriver({ runner, storageDir, downloadDir: join(root, 'downloads') });
  const host = (libvirtUri: string): HostAccess => ({ hostId: randomUUID(), hypervisorType: 'KVM', managementIp: '192.0.2.9', username: 'root', libvirtUri });
  const context = (): OperationContext => ({ operationId: randomUUID(), openSecret: (sealed) => sealed });
  const prepare = (access: HostAccess, imageId: string, sha = sha256) =>
    driver.execute(access, { op: 'image.prepare', imageId, url: pathToFileURL(image).href, format: 'qcow2', sha256: sha }, context());
  return { storageDir, images, calls, sha256, host, prepare, count: (command: string) => calls.filter((args) => args[0] === command).length };
}

describe('libvirt image cache', () => {
  it('fetches an image once when several VMs of a host ask for it at the same time (local URI), and renames it into the pool whole', async () => {
    const p = pools();
    const imageId = randomUUID();
    const access = p.host('qemu:///system');
    const results = await Promise.all([p.prepare(access, imageId), p.prepare(access, imageId), p.prepare(access, imageId)]);
    expect(new Set(results.map((result) => result.path)).size).toBe(1);
    expect(results[0]).toMatchObject({ imageId, sha256: p.sha256 });
    // One flight: the pool's directory was looked up (to stage the copy beside it) once.
    expect(p.count('pool-dumpxml')).toBe(1);
    expect(p.count('vol-upload')).toBe(0);
    expect(readdirSync(p.images)).toEqual([`${imageId}.${p.sha256}.${results[0]!.sizeBytes}.qcow2`]);
    expect(readdirSync(join(p.storageDir, 'stratus-images.partial'))).toEqual([]);
    // Cached: a later ask fetches nothing.
    await p.prepare(access, imageId);
    expect(p.count('pool-dumpxml')).toBe(1);
  });

  it('leaves nothing behind when the checksum does not match', async () => {
    const p = pools();
    const imageId = randomUUID();
    const failed = p.prepare(p.host('qemu:///system'), imageId, '0'.repeat(64));
    await expect(failed).rejects.toMatchObject({ code: 'IMAGE_CHECKSUM_MISMATCH' });
    expect(readdirSync(p.images)).toEqual([]);
    expect(readdirSync(join(p.storageDir, 'stratus-images.partial'))).toEqual([]);
  });

  it('on a remote URI, uploads under a name of its own and marks the copy whole; an unmarked copy (another process mid-upload) is never used', async () => {
    const p = pools();
    const imageId = randomUUID();
    const access = p.host('qemu+ssh://root@192.0.2.9/system');
    const partial = `${imageId}.${p.sha256}.9000.qcow2.${'a'.repeat(12)}`;
    writeFileSync(join(p.images, partial), 'half an upload');
    const results = await Promise.all([p.prepare(access, imageId), p.prepare(access, imageId)]);
    expect(p.count('vol-upload')).toBe(1);
    const name = results[0]!.path.split('/').pop()!;
    expect(name).not.toBe(partial);
    expect(readdirSync(p.images).sort()).toEqual([partial, name, `${name}.ready`].sort());
    expect((await p.prepare(access, imageId)).path).toBe(results[0]!.path);
    expect(p.count('vol-upload')).toBe(1);
  });
});
