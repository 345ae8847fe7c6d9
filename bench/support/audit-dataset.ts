import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NewEvent } from '../../adapters/eventstore/port.js';
import { openSqliteEventStore } from '../../adapters/eventstore/sqlite.js';
import { seededRandom } from '../../test/support/seeded-random.js';

// A synthetic but realistic audit history: logins, failed logins and logouts (one event,
// one entry) and tasks (TaskStarted + TaskSucceeded/TaskFailed in one append: two events,
// one entry), from 500 operators at 2,000 addresses over 30 days. Built once and kept in
// .bench-data/ so that the benchmarks that read it do not pay for it again.

export const operators = Array.from({ length: 500 }, (_, i) => ({ kind: 'user' as const, id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, name: `user${i}` }));
export const actions = ['CreateVmInstance', 'StartVmInstance', 'StopVmInstance', 'DestroyVmInstance', 'UpdateSetting', 'CreateVolume', 'AttachVolume', 'CreateSnapshot'];
export const start = Date.UTC(2026, 9, 1);
export const span = 30 * 24 * 3600 * 1000;

export async function auditDataset(options: { entries: number; dir?: string }): Promise<{ eventsFile: string; dir: string }> {
  const dir = options.dir ?? join(process.cwd(), '.bench-data', `audit-${options.entries}`);
  const eventsFile = join(dir, 'events.db');
  const done = join(dir, 'complete');
  if (existsSync(done)) return { eventsFile, dir };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  let clockNow = start;
  const store = openSqliteEventStore({ file: eventsFile, clock: { now: () => clockNow } });
  const next = seededRandom(42);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
  const step = span / options.entries;
  let pending: Array<Promise<unknown>> = [];
  for (let i = 0; i < options.entries; i++) {
    clockNow = Math.round(start + i * step);
    const actor = pick(operators);
    const metadata = { actor, clientIp: `10.${Math.floor(next() * 8)}.${Math.floor(next() * 250)}.${1 + Math.floor(next() * 250)}`, userAgent: 'bench/1', correlationId: `c-${i}`, schemaVersion: 1 };
    const roll = next();
    let stream: string;
    let events: NewEvent[];
    if (roll < 0.9) {
      const sessionId = `s-${i}`;
      const type = roll < 0.5 ? 'UserLoggedIn' : roll < 0.7 ? 'UserLoggedOut' : 'LoginFailed';
      stream = type === 'LoginFailed' ? `user-${actor.id}` : `session-${sessionId}`;
      const data = type === 'LoginFailed'
        ? { userId: actor.id, username: actor.name, reason: 'WRONG_PASSWORD', at: clockNow }
        : type === 'UserLoggedIn'
          ? { sessionId, userId: actor.id, username: actor.name, tokenHash: 'x'.repeat(64), expiresAt: clockNow + 7_200_000, at: clockNow }
          : { sessionId, userId: actor.id, username: actor.name, reason: 'logout', at: clockNow };
      events = [{ type, data, metadata }];
    } else {
      const taskId = `t-${i}`;
      stream = `task-${taskId}`;
      const action = pick(actions);
      const failed = next() < 0.1;
      events = [
        { type: 'TaskStarted', data: { taskId, action, resourceType: 'vm', resourceIds: [`vm-${i % 5000}`], request: { name: `vm-${i}`, cpu: 2 }, startedAt: clockNow }, metadata },
        failed
          ? { type: 'TaskFailed', data: { taskId, error: { code: 'HOST_UNAVAILABLE', message: 'no host' }, finishedAt: clockNow + 50 }, metadata }
          : { type: 'TaskSucceeded', data: { taskId, result: { id: `vm-${i}` }, resourceIds: [`vm-${i % 5000}`], finishedAt: clockNow + 50 }, metadata },
      ];
    }
    pending.push(store.append(stream, events, 'any'));
    if (pending.length >= 2000) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  await store.close();
  writeFileSync(done, new Date().toISOString());
  return { eventsFile, dir };
}
