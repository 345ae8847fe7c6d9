// libvirt driver settings from the environment of the agent's process (each has a default,
// so a KVM host works with none set).
import { checkIp, checkPath } from './domain-xml.js';
import type { LibvirtDriverOptions } from './libvirt.js';

export function libvirtOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): LibvirtDriverOptions {
  const options: LibvirtDriverOptions = {};
  if (env.STRATUS_LIBVIRT_STORAGE_DIR) options.storageDir = checkPath(env.STRATUS_LIBVIRT_STORAGE_DIR);
  if (env.STRATUS_LIBVIRT_NETWORK) options.network = { type: 'network', name: env.STRATUS_LIBVIRT_NETWORK };
  if (env.STRATUS_LIBVIRT_BRIDGE) options.network = { type: 'bridge', name: env.STRATUS_LIBVIRT_BRIDGE };
  if (env.STRATUS_LIBVIRT_USER_NETWORKING === 'true') options.network = { type: 'user' };
  if (env.STRATUS_LIBVIRT_ANTI_SPOOFING === 'false') options.antiSpoofing = false;
  if (env.STRATUS_VNC_LISTEN) options.vncListen = checkIp(env.STRATUS_VNC_LISTEN);
  if (env.STRATUS_LIBVIRT_GRACE_STOP_MS) {
    const ms = Number(env.STRATUS_LIBVIRT_GRACE_STOP_MS);
    if (!Number.isSafeInteger(ms) || ms < 0) throw new Error('STRATUS_LIBVIRT_GRACE_STOP_MS must be a number of milliseconds');
    options.graceStopTimeoutMs = ms;
  }
  if (env.STRATUS_LIBVIRT_CPU_OVERCOMMIT) {
    const ratio = Number(env.STRATUS_LIBVIRT_CPU_OVERCOMMIT);
    if (!Number.isFinite(ratio) || ratio < 1 || ratio > 64) throw new Error('STRATUS_LIBVIRT_CPU_OVERCOMMIT must be a number from 1 to 64 (vCPUs per physical CPU)');
    options.cpuOvercommit = ratio;
  }
  if (env.STRATUS_LIBVIRT_DOMAIN_TYPE === 'kvm' || env.STRATUS_LIBVIRT_DOMAIN_TYPE === 'qemu') options.domainType = env.STRATUS_LIBVIRT_DOMAIN_TYPE;
  return options;
}
