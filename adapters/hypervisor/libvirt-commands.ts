// Running virsh and qemu-img for the libvirt driver: argument lists only (execa never
// starts a shell), a per-host connection URI validated before use, the C locale so answers
// parse the same everywhere, and virsh's errors turned into the port's stable codes.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { isGuestAgentUnavailable } from './guest-agent.js';
import { HypervisorError, type HostAccess, type HypervisorErrorCode } from './port.js';

const uriPattern = /^qemu(\+(ssh|tcp|tls|unix|libssh2|libssh))?:\/\/([A-Za-z0-9._-]+@)?[A-Za-z0-9.:[\]_-]*(\/(system|session))(\?[A-Za-z0-9=&._/%-]*)?$/;
const userPattern = /^[A-Za-z_][A-Za-z0-9._-]{0,31}$/;
const hostPattern = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$|^\[?[0-9a-fA-F:]+\]?$/;

/** The libvirt URI of a host: its own, or `qemu+ssh://<username>@<managementIp>/system`. */
export function libvirtUriOf(host: Pick<HostAccess, 'libvirtUri' | 'username' | 'managementIp'>): string {
  if (host.libvirtUri !== undefined) {
    if (!uriPattern.test(host.libvirtUri)) throw new HypervisorError('INVALID_OPERATION', `${JSON.stringify(host.libvirtUri)} is not a qemu libvirt URI`);
    return host.libvirtUri;
  }
  if (!userPattern.test(host.username)) throw new HypervisorError('INVALID_OPERATION', `${JSON.stringify(host.username)} is not a usable SSH user name`);
  if (!hostPattern.test(host.managementIp)) throw new HypervisorError('INVALID_OPERATION', `${JSON.stringify(host.managementIp)} is not a usable management address`);
  const address = host.managementIp.includes(':') && !host.managementIp.startsWith('[') ? `[${host.managementIp}]` : host.managementIp;
  return `qemu+ssh://${host.username}@${address}/system`;
}

/** Whether the URI reaches this machine's libvirtd, so the driver may touch its files (qemu-img). */
export function isLocalUri(uri: string): boolean {
  return /^qemu(\+unix)?:\/\/\/(system|session)(\?.*)?$/.test(uri);
}

/** `virsh -c <uri> <args…>`: the argument list the driver runs (tests check it). */
export function virshArgs(uri: string, args: readonly string[]): string[] {
  for (const arg of args) {
    if (typeof arg !== 'string' || /[\0\n\r]/.test(arg)) throw new HypervisorError('INVALID_OPERATION', 'a virsh argument holds a control character');
  }
  return ['-q', '-c', uri, ...args];
}

export interface CommandResult { stdout: string; stderr: string }

export interface CommandRunner {
  virsh(uri: string, args: readonly string[], options?: { signal?: AbortSignal }): Promise<CommandResult>;
  /**
   * virsh's own shell fed `script` on stdin: for a command line holding a secret, which must
   * not appear in a process's arguments. virsh's shell exits 0 whatever happens, so a line
   * on stderr starting `error:` is the failure.
   */
  virshShell(uri: string, script: string, options?: { signal?: AbortSignal }): Promise<CommandResult>;
  qemuImg(args: readonly string[], options?: { signal?: AbortSignal }): Promise<CommandResult>;
  /** Another tool of the agent's machine (the seed ISO builder). */
  run(file: string, args: readonly string[], options?: { signal?: AbortSignal }): Promise<CommandResult>;
  /** The first of `names` found as an executable on the PATH. */
  findTool(names: readonly string[]): string | undefined;
}

/** The first of `names` that is an executable file in one of the PATH's directories. */
export function findOnPath(names: readonly string[], path = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'): string | undefined {
  for (const name of names) {
    for (const dir of path.split(delimiter)) {
      if (dir === '') continue;
      try {
        accessSync(join(dir, name), constants.X_OK);
        return name;
      } catch { /* not here */ }
    }
  }
  return undefined;
}

/** Which port code a virsh/qemu-img failure means (by libvirt's messages, in the C locale). */
export function classifyFailure(stderr: string): HypervisorErrorCode {
  if (/failed to connect to the hypervisor|Cannot recv data|Connection refused|No route to host|Name or service not known|ssh: |Connection reset|End of file while reading data/i.test(stderr)) {
    return /authentication failed|Permission denied \(publickey/i.test(stderr) ? 'AUTHENTICATION_FAILED' : 'HOST_UNREACHABLE';
  }
  if (/authentication failed/i.test(stderr)) return 'AUTHENTICATION_FAILED';
  if (isGuestAgentUnavailable(stderr)) return 'GUEST_AGENT_UNAVAILABLE';
  if (/Domain not found|failed to get domain|no domain with matching/i.test(stderr)) return 'VM_NOT_FOUND';
  if (/Storage volume not found|failed to get vol|no storage vol/i.test(stderr)) return 'VOLUME_NOT_FOUND';
  if (/Cannot allocate memory|cannot set up guest memory|insufficient memory|Out of memory/i.test(stderr)) return 'INSUFFICIENT_CAPACITY';
  if (/domain is not running|is not running/i.test(stderr)) return 'VM_NOT_RUNNING';
  if (/Failed to get "write" lock|is in use|already in use/i.test(stderr)) return 'VOLUME_IN_USE';
  return 'DRIVER_ERROR';
}

export function createCommandRunner(options: { virshPath?: string; qemuImgPath?: string; timeoutMs?: number } = {}): CommandRunner {
  const run = async (file: string, args: readonly string[], signal?: AbortSignal, input?: string): Promise<CommandResult> => {
    try {
      const result = await execa(file, args, {
        shell: false,
        ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
        env: { LC_ALL: 'C', LANG: 'C' },
        timeout: options.timeoutMs ?? 600_000,
        ...(signal ? { cancelSignal: signal } : {}),
      });
      return { stdout: String(result.stdout), stderr: String(result.stderr) };
    } catch (error) {
      const failure = error as { stderr?: unknown; code?: string; isCanceled?: boolean; timedOut?: boolean };
      if (failure.code === 'ENOENT') throw new HypervisorError('DRIVER_UNAVAILABLE', `${file} is not installed on the agent's machine`);
      if (failure.isCanceled || failure.timedOut) throw new HypervisorError('OPERATION_TIMEOUT', `${file} ${args.find((a) => !a.startsWith('-') && !a.includes('://')) ?? ''} was given up`);
      const stderr = String(failure.stderr ?? '').trim();
      // virsh never prints secrets on stderr; the first line is the meaningful one.
      throw new HypervisorError(classifyFailure(stderr), `${file.split('/').pop()}: ${stderr.split('\n').slice(0, 3).join(' ') || 'failed'}`);
    }
  };
  return {
    virsh: (uri, args, opts) => run(options.virshPath ?? 'virsh', virshArgs(uri, args), opts?.signal),
    async virshShell(uri, script, opts) {
      const result = await run(options.virshPath ?? 'virsh', virshArgs(uri, []), opts?.signal, script);
      const error = result.stderr.split('\n').filter((line) => /^error:/.test(line.trim()));
      if (error.length > 0) throw new HypervisorError(classifyFailure(result.stderr), `virsh: ${error.slice(0, 3).join(' ')}`);
      return result;
    },
    qemuImg: (args, opts) => run(options.qemuImgPath ?? 'qemu-img', args, opts?.signal),
    run: (file, args, opts) => run(file, args, opts?.signal),
    findTool: (names) => findOnPath(names),
  };
}
