// The influence panel: one run's influence matrices (its examples are that run's, so one run per
// panel), sent whole on every change; the page may ask to rerun an analysis.

import { influenceRun, modelAnalysesUnavailable } from "../../shared/analysisViews";
import type { OwnMessage } from "../../shared/panels/common";
import {
  isInfluenceState,
  isInfluenceWebviewMessage,
  type InfluenceHostMessage,
  type InfluenceState,
  type CalibrateMessage,
  type InterveneMessage,
} from "../../shared/panels/influence";
import { influenceHtml } from "../../webview/influence/page";
import { calibrationLine, checkInterveneRequest, type InterveneRequest } from "../interventions";
import { AnalysisViewTypes } from "../constants";
import type { PanelKind } from "./panelHost";
import type { PanelContent, PanelUpdate } from "./panelSession";
import { loadRuns, refsOf, type PanelEnv } from "./runs";

type Message = OwnMessage<InfluenceHostMessage>;

export class InfluenceContent implements PanelContent<InfluenceState, Message> {
  /** What the last init sent: the page may only ask about these (the run, its examples, its steps). */
  private shown: { runDir: string; examples: Set<number>; steps: number[] } | undefined;

  constructor(
    private readonly env: PanelEnv,
    private readonly runDirs: readonly string[],
  ) {}

  init(state: InfluenceState | undefined): PanelUpdate<Message> {
    const { runs, problems } = loadRuns(this.env, this.runDirs, { metrics: false });
    const first = runs[0];
    const ref = first?.ref ?? refsOf(this.env, this.runDirs)[0]?.ref;
    if (!ref) return { messages: [], problems };
    // No influence analysis yet: an empty run, which the page says it is waiting for, or why it
    // never will be (a run whose model the analyzer cannot rebuild).
    const unavailable = first && modelAnalysesUnavailable(first.data.manifest);
    const run = (first && influenceRun(first.ref, first.data)) ?? {
      ...ref,
      examples: [],
      matrices: [],
      bifChains: [],
      settings: {},
      ...(unavailable ? { unavailable: `No influence analyses: ${unavailable}.` } : {}),
    };
    const calibration = calibrationLine(ref.runId);
    if (calibration !== undefined) run.calibration = calibration;
    const tracin = run.matrices.find((m) => m.method === "tracin");
    this.shown = {
      runDir: ref.runId,
      examples: new Set(run.examples.map((e) => e.index)),
      steps: tracin?.steps ?? [],
    };
    return { messages: [{ type: "init", run, ...(state ? { state } : {}) }], problems };
  }

  intervene(m: InterveneMessage): InterveneRequest | string {
    if (!this.shown) return "nothing shown yet";
    return checkInterveneRequest(m, this.shown.runDir, this.shown.examples, this.shown.steps);
  }

  calibrate(m: CalibrateMessage): string | { runDir: string } {
    if (!this.shown) return "nothing shown yet";
    if (m.runId !== this.shown.runDir) return `the panel does not show ${m.runId}`;
    return { runDir: this.shown.runDir };
  }

  refresh(): "init" {
    return "init";
  }
}

export const INFLUENCE: PanelKind<InfluenceState, Message> = {
  title: "Influence",
  viewType: AnalysisViewTypes.influence,
  bundle: "influence",
  styles: ["common.css", "analysisPanels.css"],
  html: influenceHtml,
  store: { key: "learningMechanics.analysisPanels", entry: (title) => `influence\n${title}`, kind: "influence" },
  isState: isInfluenceState,
  isWebviewMessage: isInfluenceWebviewMessage,
  analyses: true,
  refreshMs: 1000,
  // The influence panel shows one run (its examples are that run's).
  shown: (runDirs) => runDirs.slice(0, 1),
  content: (env, runDirs) => new InfluenceContent(env, runDirs),
};
