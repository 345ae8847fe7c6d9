import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAggregate } from '../../commands/shared/handle-command.js';
import { projectDecider, projectStream } from '../../domain/tenancy/project.js';
import type { TestStratus } from '../support/stratus.js';
import { startStratusWithVms, stopStratus } from '../support/stratus-with-vms.js';
import { GiB, type VmInventory } from '../support/vm-inventory.js';

// 50 VMs asked for at once in a project with a quota of 10 VMs, on a pool with room for all
// of them: the quota alone limits, and it holds — reservations race on the project stream.

let stratus: TestStratus;
let auth: string;
let inventory: VmInventory;

beforeAll(async () => {
  ({ stratus, admin: auth, inventory } = await startStratusWithVms({
    hosts: 4, hostCapacity: { cpuCount: 64, memoryBytes: 256 * GiB },
    ipRange: { startIp: '10.30.0.10', endIp: '10.30.0.200', gateway: '10.30.0.1', netmask: '255.255.255.0' },
  }));
});
afterAll(() => stopStratus(stratus));

describe('project quota under concurrency', () => {
  it('lets exactly 10 of 50 concurrent creates through a quota of 10 VMs, and gives quota back on expunge', async () => {
    const project = await request(stratus.app).post('/v1/projects').set('Authorization', auth)
      .send({ name: 'burst', quotas: { 'vm.num': 10 } }).expect(201);
    const projectId = project.body.id as string;
    const small = await request(stratus.app).post('/v1/instance-offerings').set('Authorization', auth).send({ name: 'small', cpuCount: 1, memoryBytes: 1 * GiB }).expect(201);

    const responses = await Promise.all(Array.from({ length: 50 }, (_, index) => request(stratus.app)
      .post('/v1/vm-instances').set('Authorization', auth).set('Prefer', 'wait=60')
      .send({ name: `q-${index}`, instanceOfferingId: small.body.id, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId], projectId })));

    const succeeded = responses.filter((response) => response.status === 201);
    const refused = responses.filter((response) => response.status !== 201);
    expect(succeeded).toHaveLength(10);
    expect(succeeded.every((response) => response.body.state === 'Running' && response.body.projectId === projectId)).toBe(true);
    expect(refused).toHaveLength(40);
    expect(new Set(refused.map((response) => `${response.status} ${response.body.code as string}`))).toEqual(new Set(['409 QUOTA_EXCEEDED']));

    // The project's stream says the same: 10 reservations, 10 vCPUs, 10 GiB.
    const { state } = await loadAggregate(stratus.eventStore, projectDecider, projectStream(projectId));
    expect(state.exists && state.usage).toMatchObject({ 'vm.num': 10, 'vm.cpuNum': 10, 'vm.memorySize': 10 * GiB });
    const shown = await request(stratus.app).get(`/v1/projects/${projectId}`).set('Authorization', auth).expect(200);
    expect(shown.body.usage['vm.num']).toBe(10);

    // A destroyed (recoverable) VM still counts; an expunged one is given back.
    const vmId = succeeded[0]!.body.id as string;
    await request(stratus.app).delete(`/v1/vm-instances/${vmId}`).set('Authorization', auth).set('Prefer', 'wait=60').expect(200);
    await request(stratus.app).post('/v1/vm-instances').set('Authorization', auth).set('Prefer', 'wait=60')
      .send({ name: 'one-more', instanceOfferingId: small.body.id, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId], projectId })
      .expect(409).expect((response) => expect(response.body.code).toBe('QUOTA_EXCEEDED'));
    await request(stratus.app).post(`/v1/vm-instances/${vmId}/expunge`).set('Authorization', auth).set('Prefer', 'wait=60').expect(200);
    let usage = 10;
    for (let attempt = 0; attempt < 200 && usage !== 9; attempt++) {
      const { state: after } = await loadAggregate(stratus.eventStore, projectDecider, projectStream(projectId));
      usage = after.exists ? after.usage['vm.num'] : -1;
      if (usage !== 9) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(usage).toBe(9);
    await request(stratus.app).post('/v1/vm-instances').set('Authorization', auth).set('Prefer', 'wait=60')
      .send({ name: 'one-more', instanceOfferingId: small.body.id, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId], projectId })
      .expect(201);
  });
});
