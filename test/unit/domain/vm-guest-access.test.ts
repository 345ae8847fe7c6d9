import { describe, expect, it } from 'vitest';
import { fold } from '../../../domain/shared/decider.js';
import { sshKeyProblem, validSshKeys } from '../../../domain/compute/guest-access.js';
import { vmDecider, type AllocatedNic, type VmCommand, type VmEvent, type VmInstance } from '../../../domain/compute/vm.js';
import { vmView } from '../../../domain/compute/vm-view.js';
import { scenario } from '../../support/given-when-then.js';
import { ed25519Key } from '../../support/ssh-keys.js';

// Guest access and anti-spoofing on the VM aggregate: given at create time, kept with the VM,
// carried to every define (the cloud-init seed, the NIC filter), shown without the password.

const vm = scenario(vmDecider);
const GiB = 1024 ** 3;
const now = Date.UTC(2026, 0, 1);
const key = ed25519Key(5);
const sealedRootPassword = 'v1:k1:sealed-ciphertext';
const image = { imageId: 'img-1', url: 'file:///i.qcow2', format: 'qcow2' as const, sha256: 'a'.repeat(64) };
const nic: AllocatedNic = { nicId: 'nic-1', l3NetworkId: 'l3-1', ip: '10.0.0.10', mac: 'fa:00:00:00:00:01', gateway: '10.0.0.1', netmask: '255.255.255.0' };

const create = (extra: Partial<Extract<VmCommand, { type: 'CreateVm' }>> = {}): VmCommand => ({
  type: 'CreateVm', vmId: 'vm-1', name: 'web-1', instanceOfferingId: 'o-1', cpuCount: 1, memoryBytes: GiB, imageId: 'img-1',
  l3NetworkIds: ['l3-1'], rootDiskSizeBytes: 10 * GiB, strategy: 'InstantStart', rootVolumeId: 'root-1', nicIds: ['nic-1'], taskId: 't-1', now,
  ...extra,
});

function run(...commands: Array<VmCommand | ((state: VmInstance) => VmCommand)>): VmEvent[] {
  const events: VmEvent[] = [];
  for (const command of commands) {
    const state = fold(vmDecider, events);
    events.push(...vmDecider.decide(typeof command === 'function' ? command(state as VmInstance) : command, state));
  }
  return events;
}
const allocated = (state: VmInstance): VmCommand => ({
  type: 'RecordResourcesAllocated', seq: state.seq, hostId: 'host-1', zoneId: 'z', clusterId: 'c', nics: [nic], primaryStorageId: 'ps', image,
});

describe('guest access at create time', () => {
  it('is recorded with the VM (the password only sealed) and with its anti-spoofing choice', () => {
    const events = run(create({ guestAccess: { sshKeys: [`  ${key}  `], sealedRootPassword }, antiSpoofing: false }));
    expect(events[0]).toMatchObject({
      type: 'VmInstanceCreated',
      data: { guestAccess: { sshKeys: [key], sealedRootPassword }, antiSpoofing: false },
    });
  });

  it('goes to the host with the build: keys, sealed password, NIC mask and gateway for the seed, anti-spoofing', () => {
    const events = run(create({ guestAccess: { sshKeys: [key], sealedRootPassword }, antiSpoofing: true }), allocated);
    const build = events.find((event) => event.type === 'VmBuildRequested');
    expect(build?.data).toMatchObject({
      define: {
        guestAccess: { sshKeys: [key], sealedRootPassword },
        antiSpoofing: true,
        nics: [{ nicId: 'nic-1', mac: nic.mac, ip: nic.ip, l3NetworkId: 'l3-1', netmask: '255.255.255.0', gateway: '10.0.0.1' }],
      },
    });
  });

  it('without guest access the define carries no seed and no mask', () => {
    const build = run(create(), allocated).find((event) => event.type === 'VmBuildRequested');
    expect(build?.data).toMatchObject({ define: { nics: [{ nicId: 'nic-1', mac: nic.mac, ip: nic.ip, l3NetworkId: 'l3-1' }] } });
    expect((build?.data as { define: object }).define).not.toHaveProperty('guestAccess');
    expect((build?.data as { define: object }).define).not.toHaveProperty('antiSpoofing');
  });

  it('refuses a key that is not an OpenSSH public key, naming the field', () => {
    vm.given().when(create({ guestAccess: { sshKeys: [key, 'ssh-ed25519 AAAA'] } })).thenFails('INVALID_SSH_KEY');
    expect(() => validSshKeys(['hello'])).toThrow(expect.objectContaining({ code: 'INVALID_SSH_KEY', details: { fields: [{ field: 'sshKeys[0]', message: expect.any(String) }] } }));
  });

  it('is shown without the password: keys and whether one was set; anti-spoofing on unless turned off', () => {
    const withAccess = fold(vmDecider, run(create({ guestAccess: { sshKeys: [key], sealedRootPassword }, antiSpoofing: false }))) as VmInstance;
    const view = vmView(withAccess);
    expect(view.guestAccess).toEqual({ sshKeys: [key], rootPasswordSet: true });
    expect(view.antiSpoofing).toBe(false);
    expect(JSON.stringify(view)).not.toContain(sealedRootPassword);
    const plain = vmView(fold(vmDecider, run(create())) as VmInstance);
    expect(plain.guestAccess).toBeNull();
    expect(plain.antiSpoofing).toBe(true);
  });
});

describe('OpenSSH public key check', () => {
  it('accepts the key types OpenSSH writes, with or without a comment', () => {
    expect(sshKeyProblem(key)).toBeUndefined();
    expect(sshKeyProblem(ed25519Key(1, ''))).toBeUndefined();
  });

  it('refuses a private key, a blob of another type, a cut key and a second line', () => {
    expect(sshKeyProblem('-----BEGIN OPENSSH PRIVATE KEY-----')).toMatch(/key type/);
    expect(sshKeyProblem(key.replace('ssh-ed25519 ', 'ssh-rsa '))).toMatch(/ssh-ed25519/);
    expect(sshKeyProblem(key.slice(0, 30))).toBeDefined();
    expect(sshKeyProblem(`${key}\n${key}`)).toMatch(/one line/);
  });
});
