// Watches the run roots for run.json, metrics.jsonl, checkpoint and analyses changes (chokidar 4;
// the `vscode` file watcher does not see folders outside the workspace, and run roots may be
// anywhere). Events are gathered per run folder and delivered debounced. No `vscode` import.
//
// No event may be lost between a scan and the watcher being ready: chokidar runs with
// `ignoreInitial` (a root of thousands of runs must not replay every file), so whatever changed
// while a (new) watcher was starting is found by a sweep when it says `ready`: every run of a root
// that has just appeared, and, in roots that were already there, the runs whose files changed since
// shortly before the watcher started. A run that finishes within a second of its root being created
// used to stay "running" for this reason.
//
// Many runs: chokidar needs an inotify watch per folder and file, and 40,000 runs exhausted the
// machine's watches (ENOSPC, for every process of the user) and took 30 s and 800 MB to get
// ready. Past MAX_WATCHED_RUNS runs, or when the system refuses more watches (ENOSPC, EMFILE), the
// roots are polled instead (runPoller.ts: a stat of each run's files per sweep, off the main
// thread, sweeps spaced by four times their own duration), and the watcher says so once.
//
// TensorBoard logs (folders of `events.out.tfevents.*` files, src/shared/tensorboardLog.ts) at a
// run position, or a root itself, are watched too: an event file appended to is a `metrics`
// change of its folder, one added or removed also a `manifest` change (the index re-reads the
// folder). The poller does not follow them (it looks only at run.json folders).
import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, relative, sep } from "node:path";
import { type FSWatcher, watch } from "chokidar";
import { isTempFileName } from "../shared/atomicFile";
import { ANALYSES_DIR, CHECKPOINT_DIR, METRICS_FILE, parseCheckpointFileName, RUN_MANIFEST } from "../shared/runFormat";
import { eventFileNames, isEventFileName } from "../shared/tensorboardLog";
import { type Disposable, Emitter, type Event } from "./events";
import { RunPoller } from "./runPoller";

export interface RunFolderChange {
  runDir: string;
  /** run.json (or the folder itself) changed. */
  manifest: boolean;
  metrics: boolean;
  checkpoints: boolean;
  /** Something under `<run>/analyses/` (any depth; temporary files excluded) changed. */
  analyses: boolean;
  /** The folder itself (or its run.json) went away. */
  removed: boolean;
}

export type RunPart = "manifest" | "metrics" | "checkpoint" | "analyses" | "folder" | "tensorboard" | "other";

/**
 * Classifies a path under a run root: which run folder, and which part of it. Run folders sit
 * directly under the root or one level deeper (a sweep: root/<group>/<run>/...), as RunIndex allows.
 */
export function classify(root: string, path: string): { runDir: string; part: RunPart } | undefined {
  const rel = relative(root, path);
  if (rel === "" || rel.startsWith("..")) return undefined;
  const segments = rel.split(sep);
  const first = segments[0]!;
  if (segments.length === 1 && isEventFileName(first)) return { runDir: root, part: "tensorboard" };
  const runDir = root.endsWith(sep) ? root + first : root + sep + first;
  if (segments.length === 1) return { runDir, part: "folder" };
  if (segments.length === 2 && isEventFileName(segments[1]!)) return { runDir, part: "tensorboard" };
  if (isTempFileName(basename(path))) return { runDir, part: "other" };
  // analyses/ first: a file in there named like a run part (run.json) is still an analysis.
  if (segments[1] === ANALYSES_DIR) return { runDir, part: "analyses" };
  if (segments.length === 2 && segments[1] === RUN_MANIFEST) return { runDir, part: "manifest" };
  if (segments.length === 2 && segments[1] === METRICS_FILE) return { runDir, part: "metrics" };
  if (segments.length === 3 && segments[1] === CHECKPOINT_DIR && parseCheckpointFileName(segments[2]!) !== undefined)
    return { runDir, part: "checkpoint" };
  if (segments.length >= 3 && segments[1] !== CHECKPOINT_DIR) {
    const nested = runDir + sep + segments[1]!;
    if (segments[2] === ANALYSES_DIR) return { runDir: nested, part: "analyses" };
    if (segments.length === 3 && segments[2] === RUN_MANIFEST) return { runDir: nested, part: "manifest" };
    if (segments.length === 3 && segments[2] === METRICS_FILE) return { runDir: nested, part: "metrics" };
    if (segments.length === 3 && isEventFileName(segments[2]!)) return { runDir: nested, part: "tensorboard" };
    if (segments.length === 4 && segments[2] === CHECKPOINT_DIR && parseCheckpointFileName(segments[3]!) !== undefined)
      return { runDir: nested, part: "checkpoint" };
  }
  return { runDir, part: "other" };
}

/**
 * Whether chokidar should look at a path under a root at all: the run folders and their direct
 * files, checkpoints/, and analyses/ at any depth (for both run positions). Anything else deeper
 * (a stray node_modules, a user's own folders) is pruned so watching stays cheap.
 */
function isWatchedUnderRoot(root: string, path: string): boolean {
  const rel = relative(root, path);
  if (rel === "" || rel.startsWith("..")) return true;
  const s = rel.split(sep);
  if (s.length <= 2) return true;
  if (s[1] === ANALYSES_DIR) return true;
  if (s[1] === CHECKPOINT_DIR) return s.length <= 3;
  if (s.length === 3) return true;
  if (s[2] === ANALYSES_DIR) return true;
  if (s[2] === CHECKPOINT_DIR) return s.length <= 4;
  return false;
}

/**
 * chokidar 4 drops a file's `change` that comes within 50 ms of the previous one and never emits it
 * later (`_throttle(EV.CHANGE, path, 50)` in its index.js). A trainer writes run.json at its last
 * checkpoint and again, a few ms later, as finished: that last write went unseen and the run stayed
 * "running". So every run a flush reports is looked at once more after this long (more than the 50
 * ms), and reported again if one of its files changed meanwhile.
 */
const TRAILING_CHECK_MS = 120;

/** chokidar's depth bound: root/group/run/analyses/ plus room for an analysis's own folders. */
const WATCH_DEPTH = 12;
/** More runs than this under the roots: poll instead of watching (each watched run costs about five inotify watches). */
export const MAX_WATCHED_RUNS = 2000;
/** Least time between two polling sweeps. */
const POLL_MS = 2000;

/** How far before a watcher starts a file's mtime may lie and still count as "changed meanwhile" (coarse file-system clocks, the scan before it). */
const MTIME_SLACK_MS = 2000;

function mtimeMs(p: string): number | undefined {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Identity of a file's current content as far as stat tells: an atomic rename changes the inode, an append the size. */
function fingerprint(p: string): string {
  try {
    const st = statSync(p);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return "";
  }
}

/** What the trailing check compares: run.json, metrics.jsonl and the analyses/ files (appended to, so throttled too). */
function runFingerprint(runDir: string): { manifest: string; metrics: string; analyses: string } {
  let analyses = "";
  try {
    const dir = join(runDir, ANALYSES_DIR);
    for (const name of readdirSync(dir).sort())
      if (!isTempFileName(name)) analyses += `${name}=${fingerprint(join(dir, name))};`;
  } catch {
    // No analyses yet.
  }
  return {
    manifest: fingerprint(join(runDir, RUN_MANIFEST)),
    metrics: fingerprint(join(runDir, METRICS_FILE)),
    analyses,
  };
}

/**
 * Whether a folder the watcher reports on holds nothing indexed any more: no run.json, no event
 * files, and no run or log one level down. (A group folder such as TF2's `logs/` that gains a
 * `validation/` beside `train/` is not "removed": that took `train/` out of the index.)
 */
function isGone(dir: string): boolean {
  if (existsSync(join(dir, RUN_MANIFEST)) || eventFileNames(dir).length > 0) return false;
  return !subfolders(dir).some((d) => existsSync(join(d, RUN_MANIFEST)) || eventFileNames(d).length > 0);
}

function subfolders(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => !d.name.startsWith(".") && (d.isDirectory() || d.isSymbolicLink()))
      .map((d) => join(dir, d.name));
  } catch {
    return [];
  }
}

/** Run folders under a root, at both run positions (root/<run>, root/<group>/<run>). */
export function runFoldersUnder(root: string): string[] {
  const out: string[] = [];
  for (const dir of subfolders(root)) {
    if (existsSync(join(dir, RUN_MANIFEST))) {
      out.push(dir);
      continue;
    }
    for (const inner of subfolders(dir)) {
      const name = basename(inner);
      if (name !== CHECKPOINT_DIR && name !== ANALYSES_DIR && existsSync(join(inner, RUN_MANIFEST))) out.push(inner);
    }
  }
  return out;
}

export interface WatcherOptions {
  /** Past this many runs under the roots, poll instead of watching. Default MAX_WATCHED_RUNS. */
  maxWatchedRuns?: number;
  /** Least time between polling sweeps. Default 2 s. */
  pollMs?: number;
  /** Told once when the watcher falls back to polling, and why. */
  notice?: (message: string) => void;
}

export class RunRootWatcher implements Disposable {
  private readonly changed = new Emitter<RunFolderChange[]>();
  /** Run folders changed on disk (debounced, gathered per folder). */
  readonly onDidChange: Event<RunFolderChange[]> = this.changed.event;
  private watcher: FSWatcher | undefined;
  private roots: string[] = [];
  /** Roots that did not exist when watched: rewatched when one appears (see `ensure`). */
  private missing = new Set<string>();
  private pending = new Map<string, RunFolderChange>();
  private timer: NodeJS.Timeout | undefined;
  private readonly trailing = new Set<NodeJS.Timeout>();
  private ready: Promise<void> = Promise.resolve();
  private disposed = false;
  /** Set while the roots are polled (too many runs, or no inotify watches left). */
  private poller: RunPoller | undefined;
  /** Whether the fall-back to polling was announced (it is said once). */
  private noticeGiven = false;
  private readonly maxWatchedRuns: number;
  private readonly pollMs: number;

  constructor(
    private readonly debounceMs: number,
    private readonly onError: (message: string) => void,
    private readonly options: WatcherOptions = {},
  ) {
    this.maxWatchedRuns = options.maxWatchedRuns ?? MAX_WATCHED_RUNS;
    this.pollMs = options.pollMs ?? POLL_MS;
  }

  /** Whether the roots are polled rather than watched. */
  get polling(): boolean {
    return this.poller !== undefined;
  }

  /**
   * (Re)watches these absolute root folders. `knownRuns`: how many runs they hold, when the
   * caller has just counted them (the run index); otherwise they are counted here. `since`: when
   * the caller's own look at the roots began (Date.now() then; default now): what changed after
   * it is reported once the watcher is ready (the run index scans before the roots are watched).
   */
  setRoots(roots: readonly string[], knownRuns?: number, since?: number): void {
    void this.watcher?.close();
    this.watcher = undefined;
    this.poller?.dispose();
    this.poller = undefined;
    const next = [...new Set(roots)];
    // Roots that were missing under the previous watch and exist now: everything in them is new.
    const appeared = new Set(next.filter((r) => this.missing.has(r) && existsSync(r)));
    this.roots = next;
    this.missing = new Set(this.roots.filter((r) => !existsSync(r)));
    const present = this.roots.filter((r) => !this.missing.has(r));
    // Watch the parents of missing roots so their creation is noticed.
    const parents = [...new Set([...this.missing].map((r) => dirname(r)).filter((p) => existsSync(p)))];
    if (present.length === 0 && parents.length === 0) {
      this.ready = Promise.resolve();
      return;
    }
    const startedAt = Math.min(since ?? Date.now(), Date.now());
    const runs = knownRuns ?? present.reduce((n, r) => n + runFoldersUnder(r).length, 0);
    if (runs > this.maxWatchedRuns) {
      this.startPolling(
        `${runs} runs under the run roots, more than ${this.maxWatchedRuns}`,
        appeared,
        startedAt - MTIME_SLACK_MS,
      );
      return;
    }
    const w = watch([...present, ...parents], {
      ignoreInitial: true,
      depth: WATCH_DEPTH,
      ignored: (path: string) => {
        if (isTempFileName(basename(path))) return true;
        // Under a watched parent, only the missing root itself matters.
        for (const p of parents) {
          if (
            path !== p &&
            dirname(path) === p &&
            !this.missing.has(path) &&
            !this.roots.some((r) => path === r || path.startsWith(r + sep))
          )
            return true;
        }
        for (const r of this.roots) if (path.startsWith(r + sep) && !isWatchedUnderRoot(r, path)) return true;
        return false;
      },
      awaitWriteFinish: false,
    });
    this.ready = new Promise((resolve) =>
      w.once("ready", () => {
        if (this.watcher === w) this.catchUp(present, appeared, startedAt - MTIME_SLACK_MS);
        resolve();
      }),
    );
    w.on("all", (event, path) => this.onPath(path, event));
    w.on("error", (e) => {
      const code = e instanceof Error && "code" in e ? e.code : undefined;
      if (code === "ENOSPC" || code === "EMFILE") {
        // Out of watches (or descriptors): every further folder would fail the same way, and the
        // ones already watched hold watches other programs need. Poll instead, once.
        if (this.watcher === w) {
          this.watcher = undefined;
          void w.close();
          this.startPolling(`the system refused more file watches (${code})`, new Set(), startedAt - MTIME_SLACK_MS);
        }
        return;
      }
      this.onError(`watching run folders: ${e instanceof Error ? e.message : String(e)}`);
    });
    this.watcher = w;
  }

  /** Polls the roots instead of watching them; says so once per reason. */
  private startPolling(why: string, appeared: ReadonlySet<string>, since: number): void {
    const message = `Run folders are polled every ${Math.round(this.pollMs / 1000)} s or more instead of watched: ${why}. Changes to runs show up a few seconds late.`;
    if (!this.noticeGiven) {
      this.noticeGiven = true;
      this.options.notice?.(message);
    }
    const poller = new RunPoller(this.roots, this.pollMs, (runDir, parts) => this.queue(runDir, parts));
    this.poller = poller;
    this.ready = poller.start(appeared, since);
  }

  /** Resolves once the current watcher (and any that replaced it meanwhile) has started. */
  async whenReady(): Promise<void> {
    for (;;) {
      const p = this.ready;
      await p;
      if (p === this.ready) return;
    }
  }

  /** Call when a run may have created a missing root (e.g. a trainer said `started`). */
  ensure(): void {
    // A poller sees roots appear by itself.
    if (!this.disposed && this.poller === undefined && [...this.missing].some((r) => existsSync(r)))
      this.setRoots(this.roots);
  }

  /** What happened while the watcher was starting (it ignores what it finds initially). */
  private catchUp(present: readonly string[], appeared: ReadonlySet<string>, since: number): void {
    for (const root of present) {
      const all = appeared.has(root);
      for (const runDir of runFoldersUnder(root)) {
        const newer = (p: string) => {
          const t = mtimeMs(join(runDir, p));
          return t !== undefined && (all || t >= since);
        };
        const change = {
          manifest: newer(RUN_MANIFEST),
          metrics: newer(METRICS_FILE),
          checkpoints: newer(CHECKPOINT_DIR),
          analyses: newer(ANALYSES_DIR),
        };
        if (change.manifest || change.metrics || change.checkpoints || change.analyses) this.queue(runDir, change);
      }
    }
    // A root created after setRoots looked but before its parent's watcher was ready.
    this.ensure();
  }

  private onPath(path: string, event = "change"): void {
    if (this.missing.has(path)) {
      // A root appeared: watch it properly (after this tick; chokidar is calling us).
      setTimeout(() => this.ensure(), 0);
      return;
    }
    for (const root of this.roots) {
      const c = classify(root, path);
      if (!c) continue;
      this.queue(c.runDir, {
        // An event file added or removed changes what the log is; one appended to, only its scalars.
        manifest: c.part === "manifest" || c.part === "folder" || (c.part === "tensorboard" && event !== "change"),
        metrics: c.part === "metrics" || c.part === "tensorboard",
        checkpoints: c.part === "checkpoint",
        analyses: c.part === "analyses",
      });
      break;
    }
  }

  private queue(runDir: string, parts: Omit<RunFolderChange, "runDir" | "removed">): void {
    if (this.disposed) return;
    const change = this.pending.get(runDir) ?? {
      runDir,
      manifest: false,
      metrics: false,
      checkpoints: false,
      analyses: false,
      removed: false,
    };
    change.manifest ||= parts.manifest;
    change.metrics ||= parts.metrics;
    change.checkpoints ||= parts.checkpoints;
    change.analyses ||= parts.analyses;
    this.pending.set(runDir, change);
    if (!this.timer) this.timer = setTimeout(() => this.flush(), this.debounceMs);
  }

  private flush(): void {
    this.timer = undefined;
    const changes = [...this.pending.values()];
    this.pending.clear();
    for (const c of changes) c.removed = isGone(c.runDir);
    if (changes.length === 0) return;
    // What consumers will read now; a write chokidar swallows afterwards shows up as a difference.
    const seen = changes.filter((c) => !c.removed).map((c) => ({ runDir: c.runDir, before: runFingerprint(c.runDir) }));
    if (seen.length > 0) {
      const timer = setTimeout(() => {
        this.trailing.delete(timer);
        for (const { runDir, before } of seen) {
          const now = runFingerprint(runDir);
          const parts = {
            manifest: now.manifest !== before.manifest,
            metrics: now.metrics !== before.metrics,
            checkpoints: false,
            analyses: now.analyses !== before.analyses,
          };
          if (parts.manifest || parts.metrics || parts.analyses) this.queue(runDir, parts);
        }
      }, TRAILING_CHECK_MS);
      this.trailing.add(timer);
    }
    this.changed.fire(changes);
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const t of this.trailing) clearTimeout(t);
    this.trailing.clear();
    void this.watcher?.close();
    this.watcher = undefined;
    this.poller?.dispose();
    this.poller = undefined;
    this.changed.dispose();
  }
}
