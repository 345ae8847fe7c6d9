import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { HostAccess, HypervisorOperation, OperationContext } from '../../adapters/hypervisor/port.js';
import { createSimulatorDriver, parseSimulatorFaults, type SimulatorDriver } from '../../adapters/hypervisor/simulator.js';
import { createKeyRing } from '../../adapters/secrets/keyring.js';
import { hypervisorContract } from './hypervisor.contract.js';

const ring = createKeyRing([randomBytes(32)]);
const GiB = 1024 ** 3;

function simulatorHost(overrides: Partial<HostAccess> = {}): HostAccess {
  return { hostId: randomUUID(), hypervisorType: 'Simulator', managementIp: '192.0.2.10', username: 'root', password: 'pw', ...overrides };
}

hypervisorContract('simulator', async () => {
  const driver = createSimulatorDriver();
  return {
    driver,
    newHost: async () => simulatorHost(),
    hostWithCapacity: async (capacity) => simulatorHost({ simulatedCapacity: capacity }),
    seal: (text) => ring.seal(text),
    openSecret: (sealed) => ring.open(sealed),
    imageFormat: 'qcow2',
    imageBytes: () => Buffer.from('QFI\xfb simulated qcow2 image bytes', 'latin1'),
    close: async () => { await driver.close?.(); },
  };
});

describe('simulator driver', () => {
  const context = (signal?: AbortSignal): OperationContext => ({ operationId: randomUUID(), openSecret: (s) => ring.open(s), ...(signal ? { signal } : {}) });
  const codeOf = async (driver: SimulatorDriver, host: HostAccess, operation: HypervisorOperation) => {
    try {
      await driver.execute(host, operation, context());
      return 'ok';
    } catch (error) {
      return (error as { code: string }).code;
    }
  };

  async function vmOn(driver: SimulatorDriver, host: HostAccess, vmId = randomUUID()) {
    const volumeId = randomUUID();
    await driver.execute(host, { op: 'volume.create', volumeId, sizeBytes: GiB, format: 'qcow2' }, context());
    await driver.execute(host, { op: 'vm.define', vmId, name: 'vm', cpuCount: 1, memoryBytes: GiB, volumes: [{ volumeId, device: 'vda' }], nics: [] }, context());
    return vmId;
  }

  it('fails the next N operations of a host, of one kind if asked, with the given code', async () => {
    const driver = createSimulatorDriver();
    const host = simulatorHost();
    const other = simulatorHost({ managementIp: '192.0.2.99' });
    const vmId = await vmOn(driver, host);
    driver.fail(host.hostId, { count: 2, op: 'vm.start' });
    expect(await codeOf(driver, host, { op: 'vm.state', vmId })).toBe('ok');
    expect(await codeOf(driver, host, { op: 'vm.start', vmId })).toBe('INJECTED_FAULT');
    expect(await codeOf(driver, host, { op: 'vm.start', vmId })).toBe('INJECTED_FAULT');
    expect(driver.host(host.hostId)!.vms[0]!.state).toBe('Stopped');
    expect(await codeOf(driver, host, { op: 'vm.start', vmId })).toBe('ok');
    expect(await codeOf(driver, other, { op: 'host.probe' })).toBe('ok');

    driver.fail(host.hostId, { code: 'INSUFFICIENT_CAPACITY' });
    expect(await codeOf(driver, host, { op: 'host.probe' })).toBe('INSUFFICIENT_CAPACITY');
    expect(await codeOf(driver, host, { op: 'host.probe' })).toBe('ok');
  });

  it('targets faults by management IP or at every host, counting per host', async () => {
    const driver = createSimulatorDriver();
    const a = simulatorHost({ managementIp: '192.0.2.1' });
    const b = simulatorHost({ managementIp: '192.0.2.2' });
    driver.fail('192.0.2.2');
    expect(await codeOf(driver, a, { op: 'host.probe' })).toBe('ok');
    expect(await codeOf(driver, b, { op: 'host.probe' })).toBe('INJECTED_FAULT');
    driver.fail('*', { op: 'host.probe' });
    expect(await codeOf(driver, a, { op: 'host.probe' })).toBe('INJECTED_FAULT');
    expect(await codeOf(driver, b, { op: 'host.probe' })).toBe('INJECTED_FAULT');
    expect(await codeOf(driver, a, { op: 'host.probe' })).toBe('ok');
  });

  it('takes a host down (every operation HOST_UNREACHABLE) and brings it up again', async () => {
    const driver = createSimulatorDriver();
    const host = simulatorHost();
    driver.down(host.hostId);
    expect(await codeOf(driver, host, { op: 'host.probe' })).toBe('HOST_UNREACHABLE');
    expect(await codeOf(driver, host, { op: 'vm.start', vmId: randomUUID() })).toBe('HOST_UNREACHABLE');
    expect((await driver.faults(host.hostId)).down).toBe(true);
    driver.up(host.hostId);
    expect(await codeOf(driver, host, { op: 'host.probe' })).toBe('ok');
  });

  it('hangs the next operation until it is given up (aborted), without doing it', async () => {
    const driver = createSimulatorDriver();
    const host = simulatorHost();
    const vmId = await vmOn(driver, host);
    driver.hang(host.hostId, { op: 'vm.start' });
    const controller = new AbortController();
    let settled = false;
    const hung = driver.execute(host, { op: 'vm.start', vmId }, context(controller.signal)).finally(() => { settled = true; });
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    expect((await driver.faults(host.hostId)).hanging).toBe(1);
    controller.abort();
    await expect(hung).rejects.toMatchObject({ code: 'OPERATION_TIMEOUT' });
    expect(driver.host(host.hostId)!.vms[0]!.state).toBe('Stopped');
    expect((await driver.faults(host.hostId)).hanging).toBe(0);
    expect(await codeOf(driver, host, { op: 'vm.start', vmId })).toBe('ok');
  });

  it('clears faults, and shows the ones still pending', async () => {
    const driver = createSimulatorDriver();
    const host = simulatorHost();
    await driver.inject(host.hostId, { kind: 'fail', count: 3, op: 'vm.stop' });
    await driver.inject(host.hostId, { kind: 'hang' });
    expect(await driver.faults(host.hostId)).toEqual({
      down: false,
      hanging: 0,
      rules: [{ kind: 'fail', remaining: 3, op: 'vm.stop', code: 'INJECTED_FAULT' }, { kind: 'hang', remaining: 1 }],
    });
    await driver.inject(host.hostId, { kind: 'clear' });
    expect((await driver.faults(host.hostId)).rules).toEqual([]);
  });

  it('is deterministic: the same operations give the same results on two simulators', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-sim-'));
    const bytes = Buffer.from('deterministic image');
    writeFileSync(join(dir, 'i.raw'), bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const host = simulatorHost({ simulatedCapacity: { cpuCount: 2, memoryBytes: 2 * GiB } });
    const script: HypervisorOperation[] = [
      { op: 'image.prepare', imageId: 'img', url: pathToFileURL(join(dir, 'i.raw')).href, format: 'raw', sha256 },
      { op: 'volume.create', volumeId: 'root', sizeBytes: GiB, format: 'qcow2', imageId: 'img' },
      { op: 'vm.define', vmId: 'vm', name: 'vm', cpuCount: 2, memoryBytes: 2 * GiB, volumes: [{ volumeId: 'root', device: 'vda' }], nics: [] },
      { op: 'vm.start', vmId: 'vm' },
      { op: 'snapshot.create', volumeId: 'root', snapshotId: 's1' },
      { op: 'host.probe' },
    ];
    const outcomes = async () => {
      const driver = createSimulatorDriver();
      const results: unknown[] = [];
      for (const operation of script) results.push(await driver.execute(host, operation, context()));
      return results;
    };
    expect(await outcomes()).toEqual(await outcomes());
  });

  it('keeps host state across a restart when journaled', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'stratus-sim-')), 'hosts.jsonl');
    const host = simulatorHost();
    const first = createSimulatorDriver({ journalFile: file });
    const vmId = await vmOn(first, host);
    await first.execute(host, { op: 'vm.start', vmId }, context());
    const gone = await vmOn(first, host);
    await first.execute(host, { op: 'vm.destroy', vmId: gone }, context());
    await first.close?.();

    const second = createSimulatorDriver({ journalFile: file });
    expect(await second.execute(host, { op: 'vm.state', vmId }, context())).toEqual({ vmId, state: 'Running' });
    expect(await codeOf(second, host, { op: 'vm.state', vmId: gone })).toBe('VM_NOT_FOUND');
    expect(second.host(host.hostId)!.volumes).toHaveLength(2);
    await second.close?.();
  });

  it('parses STRATUS_SIMULATOR_FAULTS and refuses a malformed one', () => {
    expect(parseSimulatorFaults(undefined)).toEqual([]);
    expect(parseSimulatorFaults('[{"host":"*","kind":"fail","count":2,"op":"vm.start"},{"host":"10.0.0.5","kind":"down"}]')).toEqual([
      { target: '*', fault: { kind: 'fail', count: 2, op: 'vm.start' } },
      { target: '10.0.0.5', fault: { kind: 'down' } },
    ]);
    expect(() => parseSimulatorFaults('{not json')).toThrow(/not valid JSON/);
    expect(() => parseSimulatorFaults('[{"kind":"fail"}]')).toThrow(/host/);
    expect(() => parseSimulatorFaults('[{"host":"*","kind":"explode"}]')).toThrow(/kind/);
    expect(() => parseSimulatorFaults('[{"host":"*","kind":"fail","op":"vm.fly"}]')).toThrow(/op/);
  });
});
