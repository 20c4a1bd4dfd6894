// The influence panel's protocol (the convention is in ./common.ts): a run's training examples ×
// checkpoints influence matrices (TracIn, BIF), the BIF's SGLD chains, and rerun requests.
//
// The matrix may be a Float32Array/Float64Array: typed arrays survive the structured clone of
// `webview.postMessage` and are 10× cheaper than arrays of numbers for 10,000 × 500 values.
// Missing numbers are `null` in plain arrays, NaN in typed ones.

import { isArrayOf, isNullableNumberArray, isNumber, isNumberArray, isObject, isOptNumber, isString } from "../guards";
import {
  commonWebviewGuard,
  isAnalysisOverrides,
  isCommonHostMessage,
  isRerunAnalysisMessage,
  isRunRef,
  type AnalysisOverrides,
  type CommonHostMessage,
  type CommonWebviewMessage,
  type RerunAnalysisMessage,
  type RunRef,
} from "./common";

export type InfluenceMethod = "tracin" | "bif";

/** A training example as the side view shows it; `text` is the host's description of it. */
export interface InfluenceExample {
  /** Index in the training split. */
  index: number;
  label: string;
  text: string;
  /** Its index in the task, as the run's data.json names it (a pair, a row of the data file); absent for older runs. */
  dataIndex?: number;
}

/** "example 17" — and "example 17 (data.json #1234)" when the run records its data — for row titles. */
export function exampleName(ex: InfluenceExample): string {
  return `example ${ex.index}${ex.dataIndex === undefined ? "" : ` (data.json #${ex.dataIndex})`}`;
}

/**
 * Influence of n training examples (rows, in `InfluenceRun.examples` order) at T checkpoints
 * (columns), row-major: value(i, j) = values[i·T + j]. TracIn: η_j ∇ℓ(z_i)·∇ℓ(query) at
 * checkpoint j; BIF: −Cov(ℓ_i, φ) around checkpoint j. Missing = NaN (typed) or null (plain).
 */
export interface InfluenceMatrix {
  method: InfluenceMethod;
  /** Checkpoint steps, length T. */
  steps: number[];
  values: Float32Array | Float64Array | (number | null)[];
  /** What the influence is on, e.g. "mean test loss of 64 test examples". */
  query: string;
}

/** SGLD chains of the BIF at one checkpoint: `loss[c][k]` = loss at draw k of chain c. */
export interface BifChains {
  step: number;
  loss: number[][];
  /** Gelman–Rubin R̂ across chains, when computed. */
  rHat?: number;
  /** Set by the host when the chains do not mix (e.g. R̂ > 1.1, a trending chain). */
  warning?: string;
}

export interface InfluenceRun extends RunRef {
  examples: InfluenceExample[];
  /** One matrix per method computed (at most one each). */
  matrices: InfluenceMatrix[];
  bifChains: BifChains[];
  /** The settings the analyses ran with; prefill the rerun form. */
  settings: AnalysisOverrides;
  /** Why the run has no influence analyses and cannot get them by analysing (e.g. a PyTorch run). */
  unavailable?: string;
  /** The newest calibration in one line ("TracIn LDS 0.92 (20 subsets of 25 % at step 500)"), or a note why it could not be read. */
  calibration?: string;
}

export type InfluenceSort = "index" | "total" | "absTotal" | "signFlip";

export interface InfluenceState {
  method: InfluenceMethod;
  sort: InfluenceSort;
  groupByLabel: boolean;
  /** Row height in CSS pixels; 0 = fit every row in view (rows sharing a pixel show their extreme). */
  rowPx: number;
  /** The clicked cell, by example index and checkpoint step. */
  selected: { example: number; step: number } | null;
}

export const DEFAULT_INFLUENCE_STATE: InfluenceState = {
  method: "tracin",
  sort: "index",
  groupByLabel: false,
  rowPx: 0,
  selected: null,
};

/** Messages the extension host posts to the influence webview. */
export type InfluenceHostMessage =
  | CommonHostMessage
  /** Replace everything shown by this run's influence analyses. */
  | { type: "init"; run: InfluenceRun; state?: InfluenceState };

/**
 * More examples than this in one "Remove and retrain…" request is refused (by the host; the page
 * says so before posting): the CLI line and the branch stay readable.
 */
export const MAX_INTERVENE_EXAMPLES = 1000;

/**
 * "Remove and retrain…": branch the run at a checkpoint ≤ `step` (the host asks which) without
 * these examples (rows of the training split). The host checks both against what it sent.
 */
export interface InterveneMessage {
  type: "intervene";
  runId: string;
  examples: number[];
  step: number;
  /**
   * The examples are TracIn's top `count` proponents or opponents at `step`: the host may then
   * offer the top k summed over an interval instead (the CLI's --top-… --over A:B).
   */
  top?: { which: "proponents" | "opponents"; count: number };
}

/** "Calibrate…": run `lm calibrate` on the run the panel shows (the host asks the step, fraction and count). */
export interface CalibrateMessage {
  type: "calibrate";
  runId: string;
}

/** Messages the influence webview posts to the extension host: the common ones, rerun, intervene and calibrate requests. */
export type InfluenceWebviewMessage =
  | CommonWebviewMessage<InfluenceState>
  | RerunAnalysisMessage
  | InterveneMessage
  | CalibrateMessage;

function isTop(x: unknown): boolean {
  return (
    isObject(x) &&
    (x["which"] === "proponents" || x["which"] === "opponents") &&
    isNumber(x["count"]) &&
    Number.isInteger(x["count"]) &&
    x["count"] >= 1
  );
}

export function isCalibrateMessage(x: unknown): x is CalibrateMessage {
  return isObject(x) && x["type"] === "calibrate" && isString(x["runId"]);
}

export function isInterveneMessage(x: unknown): x is InterveneMessage {
  return (
    isObject(x) &&
    x["type"] === "intervene" &&
    isString(x["runId"]) &&
    isNumberArray(x["examples"]) &&
    x["examples"].every((e) => Number.isInteger(e) && e >= 0) &&
    isNumber(x["step"]) &&
    Number.isInteger(x["step"]) &&
    (x["top"] === undefined || isTop(x["top"]))
  );
}

function isInfluenceMatrix(x: unknown, n: number): x is InfluenceMatrix {
  if (
    !isObject(x) ||
    (x["method"] !== "tracin" && x["method"] !== "bif") ||
    !isNumberArray(x["steps"]) ||
    !isString(x["query"])
  )
    return false;
  const size = n * x["steps"].length;
  const v = x["values"];
  if (v instanceof Float32Array || v instanceof Float64Array) return v.length === size;
  return isNullableNumberArray(v, size);
}

function isBifChains(x: unknown): x is BifChains {
  return (
    isObject(x) &&
    isNumber(x["step"]) &&
    Array.isArray(x["loss"]) &&
    x["loss"].every(isNumberArray) &&
    isOptNumber(x["rHat"]) &&
    (x["warning"] === undefined || isString(x["warning"]))
  );
}

function isInfluenceRun(x: unknown): x is InfluenceRun {
  if (!isObject(x) || !isRunRef(x)) return false;
  const ex = x["examples"];
  if (
    !Array.isArray(ex) ||
    !ex.every(
      (e) =>
        isObject(e) &&
        isNumber(e["index"]) &&
        isString(e["label"]) &&
        isString(e["text"]) &&
        (e["dataIndex"] === undefined || isNumber(e["dataIndex"])),
    )
  )
    return false;
  const n = ex.length;
  const ms = x["matrices"];
  return (
    Array.isArray(ms) &&
    ms.every((m) => isInfluenceMatrix(m, n)) &&
    new Set(ms.map((m) => (m as InfluenceMatrix).method)).size === ms.length &&
    isArrayOf(x["bifChains"], isBifChains) &&
    isAnalysisOverrides(x["settings"]) &&
    (x["unavailable"] === undefined || isString(x["unavailable"])) &&
    (x["calibration"] === undefined || isString(x["calibration"]))
  );
}

export function isInfluenceState(x: unknown): x is InfluenceState {
  if (!isObject(x)) return false;
  const sel = x["selected"];
  return (
    (x["method"] === "tracin" || x["method"] === "bif") &&
    ["index", "total", "absTotal", "signFlip"].includes(x["sort"] as string) &&
    typeof x["groupByLabel"] === "boolean" &&
    isNumber(x["rowPx"]) &&
    x["rowPx"] >= 0 &&
    (sel === null || (isObject(sel) && isNumber(sel["example"]) && isNumber(sel["step"])))
  );
}

export function isInfluenceHostMessage(x: unknown): x is InfluenceHostMessage {
  if (isCommonHostMessage(x)) return true;
  return (
    isObject(x) &&
    x["type"] === "init" &&
    isInfluenceRun(x["run"]) &&
    (x["state"] === undefined || isInfluenceState(x["state"]))
  );
}

const isCommonInfluenceMessage = commonWebviewGuard(isInfluenceState);

export function isInfluenceWebviewMessage(x: unknown): x is InfluenceWebviewMessage {
  return isCommonInfluenceMessage(x) || isRerunAnalysisMessage(x) || isInterveneMessage(x) || isCalibrateMessage(x);
}
