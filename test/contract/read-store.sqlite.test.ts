import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Doc } from '../../adapters/readstore/port.js';
import { openSqliteReadStore, type SqliteReadStore } from '../../adapters/readstore/sqlite.js';
import { readStoreContract } from './read-store.contract.js';

readStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stratus-readstore-'));
  const store = openSqliteReadStore({ file: join(dir, 'read.db') });
  return { store, cleanup: async () => rmSync(dir, { recursive: true, force: true }), another: () => openSqliteReadStore({ file: join(dir, 'read.db') }) };
});

describe('sqlite read store', () => {
  let dir: string;
  let file: string;
  let store: SqliteReadStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stratus-readstore-'));
    file = join(dir, 'nested', 'read.db');
    store = openSqliteReadStore({ file });
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const put = (collection: string, docs: Doc[], position = 1) =>
    store.commit('test', position, async (batch) => {
      for (const doc of docs) batch.upsert(collection, doc);
    });

  const auditDocs = Array.from({ length: 200 }, (_, i) => ({
    id: `e${String(i).padStart(4, '0')}`,
    action: i % 3 === 0 ? 'LoginFailed' : 'VmInstanceCreated',
    time: 1_000 + i,
    actor: { name: `user${i % 7}` },
  }));

  const auditQuery = {
    filter: { action: 'LoginFailed', time: { $gte: 1_050, $lt: 1_150 } },
    options: { sort: [['time', -1]] as Array<[string, 1 | -1]>, limit: 20 },
  };

  it('answers action + time range sorted by time desc from the compound index', async () => {
    await store.ensureIndex('audit', { fields: [['action', 1], ['time', 1]] });
    await put('audit', auditDocs);
    const { plan, sql } = store.explain('audit', auditQuery.filter, auditQuery.options);
    const text = plan.join('\n');
    expect(text).toContain('USING INDEX ix_audit(action,time)');
    expect(text).toMatch(/SEARCH c_audit USING INDEX \S+ \(<expr>=\? AND <expr>>\? AND <expr><\?\)/);
    expect(text).not.toMatch(/SCAN c_audit/);
    expect(sql).toContain("json_extract(doc,'$.action') = ?");

    const found = await store.find('audit', auditQuery.filter, auditQuery.options);
    const expected = auditDocs
      .filter((d) => d.action === 'LoginFailed' && d.time >= 1_050 && d.time < 1_150)
      .sort((x, y) => y.time - x.time)
      .slice(0, 20);
    expect(found).toEqual(expected);
  });

  it('needs no sort step when the index direction matches the sort', async () => {
    await store.ensureIndex('audit', { fields: [['action', 1], ['time', -1]] });
    await put('audit', auditDocs);
    const text = store.explain('audit', auditQuery.filter, auditQuery.options).plan.join('\n');
    expect(text).toContain('USING INDEX ix_audit(action,time desc)');
    expect(text).not.toContain('TEMP B-TREE');
    expect(text).not.toMatch(/SCAN c_audit/);
  });

  it('uses indexes for $in and anchored $regex prefixes', async () => {
    await store.ensureIndex('audit', { fields: [['action', 1], ['time', 1]] });
    await store.ensureIndex('audit', { fields: [['actor.name', 1]] });
    await put('audit', auditDocs);
    const inPlan = store.explain('audit', { action: { $in: ['LoginFailed', 'Other'] } }).plan.join('\n');
    expect(inPlan).toContain('USING INDEX ix_audit(action,time)');
    const prefix = store.explain('audit', { 'actor.name': { $regex: '^user1' } });
    expect(prefix.plan.join('\n')).toMatch(/SEARCH c_audit USING INDEX ix_audit\(actor.name\) \(<expr>>\? AND <expr><\?\)/);
    expect(await store.count('audit', { 'actor.name': { $regex: '^user1' } })).toBe(
      auditDocs.filter((d) => d.actor.name.startsWith('user1')).length,
    );
  });

  it('writes plain comparisons for indexed paths and element tests for multi-valued ones', async () => {
    await store.ensureIndex('things', { fields: [['name', 1]] });
    await store.ensureIndex('things', { fields: [['tags', 1]], multiValued: true });
    const scalar = store.explain('things', { name: 'x' }).sql;
    expect(scalar).toContain("WHERE json_extract(doc,'$.name') = ? ORDER BY");
    const multi = store.explain('things', { tags: 'x' }).sql;
    expect(multi).toContain("EXISTS (SELECT 1 FROM json_each(doc,'$.tags')");
    expect(multi).not.toContain("= 'array'");
    const undeclared = store.explain('things', { other: 'x' }).sql;
    expect(undeclared).toContain("json_type(doc,'$.other') = 'array'");
  });

  it('keeps index declarations across reopen and reset', async () => {
    await store.ensureIndex('audit', { fields: [['action', 1], ['time', 1]] });
    await store.ensureIndex('audit', { fields: [['tags', 1]], multiValued: true });
    await put('audit', auditDocs);
    await store.close();

    store = openSqliteReadStore({ file });
    expect(store.explain('audit', { tags: 'x' }).sql).not.toContain("= 'array'");
    expect(await store.count('audit', {})).toBe(auditDocs.length);

    await store.reset('audit', ['audit'], 2);
    expect(store.explain('audit', auditQuery.filter, auditQuery.options).plan).toEqual([]);
    await put('audit', auditDocs.slice(0, 10));
    const text = store.explain('audit', auditQuery.filter, auditQuery.options).plan.join('\n');
    expect(text).toContain('USING INDEX ix_audit(action,time)');
    expect(store.explain('audit', { tags: 'x' }).sql).not.toContain("= 'array'");
  });

  it('rolls back a commit whose patch cannot be applied, and stays usable', async () => {
    await put('items', [{ id: 'a', x: 5 }], 1);
    await expect(
      store.commit('test', 2, async (batch) => {
        batch.upsert('fresh', { id: 'f' });
        batch.patch('items', 'a', { 'x.y': 1 }); // resolved at commit: x is a number
      }),
    ).rejects.toThrow(/cannot create field/);
    expect(await store.checkpoint('test')).toEqual({ position: 1, version: 0 });
    expect(await store.count('fresh', {})).toBe(0);
    expect(await store.get('items', 'a')).toEqual({ id: 'a', x: 5 });

    await put('fresh', [{ id: 'g' }], 3);
    expect(await store.find('fresh', {})).toEqual([{ id: 'g' }]);
  });

  it('rejects unsafe names and paths', async () => {
    await expect(store.find('Bad-Name', {})).rejects.toThrow(/collection name/);
    await expect(store.find('items', { "a') OR 1=1 --": 1 })).rejects.toThrow(/field path/);
    await expect(store.find('items', {}, { sort: [['a.b c', 1]] })).rejects.toThrow(/field path/);
    await expect(store.ensureIndex('items', { fields: [['x;drop', 1]] })).rejects.toThrow(/field path/);
  });

  it('survives a reopen with documents and checkpoint intact', async () => {
    await put('items', [{ id: 'a', n: 1 }], 42);
    await store.close();
    store = openSqliteReadStore({ file });
    expect(await store.get('items', 'a')).toEqual({ id: 'a', n: 1 });
    expect(await store.checkpoint('test')).toEqual({ position: 42, version: 0 });
  });
});
