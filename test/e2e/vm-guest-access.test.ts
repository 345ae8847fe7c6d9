import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeStratus, type Stratus } from '../../bin/compose.js';
import { loadConfig } from '../../bin/config.js';
import { adminPassword, removeDir } from '../support/stratus.js';
import { ed25519Key } from '../support/ssh-keys.js';
import { buildVmInventory, postWith, GiB, type VmInventory } from '../support/vm-inventory.js';

// Access into the guest and anti-spoofing through the API, on simulator hosts: SSH keys and a
// root password at create time (the host is given them with the VM's definition), keys and a
// password for a running VM through its guest agent (GUEST_AGENT_UNAVAILABLE until the
// simulator connects it), anti-spoofing per VM with its setting — and the passwords in no
// event, read model, outbox, journal or log line: every byte Stratus wrote is searched.

const rootPassword = 'Plain-Root-Secret-4711';
const agentPassword = 'Plain-Agent-Secret-0815';
const key = ed25519Key(11, 'alice@laptop');
const secondKey = ed25519Key(12, 'bob@desk');

let stratus: Stratus;
let dataDir: string;
let auth: string;
let inventory: VmInventory;
const logLines: string[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'stratus-guest-access-'));
  const config = loadConfig({ STRATUS_DATA_DIR: dataDir, STRATUS_ADMIN_PASSWORD: adminPassword });
  // Every log line at the most verbose level, kept to be searched for the passwords.
  const sink = new Writable({ write(chunk, _encoding, done) { logLines.push(String(chunk)); done(); } });
  stratus = await composeStratus(config, { log: pino({ level: 'trace' }, sink) });
  const login = await request(stratus.app).post('/v1/sessions').send({ username: 'admin', password: adminPassword }).expect(201);
  auth = `Bearer ${login.body.token as string}`;
  inventory = await buildVmInventory(postWith(stratus.app, auth), {
    dir: join(dataDir, 'images'), hosts: 1, hostCapacity: { cpuCount: 16, memoryBytes: 32 * GiB },
    ipRange: { startIp: '10.20.0.10', endIp: '10.20.0.40', gateway: '10.20.0.1', netmask: '255.255.255.0' },
  });
});
afterAll(async () => { await stratus.close(); removeDir(dataDir); });

const wait = { Prefer: 'wait=30' };
const post = (path: string, body: object = {}) => request(stratus.app).post(path).set('Authorization', auth).set(wait).send(body);
const get = (path: string) => request(stratus.app).get(path).set('Authorization', auth);
const vmBody = (name: string, extra: object = {}) => ({ name, instanceOfferingId: inventory.offerings.small, imageId: inventory.imageId, l3NetworkIds: [inventory.l3NetworkId], ...extra });
/** The request a task recorded (its TaskStarted event). */
async function recordedRequest(taskId: string) {
  const [started] = await stratus.eventStore.readStream(`task-${taskId}`, { limit: 1 });
  return (started?.data as { request?: unknown } | undefined)?.request;
}
const simulatedVm = (vmId: string) => stratus.effects.simulator.host(inventory.hostIds[0]!)?.vms.find((vm) => vm.vmId === vmId);

let vmId: string;

describe('guest access at create time', () => {
  it('creates a VM with SSH keys and a root password: Running, the host got both, the detail shows keys and no password', async () => {
    const created = await post('/v1/vm-instances', vmBody('with-keys', { sshKeys: [key], rootPassword, antiSpoofing: false })).expect(201);
    vmId = created.body.id as string;
    expect(created.body).toMatchObject({ state: 'Running', antiSpoofing: false, guestAccess: { sshKeys: [key], rootPasswordSet: true } });
    expect(simulatedVm(vmId)).toMatchObject({ guestAccess: { sshKeys: [key], rootPasswordSet: true }, antiSpoofing: false });

    const detail = await get(`/v1/vm-instances/${vmId}?after=${created.headers['stratus-position'] as string}`).expect(200);
    expect(detail.body).toMatchObject({ antiSpoofing: false, guestAccess: { sshKeys: [key], rootPasswordSet: true } });
    expect(JSON.stringify(detail.body)).not.toMatch(/sealed|Plain-Root/);

    // The task keeps the request, with the password redacted.
    expect(await recordedRequest(created.body.taskId as string)).toMatchObject({ rootPassword: '***', sshKeys: [key] });
  });

  it('refuses a key that is not an OpenSSH public key, naming it', async () => {
    // An ed25519 key pasted under the rsa type: the blob says what it is.
    const refused = await post('/v1/vm-instances', vmBody('bad-key', { sshKeys: [key, secondKey.replace('ssh-ed25519', 'ssh-rsa')] })).expect(400);
    expect(refused.body).toMatchObject({ code: 'INVALID_SSH_KEY' });
    expect(JSON.stringify(refused.body)).toContain('sshKeys[1]');
  });

  it('anti-spoofing follows vm.antiSpoofing when not asked, and a VM keeps what it was created with', async () => {
    const defaulted = await post('/v1/vm-instances', vmBody('default-filter')).expect(201);
    expect(defaulted.body).toMatchObject({ antiSpoofing: true, guestAccess: null });
    expect(simulatedVm(defaulted.body.id as string)).toMatchObject({ antiSpoofing: true });

    await request(stratus.app).put('/v1/settings/vm.antiSpoofing').set('Authorization', auth).send({ value: false }).expect(200);
    const off = await post('/v1/vm-instances', vmBody('no-filter')).expect(201);
    expect(off.body.antiSpoofing).toBe(false);
    expect((await get(`/v1/vm-instances/${defaulted.body.id as string}?after=${off.headers['stratus-position'] as string}`).expect(200)).body.antiSpoofing).toBe(true);
    await request(stratus.app).put('/v1/settings/vm.antiSpoofing').set('Authorization', auth).send({ value: true }).expect(200);
  });
});

describe('guest access on a running VM, through its guest agent', () => {
  it('fails GUEST_AGENT_UNAVAILABLE while the agent is not connected (a blank image runs none)', async () => {
    const refused = await post(`/v1/vm-instances/${vmId}/guest-access`, { sshKeys: [secondKey], password: agentPassword }).expect(409);
    expect(refused.body).toMatchObject({ code: 'GUEST_AGENT_UNAVAILABLE' });
    expect(simulatedVm(vmId)?.agentSshKeys).toBeUndefined();
  });

  it('adds the keys and sets the password once the simulator connects the agent; the task shows no password', async () => {
    await post(`/v1/simulator/hosts/${inventory.hostIds[0]!}/faults`, { kind: 'guestAgent', vmId, connected: true }).expect(200);
    const done = await post(`/v1/vm-instances/${vmId}/guest-access`, { username: 'root', sshKeys: [secondKey], password: agentPassword }).expect(200);
    expect(done.body).toMatchObject({ id: vmId, username: 'root', keysAdded: 1, passwordSet: true, taskId: expect.any(String) });
    expect(simulatedVm(vmId)).toMatchObject({ agentSshKeys: [secondKey], agentPasswordChanges: 1 });
    const task = await get(`/v1/tasks/${done.body.taskId as string}`).expect(200);
    expect(task.body).toMatchObject({ action: 'SetVmGuestAccess', state: 'succeeded' });
    expect(await recordedRequest(done.body.taskId as string)).toMatchObject({ vmId, password: '***', sshKeys: [secondKey] });
  });

  it('refuses a stopped VM (VM_NOT_RUNNING), an empty request and a bad user name', async () => {
    await post(`/v1/vm-instances/${vmId}/stop`, { type: 'cold' }).expect(200);
    expect((await post(`/v1/vm-instances/${vmId}/guest-access`, { sshKeys: [secondKey] }).expect(409)).body.code).toBe('VM_NOT_RUNNING');
    await post(`/v1/vm-instances/${vmId}/guest-access`, {}).expect(400);
    expect((await post(`/v1/vm-instances/${vmId}/guest-access`, { username: 'root;reboot', sshKeys: [secondKey] }).expect(400)).body.code).toBe('INVALID_USERNAME');
  });
});

describe('the passwords are stored nowhere in plaintext', () => {
  function filesUnder(dir: string): string[] {
    return readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? filesUnder(path) : [path];
    });
  }

  it('no event, read model, outbox, simulator journal or log line holds them, in clear or base64', async () => {
    // Everything Stratus recorded, from its own store (events) and from every file it wrote.
    const events = JSON.stringify(await stratus.eventStore.readAll({ after: 0, limit: 100_000 }));
    expect(events).toContain('VmInstanceCreated');
    const needles = [rootPassword, agentPassword, Buffer.from(rootPassword).toString('base64'), Buffer.from(agentPassword).toString('base64')];
    const files = filesUnder(dataDir).filter((path) => !path.includes(`${join(dataDir, 'images')}`));
    // The search does find what was stored: the public key's comment is in the files.
    expect(files.some((file) => readFileSync(file).includes('alice@laptop'))).toBe(true);
    for (const needle of needles) {
      expect(events).not.toContain(needle);
      for (const file of files) expect(readFileSync(file).includes(needle), `${needle} in ${file}`).toBe(false);
      expect(logLines.join('')).not.toContain(needle);
    }
  });
});
