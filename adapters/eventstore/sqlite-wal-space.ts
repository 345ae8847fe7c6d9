// Room made ahead in the SQLite event store's write-ahead log, so that a COMMIT overwrites
// space the file already has instead of growing it.
//
// Why: every append is acknowledged after an fsync of the WAL (synchronous=FULL). When a
// commit makes the file longer, that fsync must also commit the new file size to the file
// system's journal — a second device flush on ext4 and most journaling file systems —
// while a commit written over blocks the file already owns flushes the data alone. The WAL
// grows with every commit until the first checkpoint lets SQLite start again from its
// beginning (tens of MB later): a fresh store paid the double flush on every commit. Database
// engines preallocate or recycle their log files for the same reason (PostgreSQL's WAL
// segments, InnoDB's redo log).
//
// Safety: only zeros are written, only beyond the file's current end, and only while this
// connection holds SQLite's write lock (inside BEGIN IMMEDIATE), so no other connection is
// appending frames then. SQLite reads a WAL up to its first frame whose salt and checksum
// do not match its header, so trailing zeros are never taken for frames; a checkpoint or a
// restart of the log leaves the file's length alone (no journal_size_limit is set), and
// closing the last connection deletes the file as before. A file shorter than its header
// (no frame written yet) is left alone.

import { closeSync, fdatasync, fstatSync, openSync, writeSync } from 'node:fs';

const WAL_HEADER_BYTES = 32;
const ZEROS = Buffer.alloc(1 << 20);

export class WalSpace {
  private fd: number | undefined;
  /** The file's length when room was last made: a longer file means SQLite wrote past it. */
  private madeTo = -1;

  constructor(private readonly walFile: string, private readonly chunkBytes: number) {}

  /** Call while holding the write lock, before the commit. */
  ensureRoom(): void {
    if (this.chunkBytes <= 0) return;
    try {
      this.fd ??= openSync(this.walFile, 'r+');
      const size = fstatSync(this.fd).size;
      if (size < WAL_HEADER_BYTES || size === this.madeTo) return;
      const target = size + this.chunkBytes;
      for (let offset = size; offset < target; offset += ZEROS.length) {
        writeSync(this.fd, ZEROS, 0, Math.min(ZEROS.length, target - offset), offset);
      }
      this.madeTo = target;
      // Flushed in the background, so that the next commit's own fsync finds little to do.
      fdatasync(this.fd, () => {});
    } catch {
      // Only an optimisation: without it, commits grow the file as before.
      this.close();
      this.madeTo = -1;
    }
  }

  close(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
    }
    this.fd = undefined;
  }
}
