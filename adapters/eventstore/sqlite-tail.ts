// The tail of the SQLite event store's log, held in memory: the events this process
// committed last, decoded once (on first read) and shared by every reader in the process.
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
  /** rows[i] is at position `first + i`; decoded[i] is its event once a reader asked for it. */
  private rows: StoredRow[] = [];
  private decoded: Array<RecordedEvent | undefined> = [];
  private first = 0;

  constructor(private readonly capacity: number) {}

  /**
   * Adds committed events (consecutive positions, in order), as stored. They are decoded on
   * first read, not here: an appender nobody reads after (a bulk import) pays nothing.
   */
  add(rows: readonly StoredRow[]): void {
    if (rows.length === 0) return;
    if (this.rows.length === 0 || rows[0]!.position !== this.first + this.rows.length) {
      this.rows = [];
      this.decoded = [];
      this.first = rows[0]!.position;
    }
    for (const row of rows) {
      this.rows.push(row);
      this.decoded.push(undefined);
    }
    // Trimmed in steps, so that the arrays are not shifted on every commit.
    if (this.rows.length > this.capacity * 1.25) {
      const drop = this.rows.length - this.capacity;
      this.rows = this.rows.slice(drop);
      this.decoded = this.decoded.slice(drop);
      this.first += drop;
    }
  }

  /** The event at `position`, if the tail holds it. */
  at(position: number): RecordedEvent | undefined {
    const index = position - this.first;
    return index >= 0 && index < this.rows.length ? this.eventAt(index) : undefined;
  }

  /**
   * The events after `after`, at most `limit`, when the tail holds the first of them;
   * undefined when it does not (read the database). May be shorter than what the database
   * holds beyond the tail (another connection's commits): the caller reads on from there.
   */
  after(after: number, limit: number): RecordedEvent[] | undefined {
    const start = after + 1 - this.first;
    if (start < 0 || start >= this.rows.length) return undefined;
    const end = Math.min(this.rows.length, start + limit);
    const out: RecordedEvent[] = new Array(end - start);
    for (let index = start; index < end; index++) out[index - start] = this.eventAt(index);
    return out;
  }

  /** Position of the last event held (0 when empty). */
  last(): number {
    return this.rows.length === 0 ? 0 : this.first + this.rows.length - 1;
  }

  clear(): void {
    this.rows = [];
    this.decoded = [];
    this.first = 0;
  }

  private eventAt(index: number): RecordedEvent {
    const known = this.decoded[index];
    if (known !== undefined) return known;
    const row = this.rows[index]!;
    const event = deepFreeze({
      id: row.id,
      stream: row.stream,
      version: row.version,
      position: row.position,
      type: row.type,
      data: JSON.parse(row.data) as unknown,
      metadata: (row.metadata === '{}' ? {} : JSON.parse(row.metadata)) as EventMetadata,
      recordedAt: row.recordedAt,
    });
    this.decoded[index] = event;
    return event;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
