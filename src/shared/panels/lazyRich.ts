// The lazy-vs-rich panel's protocol (the convention is in ./common.ts): per-layer measures over a
// run's checkpoints with the regime verdict, and links to the α sweeps the runs belong to (shown
// by the sweep panel: ./sweep.ts, docs/sweeps.md).

import { isArrayOf, isNullableNumberArray, isNumberArray, isObject, isString } from "../guards";
import {
  commonWebviewGuard,
  isCommonHostMessage,
  isRunRef,
  type CommonHostMessage,
  type CommonWebviewMessage,
  type OpenSweepMessage,
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

/**
 * An α sweep (Chizat et al. 2019) the shown runs belong to, which the sweep panel shows: a
 * declared sweep over `model.alpha` (its sweep.json), or an implicit one (runs of one system that
 * differ only in α, grouped by src/shared/implicitSweep.ts).
 */
export interface AlphaSweepLink {
  /** What the page posts back in `openSweep` (the host resolves it to folders). */
  id: string;
  /** The system's name, or the sweep folder's name for a declared sweep. */
  name: string;
  kind: "declared" | "implicit";
  /** Runs (points) in the sweep. */
  runs: number;
  /** Its distinct α, ascending. */
  alphas: number[];
}

export interface LazyRichState {
  /** The run shown; `null` = the first. */
  runId: string | null;
  logY: boolean;
}

export const DEFAULT_LAZY_RICH_STATE: LazyRichState = { runId: null, logY: false };

/** Messages the extension host posts to the lazy-vs-rich webview. */
export type LazyRichHostMessage =
  | CommonHostMessage
  /** Replace everything shown; `state` restores view settings. */
  | { type: "init"; runs: LazyRichRun[]; sweeps: AlphaSweepLink[]; state?: LazyRichState }
  /** Replace one run (a new checkpoint was analysed); a new runId is added. */
  | { type: "run"; run: LazyRichRun; sweeps?: AlphaSweepLink[] };

/** Messages the lazy-vs-rich webview posts to the extension host: the common ones, and opening an α sweep. */
export type LazyRichWebviewMessage = CommonWebviewMessage<LazyRichState> | OpenSweepMessage;

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

function isAlphaSweepLink(x: unknown): x is AlphaSweepLink {
  return (
    isObject(x) &&
    isString(x["id"]) &&
    isString(x["name"]) &&
    (x["kind"] === "declared" || x["kind"] === "implicit") &&
    Number.isInteger(x["runs"]) &&
    isNumberArray(x["alphas"])
  );
}

export function isLazyRichState(x: unknown): x is LazyRichState {
  return isObject(x) && (x["runId"] === null || isString(x["runId"])) && typeof x["logY"] === "boolean";
}

export function isLazyRichHostMessage(x: unknown): x is LazyRichHostMessage {
  if (isCommonHostMessage(x)) return true;
  if (!isObject(x)) return false;
  switch (x["type"]) {
    case "init":
      return (
        isArrayOf(x["runs"], isLazyRichRun) &&
        isArrayOf(x["sweeps"], isAlphaSweepLink) &&
        (x["state"] === undefined || isLazyRichState(x["state"]))
      );
    case "run":
      return isLazyRichRun(x["run"]) && (x["sweeps"] === undefined || isArrayOf(x["sweeps"], isAlphaSweepLink));
    default:
      return false;
  }
}

const isCommonLazyRichMessage = commonWebviewGuard(isLazyRichState);

export function isLazyRichWebviewMessage(x: unknown): x is LazyRichWebviewMessage {
  if (isObject(x) && x["type"] === "openSweep") return isString(x["id"]);
  return isCommonLazyRichMessage(x);
}
