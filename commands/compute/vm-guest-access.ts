import type { EventStore } from '../../adapters/eventstore/port.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import { validSshKeys, type GuestAccess } from '../../domain/compute/guest-access.js';
import { DomainError } from '../../domain/shared/errors.js';
import { settingsDecider, settingsStream, settingValue } from '../../domain/settings/settings.js';
import type { OperationRequester } from '../effects/operation-request.js';
import { createAggregateCache } from '../shared/cached-command.js';
import { requireVm } from './vm-store.js';

// Access into a VM's guest (issue 6, reference/000): at create time the keys and the root
// password travel with the VM to its cloud-init seed; on a running VM they go through its
// QEMU guest agent. A password is sealed with the key ring here, as soon as it arrives: the
// events, the effect on the bus and the task record only ever see its ciphertext (the task's
// request is redacted), and the agent beside the host opens it just before the driver runs.

export interface CreateGuestAccessRequest {
  sshKeys?: string[];
  rootPassword?: string;
  antiSpoofing?: boolean;
}

/** The settings as of the last create: each create reads only the settings events written since (VM create is a hot path). */
const settingsReads = createAggregateCache(settingsDecider, { maxStreams: 1 });

const invalid = (code: string, field: string, message: string) =>
  new DomainError(code, `${field}: ${message}`, 'invalid', { fields: [{ field, message }] });

/** Passwords a guest can be given: any text but control characters, which no login prompt takes. */
export function checkGuestPassword(password: string, field: string): string {
  if (password.length === 0 || password.length > 256) throw invalid('INVALID_PASSWORD', field, 'must be 1 to 256 characters');
  if (/[\0-\x1f\x7f]/.test(password)) throw invalid('INVALID_PASSWORD', field, 'must not hold control characters');
  return password;
}

function seal(secrets: SecretBox | undefined, password: string): string {
  if (!secrets) throw new Error('a guest password arrived but no key ring was given to seal it');
  return secrets.seal(password);
}

/** The create command's guest access (keys validated, password sealed) and its anti-spoofing choice. */
export async function createGuestAccess(
  deps: { store: EventStore; secrets?: SecretBox },
  request: CreateGuestAccessRequest,
): Promise<{ guestAccess?: GuestAccess; antiSpoofing: boolean }> {
  const antiSpoofing = request.antiSpoofing ?? settingValue((await settingsReads.load(deps.store, settingsStream)).state, 'vm.antiSpoofing') !== false;
  const keys = request.sshKeys ?? [];
  if (keys.length === 0 && request.rootPassword === undefined) return { antiSpoofing };
  const guestAccess: GuestAccess = { sshKeys: validSshKeys(keys) };
  if (request.rootPassword !== undefined) guestAccess.sealedRootPassword = seal(deps.secrets, checkGuestPassword(request.rootPassword, 'rootPassword'));
  return { guestAccess, antiSpoofing };
}

export interface SetGuestAccessRequest {
  /** The guest user (default root). */
  username?: string;
  sshKeys?: string[];
  password?: string;
}

const usernamePattern = /^[a-z_][a-z0-9_.-]{0,31}$|^Administrator$/;

/**
 * Adds SSH keys to a guest user and/or sets its password through the VM's QEMU guest agent:
 * the VM must be running; GUEST_AGENT_UNAVAILABLE when its agent is not connected.
 */
export async function setGuestAccess(
  deps: { store: EventStore; secrets: SecretBox; requestOperation: OperationRequester },
  vmId: string,
  request: SetGuestAccessRequest,
  options: { correlationId?: string } = {},
): Promise<{ id: string; username: string; keysAdded: number; passwordSet: boolean }> {
  const username = request.username ?? 'root';
  if (!usernamePattern.test(username)) throw invalid('INVALID_USERNAME', 'username', 'must be a guest user name (lower case letters, digits, _ . -) or Administrator');
  const keys = validSshKeys(request.sshKeys ?? []);
  if (keys.length === 0 && request.password === undefined) throw invalid('INVALID_GUEST_ACCESS', 'sshKeys', 'give SSH keys, a password, or both');
  const sealedPassword = request.password === undefined ? undefined : seal(deps.secrets, checkGuestPassword(request.password, 'password'));

  const { vm } = await requireVm(deps.store, vmId);
  if (vm.state !== 'Running' || !vm.hostId) {
    throw new DomainError('VM_NOT_RUNNING', `VM instance ${vmId} is ${vm.state}; its guest agent answers only while it runs`, 'conflict', { state: vm.state });
  }
  const outcome = await deps.requestOperation(vm.hostId, {
    op: 'vm.guestAccess', vmId, username,
    ...(keys.length > 0 ? { sshKeys: keys } : {}),
    ...(sealedPassword !== undefined ? { sealedPassword } : {}),
  }, options);
  if (!outcome.ok) {
    const kind = outcome.error.code === 'VM_NOT_FOUND' ? 'not_found' : outcome.error.code === 'INVALID_OPERATION' ? 'invalid' : 'conflict';
    throw new DomainError(outcome.error.code, outcome.error.message, kind);
  }
  return { id: vmId, username, keysAdded: outcome.result.keysAdded, passwordSet: outcome.result.passwordSet };
}
