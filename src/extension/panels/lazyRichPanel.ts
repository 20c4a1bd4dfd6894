// The lazy-vs-rich panel: per-run measures and regime, and links to the α sweeps of the runs asked
// for plus their siblings (other runs of the same experiment file), which open in the sweep panel:
// a declared sweep over model.alpha by its folder, an implicit one (runs differing only in α) by
// its runs. A refresh replaces the changed run.

import * as path from "node:path";
import { lazyRichRun, type RunData } from "../../shared/analysisViews";
import { ALPHA_FIELD } from "../../shared/alphaFit";
import { alphaSweepGroups, declaredAlphaSweeps, type ManifestRun } from "../../shared/implicitSweep";
import type { OwnMessage } from "../../shared/panels/common";
import {
  type AlphaSweepLink,
  isLazyRichState,
  isLazyRichWebviewMessage,
  type LazyRichHostMessage,
  type LazyRichState,
} from "../../shared/panels/lazyRich";
import { fieldValue } from "../../shared/sweepView";
import { readSweep } from "../sweeps";
import { lazyRichHtml } from "../../webview/lazyRich/page";
import { AnalysisViewTypes } from "../constants";
import type { PanelKind } from "./panelHost";
import type { PanelContent, PanelUpdate } from "./panelSession";
import { loadRuns, type PanelEnv } from "./runs";

type Message = OwnMessage<LazyRichHostMessage>;

/** Runs looked at for an α sweep beside the ones asked for. */
const MAX_SWEEP_RUNS = 24;

export class LazyRichContent implements PanelContent<LazyRichState, Message> {
  /** The folders each link last sent opens the sweep panel on, by the link's id. */
  private readonly links = new Map<string, string[]>();

  constructor(
    private readonly env: PanelEnv,
    private readonly runDirs: readonly string[],
  ) {}

  init(state: LazyRichState | undefined): PanelUpdate<Message> {
    const { runs, problems } = loadRuns(this.env, this.runDirs, { metrics: false });
    return {
      messages: [
        {
          type: "init",
          runs: runs.map(({ ref, data }) => lazyRichRun(ref, data)),
          sweeps: this.sweepLinks(runs),
          ...(state ? { state } : {}),
        },
      ],
      problems,
    };
  }

  refresh(runDir: string): PanelUpdate<Message> | "init" {
    const { runs, problems } = loadRuns(this.env, this.runDirs, { metrics: false });
    const item = runs.find((r) => r.data.runDir === runDir);
    if (!item) return { messages: [], problems };
    return {
      messages: [{ type: "run", run: lazyRichRun(item.ref, item.data), sweeps: this.sweepLinks(runs) }],
      problems,
    };
  }

  sweepDirs(id: string): string[] | undefined {
    return this.links.get(id);
  }

  /** The α sweeps of the runs and their siblings: declared ones first, then implicit ones. */
  private sweepLinks(runs: readonly { data: RunData }[]): AlphaSweepLink[] {
    const all = this.withSweepSiblings(runs.map((r) => ({ runDir: r.data.runDir, manifest: r.data.manifest })));
    this.links.clear();
    const out: AlphaSweepLink[] = [];
    for (const dir of declaredAlphaSweeps(all)) {
      const read = readSweep(dir);
      if (!read.ok) continue; // the sweep panel names what is wrong when opened from the Runs view
      const alphas = read.manifest.points.flatMap((p) => {
        const a = fieldValue(p.values, ALPHA_FIELD);
        return typeof a === "number" ? [a] : [];
      });
      const id = `declared:${dir}`;
      this.links.set(id, [dir]);
      out.push({
        id,
        name: path.basename(dir),
        kind: "declared",
        runs: read.manifest.points.length,
        alphas: [...new Set(alphas)].sort((a, b) => a - b),
      });
    }
    for (const g of alphaSweepGroups(all)) {
      const id = `implicit:${g.name}:${g.runs[0]!.runDir}`;
      this.links.set(
        id,
        g.runs.map((r) => r.runDir),
      );
      out.push({
        id,
        name: g.name,
        kind: "implicit",
        runs: g.runs.length,
        alphas: [...new Set(g.runs.map((r) => r.alpha))],
      });
    }
    return out;
  }

  /** Other runs of the same experiment file, so a sweep over α shows even when one run was opened. */
  private withSweepSiblings(runs: ManifestRun[]): ManifestRun[] {
    const files = new Set(runs.map((r) => r.manifest.experiment?.path).filter((f): f is string => f !== undefined));
    const out = [...runs];
    const have = new Set(runs.map((r) => r.runDir));
    for (const e of this.env.runIndex.all()) {
      if (out.length >= MAX_SWEEP_RUNS) break;
      if (e.status === "invalid" || have.has(e.runDir) || !files.has(e.manifest.experiment?.path ?? "")) continue;
      out.push({ runDir: e.runDir, manifest: e.manifest });
    }
    return out;
  }
}

export const LAZY_RICH: PanelKind<LazyRichState, Message> = {
  title: "Lazy vs rich",
  viewType: AnalysisViewTypes.lazyRich,
  bundle: "lazyRich",
  styles: ["common.css", "analysisPanels.css"],
  html: lazyRichHtml,
  store: { key: "learningMechanics.analysisPanels", entry: (title) => `lazyRich\n${title}`, kind: "lazyRich" },
  isState: isLazyRichState,
  isWebviewMessage: isLazyRichWebviewMessage,
  analyses: true,
  refreshMs: 1000,
  content: (env, runDirs) => new LazyRichContent(env, runDirs),
};
