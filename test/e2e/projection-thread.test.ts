import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectReadModelsEqualRebuild } from '../support/read-models.js';
import { caughtUp, removeDir, startStratus, type TestStratus } from '../support/stratus.js';
import { buildVmInventory, GiB, postWith, type VmInventory } from '../support/vm-inventory.js';

// The shape `stratus serve` runs by default: the projections applied in a worker thread with
// its own connections to the SQLite files (bin/projection-thread.ts). Through the API:
// read-your-writes (`Prefer: wait`, `?after=`), the audit log, a restart that resumes from
// the thread's checkpoints, and every read model equal to a rebuild.

let stratus: TestStratus;
let dataDir: string;
let auth: string;
let inventory: VmInventory;

const vmBody = (name: string) => ({ name, instanceOfferingId: inventory.offerings.small, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId] });
const createRunning = (name: string) =>
  request(stratus.app).post('/v1/vm-instances').set('Authorization', auth).set('Prefer', 'wait=30').send(vmBody(name));
const get = (path: string) => request(stratus.app).get(path).set('Authorization', auth);

beforeAll(async () => {
  stratus = await startStratus({ projectionThread: true });
  dataDir = stratus.dataDir;
  auth = await stratus.login();
  inventory = await buildVmInventory(postWith(stratus.app, auth), {
    dir: join(dataDir, 'images'),
    hosts: 2,
    hostCapacity: { cpuCount: 16, memoryBytes: 32 * GiB },
    ipRange: { startIp: '10.30.0.10', endIp: '10.30.0.60', gateway: '10.30.0.1', netmask: '255.255.255.0' },
  });
}, 60_000);
afterAll(async () => {
  await stratus.stop();
  removeDir(dataDir);
});

describe('projections in their own thread', () => {
  it('answers writes with their read models and queries after a position', async () => {
    const created = await Promise.all(Array.from({ length: 8 }, (_, index) => createRunning(`threaded-${index}`)));
    for (const response of created) {
      expect(response.status).toBe(201);
      expect(response.body.state).toBe('Running');
      expect(response.body.nics[0].ip).toMatch(/^10\.30\.0\./);
    }
    const last = created.map((response) => Number(response.headers['stratus-position'])).sort((a, b) => b - a)[0]!;
    const listed = await get(`/v1/vm-instances?q=name~=threaded-%25&count=true&after=${last}`).expect(200);
    expect(listed.body.total).toBe(8);

    const hosts = await get(`/v1/hosts?after=${last}`).expect(200);
    const vmCount = hosts.body.items.reduce((sum: number, host: { vmCount: number }) => sum + host.vmCount, 0);
    expect(vmCount).toBe(8);

    const audit = await get(`/v1/audit-log?q=action=CreateVmInstance&count=true&after=${last}`).expect(200);
    expect(audit.body.total).toBe(8);
    expect(audit.body.items.every((entry: { result: string }) => entry.result === 'success')).toBe(true);
  });

  it('filters multi-valued fields declared by the thread', async () => {
    const vm = (await get('/v1/vm-instances?q=name=threaded-0').expect(200)).body.items[0];
    await caughtUp(stratus);
    const audit = await get(`/v1/audit-log?q=resourceIds=${vm.id}`).expect(200);
    expect(audit.body.items.map((entry: { action: string }) => entry.action)).toContain('CreateVmInstance');
  });

  it('resumes from its checkpoints after a restart', async () => {
    await caughtUp(stratus);
    const before = stratus.runner.positions();
    await stratus.stop();
    stratus = await startStratus({ projectionThread: true, dataDir });
    auth = await stratus.login();
    // Nothing was rebuilt: every projection starts where it stopped.
    for (const [name, position] of before) expect(stratus.runner.positions().get(name) ?? 0).toBeGreaterThanOrEqual(position);

    const again = await createRunning('after-restart').expect(201);
    expect(again.body.state).toBe('Running');
    const listed = await get(`/v1/vm-instances?count=true&after=${again.headers['stratus-position']}`).expect(200);
    expect(listed.body.items.map((vm: { name: string }) => vm.name)).toContain('after-restart');
  });

  it('leaves every read model equal to a rebuild', async () => {
    await caughtUp(stratus);
    await expectReadModelsEqualRebuild(stratus, { scratchFile: join(dataDir, 'rebuild.db'), until: await stratus.eventStore.headPosition() });
  });
});
