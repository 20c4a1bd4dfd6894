// The linear-mode-connectivity panel: a run's interpolation curves (lmc/ files) and its
// instability analysis (barrier against k), read by src/shared/lmcView.ts. Everything is a few
// small files, so any change (a new lmc file, instability.json rewritten after a k) sends
// everything again. The instability folder beside the run is followed: the watcher reports its
// files as changes of that folder.

import * as path from "node:path";
import { defaultInstabilityDir } from "../../shared/lmcFormat";
import { readLmcFolder } from "../../shared/lmcView";
import type { OwnMessage } from "../../shared/panels/common";
import { isLmcState, isLmcWebviewMessage, type LmcHostMessage, type LmcState } from "../../shared/panels/lmc";
import { lmcHtml } from "../../webview/lmc/page";
import { LMC_VIEW_TYPE } from "../constants";
import { samePath } from "../paths";
import type { PanelKind } from "./panelHost";
import type { PanelContent, PanelUpdate } from "./panelSession";
import type { PanelEnv } from "./runs";

type Message = OwnMessage<LmcHostMessage>;

export class LmcContent implements PanelContent<LmcState, Message> {
  constructor(private readonly dir: string) {}

  init(state: LmcState | undefined): PanelUpdate<Message> {
    const v = readLmcFolder(this.dir);
    return {
      messages: [
        { type: "init", curves: v.curves, instability: v.instability, notes: v.notes, ...(state ? { state } : {}) },
      ],
      problems: v.problems,
    };
  }

  refresh(): "init" {
    return "init";
  }
}

/** Whether a change in `changed` concerns the panel of `dir`: the folder, or its instability folder. */
export function lmcFollows(dir: string, changed: string): boolean {
  return samePath(changed, dir) || samePath(changed, defaultInstabilityDir(dir));
}

export const LMC: PanelKind<LmcState, Message> = {
  title: "Mode connectivity",
  viewType: LMC_VIEW_TYPE,
  bundle: "lmc",
  styles: ["common.css", "analysisPanels.css"],
  html: lmcHtml,
  store: { key: "learningMechanics.lmcPanels", entry: (title) => title },
  isState: isLmcState,
  isWebviewMessage: isLmcWebviewMessage,
  analyses: false,
  refreshMs: 300,
  // One folder per panel: a run, or an instability folder.
  shown: (dirs) => dirs.slice(0, 1).map((d) => path.resolve(d)),
  content: (_env: PanelEnv, dirs) => new LmcContent(dirs[0] ?? ""),
  follows: lmcFollows,
};
