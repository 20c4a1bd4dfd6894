// Incremental reading of a live metrics.jsonl (docs/run-format.md): each poll reads only the bytes
// appended since the last one, so a panel can follow a run for hours at a constant cost per line.
// No `vscode` here; the adapter calls `poll()` from a file watcher or a timer.
//
// What can happen to the file between two polls, and what we do:
//   appended           → read the new bytes from our offset, in chunks (never the whole file);
//   a line half-written → keep its bytes until the newline arrives (writers append whole lines,
//                         but a reader can still catch a write in flight);
//   truncated          → size < offset: start again from byte 0, `reset: true`;
//   replaced           → a resume rewrites the file atomically (rename): a new inode, or a new
//                         birth time, or different bytes just before our offset (an in-place
//                         rewrite that grew back past it): start again from 0, `reset: true`;
//   missing            → no records (a run that has not logged yet); if it had been read before,
//                         `reset: true` once, since its records are gone;
//   corrupt line       → skipped and counted in `badLines`, never fatal;
//   not a regular file → a FIFO, a device (a link to /dev/zero), a directory: refused with a
//                         FileRefusedError naming it. The file is opened with O_NONBLOCK
//                         (src/shared/safeRead.ts), so a FIFO never blocks the extension host.

import * as fs from "node:fs";
import { type MetricsRecord, parseMetricsLine } from "../shared/runFormat";
import { openRegularSync } from "../shared/safeRead";

export interface TailerOptions {
  /** Bytes per read call. Default 1 MiB. */
  chunkBytes?: number;
  /**
   * At most this many new bytes per `poll()` (rounded up to whole chunks); the rest is read by the
   * next polls (`more: true` says there is more). Bounds the records one poll returns. Default: no
   * limit — a poll reads everything there is.
   */
  maxBytesPerPoll?: number;
  /**
   * A line longer than this without a newline is dropped (counted as bad) instead of being
   * buffered further, so a file with no newlines cannot exhaust memory. Default 16 MiB.
   */
  maxLineBytes?: number;
}

export interface TailResult {
  /** Records completed since the last poll (after a reset: from the start of the file), in file order. */
  records: MetricsRecord[];
  /** True when earlier records are void (file truncated, replaced or deleted): discard them before using `records`. */
  reset: boolean;
  /** True when `maxBytesPerPoll` stopped this poll before the end of the file: poll again. */
  more: boolean;
  /** Complete lines skipped in this poll because they were not valid records. */
  skipped: number;
}

/** Bytes before the offset compared on each poll, to notice a file rewritten in place. */
const FINGERPRINT_BYTES = 64;
const NEWLINE = 0x0a;

export class MetricsTailer {
  readonly path: string;
  private readonly chunkBytes: number;
  private readonly maxBytesPerPoll: number;
  private readonly maxLineBytes: number;
  /** Bytes of the file consumed so far (complete lines and the buffered partial line). */
  private offset = 0;
  /** Identity of the file we are reading: undefined before the first successful open. */
  private identity: { dev: number; ino: number; birthtimeMs: number } | undefined;
  /** The partial last line's bytes, in pieces (joined only when its newline arrives). */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** True while discarding an over-long line up to its newline. */
  private discarding = false;
  /** The last bytes before `offset`, to detect a rewrite that left the size above our offset. */
  private fingerprint: Buffer = Buffer.alloc(0);
  /** The read buffer, allocated per poll: an idle tailer (one per run the Runs view shows) holds none. */
  private chunk: Buffer = Buffer.alloc(0);
  private badLineCount = 0;
  private recordCount = 0;

  constructor(path: string, options: TailerOptions = {}) {
    this.path = path;
    this.chunkBytes = Math.max(1, Math.floor(options.chunkBytes ?? 1 << 20));
    this.maxBytesPerPoll = options.maxBytesPerPoll ?? Infinity;
    this.maxLineBytes = options.maxLineBytes ?? 16 << 20;
  }

  /** Lines skipped as invalid since the last reset. */
  get badLines(): number {
    return this.badLineCount;
  }

  /** Records delivered since the last reset. */
  get records(): number {
    return this.recordCount;
  }

  /** Bytes consumed so far (the file offset the next read starts at). */
  get position(): number {
    return this.offset;
  }

  /** True when the file currently ends with a line that has no newline yet (held back). */
  get hasPartialLine(): boolean {
    return this.partialBytes > 0 || this.discarding;
  }

  /**
   * Reads what was appended since the last poll. Never throws for a missing file; throws
   * FileRefusedError for a file that is not a regular file; other I/O errors propagate.
   */
  poll(): TailResult {
    let fd: number;
    try {
      fd = openRegularSync(this.path).fd;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") {
        const hadFile = this.identity !== undefined;
        this.clear();
        this.identity = undefined;
        return { records: [], reset: hadFile, more: false, skipped: 0 };
      }
      throw err;
    }
    try {
      this.chunk = Buffer.allocUnsafe(this.chunkBytes);
      return this.readFrom(fd);
    } finally {
      this.chunk = Buffer.alloc(0);
      fs.closeSync(fd);
    }
  }

  private clear(): void {
    this.offset = 0;
    this.partial = [];
    this.partialBytes = 0;
    this.discarding = false;
    this.fingerprint = Buffer.alloc(0);
    this.badLineCount = 0;
    this.recordCount = 0;
  }

  private readFrom(fd: number): TailResult {
    // fstat on the open descriptor: the size and identity belong to the file we will read.
    const st = fs.fstatSync(fd);
    const identity = { dev: st.dev, ino: st.ino, birthtimeMs: st.birthtimeMs };
    let reset = false;
    const known = this.identity;
    if (known === undefined) {
      // First sight of the file: a reset only if records had been delivered from an earlier one.
      reset = this.offset > 0;
      this.clear();
    } else if (
      known.dev !== identity.dev ||
      known.ino !== identity.ino ||
      known.birthtimeMs !== identity.birthtimeMs ||
      st.size < this.offset ||
      !this.fingerprintMatches(fd)
    ) {
      reset = true;
      this.clear();
    }
    this.identity = identity;

    const records: MetricsRecord[] = [];
    let skipped = 0;
    let readThisPoll = 0;
    const end = st.size; // read up to the size seen now; later appends are for the next poll
    while (this.offset < end && readThisPoll < this.maxBytesPerPoll) {
      const want = Math.min(this.chunkBytes, end - this.offset);
      const got = fs.readSync(fd, this.chunk, 0, want, this.offset);
      if (got === 0) break; // shrank under us; the next poll notices
      const r = this.consume(this.chunk, got, records);
      skipped += r;
      this.offset += got;
      readThisPoll += got;
      this.remember(got);
    }
    this.badLineCount += skipped;
    this.recordCount += records.length;
    return { records, reset, more: this.offset < end, skipped };
  }

  /** Splits `buf[0, n)` into lines, continuing the partial line; returns the number of bad lines. */
  private consume(buf: Buffer, n: number, out: MetricsRecord[]): number {
    let bad = 0;
    let start = 0;
    let nl = buf.indexOf(NEWLINE, 0);
    if (nl === -1 || nl >= n) {
      this.hold(buf, 0, n);
      return 0;
    }
    // Complete the held line, if any.
    if (this.discarding) {
      this.discarding = false;
      bad++;
      start = nl + 1;
    } else if (this.partialBytes > 0) {
      this.partial.push(Buffer.from(buf.subarray(0, nl)));
      const line = Buffer.concat(this.partial).toString("utf8");
      this.partial = [];
      this.partialBytes = 0;
      if (!this.take(line, out)) bad++;
      start = nl + 1;
    }
    // Every complete line of this chunk: decode up to the last newline at once, then split.
    const lastNl = buf.lastIndexOf(NEWLINE, n - 1);
    if (lastNl >= start) {
      const text = buf.toString("utf8", start, lastNl);
      let from = 0;
      for (;;) {
        const i = text.indexOf("\n", from);
        const line = i === -1 ? text.slice(from) : text.slice(from, i);
        if (!this.take(line, out)) bad++;
        if (i === -1) break;
        from = i + 1;
      }
      start = lastNl + 1;
    }
    nl = start;
    if (nl < n) this.hold(buf, nl, n);
    return bad;
  }

  /** Parses one complete line; false when it is not blank and not a valid record. */
  private take(line: string, out: MetricsRecord[]): boolean {
    const rec = parseMetricsLine(line);
    if (rec !== undefined) {
      out.push(rec);
      return true;
    }
    return line.trim() === "";
  }

  /** Buffers bytes of a line whose newline has not arrived (copied: the chunk buffer is reused). */
  private hold(buf: Buffer, from: number, to: number): void {
    if (this.discarding) return;
    const len = to - from;
    if (this.partialBytes + len > this.maxLineBytes) {
      this.partial = [];
      this.partialBytes = 0;
      this.discarding = true;
      return;
    }
    this.partial.push(Buffer.from(buf.subarray(from, to)));
    this.partialBytes += len;
  }

  /** Keeps the last FINGERPRINT_BYTES bytes before the new offset (the chunk just read ends there). */
  private remember(got: number): void {
    if (got >= FINGERPRINT_BYTES) {
      this.fingerprint = Buffer.from(this.chunk.subarray(got - FINGERPRINT_BYTES, got));
    } else {
      const joined = Buffer.concat([this.fingerprint, this.chunk.subarray(0, got)]);
      this.fingerprint = joined.subarray(Math.max(0, joined.length - FINGERPRINT_BYTES));
    }
  }

  private fingerprintMatches(fd: number): boolean {
    const len = this.fingerprint.length;
    if (len === 0) return true;
    const now = Buffer.alloc(len);
    const got = fs.readSync(fd, now, 0, len, this.offset - len);
    return got === len && now.equals(this.fingerprint);
  }
}
