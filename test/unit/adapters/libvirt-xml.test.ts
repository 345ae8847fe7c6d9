import { describe, expect, it } from 'vitest';
import {
  checkId,
  disksOfDomain,
  domainXml,
  escapeXml,
  nicXml,
  offersKvm,
  parseFreeCell,
  parseNodeInfo,
  parseVolInfo,
  powerStateOf,
  snapshotNamesOf,
  type DomainXmlSpec,
} from '../../../adapters/hypervisor/domain-xml.js';

const spec = (overrides: Partial<DomainXmlSpec> = {}): DomainXmlSpec => ({
  vmId: '0b9e6f8c-1111-4222-8333-944455556666',
  title: 'web-1',
  cpuCount: 2,
  memoryBytes: 512 * 1024 ** 2,
  domainType: 'kvm',
  disks: [{ device: 'vda', path: '/var/lib/stratus/libvirt/volumes/root-1.qcow2', format: 'qcow2', volumeId: 'root-1' }],
  nics: [{ nicId: 'nic-1', mac: '52:54:00:AB:cd:01', ip: '10.0.0.10' }],
  network: { type: 'network', name: 'default' },
  antiSpoofing: true,
  vnc: { listen: '127.0.0.1', password: 'pw' },
  guestAgent: true,
  ...overrides,
});

const codeOf = (work: () => unknown) => {
  try { work(); return 'ok'; } catch (error) { return (error as { code?: string }).code; }
};

describe('domain XML', () => {
  it('describes the VM: name from its id, vCPUs, memory in KiB, its disks and NICs, VNC with its password', () => {
    const xml = domainXml(spec());
    expect(xml).toContain("<domain type='kvm'>");
    expect(xml).toContain('<name>stratus-0b9e6f8c-1111-4222-8333-944455556666</name>');
    expect(xml).toContain('<title>web-1</title>');
    expect(xml).toContain("<memory unit='KiB'>524288</memory>");
    expect(xml).toContain("<vcpu placement='static'>2</vcpu>");
    expect(xml).toContain("<source file='/var/lib/stratus/libvirt/volumes/root-1.qcow2'/>");
    expect(xml).toContain("<driver name='qemu' type='qcow2' cache='none'/>");
    expect(xml).toContain("<target dev='vda' bus='virtio'/>");
    expect(xml).toContain("<mac address='52:54:00:ab:cd:01'/>");
    expect(xml).toContain("<source network='default'/>");
    expect(xml).toContain("listen='127.0.0.1' passwd='pw'");
    expect(xml).toContain("name='org.qemu.guest_agent.0'");
  });

  it('uses TCG (domain type qemu) when KVM is not usable', () => {
    expect(domainXml(spec({ domainType: 'qemu' }))).toContain("<domain type='qemu'>");
  });

  it('puts clean-traffic with the NIC IP and MAC on every NIC, unless anti-spoofing is off', () => {
    const nic = { nicId: 'n', mac: '52:54:00:00:00:01', ip: '192.0.2.7' };
    expect(nicXml(nic, { type: 'bridge', name: 'br0' }, true)).toBe(
      "<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/><model type='virtio'/>"
      + "<filterref filter='clean-traffic'><parameter name='IP' value='192.0.2.7'/><parameter name='MAC' value='52:54:00:00:00:01'/></filterref></interface>");
    expect(nicXml(nic, { type: 'bridge', name: 'br0' }, false)).not.toContain('filterref');
    // A user-mode NIC has no tap device for nwfilter to act on.
    expect(nicXml(nic, { type: 'user' }, true)).not.toContain('filterref');
  });

  it('escapes the user-given name and the password so they cannot inject XML', () => {
    const xml = domainXml(spec({ title: "a</title><devices><x y='1'>", vnc: { listen: '127.0.0.1', password: "p'w\"<&" } }));
    expect(xml).toContain('<title>a&lt;/title&gt;&lt;devices&gt;&lt;x y=&apos;1&apos;&gt;</title>');
    expect(xml).toContain("passwd='p&apos;w&quot;&lt;&amp;'");
    expect(escapeXml('&')).toBe('&amp;');
  });

  it('keeps the 8 characters of a VNC password that VNC authentication uses', () => {
    expect(domainXml(spec({ vnc: { listen: '127.0.0.1', password: 's3cret-vnc-long' } }))).toContain("passwd='s3cret-v'");
  });

  it('attaches a cloud-init seed as a read-only CD-ROM left out of snapshots', () => {
    const xml = domainXml(spec({ seedIsoPath: '/var/lib/stratus/libvirt/seeds/vm.iso' }));
    expect(xml).toContain("device='cdrom' snapshot='no'");
    expect(xml).toContain('<readonly/>');
  });

  it('refuses ids, devices, MACs, IPs, paths and sizes that are not what they claim', () => {
    expect(codeOf(() => domainXml(spec({ vmId: '../etc' })))).toBe('INVALID_OPERATION');
    expect(codeOf(() => domainXml(spec({ vmId: '--pool' })))).toBe('INVALID_OPERATION');
    expect(codeOf(() => domainXml(spec({ disks: [{ device: 'vda/../x', path: '/a', format: 'qcow2', volumeId: 'v' }] })))).toBe('INVALID_OPERATION');
    expect(codeOf(() => domainXml(spec({ disks: [{ device: 'vda', path: 'relative', format: 'qcow2', volumeId: 'v' }] })))).toBe('INVALID_OPERATION');
    expect(codeOf(() => domainXml(spec({ disks: [{ device: 'vda', path: '/a/../b', format: 'qcow2', volumeId: 'v' }] })))).toBe('INVALID_OPERATION');
    expect(codeOf(() => domainXml(spec({ nics: [{ nicId: 'n', mac: "52:54:00:00:00:01'", ip: '10.0.0.1' }] })))).toBe('INVALID_OPERATION');
    expect(codeOf(() => domainXml(spec({ nics: [{ nicId: 'n', mac: '52:54:00:00:00:01', ip: "10.0.0.1' x='" }] })))).toBe('INVALID_OPERATION');
    expect(codeOf(() => domainXml(spec({ cpuCount: 0 })))).toBe('INVALID_OPERATION');
    expect(codeOf(() => domainXml(spec({ memoryBytes: 1.5 })))).toBe('INVALID_OPERATION');
    expect(codeOf(() => domainXml(spec({ vnc: { listen: 'evil host', password: 'x' } })))).toBe('INVALID_OPERATION');
    const twice = { device: 'vda', path: '/a', format: 'qcow2' as const, volumeId: 'v' };
    expect(codeOf(() => domainXml(spec({ disks: [twice, { ...twice, volumeId: 'w' }] })))).toBe('DEVICE_IN_USE');
    expect(checkId('vm id', 'vm-1.a_b')).toBe('vm-1.a_b');
  });
});

describe('virsh answers', () => {
  it('maps domstate to the port power states', () => {
    expect(powerStateOf('running\n')).toBe('Running');
    expect(powerStateOf('in shutdown')).toBe('Running');
    expect(powerStateOf('paused')).toBe('Paused');
    expect(powerStateOf('shut off')).toBe('Stopped');
    expect(powerStateOf('crashed')).toBe('Stopped');
  });

  it('reads nodeinfo, freecell and vol-info', () => {
    expect(parseNodeInfo('CPU model:           x86_64\nCPU(s):              2\nMemory size:         10970912 KiB\n'))
      .toEqual({ cpuCount: 2, memoryBytes: 10970912 * 1024 });
    expect(parseFreeCell('    0:    6638632 KiB\n    1:    100 KiB\n')).toBe((6638632 + 100) * 1024);
    expect(parseFreeCell('0: 1 KiB\n--------\nTotal:    4274944 KiB')).toBe(4274944 * 1024);
    expect(parseVolInfo('Name: a\nType: file\nCapacity:       1073741824 bytes\nAllocation:     200704 bytes\n'))
      .toEqual({ capacityBytes: 1073741824, allocationBytes: 200704 });
    expect(codeOf(() => parseNodeInfo('nonsense'))).toBe('DRIVER_ERROR');
  });

  it('finds KVM in capabilities, disks in a domain, snapshots in qemu-img info', () => {
    expect(offersKvm("<guest><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest>")).toBe(true);
    expect(offersKvm("<guest><arch name='x86_64'><domain type='qemu'/></arch></guest>")).toBe(false);
    const xml = domainXml(spec({ seedIsoPath: '/seeds/a&b.iso' }));
    expect(disksOfDomain(xml)).toEqual([
      { device: 'vda', path: '/var/lib/stratus/libvirt/volumes/root-1.qcow2', cdrom: false },
      { device: 'hdc', path: '/seeds/a&b.iso', cdrom: true },
    ]);
    expect(snapshotNamesOf('{"snapshots":[{"name":"s1"},{"name":"s2"}],"format":"qcow2"}')).toEqual(['s1', 's2']);
    expect(snapshotNamesOf('{"format":"qcow2"}')).toEqual([]);
  });
});
