import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

// Closing a scratch store waits for its background writer to exit. The writer is unref'd
// while idle; waiting for it must still keep a process alive that has nothing else to do
// (`stratus replay` ended silently, exit code 0, before printing its report).

describe('sqlite scratch store', () => {
  it('keeps the process alive while close() waits for its background writer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-scratch-close-'));
    try {
      const store = pathToFileURL(join(process.cwd(), 'adapters/readstore/sqlite.ts')).href;
      const script = `
        const { openSqliteReadStore } = await import(${JSON.stringify(store)});
        const store = openSqliteReadStore({ file: ${JSON.stringify(join(dir, 'scratch.db'))}, scratch: true });
        const put = (position, from) => store.commit('test', position, async (batch) => {
          for (let i = from; i < from + 300; i++) batch.upsert('items', { id: 'item-' + i });
        });
        await put(1, 0); // creates the table: written here
        await put(2, 300); // written by the background writer
        await store.close();
        console.log('closed');
      `;
      const file = join(dir, 'close.mts');
      writeFileSync(file, script);
      const run = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8' });
      expect(run.stderr).toBe('');
      expect(run.stdout).toBe('closed\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
