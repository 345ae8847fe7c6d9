// `stratus agent --hosts …`: the hypervisor agent of the scale-out shape (DESIGN.md §6), run
// beside the hypervisors it drives. It consumes effect commands for its hosts from Kafka,
// runs them with the host's driver, and publishes each outcome on the results topic.
//
// What it needs: the bus (STRATUS_BUS=kafka://…), the event store (read only: a host's
// address, user and sealed password come from the host's stream), and the master key that
// opens those passwords (STRATUS_MASTER_KEY, the same on every process). Its data dir holds
// the simulator's journal (simulated hosts) and nothing else.
import { resolve } from 'node:path';
import type { Clock } from '../adapters/clock/port.js';
import type { EventStore } from '../adapters/eventstore/port.js';
import { loadKeyRing } from '../adapters/secrets/keyring.js';
import { createAgent, hostConcurrencySetting, type Agent } from '../commands/effects/agent.js';
import { readSetting } from '../commands/settings/settings.js';
import type { EffectLogger } from '../commands/effects/effect.js';
import { hostAccessFromStore } from '../commands/effects/host-access.js';
import { createTimerLoop } from '../commands/shared/timer-loop.js';
import { createBus } from './bus.js';
import type { Config } from './config.js';
import { composeDrivers } from './effects.js';

export interface AgentProcess {
  agent: Agent;
  stop(): Promise<void>;
}

export async function startAgentProcess(config: Config, deps: { eventStore: EventStore; clock: Clock; log: EffectLogger; hosts: 'all' | string[] }): Promise<AgentProcess> {
  const { eventStore, clock, log } = deps;
  if (config.busUrl === 'local') throw new Error('stratus agent needs a broker: set STRATUS_BUS=kafka://host:9092[,…]');
  const secrets = loadKeyRing({ masterKey: config.masterKey, previousKeys: config.previousMasterKeys, keyFile: resolve(config.dataDir, 'master.key') });
  const bus = createBus(config.busUrl, { log, clientId: 'stratus-agent', sessionTimeoutMs: config.kafkaSessionTimeoutMs });
  const { simulator, drivers } = composeDrivers(config, log);
  const agent = createAgent({
    bus,
    clock,
    log,
    drivers,
    hostAccess: hostAccessFromStore({ eventStore, secrets }),
    openSecret: (sealed) => secrets.open(sealed),
    hosts: deps.hosts,
    hostConcurrency: async () => Number(await readSetting(eventStore, hostConcurrencySetting)),
  });
  const timer = createTimerLoop({ clock, jobs: [agent.expireJob], intervalMs: 1000, log });
  await agent.start();
  timer.start();
  log.info({ hosts: deps.hosts }, 'agent started');
  return {
    agent,
    async stop() {
      await timer.stop();
      await agent.stop();
      await bus.close();
      await simulator.close?.();
    },
  };
}
