// The sweep panel: one sweep folder (its "run set" is the sweep folder itself). `init` reads
// sweep.json and sends every point with the summaries already read (src/shared/sweepSummary.ts;
// kept per run folder, read again on each change); the others are read in the background, a
// batch per turn of the event loop, each sent as a `point` when ready: a sweep of 1,000 runs
// must not block the extension host for seconds (bench/sweepPanel.bench.ts). A change in a point's
// run folder sends that point again; a change of the sweep folder (sweep.json rewritten by the
// launcher) sends everything again.
// An implicit sweep (runs that differ only in model.alpha, without a sweep.json: what the
// lazy-vs-rich panel links to) is shown by ImplicitSweepContent: the panel's folders are then
// those runs, and the page gets the same messages.
import * as path from "node:path";
import { loadRunData } from "../../shared/analysisViews";
import type { OwnMessage } from "../../shared/panels/common";
import {
  IMP_SWEEP_STATE,
  isSweepState,
  isSweepWebviewMessage,
  type SweepHostMessage,
  type SweepInfo,
  type SweepState,
} from "../../shared/panels/sweep";
import type { SweepManifest, SweepPoint } from "../../shared/sweepFormat";
import { implicitSweepInfo, implicitSweepPoint, type ManifestRun } from "../../shared/implicitSweep";
import { pointSummary } from "../../shared/sweepSummary";
import type { QuantityKey, SweepPanelPoint } from "../../shared/sweepView";
import { SWEEP_VIEW_TYPE } from "../constants";
import { samePath } from "../paths";
import { pointRunDir, pointStatus, readSweep } from "../sweeps";
import { sweepHtml } from "../../webview/sweep/page";
import type { PanelKind } from "./panelHost";
import type { PanelContent, PanelUpdate } from "./panelSession";
import type { PanelEnv } from "./runs";

type Message = OwnMessage<SweepHostMessage>;

/** Run folders summarized per turn of the event loop in the background (a few ms each). */
export const SUMMARY_BATCH = 8;

export class SweepContent implements PanelContent<SweepState, Message> {
  private manifest: SweepManifest | undefined;
  private ready: ((runDir: string) => void) | undefined;
  /** Bumped by every init and by dispose: a background pass of an older one stops. */
  private generation = 0;
  /**
   * Summaries by run folder, read once per panel: every change on disk of a point's folder comes
   * as a `refresh`, which reads it again, so an entry is current while the panel is open; a page
   * shown again (hidden webviews are discarded) gets them at once.
   */
  private readonly summaries = new Map<string, Record<QuantityKey, number>>();
  /** Folders the background pass has just read: the refresh that announces them need not read them again. */
  private readonly justRead = new Set<string>();

  constructor(
    private readonly env: PanelEnv,
    private readonly dir: string,
  ) {}

  onReady(ready: (runDir: string) => void): void {
    this.ready = ready;
  }

  dispose(): void {
    this.generation++;
  }

  init(state: SweepState | undefined): PanelUpdate<Message> {
    const read = readSweep(this.dir);
    if (!read.ok) {
      this.manifest = undefined;
      return { messages: [], problems: [read.problem] };
    }
    const m = read.manifest;
    this.manifest = m;
    const problems: string[] = [];
    const sweep: SweepInfo = {
      dir: this.dir,
      system: m.system,
      fields: m.fields,
      launcher: m.launcher.kind,
    };
    const pending: SweepPoint[] = [];
    // Without a way to hear of background results (a test, a caller that wants it all at once), read everything now.
    const now = this.ready === undefined;
    const points = m.points.map((p) => {
      const r = this.point(p, problems, now);
      if (r.pending) pending.push(p);
      return r.point;
    });
    if (pending.length > 0) void this.summarizeLater(pending, ++this.generation);
    // An IMP folder opens on its own view (accuracy against sparsity) until the user chooses another.
    const shown = state ?? (m.imp ? IMP_SWEEP_STATE : undefined);
    return { messages: [{ type: "init", sweep, points, ...(shown ? { state: shown } : {}) }], problems };
  }

  /** Reads the pending points' run folders, SUMMARY_BATCH per turn, telling the host as each is ready. */
  private async summarizeLater(pending: readonly SweepPoint[], generation: number): Promise<void> {
    for (let i = 0; i < pending.length; i += SUMMARY_BATCH) {
      await new Promise((r) => setImmediate(r));
      if (generation !== this.generation) return;
      for (const p of pending.slice(i, i + SUMMARY_BATCH)) {
        const runDir = pointRunDir(this.dir, p.run);
        this.point(p, [], true);
        this.justRead.add(runDir);
        this.ready?.(runDir);
      }
    }
  }

  refresh(runDir: string): PanelUpdate<Message> | "init" {
    if (samePath(runDir, this.dir) || !this.manifest) return "init";
    if (!samePath(path.dirname(runDir), this.dir)) return { messages: [] };
    const name = path.basename(runDir);
    const p = this.manifest.points.find((q) => q.run === name);
    if (!p) return "init"; // a folder the manifest we hold does not know: read it again
    const problems: string[] = [];
    const fresh = this.justRead.delete(runDir);
    return { messages: [{ type: "point", point: this.point(p, problems, !fresh).point }], problems };
  }

  /**
   * One point: its values and status, and the summaries of its run folder once it has one. With
   * `read`, the folder is read (again); without, a summary not yet read is left for later: the
   * point comes without summaries, marked pending.
   */
  private point(p: SweepPoint, problems: string[], read: boolean): { point: SweepPanelPoint; pending: boolean } {
    const runDir = pointRunDir(this.dir, p.run);
    const base = { index: p.index, runId: runDir, values: p.values, seed: p.seed };
    const done = (point: SweepPanelPoint) => ({ point, pending: false });
    const entry = this.env.runIndex.get(runDir) ?? this.env.runIndex.update(runDir);
    if (!entry) return done({ ...base, status: p.status, y: {} });
    if (entry.status === "invalid") {
      problems.push(`${runDir}: ${entry.problem}`);
      return done({ ...base, status: p.status, y: {} });
    }
    const status = pointStatus(this.env.runIndex, this.dir, p);
    const known = this.summaries.get(runDir);
    if (known && !read) return done({ ...base, status, y: known });
    if (!read) return { point: { ...base, status, y: {} }, pending: true };
    try {
      const y = pointSummary(loadRunData(runDir, entry.manifest, { metrics: true, analyses: this.env.analysisCache }));
      this.summaries.set(runDir, y);
      return done({ ...base, status, y });
    } catch (e) {
      problems.push(`${runDir}: ${e instanceof Error ? e.message : String(e)}`);
      return done({ ...base, status, y: {} });
    }
  }
}

/**
 * An implicit α sweep: these run folders (two or more, grouped by src/shared/implicitSweep.ts),
 * each a point with `model.alpha` as its swept field. Few runs (the lazy-vs-rich panel looks at
 * two dozen at most), so each is read at once.
 */
export class ImplicitSweepContent implements PanelContent<SweepState, Message> {
  constructor(
    private readonly env: PanelEnv,
    private readonly runDirs: readonly string[],
  ) {}

  init(state: SweepState | undefined): PanelUpdate<Message> {
    const problems: string[] = [];
    const read = this.runDirs.flatMap((_, i) => this.point(i, problems) ?? []);
    if (read.length === 0) return { messages: [], problems };
    const sweep = implicitSweepInfo(read.map((r) => r.run));
    const points = read.map((r) => r.point);
    return { messages: [{ type: "init", sweep, points, ...(state ? { state } : {}) }], problems };
  }

  refresh(runDir: string): PanelUpdate<Message> | "init" {
    const i = this.runDirs.findIndex((d) => samePath(d, runDir));
    if (i < 0) return { messages: [] };
    const problems: string[] = [];
    const r = this.point(i, problems);
    return { messages: r ? [{ type: "point", point: r.point }] : [], problems };
  }

  /** The i-th run as a point, its summaries read afresh; undefined (with the problem named) if it cannot be read. */
  private point(i: number, problems: string[]): { run: ManifestRun; point: SweepPanelPoint } | undefined {
    const runDir = this.runDirs[i]!;
    const entry = this.env.runIndex.get(runDir) ?? this.env.runIndex.update(runDir);
    if (!entry) {
      problems.push(`${runDir}: no run.json`);
      return undefined;
    }
    if (entry.status === "invalid") {
      problems.push(`${runDir}: ${entry.problem}`);
      return undefined;
    }
    const run = { runDir, manifest: entry.manifest, status: entry.status };
    let y: Record<QuantityKey, number> = {};
    try {
      y = pointSummary(loadRunData(runDir, entry.manifest, { metrics: true, analyses: this.env.analysisCache }));
    } catch (e) {
      problems.push(`${runDir}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return { run, point: implicitSweepPoint(i, run, y) };
  }
}

export const SWEEP: PanelKind<SweepState, Message> = {
  title: "Sweep",
  viewType: SWEEP_VIEW_TYPE,
  bundle: "sweep",
  styles: ["common.css", "analysisPanels.css"],
  html: sweepHtml,
  store: { key: "learningMechanics.sweepPanels", entry: (title) => title },
  isState: isSweepState,
  isWebviewMessage: isSweepWebviewMessage,
  analyses: false,
  refreshMs: 500,
  // One folder: a declared sweep's; several: the runs of an implicit α sweep.
  content: (env, dirs) =>
    dirs.length > 1 ? new ImplicitSweepContent(env, dirs) : new SweepContent(env, dirs[0] ?? ""),
  // A point's run folder changing refreshes the panel of its sweep.
  follows: (dir, changed) => samePath(changed, dir) || samePath(path.dirname(changed), dir),
  opensRun: (dirs, runId) =>
    dirs.length > 1 ? dirs.some((d) => samePath(d, runId)) : dirs.some((d) => samePath(path.dirname(runId), d)),
};
