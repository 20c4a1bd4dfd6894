// Interventions on the data (docs/interventions.md): what a branch changed (run.json
// `branchOf.change` with kind "intervention"), what it came to (the branch's intervention.json),
// and a calibration of the influence scores over many random removals (calibration/*.json).
// Read by the trainer and the extension; no tensor library here.

/**
 * What happens to the chosen examples in the branch. Every action is a per-example weight on the
 * loss at each update t (the update from step t − 1 to step t): remove 0; upweight w; moveFrom s:
 * 0 for t ≤ s, then 1 (seen only from step s on); moveBefore s: 1 for t ≤ s, then 0 (seen only
 * before step s).
 */
export type InterventionAction =
  | { kind: "remove" }
  | { kind: "upweight"; weight: number }
  | { kind: "moveFrom"; step: number }
  | { kind: "moveBefore"; step: number };

/** How the examples were chosen (recorded, so a reader knows what the set means). */
export type InterventionSelection =
  | { kind: "explicit" }
  /** The k highest (proponents) or lowest (opponents) TracIn scores at one checkpoint, or summed over [from, to]. */
  | { kind: "topProponents" | "topOpponents"; count: number; from: number; to: number }
  /** One random subset of a calibration: `fraction` of the training split, drawn from (seed, subset). */
  | { kind: "random"; fraction: number; seed: number; subset: number };

/** run.json `branchOf.change` of an intervention branch. */
export interface InterventionChange {
  kind: "intervention";
  action: InterventionAction;
  /** The examples, as rows of the training split (the Influence panel's "example N"), ascending. */
  examples: number[];
  /** Their indices in the task as data.json numbers them (`train.indices[row]`), when the parent has data.json. */
  dataIndices?: number[];
  selection: InterventionSelection;
  /** Kept from the parent when it had another data order (a branch of a branch). */
  dataSeed?: number;
}

/** One prediction of the change of the query loss (branch − parent) at the branch's end. */
export interface InterventionPrediction {
  /** The predicted change at each of the branch's checkpoint steps (the first is the branch step: 0). */
  steps: number[];
  change: number[];
  /** In words: how it was computed. */
  method: string;
}

/** `<branch>/intervention.json`: predicted against actual, written by `lm intervene`. */
export interface InterventionRecord {
  format: "learning-mechanics/intervention";
  formatVersion: 1;
  /** The parent's folder, relative to the branch's when they share a tree. */
  parent: string;
  step: number;
  change: InterventionChange;
  /** The query (the TracIn analysis's query set), in words. */
  query: string;
  /** Checkpoint steps both runs have, from the branch step on. */
  steps: number[];
  /** The query's mean loss on the parent's and the branch's checkpoints at `steps`. */
  parentQueryLoss: number[];
  branchQueryLoss: number[];
  /** branch − parent at each step. */
  actual: number[];
  tracin?: InterventionPrediction;
  bif?: InterventionPrediction;
  /** Why a prediction is missing (no tracin.jsonl, an example not scored, …). */
  notes: string[];
  createdAt: string;
}

/** `<run>/calibration/<step>-<action>-<fraction>.json`: the linear datamodeling score of a calibration sweep. */
export interface CalibrationRecord {
  format: "learning-mechanics/calibration";
  formatVersion: 1;
  /** The branch step and the fraction of the training split each subset removes. */
  step: number;
  fraction: number;
  seed: number;
  /** The calibration's sweep folder, relative to the run's folder when inside it. */
  sweep: string;
  query: string;
  /** One per subset whose branch finished: predicted and actual change of the query loss at the end. */
  subsets: { index: number; run: string; size: number; actual: number; tracin: number | null; bif: number | null }[];
  /** Spearman correlation of predicted against actual over the subsets (null with fewer than 3, or no prediction). */
  lds: { tracin: number | null; bif: number | null };
  createdAt: string;
}

export const INTERVENTION_FORMAT = "learning-mechanics/intervention";
export const CALIBRATION_FORMAT = "learning-mechanics/calibration";
export const INTERVENTION_FILE = "intervention.json";
export const CALIBRATION_DIR = "calibration";

/** "remove", "upweight ×3", "show only from step 400 on", "show only before step 400". */
export function actionText(action: InterventionAction): string {
  switch (action.kind) {
    case "remove":
      return "removing";
    case "upweight":
      return `upweighting (×${action.weight})`;
    case "moveFrom":
      return `showing only from step ${action.step} on`;
    case "moveBefore":
      return `showing only before step ${action.step}`;
  }
}

function signed(x: number): string {
  return Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2);
}

function moved(x: number): string {
  return x >= 0 ? `raise the query loss by ${signed(x)}` : `lower the query loss by ${signed(-x)}`;
}

/** "removing these 10 examples was predicted by TracIn to raise the query loss by 0.031; it rose by 0.027." */
export function predictionWords(record: InterventionRecord): string[] {
  const n = record.change.examples.length;
  const what = `${actionText(record.change.action)} ${n === 1 ? "this example" : `these ${n} examples`}`;
  const actual = record.actual.at(-1) ?? Number.NaN;
  const end = record.steps.at(-1);
  const happened = actual >= 0 ? `it rose by ${signed(actual)}` : `it fell by ${signed(-actual)}`;
  const lines: string[] = [];
  for (const [name, p] of [
    ["TracIn", record.tracin],
    ["the BIF", record.bif],
  ] as const) {
    if (p === undefined) continue;
    const predicted = p.change.at(-1) ?? Number.NaN;
    lines.push(`${what} was predicted by ${name} to ${moved(predicted)} at step ${end}; ${happened}.`);
  }
  if (lines.length === 0)
    lines.push(
      `${what}: the query loss ${actual >= 0 ? "rose" : "fell"} by ${signed(Math.abs(actual))} at step ${end} (no prediction: ${record.notes.join("; ") || "no influence scores"}).`,
    );
  return lines;
}

/** Problems of run.json's `branchOf.change` when it is an intervention; empty when valid. */
export function interventionChangeProblems(c: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const at = "branchOf.change";
  const action = c["action"];
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObj(action) || !["remove", "upweight", "moveFrom", "moveBefore"].includes(String(action["kind"])))
    problems.push(`${at}.action must be an object whose kind is remove, upweight, moveFrom or moveBefore`);
  else if (action["kind"] === "upweight" && !(typeof action["weight"] === "number" && action["weight"] >= 0))
    problems.push(`${at}.action.weight must be a number ≥ 0`);
  else if (
    (action["kind"] === "moveFrom" || action["kind"] === "moveBefore") &&
    !(typeof action["step"] === "number" && Number.isInteger(action["step"]) && action["step"] >= 0)
  )
    problems.push(`${at}.action.step must be an integer ≥ 0`);
  const examples = c["examples"];
  if (
    !Array.isArray(examples) ||
    examples.length === 0 ||
    !examples.every((e) => typeof e === "number" && Number.isInteger(e) && e >= 0)
  )
    problems.push(`${at}.examples must be a non-empty list of integers ≥ 0`);
  if (!isObj(c["selection"])) problems.push(`${at}.selection must be an object`);
  return problems;
}
