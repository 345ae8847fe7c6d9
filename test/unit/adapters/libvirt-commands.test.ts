import { describe, expect, it } from 'vitest';
import { classifyFailure, isLocalUri, libvirtUriOf, virshArgs } from '../../../adapters/hypervisor/libvirt-commands.js';

const codeOf = (work: () => unknown) => {
  try { work(); return 'ok'; } catch (error) { return (error as { code?: string }).code; }
};

describe('libvirt connection URIs', () => {
  it('defaults to qemu+ssh to the management address, and uses the host URI when given', () => {
    expect(libvirtUriOf({ username: 'root', managementIp: '10.0.0.5' })).toBe('qemu+ssh://root@10.0.0.5/system');
    expect(libvirtUriOf({ username: 'stack', managementIp: 'fd00::5' })).toBe('qemu+ssh://stack@[fd00::5]/system');
    expect(libvirtUriOf({ username: 'root', managementIp: '10.0.0.5', libvirtUri: 'qemu:///system' })).toBe('qemu:///system');
    expect(libvirtUriOf({ username: 'x', managementIp: 'y', libvirtUri: 'qemu+tls://kvm1.example.com/system?pkipath=/etc/pki' }))
      .toBe('qemu+tls://kvm1.example.com/system?pkipath=/etc/pki');
  });

  it('refuses user names, addresses and URIs that could smuggle options or commands', () => {
    expect(codeOf(() => libvirtUriOf({ username: '-oProxyCommand=x', managementIp: '10.0.0.5' }))).toBe('INVALID_OPERATION');
    expect(codeOf(() => libvirtUriOf({ username: 'root', managementIp: '10.0.0.5;reboot' }))).toBe('INVALID_OPERATION');
    expect(codeOf(() => libvirtUriOf({ username: 'root', managementIp: 'h', libvirtUri: 'qemu+ext:///system?command=/bin/sh' }))).toBe('INVALID_OPERATION');
    expect(codeOf(() => libvirtUriOf({ username: 'root', managementIp: 'h', libvirtUri: 'xen:///system' }))).toBe('INVALID_OPERATION');
    expect(codeOf(() => libvirtUriOf({ username: 'root', managementIp: 'h', libvirtUri: 'qemu:///system extra' }))).toBe('INVALID_OPERATION');
  });

  it('knows which URIs reach this machine', () => {
    expect(isLocalUri('qemu:///system')).toBe(true);
    expect(isLocalUri('qemu:///session')).toBe(true);
    expect(isLocalUri('qemu+ssh://root@10.0.0.5/system')).toBe(false);
  });
});

describe('virsh arguments', () => {
  it('passes the URI and the arguments as a list, quiet, with no shell involved', () => {
    expect(virshArgs('qemu:///system', ['domstate', 'stratus-vm-1'])).toEqual(['-q', '-c', 'qemu:///system', 'domstate', 'stratus-vm-1']);
    expect(codeOf(() => virshArgs('qemu:///system', ['define', 'a\nb']))).toBe('INVALID_OPERATION');
  });

  it('turns libvirt errors into the port codes', () => {
    expect(classifyFailure("error: failed to get domain 'stratus-x'")).toBe('VM_NOT_FOUND');
    expect(classifyFailure('error: Domain not found: no domain with matching name')).toBe('VM_NOT_FOUND');
    expect(classifyFailure("error: failed to get vol 'x'\nerror: Storage volume not found")).toBe('VOLUME_NOT_FOUND');
    expect(classifyFailure('error: failed to connect to the hypervisor\nerror: Cannot recv data: ssh: connect to host 10.0.0.5 port 22: No route to host')).toBe('HOST_UNREACHABLE');
    expect(classifyFailure('error: failed to connect to the hypervisor\nerror: authentication failed: Permission denied (publickey)')).toBe('AUTHENTICATION_FAILED');
    expect(classifyFailure('error: internal error: cannot set up guest memory')).toBe('INSUFFICIENT_CAPACITY');
    expect(classifyFailure('error: something new')).toBe('DRIVER_ERROR');
  });
});
