// A TensorBoard log folder (a directory holding `events.out.tfevents.*` files, as PyTorch's
// SummaryWriter and tf.summary write them) read as the loss-curves panel's series: every scalar
// tag one column, rows by step, followed live. No `vscode` here.
//
// - One folder is one run: all its event files (a restarted writer adds one) are read, in name
//   order (the name starts with the writer's start time), and merged per tag by step (then wall
//   time). Subfolders are other runs (TF2/Keras writes `logs/train` and `logs/validation`).
// - Memory is bounded whatever the log's length: each tag keeps at most `compactAt` points; past
//   that it is min/max-decimated (decimate.ts: first, last, lowest and highest point of each step
//   bucket, so a loss spike survives) down to `pointsPerTag`. TensorBoard itself keeps 1,000
//   sampled points per tag by default. At most `maxTags` tags are kept; further ones are counted.
// - Records are read with TfRecordTailer (checksums, torn last record waited for, bad records
//   counted); a record that is framed well but is no Event message counts as a bad record too.
// - `poll()` says what is new: points after those already handed out (`append`), or `reset` when
//   what was handed out is void (a file replaced, removed, a tag decimated, a point that sorts
//   before those handed out): then `snapshot()` gives everything kept.
import * as fs from "node:fs";
import * as path from "node:path";
import { decimateMinMaxIndices } from "./decimate";
import type { SeriesPoints } from "./panels/lossCurves";
import { FileRefusedError } from "./safeRead";
import { decodeEvent } from "./tensorboardEvents";
import { type TfRecordOptions, TfRecordTailer } from "./tfRecord";

/** How event files are named: `events.out.tfevents.<start time>.<host>[.<pid>.<n>][suffix]`. */
export const EVENT_FILE_PREFIX = "events.out.tfevents.";

export function isEventFileName(name: string): boolean {
  return name.startsWith(EVENT_FILE_PREFIX) && name.length > EVENT_FILE_PREFIX.length;
}

/**
 * The event file names directly in `dir`, sorted; [] when it cannot be listed (missing, not a
 * folder). Names only: each file is checked (regular, not a FIFO) when it is opened.
 */
export function eventFileNames(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir)
      .filter((n) => isEventFileName(n))
      .sort();
  } catch {
    return [];
  }
}

/** Points kept per tag after decimation. */
export const TB_POINTS_PER_TAG = 4000;
/** A tag is decimated when it holds more points than this. */
export const TB_COMPACT_AT = 2 * TB_POINTS_PER_TAG;
/** Tags kept per log. */
export const TB_MAX_TAGS = 500;
/** Event files read per log (the newest by name); a folder of more is hostile or broken. */
export const TB_MAX_FILES = 1000;

export interface TensorBoardLogOptions {
  pointsPerTag?: number;
  compactAt?: number;
  maxTags?: number;
  maxFiles?: number;
  records?: TfRecordOptions;
}

/** One tag's points, sorted by step (then arrival); the first `sent` were handed out. */
class TagPoints {
  step: number[] = [];
  wall: number[] = [];
  value: number[] = [];
  sent = 0;

  get length(): number {
    return this.step.length;
  }

  /** Adds a point in step order; false when it went before a point already handed out. */
  add(step: number, wall: number, value: number): boolean {
    const n = this.step.length;
    if (n === 0 || step >= (this.step[n - 1] as number)) {
      this.step.push(step);
      this.wall.push(wall);
      this.value.push(value);
      return true;
    }
    // Out of order (a restarted writer's file, or files read out of order): insert after equal steps.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.step[mid] as number) <= step) lo = mid + 1;
      else hi = mid;
    }
    this.step.splice(lo, 0, step);
    this.wall.splice(lo, 0, wall);
    this.value.splice(lo, 0, value);
    return lo >= this.sent;
  }

  /** Keeps the min/max envelope of `buckets` step ranges (≤ 4 points each, 5 with a NaN). */
  compact(buckets: number): void {
    const keep = decimateMinMaxIndices(this.step, this.value, buckets);
    this.step = keep.map((i) => this.step[i] as number);
    this.wall = keep.map((i) => this.wall[i] as number);
    this.value = keep.map((i) => this.value[i] as number);
  }
}

export type TensorBoardPoll = { kind: "append"; points: SeriesPoints } | { kind: "reset" };

/** Sets a column on a record whose keys come from files ("__proto__" must stay a column). */
function setColumn(values: Record<string, (number | null)[]>, key: string, col: (number | null)[]): void {
  Object.defineProperty(values, key, { value: col, enumerable: true, writable: true, configurable: true });
}

export class TensorBoardLog {
  private readonly pointsPerTag: number;
  private readonly compactAt: number;
  private readonly maxTags: number;
  private tailers = new Map<string, TfRecordTailer>();
  private tags = new Map<string, TagPoints>();
  /** Earliest wall time seen: `time` is seconds since it. */
  private t0 = Number.POSITIVE_INFINITY;
  /** t0 of the points handed out; a file with earlier events makes them void. */
  private sentT0 = Number.NaN;
  private needsReset = true;
  private undecodable = 0;
  private ignoredTagCount = 0;
  private scalarCount = 0;
  private currentProblems: string[] = [];

  constructor(
    readonly dir: string,
    private readonly options: TensorBoardLogOptions = {},
  ) {
    this.pointsPerTag = Math.max(4, options.pointsPerTag ?? TB_POINTS_PER_TAG);
    this.compactAt = Math.max(this.pointsPerTag + 1, options.compactAt ?? 2 * this.pointsPerTag);
    this.maxTags = options.maxTags ?? TB_MAX_TAGS;
  }

  /** Records skipped (bad checksum, over the size limit, not an Event message), in all files. */
  get badRecords(): number {
    let n = this.undecodable;
    for (const t of this.tailers.values()) n += t.badRecords;
    return n;
  }

  /** Why files (or parts of them) could not be read at the last poll: "events…: is a FIFO, not a regular file". */
  get problems(): readonly string[] {
    return this.currentProblems;
  }

  /** Tags past `maxTags`, whose points are not kept. */
  get ignoredTags(): number {
    return this.ignoredTagCount;
  }

  /** Scalars read since the last reset (kept or decimated away). */
  get scalarsRead(): number {
    return this.scalarCount;
  }

  /** Points kept now, over all tags (bounded by maxTags × compactAt). */
  get pointsKept(): number {
    let n = 0;
    for (const t of this.tags.values()) n += t.length;
    return n;
  }

  /** The names of the event files read (sorted). */
  get files(): string[] {
    return [...this.tailers.keys()];
  }

  private clear(): void {
    this.tags = new Map();
    this.t0 = Number.POSITIVE_INFINITY;
    this.undecodable = 0;
    this.ignoredTagCount = 0;
    this.scalarCount = 0;
    this.needsReset = true;
  }

  /** Reads what the folder's event files gained since the last poll (see the top of this file). */
  poll(): TensorBoardPoll {
    const all = eventFileNames(this.dir);
    const maxFiles = this.options.maxFiles ?? TB_MAX_FILES;
    // Names start with the writer's start time: the last ones are the newest.
    const names = all.length > maxFiles ? all.slice(all.length - maxFiles) : all;
    const gone = [...this.tailers.keys()].some((n) => !names.includes(n));
    if (gone) {
      // A file went away: its points are in the tags, mixed with the others'. Read everything again.
      this.tailers = new Map();
      this.clear();
    }
    for (const n of names)
      if (!this.tailers.has(n)) this.tailers.set(n, new TfRecordTailer(path.join(this.dir, n), this.options.records));
    this.currentProblems = [];
    let reset = false;
    for (const [name, tailer] of this.tailers) {
      if (this.readFile(name, tailer)) {
        reset = true;
        break;
      }
    }
    if (reset) {
      // A file was truncated or replaced: start again from every file's first byte.
      for (const n of this.tailers.keys())
        this.tailers.set(n, new TfRecordTailer(path.join(this.dir, n), this.options.records));
      this.clear();
      this.currentProblems = [];
      for (const [n, t] of this.tailers) this.readFile(n, t);
    }
    if (all.length > maxFiles)
      this.currentProblems.push(`${all.length} event files; only the newest ${maxFiles} are read`);
    if (this.t0 !== this.sentT0 && !Number.isNaN(this.sentT0)) this.needsReset = true;
    if (this.needsReset) return { kind: "reset" };
    return { kind: "append", points: this.take(false) };
  }

  /** Everything kept, as rows by step; marks it handed out. */
  snapshot(): SeriesPoints {
    this.needsReset = false;
    return this.take(true);
  }

  /** One file's new records into the tags; true when the file was reset (replaced, truncated). */
  private readFile(name: string, tailer: TfRecordTailer): boolean {
    try {
      const r = tailer.poll((buf, start, end) => this.onRecord(buf, start, end));
      if (r.stalled !== undefined) this.currentProblems.push(`${name}: ${r.stalled}`);
      return r.reset;
    } catch (e) {
      const why =
        e instanceof FileRefusedError
          ? e.detail
          : e instanceof Error
            ? `cannot be read (${(e as NodeJS.ErrnoException).code ?? e.message})`
            : String(e);
      this.currentProblems.push(`${name}: ${why}`);
      return false;
    }
  }

  private onRecord(buf: Buffer, start: number, end: number): void {
    let ev: ReturnType<typeof decodeEvent>;
    try {
      ev = decodeEvent(buf, start, end);
    } catch {
      this.undecodable++;
      return;
    }
    if (ev.wallTime > 0 && ev.wallTime < this.t0) this.t0 = ev.wallTime;
    for (const s of ev.scalars) {
      let t = this.tags.get(s.tag);
      if (t === undefined) {
        if (this.tags.size >= this.maxTags) {
          this.ignoredTagCount++;
          continue;
        }
        t = new TagPoints();
        this.tags.set(s.tag, t);
      }
      this.scalarCount++;
      if (!t.add(ev.step, ev.wallTime, s.value)) this.needsReset = true;
      if (t.length > this.compactAt) {
        t.compact(Math.max(1, Math.floor(this.pointsPerTag / 4)));
        this.needsReset = true;
      }
    }
  }

  /**
   * Rows from the tags' points (all of them, or those not handed out yet), sorted by step then
   * wall time; points of one step share a row as long as their tags differ.
   */
  private take(all: boolean): SeriesPoints {
    const t0 = Number.isFinite(this.t0) ? this.t0 : 0;
    this.sentT0 = this.t0;
    const tagList = [...this.tags];
    let total = 0;
    for (const [, t] of tagList) total += t.length - (all ? 0 : t.sent);
    // Flat (tag, index) pairs, sorted by step, then wall time, then tag order.
    const tagOf = new Int32Array(total);
    const idxOf = new Int32Array(total);
    let k = 0;
    tagList.forEach(([, t], ti) => {
      for (let i = all ? 0 : t.sent; i < t.length; i++) {
        tagOf[k] = ti;
        idxOf[k] = i;
        k++;
      }
      t.sent = t.length;
    });
    const stepAt = (j: number): number => (tagList[tagOf[j] as number]?.[1].step[idxOf[j] as number] as number) ?? 0;
    const wallAt = (j: number): number => (tagList[tagOf[j] as number]?.[1].wall[idxOf[j] as number] as number) ?? 0;
    const order = Array.from({ length: total }, (_, j) => j);
    order.sort((a, b) => stepAt(a) - stepAt(b) || wallAt(a) - wallAt(b) || (tagOf[a] as number) - (tagOf[b] as number));

    const step: number[] = [];
    const time: number[] = [];
    const cols: (number | null)[][] = tagList.map(() => []);
    const used = new Set<number>();
    for (const j of order) {
      const s = stepAt(j);
      const ti = tagOf[j] as number;
      const row = step.length - 1;
      if (row < 0 || step[row] !== s || used.has(ti)) {
        step.push(s);
        time.push(wallAt(j) - t0);
        for (const c of cols) c.push(null);
        used.clear();
      }
      used.add(ti);
      const v = tagList[ti]?.[1].value[idxOf[j] as number] as number;
      (cols[ti] as (number | null)[])[step.length - 1] = Number.isFinite(v) ? v : null;
    }
    const values: Record<string, (number | null)[]> = {};
    tagList.forEach(([tag], ti) => {
      const col = cols[ti] as (number | null)[];
      if (col.some((v) => v !== null) || all) setColumn(values, tag, col);
    });
    return { step, time, values };
  }
}
