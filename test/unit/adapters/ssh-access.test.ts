// Stratus's management SSH access without a network: a fake `ssh` records what it is given
// and plays a host that takes the password once (through SSH_ASKPASS) and the key afterwards.
// The private key is private, the password never appears in a process's arguments or in a
// file, and the URI makes virsh run ssh with Stratus's own settings.
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { createSshAccess, remoteCommandLine, shellQuote, sshArgs } from '../../../adapters/hypervisor/ssh-access.js';

const dirs: string[] = [];
afterEach(() => { for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true }); });

function fakeSsh() {
  const root = mkdtempSync(join(tmpdir(), 'stratus-ssh-access-'));
  dirs.push(root);
  const calls = join(root, 'calls');
  const installed = join(root, 'installed');
  const ssh = join(root, 'fake-ssh');
  // Password login (PubkeyAuthentication=no): asks SSH_ASKPASS, as OpenSSH does when forced,
  // and "installs" the key; key login works only once the key is installed.
  writeFileSync(ssh, `#!/bin/sh
printf '%s\\n' "$*" >> '${calls}'
case "$*" in
  *PubkeyAuthentication=no*)
    [ "$SSH_ASKPASS_REQUIRE" = force ] || { echo 'no askpass' >&2; exit 255; }
    "$SSH_ASKPASS" > '${installed}'
    exit 0 ;;
esac
[ -s '${installed}' ] && exit 0
echo 'root@192.0.2.5: Permission denied (publickey,password).' >&2
exit 255
`);
  chmodSync(ssh, 0o755);
  const dir = join(root, 'data', 'ssh');
  return { dir, ssh, calls: () => readFileSync(calls, 'utf8'), installed: () => (existsSync(installed) ? readFileSync(installed, 'utf8') : '') };
}

describe('management SSH access', () => {
  it('installs its key with the password once (SSH_ASKPASS, never in arguments or files), then uses the key', async () => {
    const fake = fakeSsh();
    const access = createSshAccess({ dir: fake.dir, ssh: fake.ssh });
    const host = { username: 'root', managementIp: '192.0.2.5', password: 'S3cret-Host-Pass' };
    await access.ensureKey(host);
    expect(fake.installed()).toBe('S3cret-Host-Pass\n');
    expect(fake.calls()).not.toContain('S3cret-Host-Pass');
    expect(fake.calls()).toContain(access.publicKey());
    for (const file of readdirSync(fake.dir)) expect(readFileSync(join(fake.dir, file), 'utf8')).not.toContain('S3cret-Host-Pass');
    expect(statSync(fake.dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(fake.dir, 'id_ed25519')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(fake.dir, 'config'), 'utf8')).toMatch(/StrictHostKeyChecking accept-new/);
    expect(readFileSync(join(fake.dir, 'config'), 'utf8')).toContain(`UserKnownHostsFile "${join(fake.dir, 'known_hosts')}"`);

    // Checked once per process: no ssh at all the next time.
    const before = fake.calls().split('\n').length;
    await access.ensureKey(host);
    expect(fake.calls().split('\n').length).toBe(before);
    expect(access.uriFor('qemu+ssh://root@192.0.2.5/system')).toBe(`qemu+ssh://root@192.0.2.5/system?command=${join(fake.dir, 'ssh')}`);
  });

  it('fails AUTHENTICATION_FAILED when the key does not open the host and no password is known', async () => {
    const fake = fakeSsh();
    const access = createSshAccess({ dir: fake.dir, ssh: fake.ssh });
    await expect(access.ensureKey({ username: 'root', managementIp: '192.0.2.5' })).rejects.toMatchObject({ code: 'AUTHENTICATION_FAILED' });
  });
});

describe('commands run on the host over the management connection', () => {
  const awkward = ["it's", "''", 'a b', '$HOME', '`id`', '$(id)', '"x"', '\\', '*', '; rm -rf /', '-U', '', 'é ü', "a'b'c", '!', '~', '#c', '|&<>'];

  it('quotes each word in single quotes, an embedded quote as \'\\\'\'', () => {
    expect(shellQuote('plain')).toBe("'plain'");
    expect(shellQuote('')).toBe("''");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('$(id) `id` "x"')).toBe(`'$(id) \`id\` "x"'`);
    expect(remoteCommandLine(['qemu-img', 'snapshot', '-c', 's-1', "/pool/a b's.qcow2"])).toBe(`'qemu-img' 'snapshot' '-c' 's-1' '/pool/a b'\\''s.qcow2'`);
  });

  it('a POSIX shell reads every quoted word back exactly, with nothing expanded or run', async () => {
    // The remote side runs the line through the user's login shell: sh and bash here play it, printing each word received.
    const line = remoteCommandLine(['printf', '%s\\0', ...awkward]);
    for (const shell of ['sh', 'bash']) {
      const { stdout } = await execa(shell, ['-c', line], { stripFinalNewline: false });
      expect(stdout.split('\0').slice(0, -1), shell).toEqual(awkward);
    }
  });

  it('refuses control characters and an empty command', () => {
    for (const word of ['a\nb', 'a\rb', 'a\0b', 'a\tb', '\x7f']) expect(() => remoteCommandLine(['qemu-img', word])).toThrow(/control character/);
    expect(() => remoteCommandLine([])).toThrow(/empty/);
  });

  it('builds ssh arguments: the shared configuration file, the user, `--` before the address, one quoted command line', () => {
    expect(sshArgs('/data/ssh/config', { username: 'root', managementIp: '192.0.2.5' }, "'true'")).toEqual(['-F', '/data/ssh/config', '-l', 'root', '--', '192.0.2.5', "'true'"]);
    expect(sshArgs('/c', { username: 'stratus', managementIp: '[2001:db8::5]' }, 'x', ['-o', 'ControlMaster=no']))
      .toEqual(['-F', '/c', '-o', 'ControlMaster=no', '-l', 'stratus', '--', '2001:db8::5', 'x']);
  });

  it('runs a host command with the same ssh and configuration file as virsh\'s wrapper', async () => {
    const fake = fakeSsh();
    const access = createSshAccess({ dir: fake.dir, ssh: fake.ssh });
    await access.ensureKey({ username: 'root', managementIp: '192.0.2.5', password: 'pw' });
    const command = access.commandFor({ username: 'root', managementIp: '192.0.2.5' }, ['qemu-img', 'info', '-U', '--output=json', "/pool/v'1.qcow2"]);
    expect(command).toEqual({
      file: fake.ssh,
      args: ['-F', join(fake.dir, 'config'), '-l', 'root', '--', '192.0.2.5', `'qemu-img' 'info' '-U' '--output=json' '/pool/v'\\''1.qcow2'`],
    });
    // The wrapper virsh runs points ssh at the same file.
    expect(readFileSync(access.sshCommand, 'utf8')).toContain(`exec '${fake.ssh}' '-F' '${join(fake.dir, 'config')}' "$@"`);
    expect(() => access.commandFor({ username: 'root', managementIp: '192.0.2.5' }, ['qemu-img', 'x\ny'])).toThrow(/control character/);
  });
});
