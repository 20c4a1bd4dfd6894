// The lazy-vs-rich panel's protocol (the convention is in ./common.ts): per-layer measures over a
// run's checkpoints with the regime verdict, and α sweeps across runs.

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
  commonWebviewGuard,
  isCommonHostMessage,
  isRunRef,
  type CommonHostMessage,
  type CommonWebviewMessage,
  type RunRef,
} from "./common";

/** The lazy-vs-rich measures (docs/analyses.md). */
export type LazyRichMetric = "relativeWeightChange" | "paramNorm" | "kernelDistance" | "kernelAlignment" | "cka";
export const LAZY_RICH_METRICS: readonly LazyRichMetric[] = [
  "relativeWeightChange",
  "paramNorm",
  "kernelDistance",
  "kernelAlignment",
  "cka",
];

/** A per-layer measure over the run's checkpoints: `values[i]` at `LazyRichRun.steps[i]`. */
export interface LayerSeries {
  layer: string;
  values: (number | null)[];
}

export type RegimeBadge = "lazy" | "transitioning" | "rich";

export interface LazyRichRun extends RunRef {
  /** Checkpoint steps; every series below has this length. */
  steps: number[];
  /** Per layer ‖W_l(t) − W_l(0)‖_F / ‖W_l(0)‖_F. */
  relativeWeightChange?: LayerSeries[];
  /** Per layer ‖W_l(t)‖_F. */
  paramNorm?: LayerSeries[];
  /** Fort et al. 2020: 1 − ⟨K_t, K_0⟩_F / (‖K_t‖_F ‖K_0‖_F) on the probe set. */
  kernelDistance?: (number | null)[];
  /** Centred kernel–target alignment (Baratin et al. 2021). */
  kernelAlignment?: (number | null)[];
  /** Linear CKA between layer representations at 0 and t (Kornblith et al. 2019). */
  cka?: LayerSeries[];
  /** Why a measure is absent (e.g. "run written by PyTorch: no model to evaluate a kernel with"). */
  missing: { metric: LazyRichMetric; reason: string }[];
  regime: { badge: RegimeBadge; reason: string } | null;
}

/** Runs of one system differing only in the output scale α (Chizat et al. 2019). */
export interface AlphaSweep {
  system: string;
  points: {
    runId: string;
    alpha: number;
    /** Final relative weight change of all parameters together: ‖w(T) − w(0)‖ / ‖w(0)‖. */
    relativeWeightChange: number | null;
    /** Final kernel distance from initialization. */
    kernelDistance: number | null;
  }[];
}

export interface LazyRichState {
  view: "run" | "sweep";
  /** The run shown in the run view; `null` = the first. */
  runId: string | null;
  logY: boolean;
  /** Which sweep (by system) the sweep view shows; `null` = the first. */
  sweep: string | null;
}

export const DEFAULT_LAZY_RICH_STATE: LazyRichState = { view: "run", runId: null, logY: false, sweep: null };

/** Messages the extension host posts to the lazy-vs-rich webview. */
export type LazyRichHostMessage =
  | CommonHostMessage
  /** Replace everything shown; `state` restores view settings. */
  | { type: "init"; runs: LazyRichRun[]; sweeps: AlphaSweep[]; state?: LazyRichState }
  /** Replace one run (a new checkpoint was analysed); a new runId is added. */
  | { type: "run"; run: LazyRichRun; sweeps?: AlphaSweep[] };

/** Messages the lazy-vs-rich webview posts to the extension host: the common ones. */
export type LazyRichWebviewMessage = CommonWebviewMessage<LazyRichState>;

function isLayerSeriesList(x: unknown, n: number): x is LayerSeries[] {
  return (
    Array.isArray(x) && x.every((l) => isObject(l) && isString(l["layer"]) && isNullableNumberArray(l["values"], n))
  );
}

function isLazyRichRun(x: unknown): x is LazyRichRun {
  if (!isObject(x) || !isRunRef(x) || !isNumberArray(x["steps"])) return false;
  const n = x["steps"].length;
  const regime = x["regime"];
  return (
    (x["relativeWeightChange"] === undefined || isLayerSeriesList(x["relativeWeightChange"], n)) &&
    (x["paramNorm"] === undefined || isLayerSeriesList(x["paramNorm"], n)) &&
    (x["cka"] === undefined || isLayerSeriesList(x["cka"], n)) &&
    (x["kernelDistance"] === undefined || isNullableNumberArray(x["kernelDistance"], n)) &&
    (x["kernelAlignment"] === undefined || isNullableNumberArray(x["kernelAlignment"], n)) &&
    Array.isArray(x["missing"]) &&
    x["missing"].every(
      (m) => isObject(m) && LAZY_RICH_METRICS.includes(m["metric"] as LazyRichMetric) && isString(m["reason"]),
    ) &&
    (regime === null ||
      (isObject(regime) &&
        ["lazy", "transitioning", "rich"].includes(regime["badge"] as string) &&
        isString(regime["reason"])))
  );
}

function isAlphaSweep(x: unknown): x is AlphaSweep {
  return (
    isObject(x) &&
    isString(x["system"]) &&
    Array.isArray(x["points"]) &&
    x["points"].every(
      (p) =>
        isObject(p) &&
        isString(p["runId"]) &&
        isNumber(p["alpha"]) &&
        isNullableNumber(p["relativeWeightChange"]) &&
        isNullableNumber(p["kernelDistance"]),
    )
  );
}

export function isLazyRichState(x: unknown): x is LazyRichState {
  return (
    isObject(x) &&
    (x["view"] === "run" || x["view"] === "sweep") &&
    (x["runId"] === null || isString(x["runId"])) &&
    typeof x["logY"] === "boolean" &&
    (x["sweep"] === null || isString(x["sweep"]))
  );
}

export function isLazyRichHostMessage(x: unknown): x is LazyRichHostMessage {
  if (isCommonHostMessage(x)) return true;
  if (!isObject(x)) return false;
  switch (x["type"]) {
    case "init":
      return (
        isArrayOf(x["runs"], isLazyRichRun) &&
        isArrayOf(x["sweeps"], isAlphaSweep) &&
        (x["state"] === undefined || isLazyRichState(x["state"]))
      );
    case "run":
      return isLazyRichRun(x["run"]) && (x["sweeps"] === undefined || isArrayOf(x["sweeps"], isAlphaSweep));
    default:
      return false;
  }
}

export const isLazyRichWebviewMessage: (x: unknown) => x is LazyRichWebviewMessage =
  commonWebviewGuard(isLazyRichState);
