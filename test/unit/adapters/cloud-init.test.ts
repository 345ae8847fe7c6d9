import { describe, expect, it } from 'vitest';
import { sha512Crypt } from '../../../adapters/hypervisor/cloud-init-password.js';
import {
  checkSshKey, hostnameOf, metaData, networkConfig, prefixLengthOf, seedFiles, seedIsoArgs, userData,
} from '../../../adapters/hypervisor/cloud-init.js';
import {
  addAuthorizedKeysCommand, agentReturnOf, isGuestAgentUnavailable, setPasswordCommand, shellLine, shellWord,
} from '../../../adapters/hypervisor/guest-agent.js';
import { classifyFailure } from '../../../adapters/hypervisor/libvirt-commands.js';
import { domainXml, type DomainXmlSpec } from '../../../adapters/hypervisor/domain-xml.js';
import { ed25519Key } from '../../support/ssh-keys.js';

// The cloud-init NoCloud seed (what a new guest is given), the ISO builders' argument lists,
// the guest agent's commands, and the parts of the domain XML they need — without libvirt.

const codeOf = (work: () => unknown) => {
  try { work(); return 'ok'; } catch (error) { return (error as { code?: string }).code; }
};

describe('SHA-512 crypt of the root password', () => {
  it('gives the reference vectors of the SHA-crypt specification', () => {
    expect(sha512Crypt('Hello world!', 'saltstring'))
      .toBe('$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1');
    expect(sha512Crypt('Hello world!', 'saltstringsaltstring', 10000))
      .toBe('$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.');
  });

  it('salts randomly: the same password hashes differently each time', () => {
    const a = sha512Crypt('pw');
    expect(a).toMatch(/^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
    expect(sha512Crypt('pw')).not.toBe(a);
  });
});

describe('cloud-init seed', () => {
  const key = ed25519Key(7);
  const fixedHash = (plaintext: string) => sha512Crypt(plaintext, 'fixedsalt');

  it('meta-data names the instance (the VM id) and its hostname', () => {
    expect(metaData({ instanceId: 'vm-1', hostname: 'web-1' })).toBe('instance-id: "vm-1"\nlocal-hostname: "web-1"\n');
    expect(hostnameOf('Web Server #1', 'vm-1')).toBe('web-server-1');
    expect(hostnameOf('###', 'VM-1')).toBe('vm-1');
  });

  it('user-data gives the keys to root and the default user, and the root password only as a SHA-512 hash', () => {
    const text = userData({ sshKeys: [key], rootPassword: 'S3cret root!' }, fixedHash);
    const hash = sha512Crypt('S3cret root!', 'fixedsalt');
    expect(text.split('\n')[0]).toBe('#cloud-config');
    expect(text).toContain('disable_root: false\nssh_authorized_keys:\n  - ' + JSON.stringify(key) + '\n');
    expect(text).toContain('ssh_pwauth: true');
    expect(text).toContain(`    - {name: root, password: ${JSON.stringify(hash)}, type: hash}`);
    expect(text).toContain(`  list: ${JSON.stringify(`root:${hash}`)}`);
    expect(text).not.toContain('S3cret root!');
  });

  it('user-data without a password sets none; without keys adds none', () => {
    expect(userData({ sshKeys: [key] })).not.toContain('chpasswd');
    expect(userData({ sshKeys: [], rootPassword: 'x' }, fixedHash)).not.toContain('ssh_authorized_keys');
  });

  it('refuses keys that are not one OpenSSH public key line, so nothing can add YAML of its own', () => {
    expect(codeOf(() => userData({ sshKeys: [`${key}\nruncmd: [reboot]`] }))).toBe('INVALID_OPERATION');
    expect(codeOf(() => userData({ sshKeys: ['ssh-rsa !!notbase64'] }))).toBe('INVALID_OPERATION');
    expect(codeOf(() => userData({ sshKeys: ['-----BEGIN OPENSSH PRIVATE KEY-----'] }))).toBe('INVALID_OPERATION');
    expect(checkSshKey(`  ${key}  `)).toBe(key);
    // A comment with quotes stays inside its JSON string.
    expect(userData({ sshKeys: [ed25519Key(1, 'a "quoted" # comment')] })).toContain('"ssh-ed25519 ');
  });

  it('network-config sets each NIC statically, matched by MAC, with one default route', () => {
    expect(networkConfig([
      { mac: '52:54:00:AA:00:01', ip: '10.30.0.12', netmask: '255.255.255.0', gateway: '10.30.0.1' },
      { mac: '52:54:00:aa:00:02', ip: '192.168.7.3', netmask: '255.255.0.0', gateway: '192.168.0.1' },
    ])).toBe([
      'version: 2',
      'ethernets:',
      '  nic0:',
      '    match:',
      '      macaddress: "52:54:00:aa:00:01"',
      '    addresses: ["10.30.0.12/24"]',
      '    routes:',
      '      - {to: "0.0.0.0/0", via: "10.30.0.1"}',
      '  nic1:',
      '    match:',
      '      macaddress: "52:54:00:aa:00:02"',
      '    addresses: ["192.168.7.3/16"]',
      '',
    ].join('\n'));
    expect(networkConfig([{ mac: '52:54:00:aa:00:01', ip: '10.0.0.1' }])).toBeUndefined();
    expect(prefixLengthOf('255.255.255.255')).toBe(32);
    expect(prefixLengthOf('0.0.0.0')).toBe(0);
    expect(codeOf(() => prefixLengthOf('255.0.255.0'))).toBe('INVALID_OPERATION');
  });

  it('seedFiles gives the three files, network-config only when there is an address to set', () => {
    const files = seedFiles({ instanceId: 'vm-1', hostname: 'web-1', access: { sshKeys: [key] }, nics: [{ mac: '52:54:00:aa:00:01', ip: '10.0.0.5', netmask: '255.255.255.0' }] });
    expect(Object.keys(files).sort()).toEqual(['meta-data', 'network-config', 'user-data']);
    expect(Object.keys(seedFiles({ instanceId: 'vm-1', hostname: 'h', access: { sshKeys: [key] }, nics: [] })).sort()).toEqual(['meta-data', 'user-data']);
  });
});

describe('seed ISO arguments', () => {
  const files = { 'user-data': '/tmp/s/user-data', 'meta-data': '/tmp/s/meta-data', 'network-config': '/tmp/s/network-config' };

  it('labels the volume cidata with Rock Ridge and Joliet names, for each tool', () => {
    const mkisofs = ['-output', '/tmp/s/seed.iso', '-volid', 'cidata', '-joliet', '-rock', '-quiet', '/tmp/s/user-data', '/tmp/s/meta-data', '/tmp/s/network-config'];
    expect(seedIsoArgs('genisoimage', '/tmp/s/seed.iso', files)).toEqual(mkisofs);
    expect(seedIsoArgs('mkisofs', '/tmp/s/seed.iso', files)).toEqual(mkisofs);
    expect(seedIsoArgs('xorriso', '/tmp/s/seed.iso', files)).toEqual(['-as', 'mkisofs', ...mkisofs]);
    expect(seedIsoArgs('cloud-localds', '/tmp/s/seed.iso', files))
      .toEqual(['--network-config=/tmp/s/network-config', '/tmp/s/seed.iso', '/tmp/s/user-data', '/tmp/s/meta-data']);
  });

  it('leaves network-config out when there is none', () => {
    const { 'network-config': _none, ...withoutNetwork } = files;
    expect(seedIsoArgs('genisoimage', '/o.iso', withoutNetwork)).not.toContain('/tmp/s/network-config');
    expect(seedIsoArgs('cloud-localds', '/o.iso', withoutNetwork)).toEqual(['/o.iso', '/tmp/s/user-data', '/tmp/s/meta-data']);
  });
});

describe('QEMU guest agent commands', () => {
  it('sets a password as base64 with crypted=false', () => {
    expect(JSON.parse(setPasswordCommand('root', 'pä ss"word'))).toEqual({
      execute: 'guest-set-user-password',
      arguments: { username: 'root', password: Buffer.from('pä ss"word').toString('base64'), crypted: false },
    });
    expect(codeOf(() => setPasswordCommand('root; rm', 'x'))).toBe('INVALID_OPERATION');
    expect(codeOf(() => setPasswordCommand('root', ''))).toBe('INVALID_OPERATION');
  });

  it('adds authorized keys without replacing the existing ones', () => {
    const key = ed25519Key(3);
    expect(JSON.parse(addAuthorizedKeysCommand('debian', [key]))).toEqual({
      execute: 'guest-ssh-add-authorized-keys', arguments: { username: 'debian', keys: [key], reset: false },
    });
    expect(codeOf(() => addAuthorizedKeysCommand('debian', ['nonsense']))).toBe('INVALID_OPERATION');
  });

  it('quotes words for virsh\'s shell (the password goes on stdin, not in the arguments)', () => {
    expect(shellWord('a "b" \\c')).toBe('"a \\"b\\" \\\\c"');
    expect(shellLine(['qemu-agent-command', 'stratus-x', '{"a":"b"}'])).toBe('"qemu-agent-command" "stratus-x" "{\\"a\\":\\"b\\"}"\n');
    expect(codeOf(() => shellWord('a\nb'))).toBe('INVALID_OPERATION');
  });

  it('reads the agent\'s answer out of virsh\'s shell output, prompts and echoed command left out', () => {
    const echoed = 'virsh # "qemu-agent-command" "stratus-x" "{\\"execute\\":\\"guest-set-user-password\\"}"\n{"return":{}}virsh # \n';
    expect(agentReturnOf(echoed)).toEqual({});
    expect(agentReturnOf('{"return":{"n":1}}\n')).toEqual({ n: 1 });
    expect(codeOf(() => agentReturnOf('{"error":{"class":"GenericError","desc":"no user"}}'))).toBe('DRIVER_ERROR');
    expect(codeOf(() => agentReturnOf('virsh # \n'))).toBe('DRIVER_ERROR');
  });

  it('knows libvirt\'s ways of saying the agent is not there', () => {
    for (const message of [
      'error: Guest agent is not responding: QEMU guest agent is not connected',
      'error: argument unsupported: QEMU guest agent is not configured',
      'error: Guest agent is not responding: Guest agent not available for now',
    ]) {
      expect(isGuestAgentUnavailable(message)).toBe(true);
      expect(classifyFailure(message)).toBe('GUEST_AGENT_UNAVAILABLE');
    }
    expect(classifyFailure("error: failed to get domain 'stratus-x'")).toBe('VM_NOT_FOUND');
  });
});

describe('domain XML for guest access and anti-spoofing', () => {
  const spec = (overrides: Partial<DomainXmlSpec> = {}): DomainXmlSpec => ({
    vmId: 'vm-1', title: 'web-1', cpuCount: 1, memoryBytes: 128 * 1024 ** 2, domainType: 'qemu',
    disks: [{ device: 'vda', path: '/pool/root-1.qcow2', format: 'qcow2', volumeId: 'root-1' }],
    nics: [{ nicId: 'n1', mac: '52:54:00:00:00:01', ip: '10.0.0.5' }, { nicId: 'n2', mac: '52:54:00:00:00:02', ip: '10.1.0.5' }],
    network: { type: 'network', name: 'default' }, antiSpoofing: true, vnc: { listen: '127.0.0.1', password: 'pw' }, guestAgent: true,
    ...overrides,
  });

  it('attaches the seed as a read-only IDE CD-ROM', () => {
    const xml = domainXml(spec({ seedIsoPath: '/pool/vm-1.seed.iso' }));
    expect(xml).toContain("<disk type='file' device='cdrom' snapshot='no'><driver name='qemu' type='raw'/><source file='/pool/vm-1.seed.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>");
    expect(domainXml(spec())).not.toContain("device='cdrom'");
  });

  it('has the guest agent\'s virtio-serial channel', () => {
    expect(domainXml(spec())).toContain("<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>");
    expect(domainXml(spec({ guestAgent: false }))).not.toContain('guest_agent');
  });

  it('filters each NIC with clean-traffic and its own IP and MAC only when anti-spoofing is on', () => {
    const on = domainXml(spec());
    expect(on.match(/filterref filter='clean-traffic'/g)).toHaveLength(2);
    expect(on).toContain("<parameter name='IP' value='10.0.0.5'/><parameter name='MAC' value='52:54:00:00:00:01'/>");
    expect(on).toContain("<parameter name='IP' value='10.1.0.5'/><parameter name='MAC' value='52:54:00:00:00:02'/>");
    expect(domainXml(spec({ antiSpoofing: false }))).not.toContain('filterref');
  });
});
