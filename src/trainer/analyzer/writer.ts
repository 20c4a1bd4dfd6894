// One analysis file of a run, opened for appending. Makes the analyzer incremental and resumable:
// the steps already present are skipped, a line cut by a crash is dropped before appending, and a
// file written with other settings is moved to analyses/archive/ (never deleted) before a new one
// is started.
import * as fs from "node:fs";
import { dirname, join } from "node:path";
import { appendLine, writeFileAtomicSync } from "../../shared/atomicFile";
import {
  ANALYSIS_FORMAT_VERSION,
  type AnalysisHeader,
  type AnalysisName,
  type AnalysisRecords,
  analysisPath,
  AnalysisFileError,
  canonicalJson,
  readAnalysis,
} from "../../shared/analysisFormat";
import { openRegularSync } from "../../shared/safeRead";
import { UsageError } from "../errors";
import { VERSION } from "../version";

const ANALYSIS_FORMAT = "learning-mechanics/analysis";

export type OpenOutcome =
  | { kind: "new" }
  | { kind: "continued"; done: number }
  /** The old file had other settings (or could not be read) and was moved to `archivedTo`. */
  | { kind: "archived"; archivedTo: string; reason: string };

export class AnalysisWriter<N extends AnalysisName> {
  readonly path: string;
  private readonly done = new Set<number>();
  readonly opened: OpenOutcome;

  constructor(
    private readonly runDir: string,
    readonly name: N,
    header: Omit<AnalysisHeader, "format" | "formatVersion" | "analysis" | "producer" | "createdAt">,
    now: Date = new Date(),
  ) {
    this.path = analysisPath(runDir, name);
    const full: AnalysisHeader = {
      format: ANALYSIS_FORMAT,
      formatVersion: ANALYSIS_FORMAT_VERSION,
      analysis: name,
      producer: `${OWN_PRODUCER} ${VERSION}`,
      createdAt: now.toISOString(),
      ...header,
    };
    this.opened = this.open(full, now);
  }

  private open(header: AnalysisHeader, now: Date): OpenOutcome {
    const size = this.existingSize();
    if (size !== undefined && size > 0) {
      let reason: string;
      try {
        // Streamed line by line: memory follows the records, not the file (a 700 MB file of one
        // line is a bad header, not a string V8 cannot make).
        const file = readAnalysis(this.runDir, this.name);
        if (file === undefined) throw new AnalysisFileError(`${this.path}: the file is gone`);
        const sameSettings = canonicalJson(file.header.settings) === canonicalJson(header.settings);
        const sameExamples = canonicalJson(file.header.examples ?? null) === canonicalJson(header.examples ?? null);
        if (sameSettings && sameExamples) {
          for (const r of file.records) this.done.add(r.step);
          // Drop a partial last line so the next record starts on a line of its own.
          if (file.partialTail) fs.truncateSync(this.path, file.completeBytes ?? 0);
          return { kind: "continued", done: this.done.size };
        }
        reason = sameSettings ? "the scored examples changed" : "the settings changed";
      } catch (e) {
        if (!(e instanceof AnalysisFileError)) throw e;
        // Only a file this analyzer wrote is moved: one that merely has the name is left alone.
        if (!isOwnHeader(firstLine(this.path), this.name)) {
          throw new UsageError(
            `${this.path} is not a "${this.name}" analysis file of Learning Mechanics (${e.message.replace(`${this.path}: `, "")}); the analyzer leaves it alone: move it away to analyse this run`,
          );
        }
        reason = e.message;
      }
      const stamp = now.toISOString().replace(/[:.]/g, "-");
      const archive = join(dirname(this.path), "archive");
      const archivedTo = join(archive, `${this.name}-${stamp}.jsonl`);
      ensureRealFolder(archive);
      fs.renameSync(this.path, archivedTo);
      this.start(header);
      return { kind: "archived", archivedTo, reason };
    }
    this.start(header);
    return { kind: "new" };
  }

  /**
   * The size of the existing file, undefined when there is none. Never through a symbolic link or
   * from a special file: those are refused (nothing read, moved or written).
   */
  private existingSize(): number | undefined {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(this.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    if (!stat.isFile()) {
      throw new UsageError(
        `${this.path} is ${stat.isSymbolicLink() ? "a symbolic link" : "not a regular file"}: the analyzer neither follows nor replaces it; remove it to analyse this run`,
      );
    }
    return stat.size;
  }

  private start(header: AnalysisHeader): void {
    ensureRealFolder(dirname(this.path));
    writeFileAtomicSync(this.path, `${JSON.stringify(header)}\n`);
  }

  has(step: number): boolean {
    return this.done.has(step);
  }

  /** Appends one record (one line, one write). Non-finite numbers are written as null. */
  append(record: AnalysisRecords[N]): void {
    appendLine(
      this.path,
      JSON.stringify(record, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v)),
    );
    this.done.add(record.step);
  }
}

/** The first line of a file (at most HEADER_PROBE_BYTES of it), read as a regular file only. */
function firstLine(path: string): string {
  const { fd } = openRegularSync(path);
  try {
    const buf = Buffer.alloc(HEADER_PROBE_BYTES);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const text = buf.subarray(0, n).toString("utf8");
    const nl = text.indexOf("\n");
    return nl === -1 ? text : text.slice(0, nl);
  } finally {
    fs.closeSync(fd);
  }
}

/** What this analyzer writes in a header's `producer` (the version follows). */
export const OWN_PRODUCER = "learning-mechanics";

/**
 * The producer of `name`'s file in `runDir` when another program wrote it — the Python package's
 * `run.watch` (producer "learning-mechanics-python …") writes the same files for a PyTorch run —
 * else undefined (no file, ours, or not a readable header: the writer handles those). The analyzer
 * leaves such a file alone: continuing or archiving it would mix two producers' records.
 */
export function otherProducer(runDir: string, name: AnalysisName): string | undefined {
  const path = analysisPath(runDir, name);
  try {
    if (!fs.lstatSync(path).isFile()) return undefined;
    const h: unknown = JSON.parse(firstLine(path));
    if (typeof h !== "object" || h === null) return undefined;
    const producer = (h as Record<string, unknown>)["producer"];
    if (typeof producer !== "string" || (h as Record<string, unknown>)["analysis"] !== name) return undefined;
    return producer === OWN_PRODUCER || producer.startsWith(`${OWN_PRODUCER} `) ? undefined : producer;
  } catch {
    return undefined;
  }
}

/** How much of a file is read to tell whether it starts with one of our headers (headers are small). */
const HEADER_PROBE_BYTES = 1 << 20;

/** True when `first` (a file's first line) is a header of analysis `name` in this format (of any version). */
function isOwnHeader(first: string, name: AnalysisName): boolean {
  try {
    const h: unknown = JSON.parse(first);
    return (
      typeof h === "object" &&
      h !== null &&
      (h as Record<string, unknown>)["format"] === ANALYSIS_FORMAT &&
      (h as Record<string, unknown>)["analysis"] === name
    );
  } catch {
    return false;
  }
}

/** Creates `dir` (one level) unless it exists as a real folder; refuses a symbolic link or a file there. */
function ensureRealFolder(dir: string): void {
  try {
    fs.mkdirSync(dir);
    return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const stat = fs.lstatSync(dir);
  if (!stat.isDirectory())
    throw new UsageError(
      `${dir} is ${stat.isSymbolicLink() ? "a symbolic link" : "not a folder"}: the analyzer writes only inside the run folder`,
    );
}

/**
 * The checkpoints an analysis with cadence `every` covers: every `every`-th of the sorted steps,
 * counting from the first (so always the first), plus the last when `includeLast` (a run that has
 * ended). `every` 0 covers none.
 */
export function dueSteps(steps: readonly number[], every: number, includeLast = true): number[] {
  if (every <= 0 || steps.length === 0) return [];
  const out = steps.filter((_, i) => i % every === 0);
  const last = steps[steps.length - 1]!;
  if (includeLast && out[out.length - 1] !== last) out.push(last);
  return out;
}
