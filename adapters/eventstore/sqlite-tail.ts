// The tail of the SQLite event store's log, held in memory: the events this process
// committed last, decoded once and shared by every reader in the process.
//
// Why: the embedded shape runs half a dozen subscriptions (projections, effect dispatcher,
// process managers) that each read every event right after its commit, and commands read the
// newest events of the streams they decide on. Read from SQLite, each of those reads ran a
// query and decoded the JSON again — for one VM create, the same events were decoded about
// ten times. Served from here they are decoded once, at commit.
//
// The events are deep-frozen because they are shared: a reader that changed one would change
// it for every other reader. Their content is decoded from the stored JSON text, never the
// appender's own objects, so a reader sees exactly what a read from the database gives.
//
// The tail only ever holds a gapless run of positions that this connection committed; a
// commit by another connection (another process on the same file) breaks the run, and the
// tail starts over after it. Positions outside the run are read from the database.

import type { EventMetadata, RecordedEvent } from './port.js';

export interface StoredRow {
  id: string;
  stream: string;
  version: number;
  position: number;
  type: string;
  /** The JSON text stored. */
  data: string;
  metadata: string;
  recordedAt: number;
}

export class EventTail {
  /** events[i] is at position `first + i`. */
  private events: RecordedEvent[] = [];
  private first = 0;

  constructor(private readonly capacity: number) {}

  /** Adds committed events (consecutive positions, in order), as stored. */
  add(rows: readonly StoredRow[]): void {
    if (rows.length === 0) return;
    if (this.events.length === 0 || rows[0]!.position !== this.first + this.events.length) {
      this.events = [];
      this.first = rows[0]!.position;
    }
    for (const row of rows) {
      this.events.push(deepFreeze({
        id: row.id,
        stream: row.stream,
        version: row.version,
        position: row.position,
        type: row.type,
        data: JSON.parse(row.data) as unknown,
        metadata: (row.metadata === '{}' ? {} : JSON.parse(row.metadata)) as EventMetadata,
        recordedAt: row.recordedAt,
      }));
    }
    // Trimmed in steps, so that the array is not shifted on every commit.
    if (this.events.length > this.capacity * 1.25) {
      const drop = this.events.length - this.capacity;
      this.events = this.events.slice(drop);
      this.first += drop;
    }
  }

  /** The event at `position`, if the tail holds it. */
  at(position: number): RecordedEvent | undefined {
    return this.events[position - this.first];
  }

  /**
   * The events after `after`, at most `limit`, when the tail holds the first of them;
   * undefined when it does not (read the database). May be shorter than what the database
   * holds beyond the tail (another connection's commits): the caller reads on from there.
   */
  after(after: number, limit: number): RecordedEvent[] | undefined {
    const start = after + 1 - this.first;
    if (start < 0 || start >= this.events.length) return undefined;
    return this.events.slice(start, start + limit);
  }

  /** Position of the last event held (0 when empty). */
  last(): number {
    return this.events.length === 0 ? 0 : this.first + this.events.length - 1;
  }

  clear(): void {
    this.events = [];
    this.first = 0;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
