// The conservation-laws panel's protocol (the convention is in ./common.ts): per run, each
// symmetry's relative drift over checkpoints with the drift its law predicts (Kunin et al. 2021;
// docs/analyses.md, "Conservation laws").

import {
  isArrayOf,
  isNullableNumberArray,
  isNumber,
  isNumberArray,
  isObject,
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
  type RunsHostMessage,
} from "./common";

export const SYMMETRY_KINDS = ["rescale", "translation", "scale"] as const;
export type SymmetryKindName = (typeof SYMMETRY_KINDS)[number];
export const PREDICTION_QUALITIES = ["exact", "leading order", "decay only", "none"] as const;

/** One symmetry over the run's checkpoints: `drift[i]` and `predicted[i]` at `ConservationRun.steps[i]`. */
export interface SymmetrySeries {
  kind: SymmetryKindName;
  layer: string;
  /** Number of conserved quantities. */
  count: number;
  /** ‖Q(t) − Q(0)‖ / ‖Q(0)‖. */
  drift: (number | null)[];
  /** What the law predicts for `drift` (null: no prediction). */
  predicted: (number | null)[];
  quality: (typeof PREDICTION_QUALITIES)[number];
}

export interface ConservationRun extends RunRef {
  /** Checkpoint steps; every series has this length. */
  steps: number[];
  symmetries: SymmetrySeries[];
  /** The prediction used, in words (from the last record). */
  law: string;
  /** What was not detected or predicted, and why; or why there is nothing at all. */
  notes: string[];
}

/** The largest relative drift of a symmetry over the run (null when none was measured): the table's column. */
export function maxDrift(s: Pick<SymmetrySeries, "drift">): number | null {
  let m: number | null = null;
  for (const d of s.drift) if (d !== null && Number.isFinite(d)) m = m === null ? d : Math.max(m, d);
  return m;
}

export interface ConservationState {
  /** The run shown; `null` = the first. */
  runId: string | null;
  logY: boolean;
}

export const DEFAULT_CONSERVATION_STATE: ConservationState = { runId: null, logY: false };

/** Messages the extension host posts to the conservation webview. */
export type ConservationHostMessage = CommonHostMessage | RunsHostMessage<ConservationRun, ConservationState>;

/** Messages the conservation webview posts to the extension host: the common ones. */
export type ConservationWebviewMessage = CommonWebviewMessage<ConservationState>;

function isSymmetrySeries(x: unknown, n: number): x is SymmetrySeries {
  return (
    isObject(x) &&
    (SYMMETRY_KINDS as readonly unknown[]).includes(x["kind"]) &&
    isString(x["layer"]) &&
    isNumber(x["count"]) &&
    isNullableNumberArray(x["drift"], n) &&
    isNullableNumberArray(x["predicted"], n) &&
    (PREDICTION_QUALITIES as readonly unknown[]).includes(x["quality"])
  );
}

function isConservationRun(x: unknown): x is ConservationRun {
  if (!isObject(x) || !isRunRef(x) || !isNumberArray(x["steps"])) return false;
  const n = x["steps"].length;
  return (
    Array.isArray(x["symmetries"]) &&
    x["symmetries"].every((s) => isSymmetrySeries(s, n)) &&
    isString(x["law"]) &&
    isStringArray(x["notes"])
  );
}

export function isConservationState(x: unknown): x is ConservationState {
  return isObject(x) && (x["runId"] === null || isString(x["runId"])) && typeof x["logY"] === "boolean";
}

export function isConservationHostMessage(x: unknown): x is ConservationHostMessage {
  if (isCommonHostMessage(x)) return true;
  if (!isObject(x)) return false;
  switch (x["type"]) {
    case "init":
      return isArrayOf(x["runs"], isConservationRun) && (x["state"] === undefined || isConservationState(x["state"]));
    case "run":
      return isConservationRun(x["run"]);
    default:
      return false;
  }
}

export const isConservationWebviewMessage: (x: unknown) => x is ConservationWebviewMessage =
  commonWebviewGuard(isConservationState);
