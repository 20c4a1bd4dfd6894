// The grokking panel: accuracy and loss of one or several runs with the grokking report and the
// indicators (analysisViews.ts builds them). A refresh appends what is new of a run (`update`);
// a metrics file that shrank (a resume rewrote it) sends everything again.

import { grokRun, type RunData } from "../../shared/analysisViews";
import type { OwnMessage } from "../../shared/panels/common";
import {
  isGrokkingState,
  isGrokkingWebviewMessage,
  type GrokCurves,
  type GrokkingHostMessage,
  type GrokkingState,
  type GrokRun,
  type IndicatorSeries,
} from "../../shared/panels/grokking";
import { grokkingHtml } from "../../webview/grokking/page";
import { AnalysisViewTypes } from "../constants";
import type { PanelKind } from "./panelHost";
import type { PanelContent, PanelUpdate } from "./panelSession";
import { loadRun, loadRuns, refsOf, type PanelEnv } from "./runs";

type Message = OwnMessage<GrokkingHostMessage>;

/** A run as the page shows it: the report's view and the count of unreadable metrics lines. */
function grokRunOf(ref: Parameters<typeof grokRun>[0], data: RunData): GrokRun {
  const run = grokRun(ref, data);
  return data.badLines ? { ...run, badLines: data.badLines } : run;
}

export class GrokkingContent implements PanelContent<GrokkingState, Message> {
  /** What each run has been sent, so updates append only what is new. */
  private readonly sent = new Map<string, { records: number; indicators: Map<string, number> }>();

  constructor(
    private readonly env: PanelEnv,
    private readonly runDirs: readonly string[],
  ) {}

  init(state: GrokkingState | undefined): PanelUpdate<Message> {
    const { runs, problems } = loadRuns(this.env, this.runDirs, { metrics: true });
    this.sent.clear();
    const grok = runs.map(({ ref, data }) => this.remember(grokRunOf(ref, data), data));
    return { messages: [{ type: "init", runs: grok, ...(state ? { state } : {}) }], problems };
  }

  refresh(runDir: string): PanelUpdate<Message> | "init" {
    const item = refsOf(this.env, this.runDirs).find((r) => r.runDir === runDir);
    if (!item) return { messages: [] };
    const loaded = loadRun(this.env, runDir, { metrics: true });
    if (!("data" in loaded)) return { messages: [], problems: [loaded.problem] };
    const data = loaded.data;
    const sent = this.sent.get(runDir);
    // The metrics file was rewritten (a resume): start over.
    if (!sent || data.metrics.length < sent.records) return "init";
    const run = grokRunOf(item.ref, data);
    const from = sent.records;
    const slice = (c: GrokCurves): GrokCurves => ({
      step: c.step.slice(from),
      trainAcc: c.trainAcc.slice(from),
      testAcc: c.testAcc.slice(from),
      trainLoss: c.trainLoss.slice(from),
      testLoss: c.testLoss.slice(from),
      paramNorm: c.paramNorm.slice(from),
    });
    const indicators: IndicatorSeries[] = run.indicators.map((s) => {
      const n = sent.indicators.get(s.name) ?? 0;
      return { name: s.name, steps: s.steps.slice(n), values: s.values.slice(n) };
    });
    this.remember(run, data);
    return {
      messages: [
        {
          type: "update",
          runId: runDir,
          curves: slice(run.curves),
          indicators,
          report: run.report,
          ...(run.badLines !== undefined ? { badLines: run.badLines } : {}),
        },
      ],
    };
  }

  private remember(run: GrokRun, data: RunData): GrokRun {
    this.sent.set(run.runId, {
      records: data.metrics.length,
      indicators: new Map(run.indicators.map((s) => [s.name, s.steps.length])),
    });
    return run;
  }
}

export const GROKKING: PanelKind<GrokkingState, Message> = {
  title: "Grokking",
  viewType: AnalysisViewTypes.grokking,
  bundle: "grokking",
  styles: ["common.css", "analysisPanels.css"],
  html: grokkingHtml,
  store: { key: "learningMechanics.analysisPanels", entry: (title) => `grokking\n${title}`, kind: "grokking" },
  isState: isGrokkingState,
  isWebviewMessage: isGrokkingWebviewMessage,
  analyses: true,
  refreshMs: 1000,
  content: (env, runDirs) => new GrokkingContent(env, runDirs),
};
