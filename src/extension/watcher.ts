// Watches the run roots for run.json, metrics.jsonl and checkpoint changes (chokidar 4; the
// `vscode` file watcher does not see folders outside the workspace, and run roots may be
// anywhere). Events are gathered per run folder and delivered debounced. No `vscode` import.
import { existsSync } from "node:fs";
import { basename, dirname, relative, sep } from "node:path";
import { type FSWatcher, watch } from "chokidar";
import { isTempFileName } from "../shared/atomicFile";
import { CHECKPOINT_DIR, METRICS_FILE, parseCheckpointFileName, RUN_MANIFEST } from "../shared/runFormat";
import { Emitter, type Disposable } from "./supervisor";

export interface RunFolderChange {
  runDir: string;
  manifest: boolean;
  metrics: boolean;
  checkpoints: boolean;
  /** The folder itself (or its run.json) went away. */
  removed: boolean;
}

/** Classifies a path under a run root: which run folder, and which part of it. */
export function classify(root: string, path: string): { runDir: string; part: "manifest" | "metrics" | "checkpoint" | "folder" | "other" } | undefined {
  const rel = relative(root, path);
  if (rel === "" || rel.startsWith("..")) return undefined;
  const segments = rel.split(sep);
  const first = segments[0]!;
  const runDir = root.endsWith(sep) ? root + first : root + sep + first;
  if (segments.length === 1) return { runDir, part: "folder" };
  if (isTempFileName(basename(path))) return { runDir, part: "other" };
  if (segments.length === 2 && segments[1] === RUN_MANIFEST) return { runDir, part: "manifest" };
  if (segments.length === 2 && segments[1] === METRICS_FILE) return { runDir, part: "metrics" };
  if (segments.length === 3 && segments[1] === CHECKPOINT_DIR && parseCheckpointFileName(segments[2]!) !== undefined) return { runDir, part: "checkpoint" };
  // One level deeper (a sweep: root/<group>/<run>/...), as RunIndex allows.
  if (segments.length >= 3 && segments[1] !== CHECKPOINT_DIR) {
    const nested = runDir + sep + segments[1]!;
    if (segments.length === 3 && segments[2] === RUN_MANIFEST) return { runDir: nested, part: "manifest" };
    if (segments.length === 3 && segments[2] === METRICS_FILE) return { runDir: nested, part: "metrics" };
    if (segments.length === 4 && segments[2] === CHECKPOINT_DIR && parseCheckpointFileName(segments[3]!) !== undefined) return { runDir: nested, part: "checkpoint" };
  }
  return { runDir, part: "other" };
}

export class RunRootWatcher implements Disposable {
  readonly changed = new Emitter<RunFolderChange[]>();
  private watcher: FSWatcher | undefined;
  private roots: string[] = [];
  /** Roots that did not exist when watched: rewatched when one appears (see `ensure`). */
  private missing = new Set<string>();
  private pending = new Map<string, RunFolderChange>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly debounceMs: number,
    private readonly onError: (message: string) => void,
  ) {}

  /** (Re)watches these absolute root folders. */
  setRoots(roots: readonly string[]): void {
    void this.watcher?.close();
    this.watcher = undefined;
    this.roots = [...new Set(roots)];
    this.missing = new Set(this.roots.filter((r) => !existsSync(r)));
    const present = this.roots.filter((r) => !this.missing.has(r));
    // Watch the parents of missing roots (shallowly) so their creation is noticed.
    const parents = [...new Set([...this.missing].map((r) => dirname(r)).filter((p) => existsSync(p)))];
    if (present.length === 0 && parents.length === 0) return;
    const w = watch([...present, ...parents], {
      ignoreInitial: true,
      // root/group/run/checkpoints/file
      depth: 3,
      ignored: (path: string) => {
        if (isTempFileName(basename(path))) return true;
        // Under a watched parent, only the missing root itself matters.
        for (const p of parents) {
          if (path !== p && dirname(path) === p && !this.missing.has(path) && !this.roots.some((r) => path === r || path.startsWith(r + sep))) return true;
        }
        return false;
      },
      awaitWriteFinish: false,
    });
    w.on("all", (_event, path) => this.onPath(path));
    w.on("error", (e) => this.onError(`watching run folders: ${e instanceof Error ? e.message : String(e)}`));
    this.watcher = w;
  }

  /** Call when a run may have created a missing root (e.g. a trainer said `started`). */
  ensure(): void {
    if ([...this.missing].some((r) => existsSync(r))) this.setRoots(this.roots);
  }

  private onPath(path: string): void {
    if (this.missing.has(path)) {
      // A root appeared: watch it properly (after this tick; chokidar is calling us).
      setTimeout(() => this.ensure(), 0);
      return;
    }
    for (const root of this.roots) {
      const c = classify(root, path);
      if (!c) continue;
      const change = this.pending.get(c.runDir) ?? { runDir: c.runDir, manifest: false, metrics: false, checkpoints: false, removed: false };
      if (c.part === "manifest" || c.part === "folder") change.manifest = true;
      if (c.part === "metrics") change.metrics = true;
      if (c.part === "checkpoint") change.checkpoints = true;
      this.pending.set(c.runDir, change);
      break;
    }
    if (this.pending.size > 0 && !this.timer) this.timer = setTimeout(() => this.flush(), this.debounceMs);
  }

  private flush(): void {
    this.timer = undefined;
    const changes = [...this.pending.values()];
    this.pending.clear();
    for (const c of changes) c.removed = !existsSync(c.runDir + sep + RUN_MANIFEST);
    if (changes.length > 0) this.changed.fire(changes);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    void this.watcher?.close();
    this.watcher = undefined;
    this.changed.dispose();
  }
}
