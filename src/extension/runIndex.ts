// An in-memory index of the run folders under one or more roots (docs/run-format.md), for the
// Runs view, the code lens ("last run: …") and the hovers. No `vscode` here: the adapter feeds
// watcher events to `update` / `remove`. Reading is synchronous and cheap (run.json only; never
// metrics or checkpoints), so a scan of thousands of runs takes well under a second. It is also
// bounded: run.json is opened without blocking and read only when it is a regular file of at most
// READ_LIMITS.manifestBytes (a FIFO would block the extension host for ever, a link to /dev/zero
// would fill its memory), and a refused or unparsable file's contents are never quoted.
//
// A run folder is a directory holding run.json, directly under a root (`runs/<id>/`) or one level
// deeper (`runs/<group>/<id>/`, e.g. a sweep). A run.json that cannot be read, is not JSON or fails
// `manifestProblems` gives an entry with status "invalid" and the problem text: it is shown, not
// hidden, and never thrown.

import * as fs from "node:fs";
import * as path from "node:path";
import { CHECKPOINT_DIR, ANALYSES_DIR, RUN_MANIFEST, type RunManifest, type RunStatus, manifestProblems } from "../shared/runFormat";
import { FileRefusedError, READ_LIMITS, readRegularTextSync } from "../shared/safeRead";
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

export interface SystemGroup {
  system: string;
  /** Newest first (by startedAt, then id). */
  runs: ValidRunEntry[];
}

export interface ExperimentGroup {
  /** The experiment file path as recorded in run.json (resolved; the first run's spelling where case is ignored). */
  experimentPath: string;
  /** Sorted by system name. */
  systems: SystemGroup[];
}

/** Subfolders of a run that are never runs themselves. */
const RUN_PARTS = new Set([CHECKPOINT_DIR, ANALYSES_DIR]);

/** Why a run.json could not be read, in words that never quote its contents. */
function readProblem(err: unknown): string {
  if (err instanceof FileRefusedError) return err.message.startsWith(`${err.path}: `) ? err.message.slice(err.path.length + 2) : err.message;
  const code = (err as NodeJS.ErrnoException).code;
  return code !== undefined ? `cannot be read (${code})` : `cannot be read (${err instanceof Error ? err.message : String(err)})`;
}

/** Where JSON.parse stopped, without its excerpt of the text (which could be a symlink target's contents). */
function jsonProblem(err: unknown, bytes: number): string {
  const at = /position (\d+)/.exec(err instanceof Error ? err.message : "")?.[1];
  return `not valid JSON (${at !== undefined ? `syntax error at character ${at}` : "syntax error"} of ${bytes} bytes)`;
}

/**
 * Type checks of the fields the extension uses beyond `manifestProblems` (a run.json may come from
 * any producer, or any attacker): empty when the manifest is safe to group, show and hover.
 */
function usedFieldProblems(m: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const exp = m["experiment"];
  if (typeof exp !== "object" || exp === null || typeof (exp as Record<string, unknown>)["path"] !== "string") problems.push("experiment.path must be a string");
  const backend = m["backend"];
  if (typeof backend !== "object" || backend === null || typeof (backend as Record<string, unknown>)["name"] !== "string") problems.push("backend.name must be a string");
  return problems;
}

/** Reads one run folder's manifest into an entry; undefined when it has no run.json (any more). */
function readRunEntry(runDir: string, root?: string): RunEntry | undefined {
  const dir = path.resolve(runDir);
  const base = { runDir: dir, key: pathKey(dir), root: root === undefined ? undefined : path.resolve(root), folderName: path.basename(dir) };
  let text: string;
  try {
    text = readRegularTextSync(path.join(dir, RUN_MANIFEST), READ_LIMITS.manifestBytes);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    const problem = `${RUN_MANIFEST}: ${readProblem(err)}`;
    return { ...base, status: "invalid", problem, problems: [problem] };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const problem = `${RUN_MANIFEST}: ${text.trim() === "" ? "empty file" : jsonProblem(err, Buffer.byteLength(text))}`;
    return { ...base, status: "invalid", problem, problems: [problem] };
  }
  const problems = manifestProblems(value);
  if (problems.length > 0) {
    return { ...base, status: "invalid", problem: `${RUN_MANIFEST}: ${problems.join("; ")}`, problems };
  }
  const used = usedFieldProblems(value as Record<string, unknown>);
  if (used.length > 0) return { ...base, status: "invalid", problem: `${RUN_MANIFEST}: ${used.join("; ")}`, problems: used };
  const manifest = value as RunManifest;
  return { ...base, status: manifest.status, manifest, startedMs: Date.parse(manifest.startedAt) };
}

/** Newest first: by start time (unparseable times last), then by id descending. */
function newestFirst(a: ValidRunEntry, b: ValidRunEntry): number {
  const ta = Number.isNaN(a.startedMs) ? -Infinity : a.startedMs;
  const tb = Number.isNaN(b.startedMs) ? -Infinity : b.startedMs;
  if (ta !== tb) return tb - ta;
  return a.manifest.id < b.manifest.id ? 1 : a.manifest.id > b.manifest.id ? -1 : a.runDir < b.runDir ? 1 : a.runDir > b.runDir ? -1 : 0;
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isDirent(dir: string, d: fs.Dirent): boolean {
  if (d.isDirectory()) return true;
  if (!d.isSymbolicLink()) return false;
  try {
    return fs.statSync(path.join(dir, d.name)).isDirectory();
  } catch {
    return false;
  }
}

function listDir(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return []; // a root that does not exist (yet), or a folder deleted while scanning
  }
}

export class RunIndex {
  private readonly rootList: string[];
  private readonly entries = new Map<string, RunEntry>();
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

  /** Forgets everything and reads every root again. Returns the number of runs found. */
  scan(): number {
    this.entries.clear();
    this.cache = undefined;
    for (const root of this.rootList) {
      for (const d of listDir(root)) {
        if (d.name.startsWith(".") || d.name === "node_modules" || !isDirent(root, d)) continue;
        const dir = path.join(root, d.name);
        const children = listDir(dir);
        if (children.some((c) => c.name === RUN_MANIFEST && !c.isDirectory())) {
          this.add(dir, root);
          continue;
        }
        // One level deeper: runs/<group>/<run>/run.json.
        for (const c of children) {
          if (c.name.startsWith(".") || RUN_PARTS.has(c.name) || !isDirent(dir, c)) continue;
          this.add(path.join(dir, c.name), root);
        }
      }
    }
    return this.entries.size;
  }

  private add(dir: string, root: string | undefined): RunEntry | undefined {
    const entry = readRunEntry(dir, root);
    if (entry !== undefined) this.entries.set(entry.key, entry);
    return entry;
  }

  /** The root a folder belongs to, when it is a run position (depth 1 or 2) under one. */
  private rootOf(dir: string): string | undefined {
    for (const root of this.rootList) {
      const rel = path.relative(pathKey(root), pathKey(dir));
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
    const entry = readRunEntry(dir, this.rootOf(dir));
    if (entry === undefined) {
      this.entries.delete(pathKey(dir));
      return undefined;
    }
    this.entries.set(entry.key, entry);
    return entry;
  }

  /** Forgets a run folder, and every run below it (a deleted parent folder). Returns how many were removed. */
  remove(runDir: string): number {
    const dir = pathKey(runDir);
    const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep;
    let removed = 0;
    for (const key of [...this.entries.keys()]) {
      if (key === dir || key.startsWith(prefix)) {
        this.entries.delete(key);
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
      const exp = pathKey(e.manifest.experiment.path);
      let systems = byExperiment.get(exp);
      if (systems === undefined) {
        byExperiment.set(exp, (systems = new Map()));
        shown.set(exp, path.resolve(e.manifest.experiment.path));
      }
      let runs = systems.get(e.manifest.system);
      if (runs === undefined) systems.set(e.manifest.system, (runs = []));
      runs.push(e);
    }
    const byKey = new Map<string, SystemGroup>();
    const groups: ExperimentGroup[] = [...byExperiment.keys()].sort(byString).map((key) => {
      const systems = byExperiment.get(key) as Map<string, ValidRunEntry[]>;
      return {
        experimentPath: shown.get(key) ?? key,
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

function groupKey(experimentPath: string, system: string): string {
  return `${experimentPath}\u0000${system}`;
}
