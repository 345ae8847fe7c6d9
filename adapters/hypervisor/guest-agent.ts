// Guest access on a running VM through the QEMU guest agent (`virsh qemu-agent-command`):
// the agent's JSON commands, and how a command line holding a password reaches virsh.
// Pure functions; the libvirt driver runs them.
//
// A password must not appear in a process's arguments (any local user can read
// /proc/<pid>/cmdline), so the command that carries one is fed to virsh's own shell on stdin
// instead: `shellLine` quotes each word the way virsh's parser reads it back.
import { HypervisorError } from './port.js';
import { checkSshKey } from './cloud-init.js';

/** Guest user names the agent may act on (the guest's useradd rules, conservatively). */
const usernamePattern = /^[a-z_][a-z0-9_.-]{0,31}$|^Administrator$/;

export function checkGuestUsername(value: string): string {
  if (typeof value !== 'string' || !usernamePattern.test(value)) {
    throw new HypervisorError('INVALID_OPERATION', `${JSON.stringify(value)} is not a guest user name`);
  }
  return value;
}

/** guest-set-user-password: the plaintext, base64 as the agent wants it; the guest hashes it itself. */
export function setPasswordCommand(username: string, password: string): string {
  if (password.length === 0) throw new HypervisorError('INVALID_OPERATION', 'the password is empty');
  return JSON.stringify({
    execute: 'guest-set-user-password',
    arguments: { username: checkGuestUsername(username), password: Buffer.from(password, 'utf8').toString('base64'), crypted: false },
  });
}

/** guest-ssh-add-authorized-keys (QEMU guest agent ≥ 5.2): added to the user's authorized_keys, not replacing them. */
export function addAuthorizedKeysCommand(username: string, keys: readonly string[]): string {
  if (keys.length === 0) throw new HypervisorError('INVALID_OPERATION', 'no SSH key to add');
  return JSON.stringify({
    execute: 'guest-ssh-add-authorized-keys',
    arguments: { username: checkGuestUsername(username), keys: keys.map(checkSshKey), reset: false },
  });
}

/** One word for virsh's shell: double-quoted, `\` and `"` escaped (virsh's parser undoes exactly that). */
export function shellWord(word: string): string {
  if (/[\0\n\r]/.test(word)) throw new HypervisorError('INVALID_OPERATION', 'a virsh argument holds a control character');
  return `"${word.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export const shellLine = (words: readonly string[]) => `${words.map(shellWord).join(' ')}\n`;

/** Whether a virsh error says the guest agent cannot be reached (not configured, not connected, not answering). */
export function isGuestAgentUnavailable(stderr: string): boolean {
  return /guest agent is not (connected|configured|responding)|guest agent not available|agent is not connected|Guest agent disappeared/i.test(stderr);
}

/**
 * The agent's answer (`{"return": …}`) in virsh's output. Fed on stdin, virsh's shell echoes
 * each command line after a `virsh # ` prompt and prints a prompt after the answer: the
 * answer is the last line that starts with `{` once prompts are taken off its end.
 */
export function agentReturnOf(stdout: string): unknown {
  const line = stdout.split('\n').map((text) => text.replace(/(virsh # )+$/, '').trim()).filter((text) => text.startsWith('{')).pop();
  if (line === undefined) throw new HypervisorError('DRIVER_ERROR', 'the guest agent gave no answer');
  let answer: { return?: unknown; error?: { class?: string; desc?: string } };
  try {
    answer = JSON.parse(line) as typeof answer;
  } catch {
    throw new HypervisorError('DRIVER_ERROR', 'the guest agent gave an answer the driver does not understand');
  }
  if (answer.error) throw new HypervisorError('DRIVER_ERROR', `the guest agent refused: ${answer.error.desc ?? answer.error.class ?? 'error'}`);
  return answer.return;
}
