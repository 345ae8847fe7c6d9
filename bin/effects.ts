// Composition of the effect pipeline (DESIGN.md §6) for the embedded shape: the in-process
// bus, the simulator driver (state journaled in the data dir, faults from
// STRATUS_SIMULATOR_FAULTS), one in-process agent for every host, the effect dispatcher over
// the registered routes, and the timer loop that times operations out.
import { resolve } from 'node:path';
import type { Clock } from '../adapters/clock/port.js';
import type { Bus } from '../adapters/bus/port.js';
import { createBus } from './bus.js';
import type { EventStore } from '../adapters/eventstore/port.js';
import type { HypervisorDriver, HypervisorType } from '../adapters/hypervisor/port.js';
import { createSimulatorDriver, parseSimulatorFaults, type SimulatorDriver } from '../adapters/hypervisor/simulator.js';
import { createLibvirtDriver } from '../adapters/hypervisor/libvirt.js';
import { libvirtOptionsFromEnv } from '../adapters/hypervisor/libvirt-config.js';
import { createVmPowerSyncJob } from '../commands/compute/vm-power-sync.js';
import type { ReadStore } from '../adapters/readstore/port.js';
import type { SecretBox } from '../adapters/secrets/port.js';
import { createAgent, hostConcurrencySetting, type Agent } from '../commands/effects/agent.js';
import { readSetting } from '../commands/settings/settings.js';
import { createEffectDispatcher, type EffectDispatcher } from '../commands/effects/dispatcher.js';
import type { EffectLogger, EffectRoute } from '../commands/effects/effect.js';
import { hostAccessFromStore, type HostAccessLoader } from '../commands/effects/host-access.js';
import { createBusHostProbe, type BusHostProbe } from '../commands/effects/host-probe.js';
import { createBusOperationRequester, type BusOperationRequester } from '../commands/effects/operation-request.js';
import { createIntegrationEventPublisher, type IntegrationEventPublisher } from '../commands/effects/integration-events.js';
import { effectRoutes } from '../commands/effects/routes.js';
import { createTimerLoop, type TimerLoop } from '../commands/shared/timer-loop.js';
import type { Config } from './config.js';

export interface ComposedEffects {
  bus: Bus;
  simulator: SimulatorDriver;
  dispatcher: EffectDispatcher;
  /** The in-process agent (embedded); undefined in the scale-out shape, where `stratus agent` processes run the drivers. */
  agent: Agent | undefined;
  /** Probes hosts (add, reconnect) through their agent: the inventory's HostProbe. */
  hostProbe: BusHostProbe;
  /** Quick operations a task awaits through the host's agent (guest agent commands). */
  operationRequester: BusOperationRequester;
  /** Publishes every domain event to the integration-event topic (with Kafka; undefined when off). */
  integrationEvents?: IntegrationEventPublisher;
  /** Runs the operation-timeout jobs; tests with a manual clock call `tick()`. */
  timer: TimerLoop;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface EffectsOptions {
  /** Replaces the registered routes (tests of the pipeline itself). */
  routes?: readonly EffectRoute[];
  /** Replaces host access from the host streams (tests without inventory). */
  hostAccess?: HostAccessLoader;
  /** Extra drivers, e.g. libvirt for KVM hosts. */
  drivers?: { KVM?: HypervisorDriver };
  timerIntervalMs?: number;
  /**
   * Run an agent for every host in this process (the embedded default). False in the
   * scale-out shape: the drivers run in `stratus agent` processes, and the simulator
   * created here is unused.
   */
  inProcessAgent?: boolean;
}

export function composeEffects(
  config: Pick<Config, 'dataDir' | 'simulatorFaults'> & Partial<Pick<Config, 'busUrl' | 'integrationEventsTopic' | 'kafkaSessionTimeoutMs'>>,
  deps: { eventStore: EventStore; readStore: ReadStore; clock: Clock; secrets: SecretBox; log: EffectLogger },
  options: EffectsOptions = {},
): ComposedEffects {
  const { eventStore, readStore, clock, secrets, log } = deps;
  const inProcessAgent = options.inProcessAgent ?? true;
  const bus = createBus(config.busUrl ?? 'local', { log, sessionTimeoutMs: config.kafkaSessionTimeoutMs });
  const { simulator, drivers } = composeDrivers(config, log, options.drivers);
  const agent = inProcessAgent
    ? createAgent({
      bus,
      clock,
      log,
      drivers,
      hostAccess: options.hostAccess ?? hostAccessFromStore({ eventStore, secrets }),
      openSecret: (sealed) => secrets.open(sealed),
      hosts: 'all',
      hostConcurrency: async () => Number(await readSetting(eventStore, hostConcurrencySetting)),
    })
    : undefined;
  const dispatcher = createEffectDispatcher({ eventStore, readStore, bus, clock, routes: options.routes ?? effectRoutes, log });
  const hostProbe = createBusHostProbe({ bus, clock });
  const operationRequester = createBusOperationRequester({ bus, clock, timeoutMs: 30_000 });
  const integrationEvents = config.integrationEventsTopic
    ? createIntegrationEventPublisher({ eventStore, readStore, bus, log, topic: config.integrationEventsTopic })
    : undefined;
  // Out-of-band power changes on KVM hosts (a VM killed, shut down from inside) reach the read models.
  // The power sync runs the drivers directly: only where the drivers are (not yet in `stratus agent`).
  const vmPowerSync = inProcessAgent
    ? createVmPowerSyncJob({ eventStore, readStore, hostAccess: options.hostAccess ?? hostAccessFromStore({ eventStore, secrets }), drivers, openSecret: (sealed) => secrets.open(sealed), log })
    : undefined;
  const jobs = [dispatcher.timeoutJob, agent?.expireJob, dispatcher.pruneJob, vmPowerSync].filter((job) => job !== undefined);
  const timer = createTimerLoop({ clock, jobs, intervalMs: options.timerIntervalMs ?? 1000, log });

  return {
    bus, simulator, dispatcher, agent, hostProbe, operationRequester, timer, integrationEvents,
    async start() {
      // Agents first: the dispatcher publishes what is pending as soon as it starts.
      await agent?.start();
      await hostProbe.start();
      await operationRequester.start();
      await dispatcher.start();
      await integrationEvents?.start();
      timer.start();
    },
    async stop() {
      await timer.stop();
      await integrationEvents?.stop();
      await dispatcher.stop();
      await hostProbe.stop();
      await operationRequester.stop();
      await agent?.stop();
      await bus.close();
      await simulator.close?.();
    },
  };
}

/** The hypervisor drivers of a process that runs an agent: the simulator (journaled in the data dir, faults from STRATUS_SIMULATOR_FAULTS) and libvirt. */
export function composeDrivers(
  config: Pick<Config, 'dataDir' | 'simulatorFaults'>,
  log: EffectLogger,
  extra: EffectsOptions['drivers'] = {},
): { simulator: SimulatorDriver; drivers: Partial<Record<HypervisorType, HypervisorDriver>> } {
  const faults = parseSimulatorFaults(config.simulatorFaults);
  const simulator = createSimulatorDriver({ journalFile: resolve(config.dataDir, 'simulator', 'hosts.jsonl') });
  for (const { target, fault } of faults) void simulator.inject(target, fault);
  if (faults.length > 0) log.warn({ count: faults.length }, 'simulator faults injected from STRATUS_SIMULATOR_FAULTS');
  // The management SSH key of qemu+ssh hosts lives in the data dir (adapters/hypervisor/ssh-access.ts).
  const libvirt = createLibvirtDriver({ sshDir: resolve(config.dataDir, 'ssh'), ...libvirtOptionsFromEnv() });
  return { simulator, drivers: { Simulator: simulator, KVM: libvirt, ...extra } };
}
