// The in-context learning panel: per run, the test loss against context position over training,
// beside the least-squares and ridge baselines (src/shared/iclView.ts). A refresh replaces the changed run.

import type { OwnMessage } from "../../shared/panels/common";
import { type IclHostMessage, type IclState, isIclState, isIclWebviewMessage } from "../../shared/panels/icl";
import { iclRun } from "../../shared/iclView";
import { iclHtml } from "../../webview/icl/page";
import { AnalysisViewTypes } from "../constants";
import type { PanelKind } from "./panelHost";
import type { PanelContent, PanelUpdate } from "./panelSession";
import { loadRuns, type PanelEnv } from "./runs";

type Message = OwnMessage<IclHostMessage>;

export class IclContent implements PanelContent<IclState, Message> {
  constructor(
    private readonly env: PanelEnv,
    private readonly runDirs: readonly string[],
  ) {}

  init(state: IclState | undefined): PanelUpdate<Message> {
    const { runs, problems } = loadRuns(this.env, this.runDirs, { metrics: false });
    return {
      messages: [{ type: "init", runs: runs.map(({ ref, data }) => iclRun(ref, data)), ...(state ? { state } : {}) }],
      problems,
    };
  }

  refresh(runDir: string): PanelUpdate<Message> | "init" {
    const { runs, problems } = loadRuns(this.env, this.runDirs, { metrics: false });
    const item = runs.find((r) => r.data.runDir === runDir);
    if (!item) return { messages: [], problems };
    return { messages: [{ type: "run", run: iclRun(item.ref, item.data) }], problems };
  }
}

export const ICL: PanelKind<IclState, Message> = {
  title: "In-context learning",
  viewType: AnalysisViewTypes.icl,
  bundle: "icl",
  styles: ["common.css", "analysisPanels.css"],
  html: iclHtml,
  store: {
    key: "learningMechanics.analysisPanels",
    entry: (title) => `icl\n${title}`,
    kind: "icl",
  },
  isState: isIclState,
  isWebviewMessage: isIclWebviewMessage,
  analyses: true,
  refreshMs: 1000,
  content: (env, runDirs) => new IclContent(env, runDirs),
};
