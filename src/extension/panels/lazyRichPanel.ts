// The lazy-vs-rich panel: per-run measures and regime, and α sweeps over the runs asked for plus
// their siblings (other runs of the same experiment file). A refresh replaces the changed run.

import { alphaSweeps, lazyRichRun, loadRunData, type RunData } from "../../shared/analysisViews";
import type { OwnMessage, RunRef } from "../../shared/panels/common";
import {
  isLazyRichState,
  isLazyRichWebviewMessage,
  type LazyRichHostMessage,
  type LazyRichState,
} from "../../shared/panels/lazyRich";
import { lazyRichHtml } from "../../webview/lazyRich/page";
import { AnalysisViewTypes } from "../constants";
import type { PanelKind } from "./panelHost";
import type { PanelContent, PanelUpdate } from "./panelSession";
import { loadRuns, type PanelEnv } from "./runs";

type Message = OwnMessage<LazyRichHostMessage>;

/** Runs looked at for an α sweep beside the ones asked for. */
const MAX_SWEEP_RUNS = 24;

export class LazyRichContent implements PanelContent<LazyRichState, Message> {
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
          sweeps: alphaSweeps(this.withSweepSiblings(runs)),
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
      messages: [
        { type: "run", run: lazyRichRun(item.ref, item.data), sweeps: alphaSweeps(this.withSweepSiblings(runs)) },
      ],
      problems,
    };
  }

  /** Other runs of the same experiment file, so a sweep over α shows even when one run was opened. */
  private withSweepSiblings(runs: { ref: RunRef; data: RunData }[]): { ref: RunRef; data: RunData }[] {
    const files = new Set(
      runs.map((r) => r.data.manifest.experiment?.path).filter((f): f is string => f !== undefined),
    );
    const out = [...runs];
    const have = new Set(runs.map((r) => r.data.runDir));
    for (const e of this.env.runIndex.all()) {
      if (out.length >= MAX_SWEEP_RUNS) break;
      if (e.status === "invalid" || have.has(e.runDir) || !files.has(e.manifest.experiment?.path ?? "")) continue;
      out.push({
        ref: { runId: e.runDir, label: e.manifest.id, colorIndex: out.length },
        data: loadRunData(e.runDir, e.manifest, { metrics: false }),
      });
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
