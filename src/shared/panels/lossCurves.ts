// The loss-curves panel's protocol (the convention is in ./common.ts): every scalar of one or
// several runs (train/test loss and accuracy, or any key a logger wrote), sent whole on `init` and
// appended as metrics.jsonl grows.

import { isCount, isNumberArray, isObject, isString } from "../guards";
import { RUN_STATUSES, type RunStatus } from "../runFormat";
import { commonWebviewGuard, isCommonHostMessage, type CommonHostMessage, type CommonWebviewMessage } from "./common";

/**
 * Points of one run, columnar: `step[i]`, `time[i]` and `values[metric][i]` describe the same
 * metrics.jsonl line. A metric absent from a line, or non-finite (`null` in the file), is `null`.
 * Every array in `values` has the length of `step`; `time` is seconds since the run started.
 */
export interface SeriesPoints {
  step: number[];
  time: number[];
  values: Record<string, (number | null)[]>;
}

/** One run as the panel draws it. `colorIndex` picks the theme colour, so a run keeps its colour. */
export interface RunSeries {
  runId: string;
  label: string;
  colorIndex: number;
  status?: RunStatus;
  points: SeriesPoints;
  /** Lines of metrics.jsonl that could not be read (not JSON, or not a record); absent = none. */
  badLines?: number;
}

/**
 * What the x axis measures: the line's `step`, its wall `time`, or any metric key whose values
 * rise monotonically (`epoch`, `tokens`; see src/shared/metricKeys.ts).
 */
export type XAxisKind = string;

/** A metric drawn, and on which y axis. */
export interface PlotChoice {
  key: string;
  axis: "left" | "right";
}

/** The panel's view settings, kept with `vscode.setState` and echoed to the host. */
export interface LossCurvesState {
  xAxis: XAxisKind;
  logX: boolean;
  logY: boolean;
  /** Show the right axis and its metrics (train/test accuracy by default). */
  showAccuracy: boolean;
  /** Weight w of the debiased exponential moving average, in [0, 1); 0 = raw. */
  smoothing: number;
  /** Visible x range in data units of `xAxis`; `null` = everything (the view follows new points). */
  zoom: { xMin: number; xMax: number } | null;
  /** Runs the user switched off in the legend. */
  hiddenRuns: string[];
  /**
   * The metrics the user picked and their axes; absent = the default for the runs' keys (states
   * saved before the picker existed have none, and restore to what they showed).
   */
  plot?: PlotChoice[];
}

export const DEFAULT_LOSS_CURVES_STATE: LossCurvesState = {
  xAxis: "step",
  logX: false,
  logY: false,
  showAccuracy: false,
  smoothing: 0.6,
  zoom: null,
  hiddenRuns: [],
};

/** Messages the extension host posts to the loss-curves webview. */
export type LossCurvesHostMessage =
  | CommonHostMessage
  /** Replace everything shown by these runs; `state` restores view settings (else the webview keeps its own). */
  | { type: "init"; runs: RunSeries[]; state?: LossCurvesState }
  /**
   * New points of a run, after those already sent (append-only, like metrics.jsonl); `badLines`
   * is the run's count of unreadable lines so far, when it changed.
   */
  | { type: "append"; runId: string; points: SeriesPoints; badLines?: number }
  /** A run's status changed (running → finished, diverged, ...). */
  | { type: "runStatus"; runId: string; status: RunStatus };

/** Messages the loss-curves webview posts to the extension host: the common ones. */
export type LossCurvesWebviewMessage = CommonWebviewMessage<LossCurvesState>;

const isRunStatus = (x: unknown): x is RunStatus => RUN_STATUSES.includes(x as RunStatus);

export function isSeriesPoints(x: unknown): x is SeriesPoints {
  if (!isObject(x) || !isNumberArray(x["step"]) || !isNumberArray(x["time"]) || !isObject(x["values"])) return false;
  const n = x["step"].length;
  if (x["time"].length !== n) return false;
  for (const col of Object.values(x["values"])) {
    if (!Array.isArray(col) || col.length !== n) return false;
    for (let i = 0; i < n; i++) {
      const v: unknown = col[i];
      if (v !== null && typeof v !== "number") return false;
    }
  }
  return true;
}

function isRunSeries(x: unknown): x is RunSeries {
  return (
    isObject(x) &&
    isString(x["runId"]) &&
    isString(x["label"]) &&
    typeof x["colorIndex"] === "number" &&
    (x["status"] === undefined || isRunStatus(x["status"])) &&
    (x["badLines"] === undefined || isCount(x["badLines"])) &&
    isSeriesPoints(x["points"])
  );
}

const isPlotChoice = (x: unknown): x is PlotChoice =>
  isObject(x) && isString(x["key"]) && (x["axis"] === "left" || x["axis"] === "right");

export function isLossCurvesState(x: unknown): x is LossCurvesState {
  if (!isObject(x)) return false;
  const zoom = x["zoom"];
  const plot = x["plot"];
  return (
    isString(x["xAxis"]) &&
    x["xAxis"] !== "" &&
    (plot === undefined || (Array.isArray(plot) && plot.every(isPlotChoice))) &&
    typeof x["logX"] === "boolean" &&
    typeof x["logY"] === "boolean" &&
    typeof x["showAccuracy"] === "boolean" &&
    typeof x["smoothing"] === "number" &&
    x["smoothing"] >= 0 &&
    x["smoothing"] < 1 &&
    (zoom === null || (isObject(zoom) && typeof zoom["xMin"] === "number" && typeof zoom["xMax"] === "number")) &&
    Array.isArray(x["hiddenRuns"]) &&
    x["hiddenRuns"].every((r) => typeof r === "string")
  );
}

export function isLossCurvesHostMessage(x: unknown): x is LossCurvesHostMessage {
  if (isCommonHostMessage(x)) return true;
  if (!isObject(x)) return false;
  switch (x["type"]) {
    case "init":
      return (
        Array.isArray(x["runs"]) &&
        x["runs"].every(isRunSeries) &&
        (x["state"] === undefined || isLossCurvesState(x["state"]))
      );
    case "append":
      return (
        isString(x["runId"]) && isSeriesPoints(x["points"]) && (x["badLines"] === undefined || isCount(x["badLines"]))
      );
    case "runStatus":
      return isString(x["runId"]) && isRunStatus(x["status"]);
    default:
      return false;
  }
}

export const isLossCurvesWebviewMessage: (x: unknown) => x is LossCurvesWebviewMessage =
  commonWebviewGuard(isLossCurvesState);
