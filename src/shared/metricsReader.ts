// Whole-file reading of metrics.jsonl (one JSON object per line; see docs/run-format.md).
// The incremental tailer the extension uses for live runs is separate; this is for loading a run
// and for rewriting the file when a run resumes from an earlier checkpoint.

import * as fs from "node:fs";
import { writeFileAtomicSync } from "./atomicFile";
import { type MetricsRecord, parseMetricsLine } from "./runFormat";

export interface MetricsRead {
  /** Parsed records, in file order (steps are not sorted or de-duplicated). */
  records: MetricsRecord[];
  /**
   * True when the file ends with a line that has no newline and does not parse: a line still being
   * written (or cut by a crash). It is left out of `records` and of `badLines`. An unterminated last
   * line that is a complete record is kept in `records` (some writers omit the final newline).
   */
  partialTail: boolean;
  /** 1-based numbers of complete lines that are not a valid record; they are skipped. Blank lines are ignored. */
  badLines: number[];
}

interface Line {
  /** The line's text without its "\n". */
  text: string;
  record: MetricsRecord | undefined;
}

function splitLines(text: string): { lines: Line[]; partialTail: boolean; badLines: number[] } {
  const parts = text.split("\n");
  const terminated = parts.pop() ?? ""; // "" when the file ends with "\n"
  const lines: Line[] = [];
  const badLines: number[] = [];
  parts.forEach((part, i) => {
    if (part.trim() === "") return;
    const record = parseMetricsLine(part);
    if (record === undefined) badLines.push(i + 1);
    lines.push({ text: part, record });
  });
  let partialTail = false;
  if (terminated.trim() !== "") {
    const record = parseMetricsLine(terminated);
    if (record === undefined) partialTail = true;
    else lines.push({ text: terminated, record });
  }
  return { lines, partialTail, badLines };
}

/** Reads a whole metrics.jsonl. Throws the fs error if the file cannot be read (e.g. ENOENT). */
export function readMetrics(path: string): MetricsRead {
  const { lines, partialTail, badLines } = splitLines(fs.readFileSync(path, "utf8"));
  const records: MetricsRecord[] = [];
  for (const l of lines) if (l.record !== undefined) records.push(l.record);
  return { records, partialTail, badLines };
}

export interface TruncateResult {
  /** Records kept (step <= the given step). */
  kept: number;
  /** Records removed because their step was later. */
  removed: number;
  /** Corrupt lines and a partial last line dropped in the rewrite. */
  droppedBadLines: number;
  /** False when the file already held only records with step <= step (it is then left untouched). */
  rewritten: boolean;
}

/**
 * Rewrites metrics.jsonl atomically, keeping only records with `step <= step` (used when a run
 * resumes from an earlier checkpoint, so no step appears twice). Kept lines are copied byte for
 * byte; corrupt lines and a partial last line are dropped, and every kept line ends with "\n".
 * A missing file is not an error: nothing to truncate.
 */
export function truncateMetricsAfter(path: string, step: number): TruncateResult {
  let text: string;
  try {
    text = fs.readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kept: 0, removed: 0, droppedBadLines: 0, rewritten: false };
    throw err;
  }
  const { lines, partialTail, badLines } = splitLines(text);
  const keep: string[] = [];
  let removed = 0;
  for (const l of lines) {
    if (l.record === undefined) continue;
    if (l.record.step <= step) keep.push(l.text + "\n");
    else removed++;
  }
  const droppedBadLines = badLines.length + (partialTail ? 1 : 0);
  const out = keep.join("");
  if (out === text) return { kept: keep.length, removed: 0, droppedBadLines: 0, rewritten: false };
  writeFileAtomicSync(path, out);
  return { kept: keep.length, removed, droppedBadLines, rewritten: true };
}
