// The in-context learning panel's protocol (the convention is in ./common.ts): per run, the test
// loss at each context position at each analysed checkpoint, beside the least-squares and ridge
// baselines (Garg et al. 2022; docs/analyses.md, "In-context learning").

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

export interface IclRun extends RunRef {
  /** Context positions per sequence (points). */
  points: number;
  /** Analysed checkpoint steps; `loss[i]` is at `steps[i]`. */
  steps: number[];
  /** Per checkpoint, the test loss at positions 1 … points (null: not finite). */
  loss: (number | null)[][];
  /** Baselines at positions 1 … points (null when the header has none). */
  leastSquares: number[] | null;
  ridge: number[] | null;
  ridgeLambda: number | null;
  /** σ², the floor. */
  noiseVariance: number | null;
  /** Why there is nothing (not analysed, not an in-context system, an unreadable file). */
  notes: string[];
}

export interface IclState {
  /** The run shown; `null` = the first. */
  runId: string | null;
  logY: boolean;
}

/** Log y by default: least squares peaks at the interpolation threshold (k − 1 = dim) by orders of magnitude. */
export const DEFAULT_ICL_STATE: IclState = { runId: null, logY: true };

/** Messages the extension host posts to the in-context webview. */
export type IclHostMessage = CommonHostMessage | RunsHostMessage<IclRun, IclState>;

/** Messages the in-context webview posts to the extension host: the common ones. */
export type IclWebviewMessage = CommonWebviewMessage<IclState>;

const isNullableNumber = (x: unknown): x is number | null => x === null || isNumber(x);

function isIclRun(x: unknown): x is IclRun {
  if (!isObject(x) || !isRunRef(x) || !isNumber(x["points"]) || !isNumberArray(x["steps"])) return false;
  const points = x["points"];
  const n = x["steps"].length;
  const baseline = (b: unknown) => b === null || (isNumberArray(b) && b.length === points);
  return (
    Array.isArray(x["loss"]) &&
    x["loss"].length === n &&
    x["loss"].every((l) => isNullableNumberArray(l, points)) &&
    baseline(x["leastSquares"]) &&
    baseline(x["ridge"]) &&
    isNullableNumber(x["ridgeLambda"]) &&
    isNullableNumber(x["noiseVariance"]) &&
    isStringArray(x["notes"])
  );
}

export function isIclState(x: unknown): x is IclState {
  return isObject(x) && (x["runId"] === null || isString(x["runId"])) && typeof x["logY"] === "boolean";
}

export function isIclHostMessage(x: unknown): x is IclHostMessage {
  if (isCommonHostMessage(x)) return true;
  if (!isObject(x)) return false;
  switch (x["type"]) {
    case "init":
      return isArrayOf(x["runs"], isIclRun) && (x["state"] === undefined || isIclState(x["state"]));
    case "run":
      return isIclRun(x["run"]);
    default:
      return false;
  }
}

export const isIclWebviewMessage: (x: unknown) => x is IclWebviewMessage = commonWebviewGuard(isIclState);

/**
 * Up to `count` checkpoints spread from the first to the last (indices into `steps`, ascending):
 * the curves the position chart draws, early → late.
 */
export function selectedCheckpoints(n: number, count = 6): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  const out = new Set<number>();
  for (let j = 0; j < count; j++) out.add(Math.round((j * (n - 1)) / (count - 1)));
  return [...out].sort((a, b) => a - b);
}

/** The positions the step chart follows: the first, the middle and the last (1-based, distinct). */
export function followedPositions(points: number): number[] {
  return [...new Set([1, Math.ceil(points / 2), points])];
}
