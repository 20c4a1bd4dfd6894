// What the loss-curves app's modules share: the runtime (view state, messages, theme) and the
// runs shown. The chart, legend, pointer and toolbar modules read and change these.

import type { OwnMessage } from "../../shared/panels/common";
import { DEFAULT_LOSS_CURVES_STATE, isLossCurvesHostMessage, isLossCurvesState, type LossCurvesHostMessage, type LossCurvesState } from "../../shared/panels/lossCurves";
import { PanelRuntime } from "../common/runtime";
import type { RunData } from "./series";

export const rt = new PanelRuntime<LossCurvesState, OwnMessage<LossCurvesHostMessage>>({
  name: "lossCurves",
  defaultState: DEFAULT_LOSS_CURVES_STATE,
  isState: isLossCurvesState,
  isHostMessage: isLossCurvesHostMessage,
});

/** The runs shown, by run id, in the host's order. */
export const runs = new Map<string, RunData>();

/** The pointer's x on the chart while it hovers the plot area (drives the crosshair and tooltip). */
export const pointer: { hover: { px: number } | null } = { hover: null };

export const LOSS_METRICS = ["train_loss", "test_loss"] as const;
export const ACC_METRICS = ["train_acc", "test_acc"] as const;
