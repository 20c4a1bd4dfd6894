// What the grokking app's modules share: the runtime (view state, messages, theme) and the runs
// shown, whose columns grow with live updates.

import type { OwnMessage } from "../../shared/panels/common";
import {
  DEFAULT_GROKKING_STATE,
  isGrokkingHostMessage,
  isGrokkingState,
  type GrokCurves,
  type GrokkingHostMessage,
  type GrokkingState,
  type GrokReport,
  type IndicatorSeries,
} from "../../shared/panels/grokking";
import { PanelRuntime } from "../common/runtime";

export const rt = new PanelRuntime<GrokkingState, OwnMessage<GrokkingHostMessage>>({
  name: "grokking",
  defaultState: DEFAULT_GROKKING_STATE,
  isState: isGrokkingState,
  isHostMessage: isGrokkingHostMessage,
});

export const CURVES = ["trainAcc", "testAcc", "trainLoss", "testLoss"] as const;

/** A run as held here: columns grow with updates; indicators by name. */
export interface RunData {
  runId: string;
  label: string;
  colorIndex: number;
  curves: GrokCurves;
  report: GrokReport | null;
  indicators: Map<string, IndicatorSeries>;
  /** Lines of its metrics.jsonl that could not be read (its card says so). */
  badLines: number;
}

/** The runs shown, by run id, in the host's order. */
export const runs = new Map<string, RunData>();

export function visibleRuns(): RunData[] {
  return [...runs.values()].filter((r) => !rt.state.hiddenRuns.includes(r.runId));
}

/** The run whose phases are shaded. */
export function focusRun(): RunData | undefined {
  return (rt.state.focusRun !== null ? runs.get(rt.state.focusRun) : undefined) ?? visibleRuns()[0];
}
