// Fault injection into simulator hosts from configuration (STRATUS_SIMULATOR_FAULTS) and over
// the API, through the whole composed Stratus: the effect reaches the in-process agent and
// the route hears the injected failure.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { composeStratus, type Stratus } from '../../bin/compose.js';
import { loadConfig } from '../../bin/config.js';
import { operationIdFor, type EffectRoute } from '../../commands/effects/effect.js';
import { handleCommand } from '../../commands/shared/handle-command.js';
import { systemActor } from '../../commands/shared/request-context.js';
import { hostDecider, hostStream } from '../../domain/compute/host.js';
import { adminPassword, removeDir } from '../support/stratus.js';

const GiB = 1024 ** 3;

interface Seen { operationId: string; code: string }

function probeRoute(seen: Seen[]): EffectRoute {
  return {
    name: 'test-probe',
    handles: ['TestProbeRequested'],
    effectsOf: (event) => [{ operationId: operationIdFor(event, 'probe'), hostId: (event.data as { hostId: string }).hostId, operation: { op: 'host.probe' } }],
    async onResult(result) {
      seen.push({ operationId: result.effect.operationId, code: result.outcome.ok ? 'ok' : result.outcome.error.code });
    },
  };
}

describe('simulator faults through the composed Stratus', () => {
  const dirs: string[] = [];
  const running: Stratus[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((stratus) => stratus.close()));
    for (const dir of dirs.splice(0)) removeDir(dir);
  });

  async function start(env: Record<string, string>, seen: Seen[]) {
    const dataDir = mkdtempSync(join(tmpdir(), 'stratus-faults-'));
    dirs.push(dataDir);
    const config = loadConfig({ STRATUS_DATA_DIR: dataDir, STRATUS_ADMIN_PASSWORD: adminPassword, ...env });
    const stratus = await composeStratus(config, { log: pino({ level: 'silent' }), effects: { routes: [probeRoute(seen)] } });
    running.push(stratus);
    return stratus;
  }

  async function addHost(stratus: Stratus, managementIp: string, hypervisorType: 'Simulator' | 'KVM' = 'Simulator') {
    const hostId = randomUUID();
    const command = {
      type: 'AddHost' as const, hostId, name: `host-${hostId.slice(0, 4)}`, zoneId: randomUUID(), clusterId: randomUUID(), hypervisorType,
      managementIp, username: 'root', encryptedPassword: stratus.secrets.seal('pw'), now: Date.now(),
      ...(hypervisorType === 'Simulator' ? { simulatedCapacity: { cpuCount: 4, memoryBytes: 8 * GiB } } : {}),
    };
    await handleCommand(stratus.eventStore, hostDecider, hostStream(hostId), command, { actor: systemActor, correlationId: 'test' });
    return hostId;
  }

  async function probe(stratus: Stratus, hostId: string) {
    const written = await stratus.eventStore.append(`probe-${randomUUID()}`, [{ type: 'TestProbeRequested', data: { hostId } }], 'no_stream');
    const operationId = operationIdFor(written.events[0]!, 'probe');
    expect(await stratus.effects.dispatcher.waitForDone(operationId, 20_000)).toBe(true);
    return operationId;
  }

  it('applies STRATUS_SIMULATOR_FAULTS at start, by management IP', async () => {
    const seen: Seen[] = [];
    const stratus = await start({
      STRATUS_SIMULATOR_FAULTS: JSON.stringify([{ host: '198.51.100.7', kind: 'fail', count: 1, op: 'host.probe', code: 'AUTHENTICATION_FAILED' }]),
    }, seen);
    const faulty = await addHost(stratus, '198.51.100.7');
    const healthy = await addHost(stratus, '198.51.100.8');
    await probe(stratus, healthy);
    await probe(stratus, faulty);
    await probe(stratus, faulty);
    expect(seen.map((entry) => entry.code)).toEqual(['ok', 'AUTHENTICATION_FAILED', 'ok']);
  });

  it('refuses a malformed STRATUS_SIMULATOR_FAULTS before anything opens', () => {
    expect(() => loadConfig({ STRATUS_SIMULATOR_FAULTS: '[{"host":"*","kind":"melt"}]' })).toThrow(/STRATUS_SIMULATOR_FAULTS\[0\]: kind/);
    expect(() => loadConfig({ STRATUS_SIMULATOR_FAULTS: '{oops' })).toThrow(/not valid JSON/);
  });

  it('injects, shows and clears faults over the API, audited as tasks', async () => {
    const seen: Seen[] = [];
    const stratus = await start({}, seen);
    const http = request(stratus.app);
    const token = `Bearer ${(await http.post('/v1/sessions').send({ username: 'admin', password: adminPassword }).expect(201)).body.token as string}`;
    const hostId = await addHost(stratus, '198.51.100.20');

    const injected = await http.post(`/v1/simulator/hosts/${hostId}/faults`).set('authorization', token)
      .send({ kind: 'fail', count: 2, op: 'host.probe', code: 'INJECTED_FAULT' }).expect(200);
    expect(injected.body).toMatchObject({ hostId, down: false, rules: [{ kind: 'fail', remaining: 2, op: 'host.probe', code: 'INJECTED_FAULT' }] });
    expect(typeof injected.body.taskId).toBe('string');

    await probe(stratus, hostId);
    const shown = await http.get(`/v1/simulator/hosts/${hostId}/faults`).set('authorization', token).expect(200);
    expect(shown.body.rules).toEqual([{ kind: 'fail', remaining: 1, op: 'host.probe', code: 'INJECTED_FAULT' }]);

    await http.post(`/v1/simulator/hosts/${hostId}/faults`).set('authorization', token).send({ kind: 'down' }).expect(200);
    await http.post(`/v1/simulator/hosts/${hostId}/faults`).set('authorization', token).send({ kind: 'clear' }).expect(200);
    await probe(stratus, hostId);
    await http.post(`/v1/simulator/hosts/${hostId}/faults`).set('authorization', token).send({ kind: 'down' }).expect(200);
    await probe(stratus, hostId);
    expect(seen.map((entry) => entry.code)).toEqual(['INJECTED_FAULT', 'ok', 'HOST_UNREACHABLE']);

    const task = await http.get(`/v1/tasks/${injected.body.taskId as string}`).set('authorization', token).expect(200);
    expect(task.body).toMatchObject({ action: 'InjectSimulatorFault', state: 'succeeded', resourceIds: [hostId] });
  });

  it('connects a host through its agent: a host down at start is Disconnected, and Connected once up and reconnected', async () => {
    const stratus = await start({ STRATUS_SIMULATOR_FAULTS: JSON.stringify([{ host: '198.51.100.77', kind: 'down' }]) }, []);
    const http = request(stratus.app);
    const token = `Bearer ${(await http.post('/v1/sessions').send({ username: 'admin', password: adminPassword }).expect(201)).body.token as string}`;
    const zone = await http.post('/v1/zones').set('authorization', token).send({ name: 'z' }).expect(201);
    const cluster = await http.post('/v1/clusters').set('authorization', token).send({ zoneId: zone.body.id, name: 'c', hypervisorType: 'Simulator' }).expect(201);
    const added = await http.post('/v1/hosts').set('authorization', token).send({
      name: 'sim-down', clusterId: cluster.body.id, hypervisorType: 'Simulator', managementIp: '198.51.100.77', username: 'root', password: 'pw',
      simulatedCapacity: { cpuCount: 8, memoryBytes: 16 * GiB },
    }).expect(201);
    expect(added.body).toMatchObject({ state: 'Disconnected', reason: expect.stringContaining('HOST_UNREACHABLE') });
    const faults = await http.get(`/v1/simulator/hosts/${added.body.id as string}/faults`).set('authorization', token).expect(200);
    expect(faults.body.down).toBe(true);
    await http.post(`/v1/simulator/hosts/${added.body.id as string}/faults`).set('authorization', token).send({ kind: 'up' }).expect(200);
    const reconnected = await http.post(`/v1/hosts/${added.body.id as string}/reconnect`).set('authorization', token).expect(200);
    expect(reconnected.body).toMatchObject({ state: 'Connected', cpuTotal: 8, memoryTotal: 16 * GiB });
  });

  it('validates fault requests and refuses hosts that are not simulators or do not exist', async () => {
    const stratus = await start({}, []);
    const http = request(stratus.app);
    const token = `Bearer ${(await http.post('/v1/sessions').send({ username: 'admin', password: adminPassword }).expect(201)).body.token as string}`;
    const hostId = await addHost(stratus, '198.51.100.30');
    const kvm = await addHost(stratus, '198.51.100.31', 'KVM');

    const invalid = await http.post(`/v1/simulator/hosts/${hostId}/faults`).set('authorization', token).send({ kind: 'fail', count: 0, op: 'vm.fly' }).expect(400);
    expect(invalid.body.code).toBe('VALIDATION_FAILED');
    expect(invalid.body.errors.map((error: { field: string }) => error.field).sort()).toEqual(['count', 'op']);
    expect((await http.post(`/v1/simulator/hosts/${randomUUID()}/faults`).set('authorization', token).send({ kind: 'down' }).expect(404)).body.code).toBe('HOST_NOT_FOUND');
    expect((await http.post(`/v1/simulator/hosts/${kvm}/faults`).set('authorization', token).send({ kind: 'down' }).expect(409)).body.code).toBe('NOT_A_SIMULATOR_HOST');
    await http.post(`/v1/simulator/hosts/${hostId}/faults`).send({ kind: 'down' }).expect(401);
  });
});
