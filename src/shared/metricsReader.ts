// Reading metrics.jsonl (one JSON object per line; see docs/run-format.md) with bounded memory:
// the file is read in chunks and line by line (lineScanner.ts), so memory grows with the records
// a caller keeps, never with the file. `forEachMetricsRecord` hands records over one at a time and
// keeps none; `readMetrics` keeps them all; `readMetricsTail` reads only the end of the file.
// The incremental tailer the extension uses for live runs is separate; this is for loading a run
// and for rewriting the file when a run resumes from an earlier checkpoint.
//
// Lines that are not records are counted and the first few kept with the reason, for callers to
// show ("metrics.jsonl: 3 lines could not be read …"); they are never fatal and never deleted.

import * as fs from "node:fs";
import { type AtomicWriter, openAtomicWriterSync } from "./atomicFile";
import { type ScanOptions, type ScannedLine, DEFAULT_CHUNK_BYTES, scanLines, scanLinesSync } from "./lineScanner";
import { type MetricsRecord, parseMetricsLineDetailed } from "./runFormat";
import { READ_LIMITS, openRegularSync, readAtSync } from "./safeRead";

export type { ScanOptions };

/** A line that is not a record, and why. */
export interface BadLine {
  /** 1-based line number. */
  line: number;
  reason: string;
}

/** At most this many bad line numbers are kept in `badLines` (`badLineCount` counts them all). */
export const BAD_LINE_NUMBERS_KEPT = 1000;
/** At most this many bad lines are kept with their reason in `badLineDetails`. */
export const BAD_LINE_DETAILS_KEPT = 5;

/** What a pass over metrics.jsonl found besides the records. */
export interface MetricsScan {
  /**
   * True when the file ends with a line that has no newline and does not parse: a line still being
   * written (or cut by a crash). It is left out of `records` and of the bad lines. An unterminated
   * last line that is a complete record is kept (some writers omit the final newline).
   */
  partialTail: boolean;
  /** 1-based numbers of the first BAD_LINE_NUMBERS_KEPT complete lines that are not valid records (skipped). Blank lines are ignored. */
  badLines: number[];
  /** How many complete lines were not valid records, in all. */
  badLineCount: number;
  /** The first BAD_LINE_DETAILS_KEPT of them with the reason ("not valid JSON: …", "no step", "longer than …"). */
  badLineDetails: BadLine[];
}

export interface MetricsRead extends MetricsScan {
  /** Parsed records, in file order (steps are not sorted or de-duplicated). */
  records: MetricsRecord[];
}

function oversizeReason(maxLineBytes: number): string {
  return `longer than the ${maxLineBytes}-byte line limit`;
}

/** Collects what a pass finds; records go to `onRecord` as they are parsed. */
class MetricsPass {
  readonly scan: MetricsScan = { partialTail: false, badLines: [], badLineCount: 0, badLineDetails: [] };
  constructor(
    private readonly onRecord: (record: MetricsRecord, line: number) => void,
    private readonly maxLineBytes: number,
  ) {}

  readonly onLine = (l: ScannedLine): void => {
    if (l.bytes === undefined) {
      this.bad(l, oversizeReason(this.maxLineBytes));
      return;
    }
    const text = l.bytes.toString("utf8");
    if (text.trim() === "") return;
    const r = parseMetricsLineDetailed(text);
    if (r.ok) this.onRecord(r.record, l.number);
    else this.bad(l, r.reason);
  };

  private bad(l: ScannedLine, reason: string): void {
    if (!l.terminated) {
      this.scan.partialTail = true;
      return;
    }
    const s = this.scan;
    s.badLineCount++;
    if (s.badLines.length < BAD_LINE_NUMBERS_KEPT) s.badLines.push(l.number);
    if (s.badLineDetails.length < BAD_LINE_DETAILS_KEPT) s.badLineDetails.push({ line: l.number, reason });
  }
}

function lineLimit(options: ScanOptions): number {
  return options.maxLineBytes ?? READ_LIMITS.lineBytes;
}

/**
 * Hands each record of a metrics.jsonl to `fn`, in file order, keeping none. Throws the fs error if
 * the file cannot be opened (e.g. ENOENT) or FileRefusedError if it is not a regular file.
 */
export function forEachMetricsRecord(
  path: string,
  fn: (record: MetricsRecord, line: number) => void,
  options: ScanOptions = {},
): MetricsScan {
  const pass = new MetricsPass(fn, lineLimit(options));
  scanLinesSync(path, pass.onLine, options);
  return pass.scan;
}

/** Async twin of `forEachMetricsRecord`, for the extension host. */
export async function forEachMetricsRecordAsync(
  path: string,
  fn: (record: MetricsRecord, line: number) => void,
  options: ScanOptions = {},
): Promise<MetricsScan> {
  const pass = new MetricsPass(fn, lineLimit(options));
  await scanLines(path, pass.onLine, options);
  return pass.scan;
}

/** Reads every record of a metrics.jsonl. Throws as `forEachMetricsRecord` does. */
export function readMetrics(path: string, options: ScanOptions = {}): MetricsRead {
  const records: MetricsRecord[] = [];
  const scan = forEachMetricsRecord(path, (r) => records.push(r), options);
  return { records, ...scan };
}

/** Async twin of `readMetrics`. */
export async function readMetricsAsync(path: string, options: ScanOptions = {}): Promise<MetricsRead> {
  const records: MetricsRecord[] = [];
  const scan = await forEachMetricsRecordAsync(path, (r) => records.push(r), options);
  return { records, ...scan };
}

/** The end of a metrics.jsonl: its last records and what was found on the way. */
export interface MetricsTail {
  /** The last `count` records (fewer when the file has fewer), in file order. */
  records: MetricsRecord[];
  /** As in MetricsScan. */
  partialTail: boolean;
  /** Bad lines met among the lines read (line numbers are unknown when reading from the end). */
  badLineCount: number;
}

/**
 * The last `count` records of a metrics.jsonl, reading the file backwards in chunks from its end
 * and stopping once they are found: a 2 GiB file costs a few chunks, not a pass over it.
 */
export function readMetricsTail(path: string, count: number, options: ScanOptions = {}): MetricsTail {
  const maxLineBytes = lineLimit(options);
  const chunkBytes = Math.max(1, Math.floor(options.chunkBytes ?? DEFAULT_CHUNK_BYTES));
  const found: MetricsRecord[] = []; // newest first
  const tail: MetricsTail = { records: [], partialTail: false, badLineCount: 0 };
  if (count <= 0) return tail;
  const { fd, size } = openRegularSync(path);
  try {
    // The line being assembled, right to left: pieces in file order, and whether it ends with "\n".
    let pieces: Buffer[] = [];
    let piecesBytes = 0;
    let oversize = false;
    let terminated: boolean | undefined;
    const finishLine = (leftmost: Buffer): void => {
      let bytes: Buffer | undefined;
      if (!oversize && piecesBytes + leftmost.length <= maxLineBytes)
        bytes = pieces.length === 0 ? leftmost : Buffer.concat([leftmost, ...pieces]);
      pieces = [];
      piecesBytes = 0;
      oversize = false;
      const text = bytes?.toString("utf8");
      if (text !== undefined && text.trim() === "") return;
      const r = text === undefined ? undefined : parseMetricsLineDetailed(text);
      if (r?.ok) found.push(r.record);
      else if (terminated === false) tail.partialTail = true;
      else tail.badLineCount++;
    };
    let pos = size;
    reading: while (pos > 0) {
      const len = Math.min(chunkBytes, pos);
      pos -= len;
      const chunk = readAtSync(fd, len, pos);
      if (chunk.length < len) break; // the file shrank: stop with what was found
      let end = len;
      if (terminated === undefined) {
        // The file's last byte: a "\n" ends the last line; anything after the last "\n" is unterminated.
        terminated = chunk[len - 1] === 0x0a;
        if (terminated) end--;
      }
      for (;;) {
        const nl = end === 0 ? -1 : chunk.lastIndexOf(0x0a, end - 1);
        if (nl === -1) {
          // The line continues in the previous chunk: hold this part (unless it is already too long).
          if (!oversize && piecesBytes + end > maxLineBytes) {
            oversize = true;
            pieces = [];
            piecesBytes = 0;
          }
          if (!oversize && end > 0) {
            pieces.unshift(Buffer.from(chunk.subarray(0, end)));
            piecesBytes += end;
          }
          break;
        }
        finishLine(chunk.subarray(nl + 1, end));
        terminated = true;
        end = nl;
        if (found.length >= count) break reading;
      }
    }
    if (pos === 0 && found.length < count && (piecesBytes > 0 || oversize)) finishLine(Buffer.alloc(0));
  } finally {
    fs.closeSync(fd);
  }
  tail.records = found.slice(0, count).reverse();
  return tail;
}

export interface TruncateResult {
  /** Records kept (step <= the given step). */
  kept: number;
  /** Records removed because their step was later. */
  removed: number;
  /** Lines that are not records, kept as they were (they are never deleted: readers report them). */
  badLinesKept: number;
  /** False when the file already held only records with step <= step (it is then left untouched). */
  rewritten: boolean;
}

/** Bytes gathered before one write to the rewritten file. */
const WRITE_BATCH_BYTES = 1 << 20;

/**
 * Rewrites metrics.jsonl atomically, removing the records with `step > step` (used when a run
 * resumes from an earlier checkpoint, so no step appears twice). Everything else is copied byte
 * for byte: kept records, and lines that are not records (a line cut by a crash, another program's
 * note), which readers report and which are never deleted; an unterminated last line gets its
 * "\n". The file is streamed, never held whole. A missing file is not an error: nothing to truncate.
 */
export function truncateMetricsAfter(path: string, step: number, options: ScanOptions = {}): TruncateResult {
  const result: TruncateResult = { kept: 0, removed: 0, badLinesKept: 0, rewritten: false };
  let writer: AtomicWriter | undefined;
  let copyFd: number | undefined;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let changed = false;
  const flush = (): void => {
    if (batchBytes === 0) return;
    writer ??= openAtomicWriterSync(path);
    writer.write(Buffer.concat(batch, batchBytes));
    batch = [];
    batchBytes = 0;
  };
  const out = (b: Buffer): void => {
    batch.push(Buffer.from(b)); // a copy: the scanner's buffer is reused
    batchBytes += b.length;
    if (batchBytes >= WRITE_BATCH_BYTES) flush();
  };
  const NEWLINE = Buffer.from("\n");
  const maxLineBytes = lineLimit(options);
  try {
    scanLinesSync(
      path,
      (l) => {
        if (!l.terminated) changed = true; // it gets its "\n"
        if (l.bytes === undefined) {
          // Longer than the line limit: copied through in chunks, never held.
          result.badLinesKept++;
          flush();
          writer ??= openAtomicWriterSync(path);
          copyFd ??= openRegularSync(path).fd;
          for (let at = l.start; at < l.end; ) {
            const piece = readAtSync(copyFd, Math.min(maxLineBytes, l.end - at), at);
            if (piece.length === 0) break;
            writer.write(piece);
            at += piece.length;
          }
          out(NEWLINE);
          return;
        }
        const text = l.bytes.toString("utf8");
        if (text.trim() !== "") {
          const r = parseMetricsLineDetailed(text);
          if (r.ok && r.record.step > step) {
            result.removed++;
            changed = true;
            return;
          }
          if (r.ok) result.kept++;
          else result.badLinesKept++;
        }
        out(l.bytes);
        out(NEWLINE);
      },
      options,
    );
    if (!changed) {
      writer?.abort();
      return result;
    }
    flush();
    writer ??= openAtomicWriterSync(path); // every line removed: an empty file
    writer.commit();
    result.rewritten = true;
    return result;
  } catch (err) {
    writer?.abort();
    if ((err as NodeJS.ErrnoException).code === "ENOENT" && writer === undefined) return result;
    throw err;
  } finally {
    if (copyFd !== undefined) fs.closeSync(copyFd);
  }
}

/**
 * One line about the bad lines of a scan, for a log, the Runs view or a panel; undefined when
 * there are none. E.g. "3 lines of metrics.jsonl are not valid records and were skipped (line 2:
 * not valid JSON: unexpected character at line 1, column 1; line 7: no step; …)".
 */
export function describeBadLines(
  scan: Pick<MetricsScan, "badLineCount" | "badLineDetails">,
  file = "metrics.jsonl",
): string | undefined {
  if (scan.badLineCount === 0) return undefined;
  const n = scan.badLineCount;
  const details = scan.badLineDetails.map((b) => `line ${b.line}: ${b.reason}`);
  if (n > details.length) details.push("…");
  return `${n} line${n === 1 ? "" : "s"} of ${file} ${n === 1 ? "is not a valid record and was" : "are not valid records and were"} skipped (${details.join("; ")})`;
}
