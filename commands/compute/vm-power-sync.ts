// Out-of-band power changes (a VM killed on its host, shut down from inside the guest):
// a timer job probes each connected host with VMs on it every `everyMs`, and every VM whose
// power state on the host differs from the recorded one gets a SyncPowerState command
// (VmPowerStateSynced). The decider ignores VMs in the middle of an operation, so a probe
// racing a start or stop changes nothing.
//
// Embedded shape: the probe runs the host's driver directly in this process (the agent's
// host access, password opened here as in the agent). In the scale-out shape this belongs
// in the agent, publishing observations on the bus.
import { randomUUID } from 'node:crypto';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { HypervisorDriver, HypervisorType, VmPowerState } from '../../adapters/hypervisor/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import { hostsCollection } from '../../projections/compute/hosts.js';
import { vmInstancesCollection } from '../../projections/compute/vm-instances.js';
import type { EffectLogger } from '../effects/effect.js';
import type { HostAccessLoader } from '../effects/host-access.js';
import type { DueJob } from '../shared/timer-loop.js';
import { systemActor } from '../shared/request-context.js';
import { handleVmCommand } from './vm-store.js';

/** Recorded states a host observation may correct (others are mid-operation or gone). */
const syncable = new Set(['Running', 'Stopped', 'Paused', 'Unknown', 'Crashed']);

export function createVmPowerSyncJob(deps: {
  eventStore: EventStore;
  readStore: ReadStore;
  hostAccess: HostAccessLoader;
  drivers: Partial<Record<HypervisorType, HypervisorDriver>>;
  openSecret(sealed: string): string;
  log: EffectLogger;
  /** Which hosts are watched (default: KVM only; simulator VMs change only through Stratus). */
  hypervisorTypes?: readonly HypervisorType[];
  everyMs?: number;
}): DueJob {
  const everyMs = deps.everyMs ?? 5_000;
  const types = deps.hypervisorTypes ?? ['KVM'];
  let nextAt = 0;
  let running = false;

  async function syncHost(hostId: string) {
    const vms = await deps.readStore.find(vmInstancesCollection, { hostId });
    if (vms.length === 0) return;
    const access = await deps.hostAccess(hostId);
    const driver = access ? deps.drivers[access.hypervisorType] : undefined;
    if (!access || !driver) return;
    const probe = await driver.execute(access, { op: 'host.probe' }, { operationId: randomUUID(), openSecret: deps.openSecret });
    const observed = new Map<string, VmPowerState>(probe.vms.map((vm) => [vm.vmId, vm.state]));
    for (const vm of vms) {
      const vmId = String(vm.id);
      const state = observed.get(vmId);
      if (state === undefined || !syncable.has(String(vm.state)) || state === vm.state) continue;
      deps.log.warn({ vmId, hostId, recorded: vm.state, observed: state }, 'VM power state changed out of band');
      await handleVmCommand(deps.eventStore, vmId, { type: 'SyncPowerState', observed: state }, {
        commandId: randomUUID(), correlationId: randomUUID(), actor: systemActor,
      });
    }
  }

  return {
    name: 'vm-power-sync',
    async run(now) {
      if (running || now < nextAt) return;
      running = true;
      nextAt = now + everyMs;
      try {
        const hosts = await deps.readStore.find(hostsCollection, { state: 'Connected' });
        for (const host of hosts) {
          if (!types.includes(host.hypervisorType as HypervisorType)) continue;
          try {
            await syncHost(String(host.id));
          } catch (error) {
            deps.log.warn({ err: error, hostId: host.id }, 'power-state sync of a host failed');
          }
        }
      } finally {
        running = false;
      }
    },
  };
}
