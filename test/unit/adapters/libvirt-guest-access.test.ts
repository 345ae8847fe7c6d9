import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createLibvirtDriver } from '../../../adapters/hypervisor/libvirt.js';
import type { CommandResult, CommandRunner } from '../../../adapters/hypervisor/libvirt-commands.js';
import { HypervisorError, type HostAccess, type HypervisorOperation, type OperationContext } from '../../../adapters/hypervisor/port.js';
import { ed25519Key } from '../../support/ssh-keys.js';

// The libvirt driver's guest access and anti-spoofing against a fake virsh: which commands it
// runs, what reaches the domain XML and the seed, and where a password travels.

interface Recorded { virsh: string[][]; shell: string[]; tools: Array<{ file: string; args: string[]; files: Record<string, string> }> }

function fakeRunner(options: { tools?: string[]; agentConnected?: boolean } = {}) {
  const recorded: Recorded = { virsh: [], shell: [], tools: [] };
  const domains = new Map<string, { xml: string; state: string }>();
  const volumes = new Set<string>(['root-1.qcow2']);
  const ok = (stdout = ''): CommandResult => ({ stdout, stderr: '' });
  const runner: CommandRunner = {
    async virsh(_uri, args) {
      recorded.virsh.push([...args]);
      const [command, ...rest] = args;
      switch (command) {
        case 'pool-list': return ok('stratus-images\nstratus-volumes\n');
        case 'pool-info': return ok('State: running\nCapacity: 100\nAvailable: 50\n');
        case 'pool-refresh': case 'pool-autostart': case 'vol-upload': return ok();
        case 'vol-list': return ok([...volumes].map((name) => ` ${name}   /pool/${name}`).join('\n'));
        case 'vol-path': return ok(`/pool/${rest[rest.length - 1]}\n`);
        case 'vol-create-as': volumes.add(rest[1]!); return ok();
        case 'vol-delete': volumes.delete(rest[rest.length - 1]!); return ok();
        case 'list': return ok([...domains.keys()].map((name, i) => ` ${i}  ${name}  ${domains.get(name)!.state}`).join('\n'));
        case 'dumpxml': return ok(domains.get(rest[rest.length - 1]!)?.xml ?? '');
        case 'domstate': {
          const domain = domains.get(rest[0]!);
          if (!domain) throw new HypervisorError('VM_NOT_FOUND', 'Domain not found');
          return ok(domain.state);
        }
        case 'define': {
          const xml = readFileSync(rest[0]!, 'utf8');
          domains.set(/<name>([^<]+)<\/name>/.exec(xml)![1]!, { xml, state: 'shut off' });
          return ok();
        }
        case 'start': domains.get(rest[0]!)!.state = 'running'; return ok();
        case 'destroy': domains.get(rest[0]!)!.state = 'shut off'; return ok();
        case 'undefine': domains.delete(rest[0]!); return ok();
        case 'qemu-agent-command':
          if (!options.agentConnected) throw new HypervisorError('GUEST_AGENT_UNAVAILABLE', 'virsh: error: Guest agent is not responding: QEMU guest agent is not connected');
          return ok('{"return":{}}\n');
        default: throw new Error(`the fake virsh does not know ${command}`);
      }
    },
    async virshShell(_uri, script) {
      recorded.shell.push(script);
      if (!options.agentConnected) throw new HypervisorError('GUEST_AGENT_UNAVAILABLE', 'virsh: error: QEMU guest agent is not connected');
      return ok(`virsh # ${script}{"return":{}}virsh # \n`);
    },
    async qemuImg() { return ok('{}'); },
    async run(file, args) {
      // Keep what the seed held: the driver removes its directory right after.
      const files: Record<string, string> = {};
      for (const arg of args) if (/\/(user-data|meta-data|network-config)$/.test(arg)) files[arg.split('/').pop()!] = readFileSync(arg, 'utf8');
      recorded.tools.push({ file, args: [...args], files });
      writeFileSync(args[args.indexOf('-output') + 1]!, 'iso');
      return ok();
    },
    findTool: (names) => names.find((name) => (options.tools ?? ['genisoimage']).includes(name)),
  };
  return { runner, recorded, domains, volumes };
}

const host: HostAccess = { hostId: 'h1', hypervisorType: 'KVM', managementIp: '127.0.0.1', username: 'root', libvirtUri: 'qemu:///system' };
const sealed = (text: string) => `sealed:${Buffer.from(text).toString('base64')}`;
const context: OperationContext = {
  operationId: 'op-1',
  openSecret: (value) => Buffer.from(value.slice('sealed:'.length), 'base64').toString(),
};
const key = ed25519Key(9);

function define(extra: Partial<Extract<HypervisorOperation, { op: 'vm.define' }>> = {}): Extract<HypervisorOperation, { op: 'vm.define' }> {
  return {
    op: 'vm.define', vmId: 'vm-1', name: 'web-1', cpuCount: 1, memoryBytes: 128 * 1024 ** 2,
    volumes: [{ volumeId: 'root-1', device: 'vda' }],
    nics: [{ nicId: 'n1', mac: '52:54:00:00:00:01', ip: '10.30.0.12', l3NetworkId: 'l3', netmask: '255.255.255.0', gateway: '10.30.0.1' }],
    ...extra,
  };
}

describe('libvirt driver: cloud-init seed at define', () => {
  it('builds the seed with the keys, the hashed password and the static address, uploads it, and attaches it as a CD-ROM', async () => {
    const fake = fakeRunner();
    const driver = createLibvirtDriver({ runner: fake.runner, domainType: 'qemu', network: { type: 'network', name: 'default' } });
    await driver.execute(host, define({ guestAccess: { sshKeys: [key], sealedRootPassword: sealed('R00t-secret') } }), context);

    const [tool] = fake.recorded.tools;
    expect(tool!.file).toBe('genisoimage');
    expect(tool!.args.slice(0, 7)).toEqual(['-output', expect.stringMatching(/\/seed\.iso$/), '-volid', 'cidata', '-joliet', '-rock', '-quiet']);
    expect(tool!.files['user-data']).toContain(JSON.stringify(key));
    expect(tool!.files['user-data']).toMatch(/password: "\$6\$/);
    expect(tool!.files['user-data']).not.toContain('R00t-secret');
    expect(tool!.files['meta-data']).toBe('instance-id: "vm-1"\nlocal-hostname: "web-1"\n');
    expect(tool!.files['network-config']).toContain('addresses: ["10.30.0.12/24"]');

    expect(fake.recorded.virsh).toContainEqual(['vol-create-as', 'stratus-volumes', 'vm-1.seed.iso', '3', '--format', 'raw']);
    expect(fake.recorded.virsh).toContainEqual(['vol-upload', '--pool', 'stratus-volumes', 'vm-1.seed.iso', expect.stringMatching(/seed\.iso$/)]);
    const xml = fake.domains.get('stratus-vm-1')!.xml;
    expect(xml).toContain("<source file='/pool/vm-1.seed.iso'/><target dev='hdc' bus='ide'/><readonly/>");
    expect(xml).toContain("name='org.qemu.guest_agent.0'");
    expect(xml).toContain("<filterref filter='clean-traffic'><parameter name='IP' value='10.30.0.12'/>");
    // Nothing of the password in any virsh argument.
    expect(JSON.stringify(fake.recorded.virsh)).not.toContain('R00t-secret');
  });

  it('attaches no seed without guest access, and no filter when the VM asks for no anti-spoofing', async () => {
    const fake = fakeRunner();
    const driver = createLibvirtDriver({ runner: fake.runner, domainType: 'qemu' });
    await driver.execute(host, define({ antiSpoofing: false }), context);
    const xml = fake.domains.get('stratus-vm-1')!.xml;
    expect(xml).not.toContain("device='cdrom'");
    expect(xml).not.toContain('filterref');
    expect(fake.recorded.tools).toEqual([]);
  });

  it('uses xorriso when genisoimage is missing, and fails clearly when no ISO tool is there', async () => {
    const xorriso = fakeRunner({ tools: ['xorriso'] });
    await createLibvirtDriver({ runner: xorriso.runner, domainType: 'qemu' }).execute(host, define({ guestAccess: { sshKeys: [key] } }), context);
    expect(xorriso.recorded.tools[0]!.file).toBe('xorriso');
    expect(xorriso.recorded.tools[0]!.args.slice(0, 2)).toEqual(['-as', 'mkisofs']);

    const none = fakeRunner({ tools: [] });
    const refusal = await createLibvirtDriver({ runner: none.runner, domainType: 'qemu' })
      .execute(host, define({ guestAccess: { sshKeys: [key] } }), context).catch((error: HypervisorError) => error);
    expect(refusal).toMatchObject({ code: 'DRIVER_UNAVAILABLE', message: expect.stringContaining('genisoimage') });
    expect(none.domains.size).toBe(0);
  });

  it('deletes the seed with the VM (destroy), also when the domain is already gone', async () => {
    const fake = fakeRunner();
    const driver = createLibvirtDriver({ runner: fake.runner, domainType: 'qemu' });
    await driver.execute(host, define({ guestAccess: { sshKeys: [key] } }), context);
    expect(fake.volumes.has('vm-1.seed.iso')).toBe(true);
    await driver.execute(host, { op: 'vm.destroy', vmId: 'vm-1' }, context);
    expect(fake.volumes.has('vm-1.seed.iso')).toBe(false);
    expect(fake.domains.size).toBe(0);
    await driver.execute(host, { op: 'vm.destroy', vmId: 'vm-1' }, context);
  });
});

describe('libvirt driver: guest agent on a running VM', () => {
  async function runningVm(agentConnected: boolean) {
    const fake = fakeRunner({ agentConnected });
    const driver = createLibvirtDriver({ runner: fake.runner, domainType: 'qemu' });
    await driver.execute(host, define(), context);
    await driver.execute(host, { op: 'vm.start', vmId: 'vm-1' }, context);
    return { fake, driver };
  }

  it('adds keys in virsh arguments and sets the password through virsh\'s stdin only', async () => {
    const { fake, driver } = await runningVm(true);
    const result = await driver.execute(host, { op: 'vm.guestAccess', vmId: 'vm-1', username: 'root', sshKeys: [key], sealedPassword: sealed('N3w-pass') }, context);
    expect(result).toEqual({ vmId: 'vm-1', keysAdded: 1, passwordSet: true });
    const agentCall = fake.recorded.virsh.find((args) => args[0] === 'qemu-agent-command')!;
    expect(agentCall.slice(0, 4)).toEqual(['qemu-agent-command', '--timeout', '10', 'stratus-vm-1']);
    expect(JSON.parse(agentCall[4]!)).toMatchObject({ execute: 'guest-ssh-add-authorized-keys', arguments: { username: 'root', keys: [key] } });
    expect(fake.recorded.shell).toHaveLength(1);
    expect(fake.recorded.shell[0]).toContain(Buffer.from('N3w-pass').toString('base64'));
    expect(JSON.stringify(fake.recorded.virsh)).not.toContain(Buffer.from('N3w-pass').toString('base64'));
  });

  it('fails GUEST_AGENT_UNAVAILABLE when the agent is not connected, VM_NOT_RUNNING when the VM is off', async () => {
    const { driver } = await runningVm(false);
    const unavailable = await driver.execute(host, { op: 'vm.guestAccess', vmId: 'vm-1', username: 'root', sealedPassword: sealed('x') }, context)
      .catch((error: HypervisorError) => error.code);
    expect(unavailable).toBe('GUEST_AGENT_UNAVAILABLE');
    await driver.execute(host, { op: 'vm.stop', vmId: 'vm-1', type: 'cold' }, context);
    const off = await driver.execute(host, { op: 'vm.guestAccess', vmId: 'vm-1', username: 'root', sshKeys: [key] }, context)
      .catch((error: HypervisorError) => error.code);
    expect(off).toBe('VM_NOT_RUNNING');
  });
});
