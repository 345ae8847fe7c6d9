// libvirt XML built from a VM's spec (domain, disk, graphics, pool) and the few answers of
// virsh the driver parses. Pure functions: the libvirt driver runs them and the unit tests
// check them without libvirt. Every value that reaches the XML is either validated here
// (ids, devices, MACs, IPs, sizes) or escaped (names, paths, passwords), so no spec can
// inject an element or an attribute.
import { isIP } from 'node:net';
import { HypervisorError, type VmPowerState, type VolumeFormat } from './port.js';

/** Ids become libvirt names and file names: letters, digits, `.`, `_`, `-`, no leading dot. */
const idPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const devicePattern = /^(vd|sd|hd)[a-z]{1,2}$/;
const macPattern = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export function checkId(kind: string, value: string): string {
  if (typeof value !== 'string' || !idPattern.test(value) || value.includes('..')) {
    throw new HypervisorError('INVALID_OPERATION', `${kind} ${JSON.stringify(value)} is not a valid id (letters, digits, . _ -)`);
  }
  return value;
}

export function checkDevice(value: string): string {
  if (typeof value !== 'string' || !devicePattern.test(value)) {
    throw new HypervisorError('INVALID_OPERATION', `device ${JSON.stringify(value)} is not a disk device name like vda`);
  }
  return value;
}

export function checkMac(value: string): string {
  if (typeof value !== 'string' || !macPattern.test(value)) throw new HypervisorError('INVALID_OPERATION', `${JSON.stringify(value)} is not a MAC address`);
  return value.toLowerCase();
}

export function checkIp(value: string): string {
  if (typeof value !== 'string' || isIP(value) === 0) throw new HypervisorError('INVALID_OPERATION', `${JSON.stringify(value)} is not an IP address`);
  return value;
}

export function checkPositiveInteger(kind: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new HypervisorError('INVALID_OPERATION', `${kind} must be a positive integer, not ${value}`);
  return value;
}

/** Absolute paths without control characters or `..` segments (they reach XML and qemu-img). */
export function checkPath(value: string): string {
  if (typeof value !== 'string' || !value.startsWith('/') || /[\0-\x1f\x7f]/.test(value) || value.split('/').includes('..')) {
    throw new HypervisorError('INVALID_OPERATION', `${JSON.stringify(value)} is not a usable absolute path`);
  }
  return value;
}

export function escapeXml(value: string): string {
  return value.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** The libvirt domain name of a Stratus VM (the user's name goes to <title>: it may be anything). */
export const domainName = (vmId: string) => `stratus-${checkId('vm id', vmId)}`;
export const vmIdOfDomain = (name: string) => (name.startsWith('stratus-') ? name.slice('stratus-'.length) : undefined);

export interface DiskXmlSpec {
  device: string;
  path: string;
  format: VolumeFormat;
  /** Stable alias so the driver can find the disk in QEMU (`ua-` is libvirt's user-alias prefix). */
  volumeId: string;
}

export type NicNetwork = { type: 'network'; name: string } | { type: 'bridge'; name: string } | { type: 'user' };

export interface NicXmlSpec {
  mac: string;
  ip: string;
  nicId: string;
}

export interface DomainXmlSpec {
  vmId: string;
  title: string;
  cpuCount: number;
  memoryBytes: number;
  domainType: 'kvm' | 'qemu';
  disks: DiskXmlSpec[];
  nics: NicXmlSpec[];
  network: NicNetwork;
  /** Apply libvirt's clean-traffic filter (IP/MAC/ARP spoofing protection) to every NIC. */
  antiSpoofing: boolean;
  vnc: { listen: string; password: string };
  /** A cloud-init NoCloud seed ISO attached as a read-only CD-ROM. */
  seedIsoPath?: string;
  /** QEMU guest agent channel (password setting in a running guest). */
  guestAgent: boolean;
}

export function diskXml(disk: DiskXmlSpec): string {
  const device = checkDevice(disk.device);
  const bus = device.startsWith('vd') ? 'virtio' : device.startsWith('sd') ? 'scsi' : 'ide';
  return [
    `<disk type='file' device='disk'>`,
    `<driver name='qemu' type='${disk.format === 'raw' ? 'raw' : 'qcow2'}' cache='none'/>`,
    `<source file='${escapeXml(checkPath(disk.path))}'/>`,
    `<target dev='${device}' bus='${bus}'/>`,
    `<serial>${escapeXml(checkId('volume id', disk.volumeId)).slice(0, 20)}</serial>`,
    `<alias name='ua-${escapeXml(disk.volumeId)}'/>`,
    `</disk>`,
  ].join('');
}

export function nicXml(nic: NicXmlSpec, network: NicNetwork, antiSpoofing: boolean): string {
  const mac = checkMac(nic.mac);
  const ip = checkIp(nic.ip);
  const source = network.type === 'network' ? `<source network='${escapeXml(network.name)}'/>`
    : network.type === 'bridge' ? `<source bridge='${escapeXml(network.name)}'/>` : '';
  // clean-traffic needs a tap device it can filter; a user-mode NIC has none.
  const filter = antiSpoofing && network.type !== 'user'
    ? `<filterref filter='clean-traffic'><parameter name='IP' value='${ip}'/><parameter name='MAC' value='${mac}'/></filterref>`
    : '';
  return `<interface type='${network.type}'><mac address='${mac}'/>${source}<model type='virtio'/>${filter}</interface>`;
}

/** VNC authentication (DES) uses 8 bytes of the password and libvirt refuses longer ones. */
export const vncPasswordLength = 8;

export function vncXml(vnc: { listen: string; password: string }): string {
  const password = vnc.password.slice(0, vncPasswordLength);
  return `<graphics type='vnc' port='-1' autoport='yes' listen='${escapeXml(checkIp(vnc.listen))}' passwd='${escapeXml(password)}'>`
    + `<listen type='address' address='${escapeXml(vnc.listen)}'/></graphics>`;
}

export function domainXml(spec: DomainXmlSpec): string {
  const memoryKiB = Math.ceil(checkPositiveInteger('memoryBytes', spec.memoryBytes) / 1024);
  const devices = new Set<string>();
  for (const disk of spec.disks) {
    if (devices.has(disk.device)) throw new HypervisorError('DEVICE_IN_USE', `device ${disk.device} is given twice`);
    devices.add(disk.device);
  }
  const lines = [
    `<domain type='${spec.domainType === 'kvm' ? 'kvm' : 'qemu'}'>`,
    `<name>${domainName(spec.vmId)}</name>`,
    `<title>${escapeXml(spec.title.replace(/[\0-\x1f\x7f]/g, ' '))}</title>`,
    `<memory unit='KiB'>${memoryKiB}</memory>`,
    `<currentMemory unit='KiB'>${memoryKiB}</currentMemory>`,
    `<vcpu placement='static'>${checkPositiveInteger('cpuCount', spec.cpuCount)}</vcpu>`,
    `<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>`,
    `<features><acpi/><apic/></features>`,
    `<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>`,
    `<devices>`,
    ...spec.disks.map(diskXml),
  ];
  if (spec.seedIsoPath) {
    lines.push(`<disk type='file' device='cdrom' snapshot='no'><driver name='qemu' type='raw'/><source file='${escapeXml(checkPath(spec.seedIsoPath))}'/>`
      + `<target dev='hdc' bus='ide'/><readonly/></disk>`);
  }
  lines.push(...spec.nics.map((nic) => nicXml(nic, spec.network, spec.antiSpoofing)));
  if (spec.guestAgent) lines.push(`<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>`);
  lines.push(`<serial type='pty'/><console type='pty'/>`, vncXml(spec.vnc), `<video><model type='vga'/></video>`, `</devices>`, `</domain>`);
  return lines.join('\n');
}

export function poolXml(name: string, path: string): string {
  return `<pool type='dir'><name>${escapeXml(checkId('pool', name))}</name><target><path>${escapeXml(checkPath(path))}</path></target></pool>`;
}

// --- parsing virsh answers ------------------------------------------------------------------

/** `virsh domstate` → the port's power state (crashed and shut-off domains are Stopped). */
export function powerStateOf(domstate: string): VmPowerState {
  const state = domstate.trim().split('\n')[0]!.trim();
  switch (state) {
    case 'running':
    case 'in shutdown':
    case 'blocked':
    case 'idle':
      return 'Running';
    case 'paused':
    case 'pmsuspended':
      return 'Paused';
    default:
      return 'Stopped';
  }
}

/** `virsh nodeinfo` → CPUs and memory in bytes. */
export function parseNodeInfo(text: string): { cpuCount: number; memoryBytes: number } {
  const cpus = /^CPU\(s\):\s+(\d+)/m.exec(text);
  const memory = /^Memory size:\s+(\d+) KiB/m.exec(text);
  if (!cpus || !memory) throw new HypervisorError('DRIVER_ERROR', 'virsh nodeinfo gave an answer the driver does not understand');
  return { cpuCount: Number(cpus[1]), memoryBytes: Number(memory[1]) * 1024 };
}

/** `virsh freecell --all` → free memory in bytes (the `Total:` line, or the sum of the cells under `-q`). */
export function parseFreeCell(text: string): number {
  const total = /Total:\s+(\d+) KiB/.exec(text);
  if (total) return Number(total[1]) * 1024;
  const cells = [...text.matchAll(/^\s*\d+:\s+(\d+) KiB/gm)];
  if (cells.length === 0) throw new HypervisorError('DRIVER_ERROR', 'virsh freecell gave an answer the driver does not understand');
  return cells.reduce((sum, cell) => sum + Number(cell[1]) * 1024, 0);
}

/** `virsh vol-info --bytes` → capacity and allocation. */
export function parseVolInfo(text: string): { capacityBytes: number; allocationBytes: number } {
  const capacity = /^Capacity:\s+(\d+) bytes/m.exec(text);
  const allocation = /^Allocation:\s+(\d+) bytes/m.exec(text);
  if (!capacity) throw new HypervisorError('DRIVER_ERROR', 'virsh vol-info gave an answer the driver does not understand');
  return { capacityBytes: Number(capacity[1]), allocationBytes: Number(allocation?.[1] ?? 0) };
}

/** `virsh pool-info --bytes` → capacity and available bytes. */
export function parsePoolInfo(text: string): { capacityBytes: number; availableBytes: number } {
  const capacity = /^Capacity:\s+(\d+)/m.exec(text);
  const available = /^Available:\s+(\d+)/m.exec(text);
  return { capacityBytes: Number(capacity?.[1] ?? 0), availableBytes: Number(available?.[1] ?? 0) };
}

/** Whether `virsh capabilities` offers KVM guests. */
export function offersKvm(capabilitiesXml: string): boolean {
  return /<domain type=['"]kvm['"]/.test(capabilitiesXml);
}

/** The file disks of a domain (`virsh dumpxml`): device, source path, volume alias. */
export function disksOfDomain(xml: string): Array<{ device: string; path: string; cdrom: boolean }> {
  const disks: Array<{ device: string; path: string; cdrom: boolean }> = [];
  for (const match of xml.matchAll(/<disk\b([^>]*)>([\s\S]*?)<\/disk>/g)) {
    const source = /<source\s+file=['"]([^'"]+)['"]/.exec(match[2]!);
    const target = /<target\s+dev=['"]([^'"]+)['"]/.exec(match[2]!);
    if (source && target) disks.push({ device: target[1]!, path: unescapeXml(source[1]!), cdrom: /device=['"]cdrom['"]/.test(match[1]!) });
  }
  return disks;
}

/** Internal snapshot names of a qcow2 file (`qemu-img info --output=json`). */
export function snapshotNamesOf(qemuImgInfoJson: string): string[] {
  const info = JSON.parse(qemuImgInfoJson) as { snapshots?: Array<{ name: string }> };
  return (info.snapshots ?? []).map((snapshot) => snapshot.name);
}

function unescapeXml(value: string): string {
  return value.replace(/&(lt|gt|amp|apos|quot);/g, (_m, name: string) => ({ lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' })[name]!);
}
