// What the loss-curves app's modules share: the runtime (view state, messages, theme) and the
// runs shown. The chart, legend, pointer and toolbar modules read and change these.

import { defaultChoices, xCandidates } from "../../shared/metricKeys";
import type { OwnMessage } from "../../shared/panels/common";
import {
  DEFAULT_LOSS_CURVES_STATE,
  isLossCurvesHostMessage,
  isLossCurvesState,
  type LossCurvesHostMessage,
  type LossCurvesState,
  type PlotChoice,
} from "../../shared/panels/lossCurves";
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

/** Every metric key of the runs shown (columns with values or not), in first-seen order. */
export function allKeys(): string[] {
  const keys = new Set<string>();
  for (const run of runs.values()) for (const k of run.rowValues.keys()) keys.add(k);
  return [...keys];
}

/** What can be x now: step, time, then the keys monotone in every run (src/shared/metricKeys.ts). */
export function xOptions(): string[] {
  return xCandidates([...runs.values()].map((r) => r.monotone));
}

/** The metrics drawn and their axes: the user's pick, else the default for these keys. */
export function choices(): PlotChoice[] {
  return rt.state.plot ?? defaultChoices(allKeys(), new Set(xOptions()));
}
