// Polling the run roots, for when watching them is not possible (too many runs for the system's
// inotify watches) — see watcher.ts. No `vscode` import.
//
// A sweep lists the roots, stats every run folder, and fully stats (run.json, metrics.jsonl,
// checkpoints/, analyses/) only the runs that may have changed: new ones, ones whose folder
// changed (run.json is replaced by rename, which changes its folder), and "hot" ones (a file
// changed in the last HOT_MS: a live run appends to metrics.jsonl without touching the folder).
// It reports the runs whose stats changed, appeared or went away. The stats are synchronous (a
// stat never opens a file, so a FIFO cannot block it) in slices of SLICE stats, with a yield to
// the event loop between slices, so the extension host stays responsive; the next sweep starts
// `pollMs` or twice the last sweep's duration after it, whichever is longer.
//
// Limit: a file appended inside analyses/ does not change the folder's stat, so polling notices
// new analysis files but not appends to existing ones of a cold run (the analyzer this window runs
// reports its records itself).
import { type Dirent, readdirSync, statSync } from "node:fs";
import { basename, join, sep } from "node:path";
import { ANALYSES_DIR, CHECKPOINT_DIR, METRICS_FILE, RUN_MANIFEST } from "../shared/runFormat";

export interface PolledParts {
  manifest: boolean;
  metrics: boolean;
  checkpoints: boolean;
  analyses: boolean;
}

/** Stats per slice between two yields to the event loop. */
const SLICE = 400;
/** A run with a file changed this recently is fully stated on every sweep. */
const HOT_MS = 10 * 60_000;

interface RunStamp {
  folder: string;
  manifest: string;
  metrics: string;
  checkpoints: string;
  analyses: string;
  /** Latest mtime of the four files. */
  newestMs: number;
}

const ALL: PolledParts = { manifest: true, metrics: true, checkpoints: true, analyses: true };

function statText(p: string): { text: string; mtimeMs: number } {
  try {
    const s = statSync(p, { throwIfNoEntry: false });
    return s === undefined
      ? { text: "", mtimeMs: -Infinity }
      : { text: `${s.ino}:${s.size}:${s.mtimeMs}`, mtimeMs: s.mtimeMs };
  } catch {
    return { text: "", mtimeMs: -Infinity };
  }
}

/** The folder's stat, and its files' when `full` (else undefined). Undefined folder text: no such folder. */
function runStamp(runDir: string, folder: string): RunStamp | undefined {
  const manifest = statText(join(runDir, RUN_MANIFEST));
  if (manifest.text === "") return undefined;
  const metrics = statText(join(runDir, METRICS_FILE));
  const checkpoints = statText(join(runDir, CHECKPOINT_DIR));
  const analyses = statText(join(runDir, ANALYSES_DIR));
  return {
    folder,
    manifest: manifest.text,
    metrics: metrics.text,
    checkpoints: checkpoints.text,
    analyses: analyses.text,
    newestMs: Math.max(manifest.mtimeMs, metrics.mtimeMs, checkpoints.mtimeMs, analyses.mtimeMs),
  };
}

function subfolders(dir: string): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((d) => !d.name.startsWith(".") && d.name !== "node_modules" && (d.isDirectory() || d.isSymbolicLink()))
    .map((d) => join(dir, d.name));
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class RunPoller {
  private known = new Map<string, RunStamp>();
  private timer: NodeJS.Timeout | undefined;
  private disposed = false;
  /** Sweeps done (for tests and the log). */
  sweeps = 0;

  constructor(
    private readonly roots: readonly string[],
    private readonly pollMs: number,
    private readonly report: (runDir: string, parts: PolledParts) => void,
  ) {}

  /**
   * Takes the first inventory and starts polling; resolves once it is taken. Runs in `appeared`
   * roots, and runs with a file changed at or after `since`, are reported (what changed while
   * polling was being set up).
   */
  async start(appeared: ReadonlySet<string>, since: number): Promise<void> {
    const t0 = Date.now();
    const first = await this.inventory(new Map());
    if (this.disposed) return;
    for (const [runDir, s] of first) {
      if (s.newestMs >= since || this.roots.some((r) => appeared.has(r) && runDir.startsWith(r + sep)))
        this.report(runDir, ALL);
    }
    this.known = first;
    this.sweeps++;
    this.schedule(Date.now() - t0);
  }

  private schedule(lastSweepMs: number): void {
    if (this.disposed) return;
    this.timer = setTimeout(() => void this.sweep(), Math.max(this.pollMs, 2 * lastSweepMs));
    this.timer.unref();
  }

  private async sweep(): Promise<void> {
    const t0 = Date.now();
    const now = await this.inventory(this.known);
    if (this.disposed) return;
    for (const [runDir, s] of now) {
      const before = this.known.get(runDir);
      if (before === undefined) this.report(runDir, ALL);
      else {
        const parts = {
          manifest: s.manifest !== before.manifest,
          metrics: s.metrics !== before.metrics,
          checkpoints: s.checkpoints !== before.checkpoints,
          analyses: s.analyses !== before.analyses,
        };
        if (parts.manifest || parts.metrics || parts.checkpoints || parts.analyses) this.report(runDir, parts);
      }
    }
    // Gone: reported as a manifest change; the watcher's flush finds run.json missing and says "removed".
    for (const runDir of this.known.keys())
      if (!now.has(runDir))
        this.report(runDir, { manifest: true, metrics: false, checkpoints: false, analyses: false });
    this.known = now;
    this.sweeps++;
    this.schedule(Date.now() - t0);
  }

  /**
   * Every run under the roots (root/<run>, root/<group>/<run>) with its stamp: the previous stamp
   * when the folder is unchanged and the run is not hot, a fresh one otherwise.
   */
  private async inventory(previous: ReadonlyMap<string, RunStamp>): Promise<Map<string, RunStamp>> {
    const out = new Map<string, RunStamp>();
    const hotSince = Date.now() - HOT_MS;
    const candidates: string[] = [];
    for (const root of this.roots) candidates.push(...subfolders(root));
    const groups: string[] = [];
    const visit = async (dirs: readonly string[], onNoRun: (dir: string) => void): Promise<void> => {
      for (let i = 0; i < dirs.length; i++) {
        if (i > 0 && i % SLICE === 0) {
          await yieldToLoop();
          if (this.disposed) return;
        }
        const dir = dirs[i] as string;
        const folder = statText(dir).text;
        const before = previous.get(dir);
        if (before !== undefined && before.folder === folder && before.newestMs < hotSince) {
          out.set(dir, before);
          continue;
        }
        const s = runStamp(dir, folder);
        if (s !== undefined) out.set(dir, s);
        else onNoRun(dir);
      }
    };
    await visit(candidates, (dir) => groups.push(dir));
    // Folders without run.json may be groups of runs (a sweep).
    const nested: string[] = [];
    for (const group of groups)
      for (const dir of subfolders(group))
        if (basename(dir) !== CHECKPOINT_DIR && basename(dir) !== ANALYSES_DIR) nested.push(dir);
    await visit(nested, () => undefined);
    return out;
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
