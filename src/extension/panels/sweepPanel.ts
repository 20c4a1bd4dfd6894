// The sweep panel: one sweep folder (its "run set" is the sweep folder itself). `init` reads
// sweep.json and every point's run folder (metrics and analyses, summarized by
// src/shared/sweepSummary.ts); a change in a point's run folder sends that point again, a change
// of the sweep folder (sweep.json rewritten by the launcher) sends everything again.
import * as path from "node:path";
import { loadRunData } from "../../shared/analysisViews";
import type { OwnMessage } from "../../shared/panels/common";
import {
  isSweepState,
  isSweepWebviewMessage,
  type SweepHostMessage,
  type SweepInfo,
  type SweepState,
} from "../../shared/panels/sweep";
import type { SweepManifest, SweepPoint } from "../../shared/sweepFormat";
import { pointSummary } from "../../shared/sweepSummary";
import type { SweepPanelPoint } from "../../shared/sweepView";
import { SWEEP_VIEW_TYPE } from "../constants";
import { samePath } from "../paths";
import { pointRunDir, pointStatus, readSweep } from "../sweeps";
import { sweepHtml } from "../../webview/sweep/page";
import type { PanelKind } from "./panelHost";
import type { PanelContent, PanelUpdate } from "./panelSession";
import type { PanelEnv } from "./runs";

type Message = OwnMessage<SweepHostMessage>;

export class SweepContent implements PanelContent<SweepState, Message> {
  private manifest: SweepManifest | undefined;

  constructor(
    private readonly env: PanelEnv,
    private readonly dir: string,
  ) {}

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
    const points = m.points.map((p) => this.point(p, problems));
    return { messages: [{ type: "init", sweep, points, ...(state ? { state } : {}) }], problems };
  }

  refresh(runDir: string): PanelUpdate<Message> | "init" {
    if (samePath(runDir, this.dir) || !this.manifest) return "init";
    if (!samePath(path.dirname(runDir), this.dir)) return { messages: [] };
    const name = path.basename(runDir);
    const p = this.manifest.points.find((q) => q.run === name);
    if (!p) return "init"; // a folder the manifest we hold does not know: read it again
    const problems: string[] = [];
    return { messages: [{ type: "point", point: this.point(p, problems) }], problems };
  }

  /** One point: its values and status, and the summaries of its run folder once it has one. */
  private point(p: SweepPoint, problems: string[]): SweepPanelPoint {
    const runDir = pointRunDir(this.dir, p.run);
    const base = { index: p.index, runId: runDir, values: p.values, seed: p.seed };
    const entry = this.env.runIndex.get(runDir) ?? this.env.runIndex.update(runDir);
    if (!entry) return { ...base, status: p.status, y: {} };
    if (entry.status === "invalid") {
      problems.push(`${runDir}: ${entry.problem}`);
      return { ...base, status: p.status, y: {} };
    }
    try {
      return {
        ...base,
        status: pointStatus(this.env.runIndex, this.dir, p),
        y: pointSummary(loadRunData(runDir, entry.manifest, { metrics: true })),
      };
    } catch (e) {
      problems.push(`${runDir}: ${e instanceof Error ? e.message : String(e)}`);
      return { ...base, status: entry.status, y: {} };
    }
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
  content: (env, dirs) => new SweepContent(env, dirs[0] ?? ""),
  // A point's run folder changing refreshes the panel of its sweep.
  follows: (dir, changed) => samePath(changed, dir) || samePath(path.dirname(changed), dir),
  opensRun: (dirs, runId) => dirs.some((d) => samePath(path.dirname(runId), d)),
};
