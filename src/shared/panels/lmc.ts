// The linear-mode-connectivity panel's protocol (the convention is in ./common.ts): the
// interpolation curves of a run's lmc/ files (`lm lmc`) and of its instability analysis
// (`lm instability`), each with its chord, and the barrier against k (docs/branching.md).

import {
  isArrayOf,
  isNullableNumberArray,
  isNumber,
  isNumberArray,
  isObject,
  isString,
  isStringArray,
} from "../guards";
import { type CommonHostMessage, type CommonWebviewMessage, commonWebviewGuard, isCommonHostMessage } from "./common";

/**
 * The quantities of an interpolation (src/shared/lmcFormat.ts's `LmcQuantity`, repeated here
 * because that module uses node:path and the page has no Node).
 */
export type LmcQuantity = "train_loss" | "train_error" | "test_loss" | "test_error";
const QUANTITIES: readonly LmcQuantity[] = ["train_loss", "train_error", "test_loss", "test_error"];

export type Barriers = Partial<Record<LmcQuantity, number>>;

/** One interpolation θ(α) = θ_A + α(θ_B − θ_A): a file of lmc/ or the pair of branches at one k. */
export interface LmcCurve {
  /** Stable among refreshes: the file's path. */
  id: string;
  /** "lmc-a @ 600 ↔ lmc-b @ 600", or "k = 25 (data seeds 1, 2)": ids from files, so text only. */
  label: string;
  /** The file, as shown (relative to the run's folder). */
  source: string;
  /** The branch step of an instability pair. */
  k?: number;
  colorIndex: number;
  alpha: number[];
  /** Per quantity the file has, one value per α (null: not finite when written). */
  values: Partial<Record<LmcQuantity, (number | null)[]>>;
  barrier: Barriers;
}

/** instability.json: the barrier of each k. */
export interface InstabilityView {
  parentId: string;
  /** The folder, as shown. */
  source: string;
  dataSeeds: [number, number];
  points: { k: number; barrier: Barriers }[];
}

export type LmcMeasure = "error" | "loss";

export interface LmcState {
  /** Error (1 − accuracy) or loss; a task without accuracy shows loss whatever this says. */
  measure: LmcMeasure;
}

export const DEFAULT_LMC_STATE: LmcState = { measure: "error" };

/** Messages the extension host posts to the lmc webview. */
export type LmcHostMessage =
  | CommonHostMessage
  /** Everything shown, afresh (also when a file appeared or changed); `notes` say what is missing and how to get it. */
  | { type: "init"; curves: LmcCurve[]; instability: InstabilityView | null; notes: string[]; state?: LmcState };

export type LmcWebviewMessage = CommonWebviewMessage<LmcState>;

function isBarriers(x: unknown): x is Barriers {
  if (!isObject(x)) return false;
  for (const [k, v] of Object.entries(x))
    if (!(QUANTITIES as readonly string[]).includes(k) || !isNumber(v)) return false;
  return true;
}

function isLmcCurve(x: unknown): x is LmcCurve {
  if (!isObject(x) || !isString(x["id"]) || !isString(x["label"]) || !isString(x["source"])) return false;
  if ((x["k"] !== undefined && !isNumber(x["k"])) || !isNumber(x["colorIndex"]) || !isNumberArray(x["alpha"]))
    return false;
  const n = x["alpha"].length;
  const values = x["values"];
  if (!isObject(values)) return false;
  for (const [k, v] of Object.entries(values))
    if (!(QUANTITIES as readonly string[]).includes(k) || !isNullableNumberArray(v, n)) return false;
  return isBarriers(x["barrier"]);
}

function isInstabilityView(x: unknown): x is InstabilityView {
  if (!isObject(x) || !isString(x["parentId"]) || !isString(x["source"])) return false;
  const seeds = x["dataSeeds"];
  if (!isNumberArray(seeds) || seeds.length !== 2) return false;
  return isArrayOf(
    x["points"],
    (p): p is InstabilityView["points"][number] => isObject(p) && isNumber(p["k"]) && isBarriers(p["barrier"]),
  );
}

export function isLmcState(x: unknown): x is LmcState {
  return isObject(x) && (x["measure"] === "error" || x["measure"] === "loss");
}

export function isLmcHostMessage(x: unknown): x is LmcHostMessage {
  if (isCommonHostMessage(x)) return true;
  if (!isObject(x) || x["type"] !== "init") return false;
  return (
    isArrayOf(x["curves"], isLmcCurve) &&
    (x["instability"] === null || isInstabilityView(x["instability"])) &&
    isStringArray(x["notes"]) &&
    (x["state"] === undefined || isLmcState(x["state"]))
  );
}

export const isLmcWebviewMessage: (x: unknown) => x is LmcWebviewMessage = commonWebviewGuard(isLmcState);

/** The chord of a curve: f(0) + α(f(1) − f(0)), as the barrier is measured from (null without both ends). */
export function chord(alpha: readonly number[], values: readonly (number | null)[]): (number | null)[] {
  const f0 = values[0];
  const f1 = values.at(-1);
  if (f0 === null || f0 === undefined || f1 === null || f1 === undefined) return alpha.map(() => null);
  return alpha.map((a) => f0 + a * (f1 - f0));
}

/** The quantities a measure shows, train first. */
export function quantitiesOf(measure: LmcMeasure): [LmcQuantity, LmcQuantity] {
  return measure === "error" ? ["train_error", "test_error"] : ["train_loss", "test_loss"];
}
