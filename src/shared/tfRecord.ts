// Incremental reading of a TFRecord file (the framing of TensorBoard event files), checksums
// checked, with bounded memory. Each record on disk is
//   uint64 length (little-endian) · uint32 masked CRC-32C of those 8 bytes · data · uint32 masked CRC-32C of data
// (tensorflow/core/lib/io/record_writer.cc). Each `poll()` reads only what was appended since the
// last one, in chunks, handing every record whose checksums hold to the caller; the records are
// not kept. No `vscode` here; files are opened through safeRead (regular files only, never
// blocking on a FIFO).
//
// What the file may hold, and what we do:
//   a torn last record  → a writer is mid-write (or was killed): not an error; the offset stays at
//                         its start and the next poll reads it again once it is whole;
//   bad data checksum   → the framing holds (the length's checksum was right): the record is
//                         skipped and counted as a bad record, like a bad metrics line;
//   bad length checksum → the framing is lost: counted as one bad record, then the next valid
//                         header is searched for byte by byte (a header whose length checksum
//                         holds), at most `resyncBytes` past it; none found → reading stops, said
//                         in `stalled` (not a TFRecord file, or garbage);
//   a huge length       → over `maxRecordBytes`: skipped without being read when the file holds it
//                         all (counted as bad), else reading waits there and `stalled` says why (a
//                         length of 2⁶⁰ in a hostile file is never allocated);
//   truncated, replaced → size below our offset, or another inode: start again, `reset: true`;
//   missing             → nothing to read; `reset: true` once if records had been read.
import * as fs from "node:fs";
import { maskedCrc32c } from "./crc32c";
import { READ_LIMITS, openRegularSync } from "./safeRead";

/** uint64 length + its uint32 checksum. */
export const TFRECORD_HEADER_BYTES = 12;
/** The data's uint32 checksum after it. */
export const TFRECORD_FOOTER_BYTES = 4;

/** Receives a record: its data is `buf[start, end)`; `offset` is its header's byte offset in the file. */
export type RecordSink = (buf: Buffer, start: number, end: number, offset: number) => void;

export interface TfRecordOptions {
  /** Bytes read at a time (grown for a record that does not fit). Default 4 MiB. */
  chunkBytes?: number;
  /** Longest record read; longer ones are skipped as bad. Default READ_LIMITS.tfRecordBytes. */
  maxRecordBytes?: number;
  /** How far past a broken header a valid one is searched for before reading stops. Default 1 MiB. */
  resyncBytes?: number;
}

/** A record that was skipped, and why. */
export interface BadRecord {
  /** Byte offset of its header in the file. */
  offset: number;
  reason: string;
}

/** At most this many bad records are kept with their reason (`badRecords` counts them all). */
export const BAD_RECORD_DETAILS_KEPT = 5;

export interface TfRecordPoll {
  /** True when earlier records are void (file truncated, replaced or deleted): discard them first. */
  reset: boolean;
  /** Records skipped in this poll (bad checksum, over the limit). */
  badRecords: number;
  /** Bytes at the end of the file that are not a whole record yet (a record being written). */
  pendingBytes: number;
  /** Why reading cannot go on past some point (see the top of this file); undefined when it can. */
  stalled: string | undefined;
}

function readInto(fd: number, buf: Buffer, length: number, position: number): number {
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** The uint64 length at `p` as a number; lengths past 2⁵³ come out inexact but huge, which is all that matters. */
function lengthAt(b: Buffer, p: number): number {
  return b.readUInt32LE(p + 4) * 2 ** 32 + b.readUInt32LE(p);
}

/** The uint64 length at `p`, exactly, for messages. */
function lengthText(b: Buffer, p: number): string {
  return b.readBigUInt64LE(p).toString();
}

/** Whether `b[p, p+12)` is a header whose length checksum holds. */
function headerHolds(b: Buffer, p: number): boolean {
  return maskedCrc32c(b, p, p + 8) === b.readUInt32LE(p + 8);
}

export class TfRecordTailer {
  private readonly chunkBytes: number;
  private readonly maxRecordBytes: number;
  private readonly resyncBytes: number;
  /** Bytes consumed: the offset of the next record's header. */
  private offset = 0;
  private identity: { dev: number; ino: number; birthtimeMs: number } | undefined;
  /** Set after a broken header: the offset it was at (a valid header is being searched for). */
  private resyncFrom: number | undefined;
  /** Reading stopped for good (no header found while resyncing) until the file is replaced. */
  private stoppedReason: string | undefined;
  private badCount = 0;
  private recordCount = 0;
  private details: BadRecord[] = [];

  constructor(
    readonly path: string,
    options: TfRecordOptions = {},
  ) {
    this.chunkBytes = Math.max(64, Math.floor(options.chunkBytes ?? 4 << 20));
    this.maxRecordBytes = options.maxRecordBytes ?? READ_LIMITS.tfRecordBytes;
    this.resyncBytes = options.resyncBytes ?? 1 << 20;
  }

  /** Records skipped as bad since the last reset. */
  get badRecords(): number {
    return this.badCount;
  }

  /** The first BAD_RECORD_DETAILS_KEPT bad records since the last reset. */
  get badRecordDetails(): readonly BadRecord[] {
    return this.details;
  }

  /** Records handed over since the last reset. */
  get records(): number {
    return this.recordCount;
  }

  /** The file offset the next read starts at. */
  get position(): number {
    return this.offset;
  }

  private clear(): void {
    this.offset = 0;
    this.resyncFrom = undefined;
    this.stoppedReason = undefined;
    this.badCount = 0;
    this.recordCount = 0;
    this.details = [];
  }

  private bad(offset: number, reason: string): void {
    this.badCount++;
    if (this.details.length < BAD_RECORD_DETAILS_KEPT) this.details.push({ offset, reason });
  }

  /**
   * Reads the records appended since the last poll, handing each to `onRecord` as a range of a
   * reused buffer (valid only during the call; no subarray per record: 10⁶ records made 10⁶ of them). Never throws for a missing file;
   * throws FileRefusedError for a file that is not a regular file; other I/O errors propagate.
   */
  poll(onRecord: RecordSink): TfRecordPoll {
    let fd: number;
    try {
      fd = openRegularSync(this.path).fd;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") {
        const hadFile = this.identity !== undefined;
        this.clear();
        this.identity = undefined;
        return { reset: hadFile, badRecords: 0, pendingBytes: 0, stalled: undefined };
      }
      throw err;
    }
    try {
      return this.readFrom(fd, onRecord);
    } finally {
      fs.closeSync(fd);
    }
  }

  private readFrom(fd: number, onRecord: RecordSink): TfRecordPoll {
    const st = fs.fstatSync(fd);
    const identity = { dev: st.dev, ino: st.ino, birthtimeMs: st.birthtimeMs };
    const known = this.identity;
    let reset = false;
    if (
      known !== undefined &&
      (known.dev !== identity.dev ||
        known.ino !== identity.ino ||
        known.birthtimeMs !== identity.birthtimeMs ||
        st.size < this.offset)
    ) {
      reset = true;
      this.clear();
    }
    this.identity = identity;
    const size = st.size; // read up to the size seen now; later appends are for the next poll
    const badBefore = this.badCount;
    const done = (stalled: string | undefined): TfRecordPoll => ({
      reset,
      badRecords: this.badCount - badBefore,
      pendingBytes: Math.max(0, size - this.offset),
      stalled,
    });
    if (this.stoppedReason !== undefined) return done(this.stoppedReason);

    let buf = Buffer.allocUnsafe(Math.max(1, Math.min(this.chunkBytes, size - this.offset)));
    while (this.offset < size) {
      const pos = this.offset;
      const got = readInto(fd, buf, Math.min(buf.length, size - pos), pos);
      if (got === 0) break; // shrank under us: the next poll notices
      const more = pos + got < size; // the file goes on past this chunk
      let p = 0;
      /** Bytes the record at p needs in the buffer, when it does not fit (0: it fits or is torn). */
      let need = 0;
      let skipTo: number | undefined;
      let stalled: string | undefined;
      for (;;) {
        if (this.resyncFrom !== undefined) {
          // Look for the next header whose length checksum holds (and whose length is sane).
          let q = p;
          for (; q + TFRECORD_HEADER_BYTES <= got; q++)
            if (headerHolds(buf, q) && lengthAt(buf, q) <= this.maxRecordBytes) break;
          if (q + TFRECORD_HEADER_BYTES <= got) {
            this.resyncFrom = undefined;
            p = q;
          } else {
            // Keep the last bytes: a header may begin there.
            p = Math.max(p, got - (TFRECORD_HEADER_BYTES - 1));
            if (pos + p - this.resyncFrom > this.resyncBytes) {
              this.stoppedReason = `no valid record header in the ${this.resyncBytes} bytes after the broken one at byte ${this.resyncFrom} (not a TFRecord file, or corrupt): the rest of the file is not read`;
              stalled = this.stoppedReason;
            }
            break;
          }
        }
        if (got - p < TFRECORD_HEADER_BYTES) break;
        if (!headerHolds(buf, p)) {
          this.bad(pos + p, "length checksum mismatch (the record framing is broken)");
          this.resyncFrom = pos + p;
          p++;
          continue;
        }
        const length = lengthAt(buf, p);
        const total = TFRECORD_HEADER_BYTES + length + TFRECORD_FOOTER_BYTES;
        if (length > this.maxRecordBytes) {
          if (pos + p + total <= size) {
            this.bad(pos + p, `${lengthText(buf, p)} bytes long, over the ${this.maxRecordBytes}-byte record limit`);
            skipTo = pos + p + total;
          } else {
            stalled = `the record at byte ${pos + p} claims ${lengthText(buf, p)} bytes, over the ${this.maxRecordBytes}-byte record limit, and the file ends before it: nothing after it is read until the file holds it all`;
          }
          break;
        }
        if (got - p < total) {
          if (total > buf.length) need = total;
          break;
        }
        const footer = p + TFRECORD_HEADER_BYTES + length;
        if (maskedCrc32c(buf, p + TFRECORD_HEADER_BYTES, footer) !== buf.readUInt32LE(footer)) {
          this.bad(pos + p, "data checksum mismatch");
        } else {
          this.recordCount++;
          onRecord(buf, p + TFRECORD_HEADER_BYTES, footer, pos + p);
        }
        p += total;
      }
      this.offset = skipTo ?? pos + p;
      if (stalled !== undefined) return done(stalled);
      if (skipTo !== undefined) continue;
      if (need > 0 && pos + p + need <= size) {
        buf = Buffer.allocUnsafe(need); // a record longer than a chunk (bounded by maxRecordBytes)
        continue;
      }
      if (!more) break; // the rest is a torn record (or a partial header): wait for it
      if (p === 0 && need === 0) break; // no progress possible (cannot happen with chunk ≥ 64)
    }
    return done(undefined);
  }
}

/**
 * Every record of a TFRecord file read once (for tests and tools): the records' bytes (copied),
 * and what was skipped.
 */
export function readTfRecordsSync(
  path: string,
  options: TfRecordOptions = {},
): { records: Buffer[]; bad: readonly BadRecord[]; badRecords: number; poll: TfRecordPoll } {
  const t = new TfRecordTailer(path, options);
  const records: Buffer[] = [];
  const poll = t.poll((buf, start, end) => records.push(Buffer.from(buf.subarray(start, end))));
  return { records, bad: t.badRecordDetails, badRecords: t.badRecords, poll };
}

/** One record framed as a TFRecord writer frames it (for tests and benchmarks that write files). */
export function frameRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(TFRECORD_HEADER_BYTES + data.length + TFRECORD_FOOTER_BYTES);
  out.writeUInt32LE(data.length >>> 0, 0);
  out.writeUInt32LE(Math.floor(data.length / 2 ** 32), 4);
  out.writeUInt32LE(maskedCrc32c(out, 0, 8), 8);
  out.set(data, TFRECORD_HEADER_BYTES);
  out.writeUInt32LE(maskedCrc32c(data), TFRECORD_HEADER_BYTES + data.length);
  return out;
}
