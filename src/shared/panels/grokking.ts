// The grokking panel's protocol (the convention is in ./common.ts): accuracy and loss of one or
// several runs with the grokking detector's report and the progress-measure indicators; live
// `update`s append. Steps are training steps (integers, increasing within one array).

import {
  isArrayOf,
  isCount,
  isNullableNumberArray,
  isNumber,
  isNumberArray,
  isObject,
  isOptNumber,
  isString,
  isStringArray,
} from "../guards";
import {
  commonWebviewGuard,
  isCommonHostMessage,
  isRunRef,
  type CommonHostMessage,
  type CommonWebviewMessage,
  type RunRef,
} from "./common";

/**
 * Logged curves of one run, columnar: index i of every array is the same metrics line. A value
 * not logged on that line (test metrics between evaluations) is `null`. Accuracies in [0, 1].
 */
export interface GrokCurves {
  step: number[];
  trainAcc: (number | null)[];
  testAcc: (number | null)[];
  trainLoss: (number | null)[];
  testLoss: (number | null)[];
  paramNorm: (number | null)[];
}

export type GrokVerdict = "grokked" | "memorized" | "generalized-without-delay" | "not-memorized";
const GROK_VERDICTS: readonly GrokVerdict[] = ["grokked", "memorized", "generalized-without-delay", "not-memorized"];

/** A training phase (e.g. memorization, circuit formation, cleanup) over [fromStep, toStep]. */
export interface GrokPhase {
  name: string;
  fromStep: number;
  toStep: number;
}

/** An early-warning indicator's verdict: the step where it fired and how long before t_gen. */
export interface GrokIndicatorHit {
  /** Matches an `IndicatorSeries.name` when the series is sent too. */
  name: string;
  step?: number;
  /** t_gen − step, in steps; positive = before generalization. */
  leadTime?: number;
}

/** The grokking detector's report on a run's curves (docs/analyses.md). */
export interface GrokReport {
  /** Memorization step: train accuracy ≥ threshold, held. */
  tMem?: number;
  /** Generalization step: test accuracy ≥ threshold, held. */
  tGen?: number;
  /** tGen − tMem. */
  delay?: number;
  /** tGen / tMem. */
  ratio?: number;
  /** Test accuracy at tMem. */
  testAccAtMem?: number;
  /** Whether test accuracy was at chance level at tMem. */
  atChance?: boolean;
  verdict: GrokVerdict;
  phases: GrokPhase[];
  indicators: GrokIndicatorHit[];
}

/**
 * One progress measure over steps (weight norm, kernel–target alignment, Fourier Gini, restricted
 * or excluded loss): `values[i]` at `steps[i]`, `null` where it could not be computed.
 */
export interface IndicatorSeries {
  name: string;
  steps: number[];
  values: (number | null)[];
}

export interface GrokRun extends RunRef {
  curves: GrokCurves;
  /** Lines of metrics.jsonl that could not be read; absent = none. */
  badLines?: number;
  /** `null` until the detector has run. */
  report: GrokReport | null;
  indicators: IndicatorSeries[];
}

/** The grokking panel's view settings (kept with setState, echoed to the host). */
export interface GrokkingState {
  logX: boolean;
  logLoss: boolean;
  /** The run whose phases are shaded; `null` = the first. */
  focusRun: string | null;
  hiddenRuns: string[];
}

export const DEFAULT_GROKKING_STATE: GrokkingState = { logX: false, logLoss: true, focusRun: null, hiddenRuns: [] };

/** Messages the extension host posts to the grokking webview. */
export type GrokkingHostMessage =
  | CommonHostMessage
  /** Replace everything shown; `state` restores view settings (else the webview keeps its own). */
  | { type: "init"; runs: GrokRun[]; state?: GrokkingState }
  /**
   * Live update of one run: `curves` are new metrics lines after those already sent (appended),
   * `indicators` new points per series name (appended; an unknown name starts a series), `report`
   * replaces the run's report (the detector reruns on the whole run), `badLines` its count of
   * unreadable metrics lines.
   */
  | {
      type: "update";
      runId: string;
      curves: GrokCurves;
      indicators: IndicatorSeries[];
      report: GrokReport | null;
      badLines?: number;
    };

/** Messages the grokking webview posts to the extension host: the common ones. */
export type GrokkingWebviewMessage = CommonWebviewMessage<GrokkingState>;

function isGrokCurves(x: unknown): x is GrokCurves {
  if (!isObject(x) || !isNumberArray(x["step"])) return false;
  const n = x["step"].length;
  return (["trainAcc", "testAcc", "trainLoss", "testLoss", "paramNorm"] as const).every((k) =>
    isNullableNumberArray(x[k], n),
  );
}

function isGrokPhase(x: unknown): x is GrokPhase {
  return isObject(x) && isString(x["name"]) && isNumber(x["fromStep"]) && isNumber(x["toStep"]);
}

function isGrokIndicatorHit(x: unknown): x is GrokIndicatorHit {
  return isObject(x) && isString(x["name"]) && isOptNumber(x["step"]) && isOptNumber(x["leadTime"]);
}

function isGrokReport(x: unknown): x is GrokReport {
  return (
    isObject(x) &&
    GROK_VERDICTS.includes(x["verdict"] as GrokVerdict) &&
    (["tMem", "tGen", "delay", "ratio", "testAccAtMem"] as const).every((k) => isOptNumber(x[k])) &&
    (x["atChance"] === undefined || typeof x["atChance"] === "boolean") &&
    isArrayOf(x["phases"], isGrokPhase) &&
    isArrayOf(x["indicators"], isGrokIndicatorHit)
  );
}

function isIndicatorSeries(x: unknown): x is IndicatorSeries {
  return (
    isObject(x) &&
    isString(x["name"]) &&
    isNumberArray(x["steps"]) &&
    isNullableNumberArray(x["values"], x["steps"].length)
  );
}

function isGrokRun(x: unknown): x is GrokRun {
  return (
    isObject(x) &&
    isRunRef(x) &&
    isGrokCurves(x["curves"]) &&
    (x["badLines"] === undefined || isCount(x["badLines"])) &&
    (x["report"] === null || isGrokReport(x["report"])) &&
    isArrayOf(x["indicators"], isIndicatorSeries)
  );
}

export function isGrokkingState(x: unknown): x is GrokkingState {
  return (
    isObject(x) &&
    typeof x["logX"] === "boolean" &&
    typeof x["logLoss"] === "boolean" &&
    (x["focusRun"] === null || isString(x["focusRun"])) &&
    isStringArray(x["hiddenRuns"])
  );
}

export function isGrokkingHostMessage(x: unknown): x is GrokkingHostMessage {
  if (isCommonHostMessage(x)) return true;
  if (!isObject(x)) return false;
  switch (x["type"]) {
    case "init":
      return isArrayOf(x["runs"], isGrokRun) && (x["state"] === undefined || isGrokkingState(x["state"]));
    case "update":
      return (
        isString(x["runId"]) &&
        isGrokCurves(x["curves"]) &&
        isArrayOf(x["indicators"], isIndicatorSeries) &&
        (x["report"] === null || isGrokReport(x["report"])) &&
        (x["badLines"] === undefined || isCount(x["badLines"]))
      );
    default:
      return false;
  }
}

export const isGrokkingWebviewMessage: (x: unknown) => x is GrokkingWebviewMessage =
  commonWebviewGuard(isGrokkingState);
