import { DomainError } from '../shared/errors.js';

// Access into a VM's guest (reference/000, "SSH keys and passwords"): OpenSSH public keys and a
// root password, given at create time (a cloud-init seed) or later to a running VM (its QEMU
// guest agent). Keys are public and kept as given; a password is sealed with the key ring by
// the command layer before it reaches a command, so the domain only ever sees its ciphertext.

export interface GuestAccess {
  sshKeys: string[];
  /** The root password sealed with the key ring (never plaintext). */
  sealedRootPassword?: string;
}

/** What users see of it: the keys, and whether a password was set (never the password). */
export interface GuestAccessView {
  sshKeys: string[];
  rootPasswordSet: boolean;
}

export const maxSshKeys = 32;

/** Key types OpenSSH writes in `authorized_keys`, with the name each key's blob starts with. */
const keyTypes = new Set([
  'ssh-ed25519', 'ssh-rsa', 'ssh-dss', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com',
]);

const base64Pattern = /^[A-Za-z0-9+/]+={0,2}$/;

/** Why `key` is not one OpenSSH public key line (`<type> <base64 blob> [comment]`), or undefined. */
export function sshKeyProblem(key: string): string | undefined {
  if (/[\0-\x1f\x7f]/.test(key)) return 'must be one line without control characters';
  const [type, blob, ...comment] = key.trim().split(/ +/);
  if (!type || !keyTypes.has(type)) return `must start with a key type (${[...keyTypes].join(', ')})`;
  if (!blob || !base64Pattern.test(blob) || blob.length % 4 !== 0) return 'must have the key in base64 after its type';
  // The blob names its own type first (uint32 length, then the name): a pasted key that was
  // cut or mixed up with another does not.
  const bytes = Uint8Array.from(atob(blob), (c) => c.charCodeAt(0));
  if (bytes.length < 4 + type.length) return 'is too short to be a key';
  const length = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  const embedded = String.fromCharCode(...bytes.subarray(4, 4 + Math.min(length, 64)));
  if (length !== type.length || embedded !== type) return `holds a ${JSON.stringify(embedded.slice(0, 40))} key, not ${type}`;
  if (comment.join(' ').length > 1024) return 'has too long a comment';
  return undefined;
}

/** The keys as they will be written (trimmed), refusing any that is not an OpenSSH public key. */
export function validSshKeys(keys: readonly string[], field = 'sshKeys'): string[] {
  if (keys.length > maxSshKeys) {
    throw new DomainError('INVALID_SSH_KEY', `${field}: at most ${maxSshKeys} keys`, 'invalid', { fields: [{ field, message: `at most ${maxSshKeys} keys` }] });
  }
  const problems: Array<{ field: string; message: string }> = [];
  keys.forEach((key, index) => {
    const problem = sshKeyProblem(key);
    if (problem) problems.push({ field: `${field}[${index}]`, message: `not an OpenSSH public key: ${problem}` });
  });
  if (problems.length > 0) {
    throw new DomainError('INVALID_SSH_KEY', problems.map((p) => `${p.field} ${p.message}`).join('; '), 'invalid', { fields: problems });
  }
  return keys.map((key) => key.trim().replace(/ +/g, ' '));
}

export function guestAccessView(access: GuestAccess | undefined): GuestAccessView | null {
  return access ? { sshKeys: [...access.sshKeys], rootPasswordSet: access.sealedRootPassword !== undefined } : null;
}
