// The shared hypervisor contract against real libvirtd + QEMU (npm run test:services libvirt).
// Each "host" is the same qemu:///system connection: the contract's ids are random, so tests
// do not see each other's VMs; what they define is destroyed afterwards.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { createLibvirtDriver } from '../../adapters/hypervisor/libvirt.js';
import type { HostAccess } from '../../adapters/hypervisor/port.js';
import { createKeyRing } from '../../adapters/secrets/keyring.js';
import { hypervisorContract } from '../contract/hypervisor.contract.js';

const uri = process.env.STRATUS_TEST_LIBVIRT_URI;
const ring = createKeyRing([randomBytes(32)]);

/** A small valid qcow2 image, made by qemu-img. */
function blankQcow2(): Buffer {
  const file = join(mkdtempSync(join(tmpdir(), 'stratus-lv-img-')), 'blank.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '64M']);
  return readFileSync(file);
}

if (!uri) {
  describe.skip('hypervisor contract: libvirt (STRATUS_TEST_LIBVIRT_URI not set)', () => {});
} else {
  const image = blankQcow2();
  const network = process.env.STRATUS_TEST_LIBVIRT_NETWORK;
  hypervisorContract('libvirt', async () => {
    const storageDir = `/var/lib/stratus/libvirt-test-${process.pid}`;
    const driver = createLibvirtDriver({
      storageDir,
      network: network ? { type: 'network', name: network } : { type: 'user' },
      // A blank disk boots no OS, so nothing answers ACPI: keep the grace period short.
      graceStopTimeoutMs: 1_000,
    });
    const created: string[] = [];
    return {
      driver,
      newHost: async (): Promise<HostAccess> => {
        const host: HostAccess = { hostId: randomUUID(), hypervisorType: 'KVM', managementIp: '127.0.0.1', username: 'root', libvirtUri: uri };
        created.push(host.hostId);
        return host;
      },
      seal: (text) => ring.seal(text),
      openSecret: (sealed) => ring.open(sealed),
      imageFormat: 'qcow2',
      imageBytes: () => image,
      close: async () => {
        // Destroy every domain the contract left behind, and the test pools.
        const names = execFileSync('virsh', ['-q', '-c', uri, 'list', '--all', '--name'], { encoding: 'utf8' }).split('\n').filter((n) => n.startsWith('stratus-'));
        for (const name of names) {
          try { execFileSync('virsh', ['-q', '-c', uri, 'destroy', name], { stdio: 'ignore' }); } catch { /* already off */ }
          try { execFileSync('virsh', ['-q', '-c', uri, 'undefine', name, '--snapshots-metadata'], { stdio: 'ignore' }); } catch { /* gone */ }
        }
        for (const pool of ['stratus-images', 'stratus-volumes']) {
          try { execFileSync('virsh', ['-q', '-c', uri, 'pool-destroy', pool], { stdio: 'ignore' }); } catch { /* not running */ }
          try { execFileSync('virsh', ['-q', '-c', uri, 'pool-undefine', pool], { stdio: 'ignore' }); } catch { /* gone */ }
        }
        rmSync(storageDir, { recursive: true, force: true });
      },
    };
  });
}
