// Line-by-line reading of a JSON-lines file (metrics.jsonl, analyses/*.jsonl) with bounded memory:
// the file is read in chunks of `chunkBytes` into one reused buffer, and a line is held only while
// it is handed to the caller. A line longer than `maxLineBytes` is never held: it is reported with
// `bytes: undefined` (the caller counts it as a bad line) and skipped up to its newline. So memory
// is one chunk plus one line (at most READ_LIMITS.lineBytes) whatever the file's size.
//
// Files are opened through safeRead (regular files only, never blocking on a FIFO) and read up to
// the size fstat gave when they were opened: a file still growing is read to that point, and the
// rest is for the next read.
import * as fs from "node:fs";
import { READ_LIMITS, openRegular, openRegularSync } from "./safeRead";

/** One line of the file, handed to the caller. */
export interface ScannedLine {
  /** 1-based line number. */
  number: number;
  /** Byte offset of the line's first byte in the file. */
  start: number;
  /** Byte offset just past the line's last byte (its "\n" not included). */
  end: number;
  /** False for a last line with no "\n" after it. */
  terminated: boolean;
  /**
   * The line's bytes, without the "\n"; undefined when the line is longer than `maxLineBytes`.
   * A view into a reused buffer: valid only during the callback (copy it to keep it).
   */
  bytes: Buffer | undefined;
}

export interface ScanOptions {
  /** Bytes read at a time (default 4 MiB). */
  chunkBytes?: number;
  /** Longest line handed over with its bytes (default READ_LIMITS.lineBytes). */
  maxLineBytes?: number;
  /**
   * Start here instead of at the file's beginning: `offset` is the first byte of a line, `line` the
   * number of lines before it (a reader that scanned up to there before and reads what was appended).
   */
  from?: { offset: number; line: number };
}

export interface ScanResult {
  /** The file's size when opened: every byte before it was scanned. */
  size: number;
  /** Lines handed over (counting the `from.line` lines before a scan that started later). */
  lines: number;
  /** read(2) calls made (each of at most `chunkBytes`). */
  reads: number;
}

export const DEFAULT_CHUNK_BYTES = 4 << 20;

/** Splits chunks into lines, carrying a line that spans chunks (up to the line limit). */
class LineSplitter {
  private carry: Buffer[] = [];
  private carryBytes = 0;
  /** The current line is over the limit: its bytes are being skipped. */
  private oversize = false;
  private lineStart = 0;
  private lineNumber = 0;
  private offset = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (line: ScannedLine) => void,
  ) {}

  get lines(): number {
    return this.lineNumber;
  }

  /** The next byte pushed is at file offset `offset`, the first of line `line` + 1. */
  startAt(offset: number, line: number): void {
    this.offset = offset;
    this.lineStart = offset;
    this.lineNumber = line;
  }

  push(chunk: Buffer): void {
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, from);
      if (nl === -1) break;
      this.emit(chunk.subarray(from, nl), this.offset + nl, true);
      this.lineStart = this.offset + nl + 1;
      from = nl + 1;
    }
    this.hold(chunk.subarray(from));
    this.offset += chunk.length;
  }

  /** End of the data: what is left is an unterminated last line (if not empty). */
  finish(): void {
    if (this.carryBytes > 0 || this.oversize) this.emit(Buffer.alloc(0), this.offset, false);
  }

  private hold(rest: Buffer): void {
    if (rest.length === 0 || this.oversize) return;
    if (this.carryBytes + rest.length > this.maxLineBytes) {
      this.oversize = true;
      this.carry = [];
      this.carryBytes = 0;
      return;
    }
    this.carry.push(Buffer.from(rest)); // a copy: the chunk buffer is reused
    this.carryBytes += rest.length;
  }

  /** Hands over the line that ends with `tail`, which ends at file offset `end`. */
  private emit(tail: Buffer, end: number, terminated: boolean): void {
    let bytes: Buffer | undefined;
    if (this.oversize || this.carryBytes + tail.length > this.maxLineBytes) bytes = undefined;
    else if (this.carryBytes === 0) bytes = tail;
    else bytes = Buffer.concat([...this.carry, tail]);
    this.lineNumber++;
    const start = this.lineStart;
    this.carry = [];
    this.carryBytes = 0;
    this.oversize = false;
    this.onLine({ number: this.lineNumber, start, end, terminated, bytes });
  }
}

function splitterFor(
  options: ScanOptions,
  onLine: (line: ScannedLine) => void,
): { splitter: LineSplitter; chunkBytes: number } {
  const chunkBytes = Math.max(1, Math.floor(options.chunkBytes ?? DEFAULT_CHUNK_BYTES));
  const maxLineBytes = Math.max(0, Math.floor(options.maxLineBytes ?? READ_LIMITS.lineBytes));
  const splitter = new LineSplitter(maxLineBytes, onLine);
  if (options.from) splitter.startAt(options.from.offset, options.from.line);
  return { splitter, chunkBytes };
}

/**
 * Reads `path` line by line (see the top of this file). Throws the fs error (e.g. ENOENT) or
 * FileRefusedError (not a regular file) before any line.
 */
export function scanLinesSync(
  path: string,
  onLine: (line: ScannedLine) => void,
  options: ScanOptions = {},
): ScanResult {
  const { splitter, chunkBytes } = splitterFor(options, onLine);
  const { fd, size } = openRegularSync(path);
  let reads = 0;
  try {
    let pos = Math.min(options.from?.offset ?? 0, size);
    const buf = Buffer.allocUnsafe(Math.max(1, Math.min(chunkBytes, size - pos)));
    while (pos < size) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      reads++;
      if (n === 0) break; // the file shrank
      splitter.push(buf.subarray(0, n));
      pos += n;
    }
    splitter.finish();
  } finally {
    fs.closeSync(fd);
  }
  return { size, lines: splitter.lines, reads };
}

/** Async twin of `scanLinesSync`, for the extension host (the callback is still synchronous). */
export async function scanLines(
  path: string,
  onLine: (line: ScannedLine) => void,
  options: ScanOptions = {},
): Promise<ScanResult> {
  const { splitter, chunkBytes } = splitterFor(options, onLine);
  const { handle, size } = await openRegular(path);
  let reads = 0;
  try {
    let pos = Math.min(options.from?.offset ?? 0, size);
    const buf = Buffer.allocUnsafe(Math.max(1, Math.min(chunkBytes, size - pos)));
    while (pos < size) {
      const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, size - pos), pos);
      reads++;
      if (bytesRead === 0) break;
      splitter.push(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    splitter.finish();
  } finally {
    await handle.close();
  }
  return { size, lines: splitter.lines, reads };
}

/** Splits text already in memory the same way (the last line unterminated unless the text ends with "\n"). */
export function scanText(text: string, onLine: (line: ScannedLine) => void, options: ScanOptions = {}): void {
  const { splitter } = splitterFor(options, onLine);
  const buf = Buffer.from(text, "utf8");
  splitter.push(buf);
  splitter.finish();
}
