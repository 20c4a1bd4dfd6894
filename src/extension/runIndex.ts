// An in-memory index of the run folders under one or more roots (docs/run-format.md), for the
// Runs view, the code lens ("last run: …") and the hovers. No `vscode` here: the adapter feeds
// watcher events to `update` / `remove`. Only run.json is read (never metrics or checkpoints).
//
// `scan` (activation, rescans) is asynchronous and sliced: a root holds up to tens of thousands of
// runs (40,000 read synchronously blocked the extension host for 10–20 s), so folders are listed
// in chunks, read SCAN_BATCH at a time with asynchronous I/O, with a turn of the event loop
// between batches; the entries found so far are in the index at once and `onProgress` says so
// every few hundred ms (less often as the index grows), so the Runs view and code lenses fill in
// as the scan goes. `update` (one run, after a watcher event) stays synchronous: it is one small
// file, and its callers want the entry at once.
// Reading is bounded either way: run.json is opened without blocking and read only when it is a
// regular file of at most READ_LIMITS.manifestBytes (a FIFO would block the extension host, or a
// thread-pool thread, for ever; a link to /dev/zero would fill its memory), and a refused or
// unparsable file's contents are never quoted.
//
// A run folder is a directory holding run.json, directly under a root (`runs/<id>/`) or one level
// deeper (`runs/<group>/<id>/`, e.g. a sweep). A run.json that cannot be read, is not JSON or fails
// `parseManifest` gives an entry with status "invalid" and the problem text: it is shown, not
// hidden, and never thrown.
//
// TensorBoard logs are indexed beside the runs, in their own list (`tensorboardLogs`): a folder
// without run.json that holds `events.out.tfevents.*` files, at a run position (a root itself,
// `runs/<log>/`, or `runs/<log>/<sub>/` as TF2's `logs/train`). The scan finds them in the listings
// it makes anyway (a folder without run.json is listed for runs one level deeper); only a
// subfolder without run.json costs one more listing. They have no run.json, checkpoints or
// analyses: only their scalars are shown (src/shared/tensorboardLog.ts).

import type * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import {
  CHECKPOINT_DIR,
  ANALYSES_DIR,
  RUN_MANIFEST,
  type RunManifest,
  type RunStatus,
  parseManifest,
} from "../shared/runFormat";
import { isObject } from "../shared/guards";
import { FileRefusedError, READ_LIMITS, readRegularText, readRegularTextSync } from "../shared/safeRead";
import { eventFileNames, isEventFileName } from "../shared/tensorboardLog";
import { pathKey } from "./paths";

interface RunEntryBase {
  /** Absolute, normalized path of the run folder, in the case it was found with. */
  runDir: string;
  /** `pathKey(runDir)`: the index key (case-folded where the file system ignores case). */
  key: string;
  /** The root it was found under (undefined when added by `update` outside every root). */
  root: string | undefined;
  /** The folder's name. */
  folderName: string;
}

export interface ValidRunEntry extends RunEntryBase {
  status: RunStatus;
  manifest: RunManifest;
  /** `manifest.startedAt` in ms since the epoch (NaN when unparseable). */
  startedMs: number;
}

export interface InvalidRunEntry extends RunEntryBase {
  status: "invalid";
  /** All problems, joined into one line: "run.json: Unexpected end of JSON input". */
  problem: string;
  problems: string[];
}

export type RunEntry = ValidRunEntry | InvalidRunEntry;

/** A TensorBoard log folder: no run.json, one or more event files (scalars only). */
export interface TensorBoardEntry {
  kind: "tensorboard";
  /** Absolute, normalized path of the folder holding the event files. */
  logDir: string;
  /** `pathKey(logDir)`. */
  key: string;
  root: string | undefined;
  /** Its path under its root ("exp1/train"), or its folder name outside every root. */
  label: string;
  /** The event files' names, sorted. */
  eventFiles: string[];
}

export interface SystemGroup {
  system: string;
  /** Newest first (by startedAt, then id). */
  runs: ValidRunEntry[];
}

export interface ExperimentGroup {
  /**
   * The experiment file path as recorded in run.json (resolved; the first run's spelling where case
   * is ignored); undefined for the runs that record none (notebooks, REPLs), grouped last.
   */
  experimentPath: string | undefined;
  /** Sorted by system name. */
  systems: SystemGroup[];
}

/** Subfolders of a run that are never runs themselves. */
const RUN_PARTS = new Set([CHECKPOINT_DIR, ANALYSES_DIR]);

/** Why a run.json could not be read, in words that never quote its contents. */
function readProblem(err: unknown): string {
  if (err instanceof FileRefusedError)
    return err.message.startsWith(`${err.path}: `) ? err.message.slice(err.path.length + 2) : err.message;
  const code = (err as NodeJS.ErrnoException).code;
  return code !== undefined
    ? `cannot be read (${code})`
    : `cannot be read (${err instanceof Error ? err.message : String(err)})`;
}

/**
 * Type checks of the fields the extension uses beyond `parseManifest` (a run.json may come from
 * any producer, or any attacker): empty when the manifest is safe to group, show and hover.
 */
function usedFieldProblems(m: RunManifest): string[] {
  // The type says these are strings; the file may say otherwise, so read them as unknown.
  const exp: unknown = m.experiment;
  const backend: unknown = m.backend;
  const problems: string[] = [];
  // A run may record no experiment (a notebook, a REPL: docs/run-format.md); one it records has a path.
  if (exp !== undefined && (!isObject(exp) || typeof exp["path"] !== "string"))
    problems.push("experiment.path must be a string");
  if (!isObject(backend) || typeof backend["name"] !== "string") problems.push("backend.name must be a string");
  return problems;
}

type EntryBase = Pick<RunEntryBase, "runDir" | "key" | "root" | "folderName">;

function entryBase(runDir: string, root: string | undefined): EntryBase {
  const dir = path.resolve(runDir);
  return {
    runDir: dir,
    key: pathKey(dir),
    root: root === undefined ? undefined : path.resolve(root),
    folderName: path.basename(dir),
  };
}

/** Whether a read error means "no run.json here" (not a run folder, or not any more). */
function isAbsent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/** The entry for a run.json that exists but could not be read. */
function unreadableEntry(base: EntryBase, err: unknown): InvalidRunEntry {
  const problem = `${RUN_MANIFEST}: ${readProblem(err)}`;
  return { ...base, status: "invalid", problem, problems: [problem] };
}

/** The entry for a run.json's text: valid, or invalid with every problem (none quotes the text). */
function parsedEntry(base: EntryBase, text: string): RunEntry {
  const parsed = parseManifest(text);
  const problems = parsed.ok ? usedFieldProblems(parsed.manifest) : parsed.problems;
  if (!parsed.ok || problems.length > 0) {
    const joined = problems.join("; ");
    return {
      ...base,
      status: "invalid",
      problem: joined.startsWith(RUN_MANIFEST) ? joined : `${RUN_MANIFEST}: ${joined}`,
      problems,
    };
  }
  const manifest = parsed.manifest;
  return { ...base, status: manifest.status, manifest, startedMs: Date.parse(manifest.startedAt) };
}

/** Reads one run folder's manifest into an entry; undefined when it has no run.json (any more). */
export function readRunEntry(runDir: string, root?: string): RunEntry | undefined {
  const base = entryBase(runDir, root);
  let text: string;
  try {
    text = readRegularTextSync(path.join(base.runDir, RUN_MANIFEST), READ_LIMITS.manifestBytes);
  } catch (err) {
    return isAbsent(err) ? undefined : unreadableEntry(base, err);
  }
  return parsedEntry(base, text);
}

/**
 * Async twin of `readRunEntry`, for the scan. A run.json that is itself a folder is "absent" here
 * (the folder may hold runs one level deeper), as the scan always treated it.
 */
async function readRunEntryAsync(runDir: string, root: string | undefined): Promise<RunEntry | undefined> {
  const base = entryBase(runDir, root);
  const file = path.join(base.runDir, RUN_MANIFEST);
  let text: string;
  try {
    text = await readRegularText(file, READ_LIMITS.manifestBytes);
  } catch (err) {
    if (isAbsent(err)) return undefined;
    // Rare (a refused or unreadable file): tell a run.json folder from a run.json that is no file.
    const isFolder = await fsp.lstat(file).then(
      (st) => st.isDirectory(),
      () => false,
    );
    return isFolder ? undefined : unreadableEntry(base, err);
  }
  return parsedEntry(base, text);
}

/** Newest first: by start time (unparseable times last), then by id descending. */
function newestFirst(a: ValidRunEntry, b: ValidRunEntry): number {
  const ta = Number.isNaN(a.startedMs) ? -Infinity : a.startedMs;
  const tb = Number.isNaN(b.startedMs) ? -Infinity : b.startedMs;
  if (ta !== tb) return tb - ta;
  return a.manifest.id < b.manifest.id
    ? 1
    : a.manifest.id > b.manifest.id
      ? -1
      : a.runDir < b.runDir
        ? 1
        : a.runDir > b.runDir
          ? -1
          : 0;
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A listed entry that is a folder, or a link to one. */
async function isFolder(dir: string, d: fs.Dirent): Promise<boolean> {
  if (d.isDirectory()) return true;
  if (!d.isSymbolicLink()) return false;
  return fsp.stat(path.join(dir, d.name)).then(
    (st) => st.isDirectory(),
    () => false,
  );
}

/** The event file names in a folder (sorted), or none when it cannot be listed. */
async function eventFileNamesAsync(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).filter(isEventFileName).sort();
  } catch {
    return [];
  }
}

function logEntry(logDir: string, root: string | undefined, eventFiles: string[]): TensorBoardEntry {
  const dir = path.resolve(logDir);
  const rel = root === undefined ? "" : path.relative(path.resolve(root), dir);
  return {
    kind: "tensorboard",
    logDir: dir,
    key: pathKey(dir),
    root: root === undefined ? undefined : path.resolve(root),
    label: rel === "" || rel.startsWith("..") ? path.basename(dir) : rel.split(path.sep).join("/"),
    eventFiles,
  };
}

/** Run folders read at once by a scan (a bound on open files and on work between two turns of the event loop). */
export const SCAN_BATCH = 64;
/** Folder entries taken from the OS per directory read during a scan. */
const LIST_CHUNK = 256;

/**
 * The entries of a folder, SCAN_BATCH at a time (a root may hold tens of thousands: listed in
 * chunks, never all at once); nothing for a folder that does not exist (yet) or vanished.
 */
async function* listInBatches(dir: string): AsyncGenerator<fs.Dirent[]> {
  let handle: fs.Dir;
  try {
    handle = await fsp.opendir(dir, { bufferSize: LIST_CHUNK });
  } catch {
    return; // a root that does not exist (yet), or a folder deleted while scanning
  }
  let batch: fs.Dirent[] = [];
  try {
    for await (const d of handle) {
      batch.push(d);
      if (batch.length >= SCAN_BATCH) {
        yield batch;
        batch = [];
      }
    }
  } catch {
    // Deleted while listed: what was listed is all there is.
  }
  if (batch.length > 0) yield batch;
}

export interface ScanOptions {
  /**
   * Called while the scan goes on, at most every `progressMs`, with the number of runs indexed so
   * far (the entries are in the index already). Not called for the end: `scan` resolving says that.
   */
  onProgress?: (indexed: number) => void;
  /**
   * Least time before the first `onProgress` call. Default 250 ms. The time between calls then
   * doubles up to 8× this (2 s by default): what listeners do with the whole index (a tree
   * redraw) grows with it, so a long scan of many runs must not redraw as often as a short one.
   */
  progressMs?: number;
}

/** How a scan ended: every root read, or stopped because a newer scan (or `cancelScan`) replaced it. */
export type ScanResult = { kind: "done"; runs: number } | { kind: "superseded" };

/** What the scan under way must not overwrite: runs `update`d or `remove`d since it began (fresher than what it read). */
interface ScanState {
  /** Keys the scan put in the index: whatever else was there before it began is gone at its end. */
  readonly seen: Set<string>;
  /** Keys of the TensorBoard logs the scan put in the index. */
  readonly seenLogs: Set<string>;
  readonly updated: Set<string>;
  /** Keys of removed folders: nothing at or below them is put back by the scan. */
  readonly removed: string[];
}

export class RunIndex {
  private readonly rootList: string[];
  private readonly entries = new Map<string, RunEntry>();
  private readonly logs = new Map<string, TensorBoardEntry>();
  /** Groups, rebuilt lazily after a change. */
  private cache: { groups: ExperimentGroup[]; byKey: Map<string, SystemGroup> } | undefined;

  constructor(roots: readonly string[]) {
    const byKey = new Map<string, string>();
    for (const r of roots) if (!byKey.has(pathKey(r))) byKey.set(pathKey(r), path.resolve(r));
    this.rootList = [...byKey.values()];
  }

  get roots(): readonly string[] {
    return this.rootList;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The scan under way, if any. */
  private scanning: ScanState | undefined;

  /**
   * Reads every root again, asynchronously (see the top of this file). Entries already in the
   * index stay until the scan replaces them, and those it did not find are dropped at its end, so
   * a rescan never shows an empty index meanwhile. `update` and `remove` keep working during a
   * scan and win over it. A second `scan` (or `cancelScan`) supersedes one under way.
   */
  async scan(options: ScanOptions = {}): Promise<ScanResult> {
    const state: ScanState = { seen: new Set(), seenLogs: new Set(), updated: new Set(), removed: [] };
    this.scanning = state;
    const live = (): boolean => this.scanning === state;
    const firstProgressMs = options.progressMs ?? 250;
    let progressMs = firstProgressMs;
    let lastProgress = performance.now();
    /** After each batch: a turn of the event loop, and progress when it is time. */
    const between = async (): Promise<boolean> => {
      await nextTurn();
      if (!live()) return false;
      const now = performance.now();
      if (options.onProgress !== undefined && now - lastProgress >= progressMs) {
        lastProgress = now;
        progressMs = Math.min(2 * progressMs, 8 * firstProgressMs);
        options.onProgress(state.seen.size);
      }
      return true;
    };
    for (const root of this.rootList) {
      const rootEvents: string[] = [];
      for await (const batch of listInBatches(root)) {
        if (!live()) return { kind: "superseded" };
        for (const d of batch) if (isEventFileName(d.name)) rootEvents.push(d.name);
        const candidates = batch.filter((d) => !d.name.startsWith(".") && d.name !== "node_modules");
        await Promise.all(candidates.map((d) => this.scanFolder(root, d, state, between)));
        if (!(await between())) return { kind: "superseded" };
      }
      // Event files right in a root: the root is a log (a root named `logs` that SummaryWriter wrote into).
      if (rootEvents.length > 0) this.putLog(logEntry(root, root, rootEvents.sort()), state);
    }
    if (!live()) return { kind: "superseded" };
    this.scanning = undefined;
    for (const key of [...this.entries.keys()]) {
      if (!state.seen.has(key) && !state.updated.has(key)) this.entries.delete(key);
    }
    for (const key of [...this.logs.keys()]) {
      if (!state.seenLogs.has(key) && !state.updated.has(key)) this.logs.delete(key);
    }
    this.cache = undefined;
    return { kind: "done", runs: this.entries.size };
  }

  /** Stops the scan under way, if any (its promise resolves as superseded); the index keeps what it read. */
  cancelScan(): void {
    this.scanning = undefined;
  }

  /** One entry of a root: a run folder, or a group of runs one level deeper (`runs/<group>/<run>/run.json`). */
  private async scanFolder(
    root: string,
    d: fs.Dirent,
    state: ScanState,
    between: () => Promise<boolean>,
  ): Promise<void> {
    if (!(await isFolder(root, d))) return;
    const dir = path.join(root, d.name);
    const entry = await readRunEntryAsync(dir, root);
    if (entry !== undefined) {
      this.put(entry, state);
      return;
    }
    const events: string[] = [];
    for await (const batch of listInBatches(dir)) {
      if (this.scanning !== state) return;
      for (const c of batch) if (isEventFileName(c.name)) events.push(c.name);
      const runs = batch.filter((c) => !c.name.startsWith(".") && !RUN_PARTS.has(c.name) && !isEventFileName(c.name));
      await Promise.all(
        runs.map(async (c) => {
          if (!(await isFolder(dir, c))) return;
          const sub = path.join(dir, c.name);
          const e = await readRunEntryAsync(sub, root);
          if (e !== undefined) this.put(e, state);
          else {
            const names = await eventFileNamesAsync(sub);
            if (names.length > 0) this.putLog(logEntry(sub, root, names), state);
          }
        }),
      );
      if (!(await between())) return;
    }
    if (events.length > 0) this.putLog(logEntry(dir, root, events.sort()), state);
  }

  /** Puts a log a scan found, under the same rules as `put`. */
  private putLog(entry: TensorBoardEntry, state: ScanState): void {
    if (this.scanning !== state || state.updated.has(entry.key)) return;
    for (const r of state.removed)
      if (entry.key === r || entry.key.startsWith(r.endsWith(path.sep) ? r : r + path.sep)) return;
    state.seenLogs.add(entry.key);
    this.logs.set(entry.key, entry);
  }

  /** Puts what a scan read, unless the scan was replaced or the run changed since (`update`/`remove` know better). */
  private put(entry: RunEntry, state: ScanState): void {
    if (this.scanning !== state || state.updated.has(entry.key)) return;
    for (const r of state.removed)
      if (entry.key === r || entry.key.startsWith(r.endsWith(path.sep) ? r : r + path.sep)) return;
    state.seen.add(entry.key);
    this.entries.set(entry.key, entry);
    this.cache = undefined;
  }

  /** The root a folder belongs to, when it is a run position (depth 1 or 2) under one; `withRoot`: the root itself counts (a log). */
  private rootOf(dir: string, withRoot = false): string | undefined {
    for (const root of this.rootList) {
      const rel = path.relative(pathKey(root), pathKey(dir));
      if (rel === "" && withRoot) return root;
      if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) continue;
      const depth = rel.split(path.sep).length;
      if (depth <= 2) return root;
    }
    return undefined;
  }

  /**
   * Re-reads one run (after a watcher event on the folder or its run.json; a path to run.json
   * itself is accepted). Returns the new entry, or undefined when the folder no longer holds a
   * run.json (then it is removed).
   */
  update(runDir: string): RunEntry | undefined {
    let dir = path.resolve(runDir);
    if (path.basename(dir) === RUN_MANIFEST) dir = path.dirname(dir);
    this.cache = undefined;
    this.scanning?.updated.add(pathKey(dir));
    const entry = readRunEntry(dir, this.rootOf(dir));
    if (entry === undefined) {
      this.entries.delete(pathKey(dir));
      this.updateLog(dir);
      return undefined;
    }
    this.logs.delete(entry.key); // a run folder is a run, whatever else it holds
    this.entries.set(entry.key, entry);
    return entry;
  }

  /** Re-reads a folder without run.json as a TensorBoard log: indexed while it holds event files. */
  private updateLog(dir: string): void {
    const names = eventFileNames(dir);
    if (names.length === 0) this.logs.delete(pathKey(dir));
    else this.logs.set(pathKey(dir), logEntry(dir, this.rootOf(dir, true), names));
  }

  /** Forgets a run folder, and every run below it (a deleted parent folder). Returns how many were removed. */
  remove(runDir: string): number {
    const dir = pathKey(runDir);
    this.scanning?.removed.push(dir);
    const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep;
    let removed = 0;
    for (const key of [...this.entries.keys()]) {
      if (key === dir || key.startsWith(prefix)) {
        this.entries.delete(key);
        removed++;
      }
    }
    for (const key of [...this.logs.keys()]) {
      if (key === dir || key.startsWith(prefix)) {
        this.logs.delete(key);
        removed++;
      }
    }
    if (removed > 0) this.cache = undefined;
    return removed;
  }

  get(runDir: string): RunEntry | undefined {
    return this.entries.get(pathKey(runDir));
  }

  /** Every entry, valid and invalid, in no particular order. */
  all(): RunEntry[] {
    return [...this.entries.values()];
  }

  /** The TensorBoard logs, by label. */
  tensorboardLogs(): TensorBoardEntry[] {
    return [...this.logs.values()].sort((a, b) => byString(a.label, b.label) || byString(a.logDir, b.logDir));
  }

  /** The TensorBoard log in this folder, if indexed. */
  getTensorBoard(logDir: string): TensorBoardEntry | undefined {
    return this.logs.get(pathKey(logDir));
  }

  /** Runs whose run.json is unreadable or invalid, by folder path. */
  invalid(): InvalidRunEntry[] {
    const out: InvalidRunEntry[] = [];
    for (const e of this.entries.values()) if (e.status === "invalid") out.push(e);
    return out.sort((a, b) => byString(a.runDir, b.runDir));
  }

  /** Valid runs grouped by experiment path (sorted), then system (sorted), runs newest first. */
  groups(): ExperimentGroup[] {
    return this.build().groups;
  }

  /** The newest run of any system of an experiment file (a Python script names its runs itself), if any. */
  latestOfExperiment(experimentPath: string): ValidRunEntry | undefined {
    const group = this.build().groups.find(
      (g) => g.experimentPath !== undefined && pathKey(g.experimentPath) === pathKey(experimentPath),
    );
    let newest: ValidRunEntry | undefined;
    for (const s of group?.systems ?? []) {
      const first = s.runs[0];
      if (first !== undefined && (newest === undefined || newestFirst(first, newest) < 0)) newest = first;
    }
    return newest;
  }

  /** The newest run of a system of an experiment file, if any. */
  latest(experimentPath: string, system: string): ValidRunEntry | undefined {
    return this.build().byKey.get(groupKey(pathKey(experimentPath), system))?.runs[0];
  }

  /** All runs of a system of an experiment file, newest first. */
  runsOf(experimentPath: string, system: string): ValidRunEntry[] {
    return [...(this.build().byKey.get(groupKey(pathKey(experimentPath), system))?.runs ?? [])];
  }

  private build(): { groups: ExperimentGroup[]; byKey: Map<string, SystemGroup> } {
    if (this.cache !== undefined) return this.cache;
    const byExperiment = new Map<string, Map<string, ValidRunEntry[]>>();
    /** The path shown for an experiment key: the first spelling seen. */
    const shown = new Map<string, string>();
    for (const e of this.entries.values()) {
      if (e.status === "invalid") continue;
      const recorded = e.manifest.experiment?.path;
      // NO_EXPERIMENT cannot be a path key (keys are absolute), so it never meets a real file.
      const exp = recorded === undefined ? NO_EXPERIMENT : pathKey(recorded);
      let systems = byExperiment.get(exp);
      if (systems === undefined) {
        systems = new Map();
        byExperiment.set(exp, systems);
        if (recorded !== undefined) shown.set(exp, path.resolve(recorded));
      }
      let runs = systems.get(e.manifest.system);
      if (runs === undefined) {
        runs = [];
        systems.set(e.manifest.system, runs);
      }
      runs.push(e);
    }
    const byKey = new Map<string, SystemGroup>();
    // Files sorted by path; the runs without a file last.
    const keys = [...byExperiment.keys()].sort((a, b) =>
      a === NO_EXPERIMENT ? 1 : b === NO_EXPERIMENT ? -1 : byString(a, b),
    );
    const groups: ExperimentGroup[] = keys.map((key) => {
      const systems = byExperiment.get(key) as Map<string, ValidRunEntry[]>;
      return {
        experimentPath: key === NO_EXPERIMENT ? undefined : (shown.get(key) ?? key),
        systems: [...systems.keys()].sort(byString).map((system) => {
          const group = { system, runs: (systems.get(system) as ValidRunEntry[]).sort(newestFirst) };
          byKey.set(groupKey(key, system), group);
          return group;
        }),
      };
    });
    this.cache = { groups, byKey };
    return this.cache;
  }
}

/** The group key of runs that record no experiment file. */
const NO_EXPERIMENT = "";

function groupKey(experimentPath: string, system: string): string {
  return `${experimentPath}\u0000${system}`;
}
