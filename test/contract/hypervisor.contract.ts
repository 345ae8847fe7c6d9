// The hypervisor contract: what every driver behind adapters/hypervisor/port.ts must do.
// Run against the simulator (hypervisor.simulator.test.ts) and, later, libvirt. Operations
// are idempotent (delivery is at least once), results are JSON, errors carry stable codes.
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  HostAccess,
  HypervisorDriver,
  HypervisorOperation,
  OperationContext,
  ResultOf,
} from '../../adapters/hypervisor/port.js';

export interface HypervisorFixture {
  driver: HypervisorDriver;
  /** A host to run operations on; a fresh one per call, so tests do not see each other's VMs. */
  newHost(): Promise<HostAccess>;
  /** A host whose capacity is exactly this (drivers that cannot fake capacity return undefined). */
  hostWithCapacity?(capacity: { cpuCount: number; memoryBytes: number }): Promise<HostAccess>;
  seal(plaintext: string): string;
  openSecret(sealed: string): string;
  /** Image format the driver can boot from a small blank file. */
  imageFormat: 'qcow2' | 'raw';
  /** Bytes of a small bootable (or at least valid) image in that format. */
  imageBytes(): Buffer;
  close(): Promise<void>;
}

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

export function hypervisorContract(name: string, setup: () => Promise<HypervisorFixture>) {
  describe(`hypervisor contract: ${name}`, () => {
    let fixture: HypervisorFixture;
    let dir: string;
    let server: Server;
    let baseUrl: string;
    let imagePath: string;
    let imageSha: string;

    beforeAll(async () => {
      fixture = await setup();
      dir = mkdtempSync(join(tmpdir(), 'stratus-hv-contract-'));
      const bytes = fixture.imageBytes();
      imagePath = join(dir, `image.${fixture.imageFormat}`);
      writeFileSync(imagePath, bytes);
      imageSha = createHash('sha256').update(bytes).digest('hex');
      server = createServer((req, res) => {
        if (req.url === `/image.${fixture.imageFormat}`) {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.end(bytes);
        } else {
          res.writeHead(404).end();
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fixture.close();
    });

    function context(): OperationContext {
      return { operationId: randomUUID(), openSecret: fixture.openSecret };
    }

    async function run<O extends HypervisorOperation>(host: HostAccess, operation: O): Promise<ResultOf<O>> {
      const result = await fixture.driver.execute(host, operation, context());
      // Results cross the bus as JSON: they must survive a round trip unchanged.
      expect(JSON.parse(JSON.stringify(result))).toEqual(result);
      return result;
    }

    async function refusal(host: HostAccess, operation: HypervisorOperation): Promise<string> {
      try {
        await fixture.driver.execute(host, operation, context());
      } catch (error) {
        const { code, message } = error as { code?: string; message?: string };
        expect(typeof message).toBe('string');
        return code ?? 'NO_CODE';
      }
      throw new Error(`${operation.op} succeeded but should have failed`);
    }

    const fileUrl = () => pathToFileURL(imagePath).href;

    async function prepared(host: HostAccess, imageId = randomUUID()) {
      await run(host, { op: 'image.prepare', imageId, url: fileUrl(), format: fixture.imageFormat, sha256: imageSha });
      return imageId;
    }

    async function definedVm(host: HostAccess, options: { cpuCount?: number; memoryBytes?: number } = {}) {
      const imageId = await prepared(host);
      const rootId = randomUUID();
      const root = await run(host, { op: 'volume.create', volumeId: rootId, sizeBytes: GiB, format: 'qcow2', imageId });
      const vmId = randomUUID();
      const defined = await run(host, {
        op: 'vm.define',
        vmId,
        name: `contract-${vmId.slice(0, 8)}`,
        cpuCount: options.cpuCount ?? 1,
        memoryBytes: options.memoryBytes ?? 64 * MiB,
        volumes: [{ volumeId: rootId, device: 'vda', path: root.path }],
        nics: [{ nicId: randomUUID(), mac: '52:54:00:12:34:56', ip: '10.0.0.10', l3NetworkId: randomUUID() }],
      });
      return { vmId, rootId, defined };
    }

    describe('host', () => {
      it('probes capacity and the VMs it runs', async () => {
        const host = await fixture.newHost();
        const probe = await run(host, { op: 'host.probe' });
        expect(probe.cpuCount).toBeGreaterThan(0);
        expect(probe.memoryBytes).toBeGreaterThan(0);
        expect(probe.freeMemoryBytes).toBeLessThanOrEqual(probe.memoryBytes);
        expect(Array.isArray(probe.vms)).toBe(true);
        const { vmId } = await definedVm(host);
        const again = await run(host, { op: 'host.probe' });
        expect(again.vms).toContainEqual({ vmId, state: 'Stopped' });
      });
    });

    describe('images', () => {
      it('prepares an image from a file URL, verifying its sha256, and again with the same result', async () => {
        const host = await fixture.newHost();
        const imageId = randomUUID();
        const operation = { op: 'image.prepare', imageId, url: fileUrl(), format: fixture.imageFormat, sha256: imageSha } as const;
        const first = await run(host, operation);
        expect(first).toMatchObject({ imageId, sha256: imageSha, sizeBytes: fixture.imageBytes().length });
        expect(await run(host, operation)).toEqual(first);
      });

      it('prepares an image from an http URL', async () => {
        const host = await fixture.newHost();
        const imageId = randomUUID();
        const result = await run(host, { op: 'image.prepare', imageId, url: `${baseUrl}/image.${fixture.imageFormat}`, format: fixture.imageFormat, sha256: imageSha });
        expect(result).toMatchObject({ imageId, sha256: imageSha });
      });

      it('refuses an image whose bytes do not match its sha256, and keeps no copy', async () => {
        const host = await fixture.newHost();
        const imageId = randomUUID();
        const wrong = createHash('sha256').update('something else').digest('hex');
        expect(await refusal(host, { op: 'image.prepare', imageId, url: fileUrl(), format: fixture.imageFormat, sha256: wrong }))
          .toBe('IMAGE_CHECKSUM_MISMATCH');
        expect(await refusal(host, { op: 'volume.create', volumeId: randomUUID(), sizeBytes: GiB, format: 'qcow2', imageId }))
          .toBe('IMAGE_NOT_PREPARED');
      });

      it('reports a missing image file or URL as IMAGE_NOT_FOUND', async () => {
        const host = await fixture.newHost();
        expect(await refusal(host, { op: 'image.prepare', imageId: randomUUID(), url: pathToFileURL(join(dir, 'absent.img')).href, format: 'raw', sha256: imageSha }))
          .toBe('IMAGE_NOT_FOUND');
        expect(await refusal(host, { op: 'image.prepare', imageId: randomUUID(), url: `${baseUrl}/absent.img`, format: 'raw', sha256: imageSha }))
          .toBe('IMAGE_NOT_FOUND');
      });
    });

    describe('volumes', () => {
      it('creates blank and image-backed volumes idempotently and deletes them idempotently', async () => {
        const host = await fixture.newHost();
        const imageId = await prepared(host);
        const blank = { op: 'volume.create', volumeId: randomUUID(), sizeBytes: GiB, format: 'qcow2' } as const;
        const created = await run(host, blank);
        expect(created).toMatchObject({ volumeId: blank.volumeId, sizeBytes: GiB, format: 'qcow2' });
        expect(typeof created.path).toBe('string');
        expect(await run(host, blank)).toEqual(created);
        const backed = await run(host, { op: 'volume.create', volumeId: randomUUID(), sizeBytes: 2 * GiB, format: 'qcow2', imageId });
        expect(backed.sizeBytes).toBe(2 * GiB);
        expect(await run(host, { op: 'volume.delete', volumeId: blank.volumeId })).toEqual({ volumeId: blank.volumeId });
        expect(await run(host, { op: 'volume.delete', volumeId: blank.volumeId })).toEqual({ volumeId: blank.volumeId });
      });

      it('attaches and detaches a data volume idempotently, and refuses to share or delete it while attached', async () => {
        const host = await fixture.newHost();
        const { vmId } = await definedVm(host);
        const other = await definedVm(host);
        const volumeId = randomUUID();
        await run(host, { op: 'volume.create', volumeId, sizeBytes: GiB, format: 'qcow2' });
        const attach = { op: 'volume.attach', vmId, volumeId, device: 'vdb' } as const;
        expect(await run(host, attach)).toEqual({ vmId, volumeId, device: 'vdb' });
        expect(await run(host, attach)).toEqual({ vmId, volumeId, device: 'vdb' });
        expect(await refusal(host, { op: 'volume.attach', vmId: other.vmId, volumeId, device: 'vdb' })).toBe('VOLUME_IN_USE');
        expect(await refusal(host, { op: 'volume.delete', volumeId })).toBe('VOLUME_IN_USE');
        expect(await run(host, { op: 'volume.detach', vmId, volumeId })).toEqual({ vmId, volumeId });
        expect(await run(host, { op: 'volume.detach', vmId, volumeId })).toEqual({ vmId, volumeId });
        expect(await run(host, { op: 'volume.attach', vmId: other.vmId, volumeId, device: 'vdb' })).toMatchObject({ vmId: other.vmId });
      });
    });

    describe('VM lifecycle', () => {
      it('defines a VM stopped, and defining it again changes nothing', async () => {
        const host = await fixture.newHost();
        const { vmId, rootId, defined } = await definedVm(host);
        expect(defined).toEqual({ vmId, state: 'Stopped' });
        const again = await run(host, {
          op: 'vm.define', vmId, name: 'again', cpuCount: 1, memoryBytes: 64 * MiB,
          volumes: [{ volumeId: rootId, device: 'vda' }], nics: [],
        });
        expect(again).toEqual({ vmId, state: 'Stopped' });
        expect(await run(host, { op: 'vm.state', vmId })).toEqual({ vmId, state: 'Stopped' });
      });

      it('starts, pauses, resumes, reboots and stops (grace and cold), each idempotent', async () => {
        const host = await fixture.newHost();
        const { vmId } = await definedVm(host);
        const twice = async (operation: HypervisorOperation, state: string) => {
          expect(await run(host, operation)).toEqual({ vmId, state });
          expect(await run(host, operation)).toEqual({ vmId, state });
          expect(await run(host, { op: 'vm.state', vmId })).toEqual({ vmId, state });
        };
        await twice({ op: 'vm.start', vmId }, 'Running');
        await twice({ op: 'vm.pause', vmId }, 'Paused');
        await twice({ op: 'vm.resume', vmId }, 'Running');
        await twice({ op: 'vm.reboot', vmId }, 'Running');
        await twice({ op: 'vm.stop', vmId, type: 'grace' }, 'Stopped');
        await twice({ op: 'vm.start', vmId }, 'Running');
        await twice({ op: 'vm.stop', vmId, type: 'cold' }, 'Stopped');
      });

      it('refuses power operations that make no sense in the current state', async () => {
        const host = await fixture.newHost();
        const { vmId } = await definedVm(host);
        expect(await refusal(host, { op: 'vm.pause', vmId })).toBe('VM_NOT_RUNNING');
        expect(await refusal(host, { op: 'vm.reboot', vmId })).toBe('VM_NOT_RUNNING');
        expect(await refusal(host, { op: 'vm.resume', vmId })).toBe('VM_NOT_PAUSED');
      });

      it('destroys a VM (power off and undefine) idempotently, leaving its volumes', async () => {
        const host = await fixture.newHost();
        const { vmId, rootId } = await definedVm(host);
        await run(host, { op: 'vm.start', vmId });
        expect(await run(host, { op: 'vm.destroy', vmId })).toEqual({ vmId });
        expect(await run(host, { op: 'vm.destroy', vmId })).toEqual({ vmId });
        expect(await refusal(host, { op: 'vm.state', vmId })).toBe('VM_NOT_FOUND');
        expect((await run(host, { op: 'host.probe' })).vms.map((vm) => vm.vmId)).not.toContain(vmId);
        // The root volume is still there, detached: it can be deleted now.
        expect(await run(host, { op: 'volume.delete', volumeId: rootId })).toEqual({ volumeId: rootId });
      });

      it('reports VM_NOT_FOUND for a VM it does not know', async () => {
        const host = await fixture.newHost();
        const vmId = randomUUID();
        for (const operation of [{ op: 'vm.start', vmId }, { op: 'vm.stop', vmId, type: 'cold' }, { op: 'vm.state', vmId }] as const) {
          expect(await refusal(host, operation)).toBe('VM_NOT_FOUND');
        }
      });

      it('rotates the VNC password of a defined VM, opening the sealed value', async () => {
        const host = await fixture.newHost();
        const { vmId } = await definedVm(host);
        await run(host, { op: 'vm.start', vmId });
        const operation = { op: 'vnc.setPassword', vmId, sealedPassword: fixture.seal('s3cret-vnc') } as const;
        expect(await run(host, operation)).toEqual({ vmId });
        expect(await run(host, operation)).toEqual({ vmId });
        expect(await refusal(host, { op: 'vnc.setPassword', vmId: randomUUID(), sealedPassword: fixture.seal('x') })).toBe('VM_NOT_FOUND');
      });

      it('refuses guest agent commands with GUEST_AGENT_UNAVAILABLE on a blank image (no agent runs), VM_NOT_RUNNING when stopped', async () => {
        const host = await fixture.newHost();
        const { vmId } = await definedVm(host);
        const guestAccess = { op: 'vm.guestAccess', vmId, username: 'root', sealedPassword: fixture.seal('n3w-root-pw') } as const;
        expect(await refusal(host, guestAccess)).toBe('VM_NOT_RUNNING');
        await run(host, { op: 'vm.start', vmId });
        expect(await refusal(host, guestAccess)).toBe('GUEST_AGENT_UNAVAILABLE');
        expect(await refusal(host, { ...guestAccess, vmId: randomUUID() })).toBe('VM_NOT_FOUND');
        await run(host, { op: 'vm.stop', vmId, type: 'cold' });
      });
    });

    describe('snapshots', () => {
      it('creates, reverts (only while the VM is stopped) and deletes snapshots idempotently', async () => {
        const host = await fixture.newHost();
        const { vmId, rootId } = await definedVm(host);
        const snapshotId = randomUUID();
        const create = { op: 'snapshot.create', volumeId: rootId, snapshotId } as const;
        const created = await run(host, create);
        expect(created).toMatchObject({ volumeId: rootId, snapshotId });
        expect(await run(host, create)).toEqual(created);
        await run(host, { op: 'vm.start', vmId });
        expect(await refusal(host, { op: 'snapshot.revert', volumeId: rootId, snapshotId })).toBe('VM_NOT_STOPPED');
        await run(host, { op: 'vm.stop', vmId, type: 'cold' });
        const revert = { op: 'snapshot.revert', volumeId: rootId, snapshotId } as const;
        expect(await run(host, revert)).toEqual({ volumeId: rootId, snapshotId });
        expect(await run(host, revert)).toEqual({ volumeId: rootId, snapshotId });
        expect(await refusal(host, { op: 'snapshot.revert', volumeId: rootId, snapshotId: randomUUID() })).toBe('SNAPSHOT_NOT_FOUND');
        const remove = { op: 'snapshot.delete', volumeId: rootId, snapshotId } as const;
        expect(await run(host, remove)).toEqual({ volumeId: rootId, snapshotId });
        expect(await run(host, remove)).toEqual({ volumeId: rootId, snapshotId });
        expect(await refusal(host, revert)).toBe('SNAPSHOT_NOT_FOUND');
      });

      it('refuses a snapshot of a volume it does not know', async () => {
        const host = await fixture.newHost();
        expect(await refusal(host, { op: 'snapshot.create', volumeId: randomUUID(), snapshotId: randomUUID() })).toBe('VOLUME_NOT_FOUND');
      });
    });

    describe('capacity', () => {
      it('refuses to run VMs beyond the host capacity, and has room again once one stops', async (context) => {
        if (!fixture.hostWithCapacity) context.skip();
        const host = await fixture.hostWithCapacity!({ cpuCount: 4, memoryBytes: 4 * GiB });
        const a = await definedVm(host, { cpuCount: 2, memoryBytes: 2 * GiB });
        const b = await definedVm(host, { cpuCount: 2, memoryBytes: 2 * GiB });
        const c = await definedVm(host, { cpuCount: 1, memoryBytes: GiB });
        await run(host, { op: 'vm.start', vmId: a.vmId });
        await run(host, { op: 'vm.start', vmId: b.vmId });
        expect(await refusal(host, { op: 'vm.start', vmId: c.vmId })).toBe('INSUFFICIENT_CAPACITY');
        expect((await run(host, { op: 'host.probe' })).freeMemoryBytes).toBe(0);
        await run(host, { op: 'vm.stop', vmId: b.vmId, type: 'cold' });
        expect(await run(host, { op: 'vm.start', vmId: c.vmId })).toEqual({ vmId: c.vmId, state: 'Running' });
        expect(await refusal(host, { op: 'vm.start', vmId: b.vmId })).toBe('INSUFFICIENT_CAPACITY');
      });
    });
  });
}
