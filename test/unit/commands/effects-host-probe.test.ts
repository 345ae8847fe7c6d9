// Probing a host over the bus: the agent answers on this process's reply topic; a failure or
// no answer at all makes the host Disconnected with the reason.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalBus } from '../../../adapters/bus/local.js';
import { manualClock } from '../../../adapters/clock/manual.js';
import { createSimulatorDriver } from '../../../adapters/hypervisor/simulator.js';
import { createAgent } from '../../../commands/effects/agent.js';
import { createBusHostProbe } from '../../../commands/effects/host-probe.js';
import type { ExistingHost } from '../../../domain/compute/host.js';

const silent = { info() {}, warn() {}, error() {} };
const GiB = 1024 ** 3;

/** The probe reads only the host's id (the agent loads the rest itself). */
const host = (hostId: string) => ({ exists: true, removed: false, hostId, hypervisorType: 'Simulator' }) as unknown as ExistingHost;

describe('host probe over the bus', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => { for (const cleanup of cleanups.splice(0)) await cleanup(); });

  async function setup(timeoutMs = 20_000) {
    const clock = manualClock();
    const bus = createLocalBus();
    const simulator = createSimulatorDriver();
    const agent = createAgent({
      bus, clock, log: silent, drivers: { Simulator: simulator }, openSecret: (s) => s, hosts: 'all',
      hostAccess: async (hostId) => ({ hostId, hypervisorType: 'Simulator', managementIp: '192.0.2.5', username: 'root', simulatedCapacity: { cpuCount: 12, memoryBytes: 24 * GiB } }),
    });
    const probe = createBusHostProbe({ bus, clock, timeoutMs });
    await agent.start();
    await probe.start();
    cleanups.push(async () => { await probe.stop(); await agent.stop(); await bus.close(); });
    return { simulator, probe };
  }

  it('answers with the capacity the host reports', async () => {
    const { probe } = await setup();
    expect(await probe.probe(host(randomUUID()))).toEqual({ connected: true, cpuCount: 12, memoryBytes: 24 * GiB });
  });

  it('reports a failed probe as disconnected, with the code in the reason', async () => {
    const { probe, simulator } = await setup();
    const hostId = randomUUID();
    simulator.down(hostId);
    const result = await probe.probe(host(hostId));
    expect(result).toMatchObject({ connected: false, reason: expect.stringMatching(/^HOST_UNREACHABLE: /) });
  });

  it('reports a probe that gets no answer as disconnected after its timeout', async () => {
    const { probe, simulator } = await setup(50);
    const hostId = randomUUID();
    simulator.hang(hostId);
    const result = await probe.probe(host(hostId));
    expect(result).toMatchObject({ connected: false, reason: expect.stringMatching(/^OPERATION_TIMEOUT: /) });
  });
});
