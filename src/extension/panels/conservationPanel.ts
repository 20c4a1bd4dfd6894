// The conservation-laws panel: per run, each symmetry's relative drift with its prediction, and
// the table of symmetries found (src/shared/conservationView.ts). A refresh replaces the changed run.

import { conservationRun } from "../../shared/conservationView";
import type { OwnMessage } from "../../shared/panels/common";
import {
  type ConservationHostMessage,
  type ConservationState,
  isConservationState,
  isConservationWebviewMessage,
} from "../../shared/panels/conservation";
import { conservationHtml } from "../../webview/conservation/page";
import { AnalysisViewTypes } from "../constants";
import type { PanelKind } from "./panelHost";
import type { PanelContent, PanelUpdate } from "./panelSession";
import { loadRuns, type PanelEnv } from "./runs";

type Message = OwnMessage<ConservationHostMessage>;

export class ConservationContent implements PanelContent<ConservationState, Message> {
  constructor(
    private readonly env: PanelEnv,
    private readonly runDirs: readonly string[],
  ) {}

  init(state: ConservationState | undefined): PanelUpdate<Message> {
    const { runs, problems } = loadRuns(this.env, this.runDirs, { metrics: false });
    return {
      messages: [
        { type: "init", runs: runs.map(({ ref, data }) => conservationRun(ref, data)), ...(state ? { state } : {}) },
      ],
      problems,
    };
  }

  refresh(runDir: string): PanelUpdate<Message> | "init" {
    const { runs, problems } = loadRuns(this.env, this.runDirs, { metrics: false });
    const item = runs.find((r) => r.data.runDir === runDir);
    if (!item) return { messages: [], problems };
    return { messages: [{ type: "run", run: conservationRun(item.ref, item.data) }], problems };
  }
}

export const CONSERVATION: PanelKind<ConservationState, Message> = {
  title: "Conservation laws",
  viewType: AnalysisViewTypes.conservation,
  bundle: "conservation",
  styles: ["common.css", "analysisPanels.css", "conservation.css"],
  html: conservationHtml,
  store: {
    key: "learningMechanics.analysisPanels",
    entry: (title) => `conservation\n${title}`,
    kind: "conservation",
  },
  isState: isConservationState,
  isWebviewMessage: isConservationWebviewMessage,
  analyses: true,
  refreshMs: 1000,
  content: (env, runDirs) => new ConservationContent(env, runDirs),
};
