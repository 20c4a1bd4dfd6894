// The Sharpness panel: sharpness against its stability threshold, the loss beneath, the LLC, per
// run. A refresh replaces the changed run.
import { sharpnessRun } from "../../shared/sharpnessView";
import type { OwnMessage } from "../../shared/panels/common";
import {
  isSharpnessState,
  isSharpnessWebviewMessage,
  type SharpnessHostMessage,
  type SharpnessState,
} from "../../shared/panels/sharpness";
import { sharpnessHtml } from "../../webview/sharpness/page";
import { AnalysisViewTypes } from "../constants";
import type { PanelKind } from "./panelHost";
import type { PanelContent, PanelUpdate } from "./panelSession";
import { loadRuns, type PanelEnv } from "./runs";

type Message = OwnMessage<SharpnessHostMessage>;

export class SharpnessContent implements PanelContent<SharpnessState, Message> {
  constructor(
    private readonly env: PanelEnv,
    private readonly runDirs: readonly string[],
  ) {}

  init(state: SharpnessState | undefined): PanelUpdate<Message> {
    const { runs, problems } = loadRuns(this.env, this.runDirs, { metrics: true });
    return {
      messages: [
        { type: "init", runs: runs.map(({ ref, data }) => sharpnessRun(ref, data)), ...(state ? { state } : {}) },
      ],
      problems,
    };
  }

  refresh(runDir: string): PanelUpdate<Message> | "init" {
    const { runs, problems } = loadRuns(this.env, this.runDirs, { metrics: true });
    const item = runs.find((r) => r.data.runDir === runDir);
    if (!item) return { messages: [], problems };
    return { messages: [{ type: "run", run: sharpnessRun(item.ref, item.data) }], problems };
  }
}

export const SHARPNESS: PanelKind<SharpnessState, Message> = {
  title: "Sharpness",
  viewType: AnalysisViewTypes.sharpness,
  bundle: "sharpness",
  styles: ["common.css", "analysisPanels.css"],
  html: sharpnessHtml,
  store: { key: "learningMechanics.analysisPanels", entry: (title) => `sharpness\n${title}`, kind: "sharpness" },
  isState: isSharpnessState,
  isWebviewMessage: isSharpnessWebviewMessage,
  analyses: true,
  refreshMs: 1000,
  content: (env, runDirs) => new SharpnessContent(env, runDirs),
};
