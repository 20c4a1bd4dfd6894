// The intervention panels' protocol (the convention is in ./common.ts), one bundle for two views
// (docs/interventions.md, "Intervene and check"):
//   - a branch against its parent: their curves from the branch point on, the actual change of
//     the query loss (branch − parent) at each compared step beside TracIn's (and the BIF's)
//     prediction, and the verdict in words with the signs explained;
//   - a calibration (`lm calibrate`): the predicted against the actual change per random subset,
//     and the linear datamodeling score.

import {
  isArrayOf,
  isNullableNumber,
  isNullableNumberArray,
  isNumber,
  isNumberArray,
  isObject,
  isString,
  isStringArray,
} from "../guards";
import {
  type CommonHostMessage,
  type CommonWebviewMessage,
  commonWebviewGuard,
  isCommonHostMessage,
  isRunRef,
  type RunRef,
} from "./common";

/** The quantities overlaid, in the order shown. */
export const COMPARE_CURVES = ["query_loss", "train_loss", "test_loss", "train_acc", "test_acc"] as const;
export type CompareCurveKey = (typeof COMPARE_CURVES)[number];

/** One quantity of one run: values (null where not finite) at steps. */
export interface CompareSeries {
  steps: number[];
  values: (number | null)[];
}

/** One quantity of both runs, from the branch step on. */
export interface CompareCurve {
  key: CompareCurveKey;
  parent: CompareSeries;
  branch: CompareSeries;
}

/** A prediction of the change of the query loss (intervention.json's `tracin` or `bif`). */
export interface ComparePrediction {
  name: "TracIn" | "BIF";
  steps: number[];
  change: (number | null)[];
  /** How it was computed, from the file: text only. */
  method: string;
}

export interface BranchComparison {
  kind: "branch";
  parent: RunRef;
  branch: RunRef;
  branchStep: number;
  /** "removing 10 examples (3, 5, …) from step 100": what the branch changed, in words. */
  change: string;
  /** The query, from intervention.json ("64 test examples"); empty without one. */
  query: string;
  curves: CompareCurve[];
  /** branch − parent of the query loss at the compared steps; null without intervention.json. */
  actual: CompareSeries | null;
  predictions: ComparePrediction[];
  /** The verdict and the signs, in words. */
  sentences: string[];
}

/** One random subset of a calibration: the changes of the query loss at the end. */
export interface CalibrationPoint {
  index: number;
  /** The subset's branch folder, as the file names it: text only. */
  run: string;
  size: number;
  actual: number;
  tracin: number | null;
  bif: number | null;
}

export interface CalibrationView {
  kind: "calibration";
  run: RunRef;
  /** The file shown, relative to the run ("calibration/x.json"). */
  source: string;
  /** "20 subsets of 25 % removed at step 500 (the query: 64 test examples)". */
  summary: string;
  points: CalibrationPoint[];
  lds: { tracin: number | null; bif: number | null };
  /** The other calibration files of the run (newest shown), for the note. */
  others: string[];
}

export type CompareView = BranchComparison | CalibrationView;

export interface CompareState {
  /** The loss charts on a log scale. */
  logLoss: boolean;
}

export const DEFAULT_COMPARE_STATE: CompareState = { logLoss: false };

/** Messages the extension host posts to the compare webview. */
export type CompareHostMessage =
  | CommonHostMessage
  /** Everything shown, afresh; `view` null when there is nothing to show, `notes` say why or what is missing. */
  | { type: "init"; view: CompareView | null; notes: string[]; state?: CompareState };

export type CompareWebviewMessage = CommonWebviewMessage<CompareState>;

function isSeries(x: unknown): x is CompareSeries {
  return isObject(x) && isNumberArray(x["steps"]) && isNullableNumberArray(x["values"], x["steps"].length);
}

function isCurve(x: unknown): x is CompareCurve {
  return (
    isObject(x) &&
    (COMPARE_CURVES as readonly unknown[]).includes(x["key"]) &&
    isSeries(x["parent"]) &&
    isSeries(x["branch"])
  );
}

function isPrediction(x: unknown): x is ComparePrediction {
  return (
    isObject(x) &&
    (x["name"] === "TracIn" || x["name"] === "BIF") &&
    isNumberArray(x["steps"]) &&
    isNullableNumberArray(x["change"], x["steps"].length) &&
    isString(x["method"])
  );
}

function isRef(x: unknown): x is RunRef {
  return isObject(x) && isRunRef(x);
}

function isBranchComparison(x: Record<string, unknown>): boolean {
  return (
    isRef(x["parent"]) &&
    isRef(x["branch"]) &&
    isNumber(x["branchStep"]) &&
    isString(x["change"]) &&
    isString(x["query"]) &&
    isArrayOf(x["curves"], isCurve) &&
    (x["actual"] === null || isSeries(x["actual"])) &&
    isArrayOf(x["predictions"], isPrediction) &&
    isStringArray(x["sentences"])
  );
}

function isCalibrationPoint(x: unknown): x is CalibrationPoint {
  return (
    isObject(x) &&
    isNumber(x["index"]) &&
    isString(x["run"]) &&
    isNumber(x["size"]) &&
    isNumber(x["actual"]) &&
    isNullableNumber(x["tracin"]) &&
    isNullableNumber(x["bif"])
  );
}

function isCalibrationView(x: Record<string, unknown>): boolean {
  const lds = x["lds"];
  return (
    isRef(x["run"]) &&
    isString(x["source"]) &&
    isString(x["summary"]) &&
    isArrayOf(x["points"], isCalibrationPoint) &&
    isObject(lds) &&
    isNullableNumber(lds["tracin"]) &&
    isNullableNumber(lds["bif"]) &&
    isStringArray(x["others"])
  );
}

export function isCompareView(x: unknown): x is CompareView {
  if (!isObject(x)) return false;
  if (x["kind"] === "branch") return isBranchComparison(x);
  if (x["kind"] === "calibration") return isCalibrationView(x);
  return false;
}

export function isCompareState(x: unknown): x is CompareState {
  return isObject(x) && typeof x["logLoss"] === "boolean";
}

export function isCompareHostMessage(x: unknown): x is CompareHostMessage {
  if (isCommonHostMessage(x)) return true;
  if (!isObject(x) || x["type"] !== "init") return false;
  return (
    (x["view"] === null || isCompareView(x["view"])) &&
    isStringArray(x["notes"]) &&
    (x["state"] === undefined || isCompareState(x["state"]))
  );
}

export const isCompareWebviewMessage: (x: unknown) => x is CompareWebviewMessage = commonWebviewGuard(isCompareState);
