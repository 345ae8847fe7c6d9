// Reads a SQLite event store's log by position with a read-only connection of its own, for
// a thread that is not the store's (a worker of a parallel rebuild, bin/rebuild-worker.ts):
// one SQL query and one JSON text per read, as the store's own read-ahead does.
import Database from 'better-sqlite3';
import type { RecordedEvent } from './port.js';
import { batchJsonSql } from './sqlite-read-ahead.js';

export interface SqliteRangeReader {
  /** Up to `limit` events after `after`, in position order; empty at the end of the log. */
  read(after: number, limit: number): RecordedEvent[];
  close(): void;
}

export function openSqliteRangeReader(file: string): SqliteRangeReader {
  const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
  const statement = db.prepare(batchJsonSql).pluck();
  return {
    read(after, limit) {
      const text = statement.get(after, limit) as string | null;
      return text === null ? [] : (JSON.parse(text) as RecordedEvent[]);
    },
    close: () => db.close(),
  };
}
