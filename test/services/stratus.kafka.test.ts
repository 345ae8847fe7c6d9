// A whole Stratus composed with STRATUS_BUS=kafka://… against a real broker
// (STRATUS_TEST_KAFKA): adding a Simulator host probes it through Kafka (effect command on
// hypervisor.<host>, reply on the probe's reply topic), and every domain event reaches the
// integration-event topic, keyed by its stream. Skipped when the variable is absent.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createKafkaBus } from '../../adapters/bus/kafka.js';
import type { Bus, DeliveredMessage } from '../../adapters/bus/port.js';
import { composeStratus, type Stratus } from '../../bin/compose.js';
import { loadConfig } from '../../bin/config.js';
import type { IntegrationEvent } from '../../commands/effects/integration-events.js';
import { adminPassword, removeDir } from '../support/stratus.js';

const brokers = process.env.STRATUS_TEST_KAFKA;

describe.skipIf(!brokers)('Stratus over Kafka (STRATUS_TEST_KAFKA)', () => {
  const topic = `stratus-test.integration-events.${randomUUID().slice(0, 8)}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'stratus-kafka-'));
  let stratus: Stratus;
  let outside: Bus;
  let auth: string;
  const events: Array<DeliveredMessage<IntegrationEvent>> = [];

  beforeAll(async () => {
    const config = loadConfig({
      STRATUS_DATA_DIR: dataDir,
      STRATUS_ADMIN_PASSWORD: adminPassword,
      STRATUS_BUS: `kafka://${brokers!}`,
      STRATUS_INTEGRATION_EVENTS: topic,
    });
    stratus = await composeStratus(config, { log: pino({ level: process.env.TEST_LOG ?? 'silent' }) });
    outside = createKafkaBus({ brokers: brokers!.split(','), groupPrefix: `outside-${randomUUID().slice(0, 8)}.` });
    await outside.subscribe<IntegrationEvent>({ topic, group: 'billing', handler: async (message) => { events.push(message); } });
    const session = await request(stratus.app).post('/v1/sessions').send({ username: 'admin', password: adminPassword }).expect(201);
    auth = `Bearer ${session.body.token as string}`;
  });

  afterAll(async () => {
    await outside?.close();
    await stratus?.close();
    removeDir(dataDir);
  });

  const post = (path: string, body: object) => request(stratus.app).post(path).set('Authorization', auth).send(body);

  it('adds a Simulator host: the probe goes to its agent and back through Kafka', async () => {
    const zone = await post('/v1/zones', { name: 'zone-k' }).expect(201);
    const cluster = await post('/v1/clusters', { zoneId: zone.body.id, name: 'sim', hypervisorType: 'Simulator' }).expect(201);
    const host = await post('/v1/hosts', {
      name: 'sim-k1', clusterId: cluster.body.id, hypervisorType: 'Simulator', managementIp: '192.0.2.71', username: 'root', password: 'host-password',
    }).expect(201);
    expect(host.body).toMatchObject({ state: 'Connected', cpuTotal: 64 });
  });

  it('publishes every domain event to the integration-event topic, keyed by stream, secrets redacted', async () => {
    const head = await stratus.eventStore.headPosition();
    const all = await stratus.eventStore.readAll({ after: 0, limit: 100_000 });
    await vi.waitFor(() => expect(new Set(events.map((message) => message.value.position)).size).toBe(head), { timeout: 60_000, interval: 20 });
    const byId = new Map(events.map((message) => [message.value.id, message]));
    for (const event of all) {
      const message = byId.get(event.id)!;
      expect(message.key).toBe(event.stream);
      expect(message.value).toMatchObject({ stream: event.stream, version: event.version, type: event.type, position: event.position });
    }
    expect(JSON.stringify(events.map((message) => message.value))).not.toContain('host-password');
    expect(JSON.stringify(events.map((message) => message.value))).not.toContain(adminPassword);
  });
});
