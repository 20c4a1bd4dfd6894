// The Sharpness panel's protocol (the convention is in ./common.ts): per run, the sharpness
// analysis against its stability threshold with the phases of src/measures/sharpness.ts, the
// logged training loss on the same steps, and the local learning coefficient with its stage
// boundaries (docs/analyses.md, "Sharpness and the edge of stability", "Local learning coefficient").
import {
  isArrayOf,
  isNullableNumber,
  isNullableNumberArray,
  isNumber,
  isNumberArray,
  isObject,
  isString,
} from "../guards";
import {
  type CommonHostMessage,
  type CommonWebviewMessage,
  commonWebviewGuard,
  isCommonHostMessage,
  isRunRef,
  type RunRef,
  type RunsHostMessage,
} from "./common";

/** `values[i]` at `steps[i]`. */
export interface StepSeries {
  steps: number[];
  values: (number | null)[];
}

export interface StepInterval {
  start: number;
  end: number;
}

export interface CatapultView {
  spikeStep: number;
  peakStep: number;
  peakLoss: number;
  lossBefore: number;
  sharpnessBefore: number;
  sharpnessAfter: number;
  dropStep: number;
}

export interface SharpnessView {
  /** Checkpoint steps of the sharpness analysis; every series below has this length. */
  steps: number[];
  /** Top Hessian eigenvalue, and the second. */
  top: (number | null)[];
  second: (number | null)[];
  /** λ_max(P⁻¹H) for Adam runs (all null otherwise). */
  preconditioned: (number | null)[];
  threshold: (number | null)[];
  /** Which curve the threshold applies to (and the phases are computed on). */
  thresholdOf: "sharpness" | "preconditioned";
  /** Estimated absolute error of the curve the threshold applies to. */
  error: (number | null)[];
  /** The phase rule's parameters, for the legend: edge once ≥ fraction·threshold for `hold` checkpoints. */
  rule: { fraction: number; hold: number };
  sharpening: StepInterval[];
  edge: StepInterval[];
  catapults: CatapultView[];
  /** Sharpness / threshold at the last checkpoint. */
  lastRatio: number | null;
}

export interface LlcView {
  steps: number[];
  values: (number | null)[];
  stdErr: (number | null)[];
  /** Midpoints of the intervals where λ̂ changes fastest (src/measures/sharpness.ts, fastestChanges). */
  boundaries: number[];
  /** Checkpoints whose chains warned (R̂, ESS, divergence), with the warning. */
  warnings: { step: number; warning: string }[];
}

export interface SharpnessRun extends RunRef {
  sharpness: SharpnessView | null;
  /** Logged training loss (metrics `train_loss`). */
  loss: StepSeries;
  llc: LlcView | null;
  /** Why an analysis is absent. */
  missing: { analysis: "sharpness" | "llc"; reason: string }[];
}

export interface SharpnessState {
  /** The run shown; `null` = the first. */
  runId: string | null;
  logLoss: boolean;
}

export const DEFAULT_SHARPNESS_STATE: SharpnessState = { runId: null, logLoss: true };

/** Messages the extension host posts to the Sharpness webview. */
export type SharpnessHostMessage = CommonHostMessage | RunsHostMessage<SharpnessRun, SharpnessState>;

/** Messages the Sharpness webview posts to the extension host: the common ones. */
export type SharpnessWebviewMessage = CommonWebviewMessage<SharpnessState>;

const isInterval = (x: unknown): x is StepInterval => isObject(x) && isNumber(x["start"]) && isNumber(x["end"]);
const CATAPULT_FIELDS = [
  "spikeStep",
  "peakStep",
  "peakLoss",
  "lossBefore",
  "sharpnessBefore",
  "sharpnessAfter",
  "dropStep",
];
const isCatapult = (x: unknown): x is CatapultView => isObject(x) && CATAPULT_FIELDS.every((k) => isNumber(x[k]));

function isSharpnessView(x: unknown): x is SharpnessView {
  if (!isObject(x) || !isNumberArray(x["steps"])) return false;
  const n = x["steps"].length;
  const rule = x["rule"];
  return (
    ["top", "second", "preconditioned", "threshold", "error"].every((k) => isNullableNumberArray(x[k], n)) &&
    (x["thresholdOf"] === "sharpness" || x["thresholdOf"] === "preconditioned") &&
    isObject(rule) &&
    isNumber(rule["fraction"]) &&
    isNumber(rule["hold"]) &&
    isArrayOf(x["sharpening"], isInterval) &&
    isArrayOf(x["edge"], isInterval) &&
    isArrayOf(x["catapults"], isCatapult) &&
    isNullableNumber(x["lastRatio"])
  );
}

function isLlcView(x: unknown): x is LlcView {
  if (!isObject(x) || !isNumberArray(x["steps"])) return false;
  const n = x["steps"].length;
  return (
    isNullableNumberArray(x["values"], n) &&
    isNullableNumberArray(x["stdErr"], n) &&
    isNumberArray(x["boundaries"]) &&
    isArrayOf(
      x["warnings"],
      (w): w is { step: number; warning: string } => isObject(w) && isNumber(w["step"]) && isString(w["warning"]),
    )
  );
}

function isSharpnessRun(x: unknown): x is SharpnessRun {
  if (!isObject(x) || !isRunRef(x)) return false;
  const loss = x["loss"];
  return (
    (x["sharpness"] === null || isSharpnessView(x["sharpness"])) &&
    (x["llc"] === null || isLlcView(x["llc"])) &&
    isObject(loss) &&
    isNumberArray(loss["steps"]) &&
    isNullableNumberArray(loss["values"], loss["steps"].length) &&
    isArrayOf(
      x["missing"],
      (m): m is SharpnessRun["missing"][number] =>
        isObject(m) && (m["analysis"] === "sharpness" || m["analysis"] === "llc") && isString(m["reason"]),
    )
  );
}

export function isSharpnessState(x: unknown): x is SharpnessState {
  return isObject(x) && (x["runId"] === null || isString(x["runId"])) && typeof x["logLoss"] === "boolean";
}

export function isSharpnessHostMessage(x: unknown): x is SharpnessHostMessage {
  if (isCommonHostMessage(x)) return true;
  if (!isObject(x)) return false;
  switch (x["type"]) {
    case "init":
      return isArrayOf(x["runs"], isSharpnessRun) && (x["state"] === undefined || isSharpnessState(x["state"]));
    case "run":
      return isSharpnessRun(x["run"]);
    default:
      return false;
  }
}

export const isSharpnessWebviewMessage: (x: unknown) => x is SharpnessWebviewMessage =
  commonWebviewGuard(isSharpnessState);
