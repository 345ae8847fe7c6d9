// Stratus's management SSH access to KVM hosts reached over qemu+ssh (the default URI,
// `qemu+ssh://<username>@<managementIp>/system`). Like ZStack and CloudStack, Stratus keeps
// a management key pair of its own and uses the host's password once, to install the public
// key into the user's authorized_keys; from then on every connection uses the key.
//
// - The key pair, the known_hosts file and an ssh client configuration live in a private
//   directory of the agent's data dir (0700; the private key 0600). The private key never
//   leaves it: not in an event, a message or a log line.
// - virsh runs ssh through a wrapper (the URI's `command=` parameter) that points ssh at that
//   configuration: the management key only, BatchMode (never a prompt), Stratus's own
//   known_hosts with StrictHostKeyChecking=accept-new — a host's key is learnt at first
//   contact (the host add, when an administrator vouches for the address) and a changed key
//   is refused afterwards — and one multiplexed connection per host (ControlMaster), since a
//   VM create runs a score of virsh commands.
// - The password is handed to ssh by OpenSSH's SSH_ASKPASS with SSH_ASKPASS_REQUIRE=force:
//   the askpass helper prints an environment variable of the ssh process it was started by.
//   The password is never in a file, nor in any process's arguments (no sshpass).
// - Commands the driver runs on the host itself (qemu-img for volume snapshots) go through
//   the same ssh with the same configuration file as virsh's wrapper. ssh hands its command
//   to the remote user's login shell, so every word is quoted for a POSIX shell here, in one
//   place (`shellQuote`, `remoteCommandLine`); execa runs ssh with an argument list, no local shell.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { HypervisorError, type HostAccess } from './port.js';

export interface SshAccess {
  /** The wrapper virsh runs instead of ssh (the `command=` URI parameter). */
  readonly sshCommand: string;
  /** The management public key (OpenSSH format). */
  publicKey(): string;
  /** `qemu+ssh://…` with the wrapper as its ssh command. */
  uriFor(baseUri: string): string;
  /** Makes sure the management key opens the host, installing it with the host's password if it does not. */
  ensureKey(host: Pick<HostAccess, 'username' | 'managementIp' | 'password'>, signal?: AbortSignal): Promise<void>;
  /** Checks the host again next time (its credentials or its key may have changed). */
  forget(host: Pick<HostAccess, 'username' | 'managementIp'>): void;
  /**
   * The ssh invocation that runs `argv` on the host with the management key and settings
   * (after `ensureKey`): every word quoted for the remote shell.
   */
  commandFor(host: Pick<HostAccess, 'username' | 'managementIp'>, argv: readonly string[]): { file: string; args: string[] };
}

/** One word for a POSIX shell: single-quoted, each embedded `'` written as `'\''`. Nothing is special inside. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * A command line for the remote user's shell: every word quoted. Control characters are
 * refused (no argument the driver sends needs one, and a newline would end the command line
 * for a shell that is not POSIX).
 */
export function remoteCommandLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new HypervisorError('INVALID_OPERATION', 'an empty remote command');
  for (const word of argv) {
    if (typeof word !== 'string' || /[\0-\x1f\x7f]/.test(word)) throw new HypervisorError('INVALID_OPERATION', 'a remote command word holds a control character');
  }
  return argv.map(shellQuote).join(' ');
}

/**
 * ssh's arguments: Stratus's configuration file (key, known_hosts, BatchMode, ControlPath:
 * the same file virsh's wrapper uses), any extra options, the user, then `--` so the address
 * can never be read as an option, and the remote command line.
 */
export function sshArgs(config: string, host: Pick<HostAccess, 'username' | 'managementIp'>, remote: string, options: readonly string[] = []): string[] {
  return [...configArgs(config), ...options, '-l', host.username, '--', host.managementIp.replace(/^\[(.*)\]$/, '$1'), remote];
}

const configArgs = (config: string) => ['-F', config];

const publicKeyPattern = /^ssh-ed25519 [A-Za-z0-9+/]+={0,2} [A-Za-z0-9@._-]+$/;
const askpassVariable = 'STRATUS_SSH_ASKPASS_SECRET';

export function createSshAccess(options: { dir: string; ssh?: string; sshKeygen?: string; timeoutMs?: number }): SshAccess {
  const dir = options.dir;
  const ssh = options.ssh ?? 'ssh';
  const timeoutMs = options.timeoutMs ?? 60_000;
  const paths = {
    key: join(dir, 'id_ed25519'),
    config: join(dir, 'config'),
    knownHosts: join(dir, 'known_hosts'),
    wrapper: join(dir, 'ssh'),
    askpass: join(dir, 'askpass'),
  };
  let prepared: Promise<void> | undefined;
  const checked = new Map<string, Promise<void>>();

  /** Creates the directory, the key pair (written under a temporary name, then renamed) and the scripts. */
  async function prepare() {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    if (!existsSync(paths.key) || !existsSync(`${paths.key}.pub`)) {
      const temporary = join(dir, `id_ed25519.${randomBytes(6).toString('hex')}`);
      try {
        await execa(options.sshKeygen ?? 'ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stratus-management', '-f', temporary], { stdin: 'ignore' });
        chmodSync(temporary, 0o600);
        renameSync(`${temporary}.pub`, `${paths.key}.pub`);
        renameSync(temporary, paths.key);
      } finally {
        rmSync(temporary, { force: true });
        rmSync(`${temporary}.pub`, { force: true });
      }
    }
    if (!existsSync(paths.knownHosts)) writeFileSync(paths.knownHosts, '', { mode: 0o600 });
    const quoted = (path: string) => `"${path}"`;
    writeFileSync(paths.config, [
      'Host *',
      `  IdentityFile ${quoted(paths.key)}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${quoted(paths.knownHosts)}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking accept-new',
      '  BatchMode yes',
      '  PasswordAuthentication no',
      '  KbdInteractiveAuthentication no',
      '  ConnectTimeout 15',
      '  ServerAliveInterval 15',
      '  ControlMaster auto',
      `  ControlPath ${quoted(join(dir, 'cm-%C'))}`,
      '  ControlPersist 30',
      '  LogLevel ERROR',
      '',
    ].join('\n'), { mode: 0o600 });
    writeFileSync(paths.wrapper, `#!/bin/sh\nexec ${[ssh, ...configArgs(paths.config)].map(shellQuote).join(' ')} "$@"\n`, { mode: 0o700 });
    // Prints the password from the environment of the ssh that started it: nothing secret on disk.
    writeFileSync(paths.askpass, `#!/bin/sh\nprintf '%s\\n' "$${askpassVariable}"\n`, { mode: 0o700 });
  }

  const ready = () => (prepared ??= prepare().catch((error: unknown) => {
    prepared = undefined;
    throw error;
  }));

  function publicKey(): string {
    const key = readFileSync(`${paths.key}.pub`, 'utf8').trim();
    if (!publicKeyPattern.test(key)) throw new HypervisorError('DRIVER_ERROR', `the management public key in ${dir} is not an ed25519 key`);
    return key;
  }

  async function run(host: Pick<HostAccess, 'username' | 'managementIp'>, args: string[], remote: string, env: Record<string, string>, signal?: AbortSignal) {
    try {
      await execa(ssh, sshArgs(paths.config, host, remote, args), {
        stdin: 'ignore',
        env: { LC_ALL: 'C', LANG: 'C', ...env },
        extendEnv: true,
        timeout: timeoutMs,
        ...(signal ? { cancelSignal: signal } : {}),
      });
      return undefined;
    } catch (error) {
      const failure = error as { stderr?: unknown; isCanceled?: boolean; timedOut?: boolean; code?: string };
      if (failure.code === 'ENOENT') throw new HypervisorError('DRIVER_UNAVAILABLE', `${ssh} is not installed on the agent's machine`);
      if (failure.isCanceled || failure.timedOut) throw new HypervisorError('OPERATION_TIMEOUT', `ssh to ${host.managementIp} was given up`);
      return String(failure.stderr ?? '').trim() || 'ssh failed';
    }
  }

  async function check(host: Pick<HostAccess, 'username' | 'managementIp' | 'password'>, signal?: AbortSignal) {
    await ready();
    const denied = await run(host, [], 'true', {}, signal);
    if (denied === undefined) return;
    if (/host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(denied)) {
      throw new HypervisorError('AUTHENTICATION_FAILED', `the SSH host key of ${host.managementIp} is not the one Stratus recorded; refusing to connect`);
    }
    if (!/permission denied/i.test(denied)) throw new HypervisorError('HOST_UNREACHABLE', `ssh ${host.username}@${host.managementIp}: ${denied.split('\n')[0]}`);
    if (!host.password) throw new HypervisorError('AUTHENTICATION_FAILED', `the management key does not open ${host.username}@${host.managementIp}, and no password is known to install it`);
    // Once, with the password: append the public key to the user's authorized_keys (if absent).
    const key = publicKey();
    const install = `umask 077 && mkdir -p ~/.ssh && touch ~/.ssh/authorized_keys && (grep -qxF '${key}' ~/.ssh/authorized_keys || printf '%s\\n' '${key}' >> ~/.ssh/authorized_keys)`;
    const failed = await run(host, [
      '-o', 'BatchMode=no', '-o', 'PubkeyAuthentication=no', '-o', 'PasswordAuthentication=yes', '-o', 'KbdInteractiveAuthentication=yes',
      '-o', 'PreferredAuthentications=password,keyboard-interactive', '-o', 'NumberOfPasswordPrompts=1', '-o', 'ControlMaster=no', '-o', 'ControlPath=none',
    ], install, { SSH_ASKPASS: paths.askpass, SSH_ASKPASS_REQUIRE: 'force', [askpassVariable]: host.password }, signal);
    if (failed !== undefined) {
      throw new HypervisorError(/permission denied/i.test(failed) ? 'AUTHENTICATION_FAILED' : 'HOST_UNREACHABLE',
        `could not install the management key on ${host.username}@${host.managementIp} with its password: ${failed.split('\n')[0]}`);
    }
    const still = await run(host, [], 'true', {}, signal);
    if (still !== undefined) throw new HypervisorError('AUTHENTICATION_FAILED', `the management key was installed on ${host.managementIp} but does not open it: ${still.split('\n')[0]}`);
  }

  return {
    sshCommand: paths.wrapper,
    publicKey,
    uriFor(baseUri) {
      const command = encodeURIComponent(paths.wrapper).replace(/%2F/g, '/');
      return `${baseUri}${baseUri.includes('?') ? '&' : '?'}command=${command}`;
    },
    async ensureKey(host, signal) {
      const id = `${host.username}@${host.managementIp}`;
      let done = checked.get(id);
      if (!done) {
        done = check(host, signal);
        checked.set(id, done);
        done.catch(() => checked.delete(id));
      }
      await done;
    },
    forget(host) {
      checked.delete(`${host.username}@${host.managementIp}`);
    },
    commandFor(host, argv) {
      return { file: ssh, args: sshArgs(paths.config, host, remoteCommandLine(argv)) };
    },
  };
}
