// Every panel kind, as the command table and activation use them: open one, register its serializer.
import type * as vscode from "vscode";
import type { Ctx } from "../context";
import { CONSERVATION } from "./conservationPanel";
import { GROKKING } from "./grokkingPanel";
import { ICL } from "./iclPanel";
import { INFLUENCE } from "./influencePanel";
import { LAZY_RICH } from "./lazyRichPanel";
import { LMC } from "./lmcPanel";
import { LOSS_CURVES } from "./lossCurvesPanel";
import { openPanel, registerSerializer, type PanelKind } from "./panelHost";
import { CALIBRATION, COMPARE } from "./comparePanel";
import { SHARPNESS } from "./sharpnessPanel";
import { SWEEP } from "./sweepPanel";

export { disposePanels, notifyPanels } from "./panelHost";

/** A panel kind with its state and message types closed over, so kinds fit in one table. */
export interface Panel {
  open(ctx: Ctx, runDirs: readonly string[], options?: { preserveFocus?: boolean }): void;
  registerSerializer(ctx: Ctx): vscode.Disposable;
}

function panel<S, H>(kind: PanelKind<S, H>): Panel {
  return {
    open: (ctx, runDirs, options) => openPanel(ctx, kind, runDirs, options),
    registerSerializer: (ctx) => registerSerializer(ctx, kind),
  };
}

export const PANELS = {
  lossCurves: panel(LOSS_CURVES),
  grokking: panel(GROKKING),
  lazyRich: panel(LAZY_RICH),
  influence: panel(INFLUENCE),
  sharpness: panel(SHARPNESS),
  conservation: panel(CONSERVATION),
  icl: panel(ICL),
  sweep: panel(SWEEP),
  lmc: panel(LMC),
  compare: panel(COMPARE),
  calibration: panel(CALIBRATION),
} as const;

/** The analysis panels, by the name their commands use. */
export type AnalysisPanelKind = "grokking" | "lazyRich" | "influence" | "sharpness" | "conservation" | "icl";
