// Persistence of the simulator's host state: a JSON-lines journal of record upserts and
// removals (last one wins), compacted to the live records on open. Written synchronously
// without fsync: it must survive a restart of the process, like a hypervisor that keeps
// running while Stratus restarts; a simulated host need not survive a power cut.
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface JournalEntry {
  hostId: string;
  kind: 'vm' | 'volume' | 'image';
  id: string;
  /** null: the record was removed. */
  value: unknown;
}

export interface SimulatorJournal {
  replay(): JournalEntry[];
  /** Rewrites the journal as exactly these entries. */
  compact(entries: Iterable<JournalEntry>): void;
  write(entry: JournalEntry): void;
  close(): void;
}

export function openSimulatorJournal(file: string): SimulatorJournal {
  mkdirSync(dirname(file), { recursive: true });
  let fd: number | undefined;
  const descriptor = () => (fd ??= openSync(file, 'a'));
  return {
    replay() {
      if (!existsSync(file)) return [];
      const entries: JournalEntry[] = [];
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        try {
          entries.push(JSON.parse(line) as JournalEntry);
        } catch {
          // A line torn by a crash in the middle of a write: everything before it stands.
          break;
        }
      }
      return entries;
    },
    compact(entries) {
      const temporary = `${file}.compact`;
      const out = openSync(temporary, 'w');
      try {
        for (const entry of entries) writeSync(out, `${JSON.stringify(entry)}\n`);
      } finally {
        closeSync(out);
      }
      if (fd !== undefined) {
        closeSync(fd);
        fd = undefined;
      }
      renameSync(temporary, file);
    },
    write(entry) {
      appendFileSync(descriptor(), `${JSON.stringify(entry)}\n`);
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
