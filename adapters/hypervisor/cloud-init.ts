// The cloud-init NoCloud seed that gives a new guest its access (SSH public keys, a root
// password) and its static address: the three files of the seed (`meta-data`, `user-data`,
// `network-config`) and the argument list of the Debian tool that packs them into an ISO
// with the volume label `cidata`, which cloud-init looks for at first boot.
// Pure functions (the libvirt driver runs them; unit tests check them without libvirt).
// Every value reaching the YAML is validated or written as a JSON string (JSON strings are
// YAML double-quoted scalars), so no key or name can add a line of its own.
import { HypervisorError } from './port.js';
import { checkIp, checkMac } from './domain-xml.js';
import { sha512Crypt } from './cloud-init-password.js';

export const seedVolumeLabel = 'cidata';

/** What the seed grants: keys for root (and the image's default user), a root password. */
export interface SeedAccess {
  sshKeys: readonly string[];
  /** Plaintext, opened from the key ring by the driver; only its SHA-512 crypt reaches the seed. */
  rootPassword?: string;
}

export interface SeedNic {
  mac: string;
  ip: string;
  netmask?: string;
  gateway?: string;
}

export interface SeedSpec {
  /** cloud-init runs its once-per-instance modules again only when this changes: the VM id. */
  instanceId: string;
  hostname: string;
  access: SeedAccess;
  nics: readonly SeedNic[];
}

export interface SeedFiles {
  'meta-data': string;
  'user-data': string;
  /** Only when some NIC has a netmask (a static address to configure). */
  'network-config'?: string;
}

const sshKeyLine = /^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\0-\x1f\x7f]*)?$/;

export function checkSshKey(key: string): string {
  if (typeof key !== 'string' || key.length > 16_384 || !sshKeyLine.test(key.trim())) {
    throw new HypervisorError('INVALID_OPERATION', 'an SSH key must be one OpenSSH public key line (type, base64 key, optional comment)');
  }
  return key.trim();
}

const yamlString = (value: string) => JSON.stringify(value);

/** RFC 1123 host label from a VM name: what cloud-init sets as the guest's hostname. */
export function hostnameOf(name: string, fallback: string): string {
  const label = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  return label === '' ? fallback.toLowerCase().replace(/[^a-z0-9-]/g, '').slice(0, 63) || 'vm' : label;
}

export function prefixLengthOf(netmask: string): number {
  const parts = checkIp(netmask).split('.').map(Number);
  if (parts.length !== 4) throw new HypervisorError('INVALID_OPERATION', `netmask ${netmask} is not an IPv4 netmask`);
  const bits = parts.map((part) => part.toString(2).padStart(8, '0')).join('');
  if (!/^1*0*$/.test(bits)) throw new HypervisorError('INVALID_OPERATION', `netmask ${netmask} is not contiguous`);
  return bits.indexOf('0') === -1 ? 32 : bits.indexOf('0');
}

export function metaData(spec: Pick<SeedSpec, 'instanceId' | 'hostname'>): string {
  return `instance-id: ${yamlString(spec.instanceId)}\nlocal-hostname: ${yamlString(spec.hostname)}\n`;
}

/**
 * `#cloud-config`: the keys go to the image's default user and, with `disable_root: false`,
 * to root as usable keys; the password is set for root as a SHA-512 crypt hash, under both
 * the current `chpasswd.users` schema and the older `chpasswd.list` (cloud-init < 22.3).
 * `hashPassword` is injectable so tests get a fixed salt.
 */
export function userData(access: SeedAccess, hashPassword: (plaintext: string) => string = (plaintext) => sha512Crypt(plaintext)): string {
  const lines = ['#cloud-config'];
  const keys = access.sshKeys.map(checkSshKey);
  if (keys.length > 0) {
    lines.push('disable_root: false', 'ssh_authorized_keys:', ...keys.map((key) => `  - ${yamlString(key)}`));
  }
  if (access.rootPassword !== undefined) {
    if (access.rootPassword.length === 0) throw new HypervisorError('INVALID_OPERATION', 'the root password is empty');
    const hash = hashPassword(access.rootPassword);
    if (!/^\$6\$[./0-9A-Za-z=$]+$/.test(hash)) throw new HypervisorError('DRIVER_ERROR', 'the root password hash is not a SHA-512 crypt hash');
    lines.push(
      'ssh_pwauth: true',
      'chpasswd:',
      '  expire: false',
      '  users:',
      `    - {name: root, password: ${yamlString(hash)}, type: hash}`,
      `  list: ${yamlString(`root:${hash}`)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Netplan v2 `network-config`: each NIC, matched by MAC, with its static address and gateway. */
export function networkConfig(nics: readonly SeedNic[]): string | undefined {
  const configured = nics.filter((nic) => nic.netmask !== undefined);
  if (configured.length === 0) return undefined;
  const lines = ['version: 2', 'ethernets:'];
  configured.forEach((nic, index) => {
    lines.push(
      `  nic${index}:`,
      '    match:',
      `      macaddress: ${yamlString(checkMac(nic.mac))}`,
      `    addresses: [${yamlString(`${checkIp(nic.ip)}/${prefixLengthOf(nic.netmask!)}`)}]`,
    );
    // One default route: through the first NIC that has a gateway.
    if (nic.gateway && configured.findIndex((other) => other.gateway) === index) {
      lines.push('    routes:', `      - {to: "0.0.0.0/0", via: ${yamlString(checkIp(nic.gateway))}}`);
    }
  });
  return `${lines.join('\n')}\n`;
}

export function seedFiles(spec: SeedSpec, hashPassword?: (plaintext: string) => string): SeedFiles {
  const files: SeedFiles = { 'meta-data': metaData(spec), 'user-data': userData(spec.access, hashPassword) };
  const network = networkConfig(spec.nics);
  if (network !== undefined) files['network-config'] = network;
  return files;
}

// --- packing the seed into an ISO -------------------------------------------------------------

/** Debian tools that can build the seed, in the order the driver prefers them. */
export const seedIsoTools = ['genisoimage', 'xorriso', 'mkisofs', 'cloud-localds'] as const;
export type SeedIsoTool = (typeof seedIsoTools)[number];

/**
 * The argument list that packs `files` (absolute paths named like the seed files, in one
 * directory) into `output`, labelled `cidata`, with Rock Ridge and Joliet names so every
 * guest reads `user-data` under its exact name.
 */
export function seedIsoArgs(tool: SeedIsoTool, output: string, files: { 'user-data': string; 'meta-data': string; 'network-config'?: string }): string[] {
  const inputs = [files['user-data'], files['meta-data'], ...(files['network-config'] ? [files['network-config']] : [])];
  const mkisofs = ['-output', output, '-volid', seedVolumeLabel, '-joliet', '-rock', '-quiet', ...inputs];
  switch (tool) {
    case 'genisoimage':
    case 'mkisofs':
      return mkisofs;
    case 'xorriso':
      return ['-as', 'mkisofs', ...mkisofs];
    case 'cloud-localds':
      return [
        ...(files['network-config'] ? [`--network-config=${files['network-config']}`] : []),
        output, files['user-data'], files['meta-data'],
      ];
  }
}

export const seedToolMissing = () => new HypervisorError('DRIVER_UNAVAILABLE',
  `a cloud-init seed needs one of ${seedIsoTools.join(', ')} on the agent's machine (Debian: apt-get install genisoimage)`);
