// Interventions on the data of a branch (docs/interventions.md): which examples, what happens to
// them, and the per-example loss weights the training loop applies. The data order is the
// parent's: an example keeps its slot in every minibatch; a removed one contributes weight 0 and
// the minibatch's loss is still divided by the batch size B, so every other example's step is
// exactly the parent's (the weighting of Koh & Liang, which TracIn's first-order prediction counts).
import type { InterventionAction, InterventionChange, InterventionSelection } from "../shared/interventionFormat";
import type { AnalysisFile } from "../shared/analysisFormat";
import { UsageError } from "./errors";

/** The loss weight of a chosen example at update t (from step t − 1 to t); every other example's is 1. */
export function actionWeight(action: InterventionAction, t: number): number {
  switch (action.kind) {
    case "remove":
      return 0;
    case "upweight":
      return action.weight;
    case "moveFrom":
      return t > action.step ? 1 : 0;
    case "moveBefore":
      return t <= action.step ? 1 : 0;
  }
}

/**
 * The weights of a minibatch's rows at update t, or undefined when every one is 1 (the loop then
 * computes the parent's loss exactly as the parent did, bit for bit).
 */
export type ExampleWeights = (t: number, rows: Int32Array | undefined, n: number) => Float32Array | undefined;

export function exampleWeights(change: InterventionChange): ExampleWeights {
  const chosen = new Set(change.examples);
  return (t, rows, n) => {
    const w = actionWeight(change.action, t);
    if (w === 1) return undefined;
    const size = rows ? rows.length : n;
    let out: Float32Array | undefined;
    for (let i = 0; i < size; i++) {
      if (!chosen.has(rows ? rows[i]! : i)) continue;
      out ??= new Float32Array(size).fill(1);
      out[i] = w;
    }
    return out;
  };
}

/** Refuses an intervention that names no training row, or whose move step changes nothing or everything. */
export function checkIntervention(
  change: InterventionChange,
  branchStep: number,
  endStep: number,
  trainN: number,
): void {
  const bad = change.examples.filter((e) => !Number.isInteger(e) || e < 0 || e >= trainN);
  if (bad.length > 0)
    throw new UsageError(
      `unknown training example${bad.length === 1 ? "" : "s"} ${bad.slice(0, 8).join(", ")}: the training split has ${trainN} examples (0–${trainN - 1})`,
    );
  const a = change.action;
  if (a.kind === "upweight" && !(Number.isFinite(a.weight) && a.weight >= 0))
    throw new UsageError(`--weight must be a number ≥ 0, got ${a.weight}`);
  if ((a.kind === "moveFrom" || a.kind === "moveBefore") && !(a.step > branchStep && a.step < endStep)) {
    const flag = a.kind === "moveFrom" ? "--from" : "--before";
    throw new UsageError(
      `${flag} ${a.step} must lie strictly between the branch step ${branchStep} and the end ${endStep} (outside it the move is no change, or a removal: use --remove)`,
    );
  }
}

/** "12,3,7" → [3, 7, 12]; a usage error naming the option otherwise. */
export function parseExampleList(option: string, text: string): number[] {
  const items = text.split(",").map((t) => t.trim());
  const bad = items.find((t) => !/^\d+$/.test(t) || !Number.isSafeInteger(Number(t)));
  if (bad !== undefined || items.length === 0)
    throw new UsageError(`--${option} expects training example numbers such as 3,17,42, got "${text}"`);
  return [...new Set(items.map(Number))].sort((a, b) => a - b);
}

/**
 * The k most positive (proponents) or most negative (opponents) examples of a TracIn file, by
 * their score at checkpoint `from` (from = to) or summed over the records with from ≤ step ≤ to.
 */
export function topExamples(
  tracin: AnalysisFile<"tracin">,
  kind: "topProponents" | "topOpponents",
  count: number,
  from: number,
  to: number,
  file: string,
): { examples: number[]; selection: InterventionSelection } {
  const records = tracin.records.filter((r) => r.step >= from && r.step <= to);
  if (records.length === 0) {
    const steps = tracin.records.map((r) => r.step);
    throw new UsageError(
      `${file} has no record ${from === to ? `at step ${from}` : `from step ${from} to ${to}`}; its steps: ${steps.length ? steps.join(", ") : "none"}`,
    );
  }
  const infos = tracin.header.examples ?? [];
  const sums = infos.map((_, i) => records.reduce((s, r) => s + (r.values[i] ?? 0), 0));
  const order = sums
    .map((_, i) => i)
    .sort((a, b) => (kind === "topProponents" ? sums[b]! - sums[a]! : sums[a]! - sums[b]!));
  const examples = order
    .slice(0, count)
    .map((i) => infos[i]!.index)
    .sort((a, b) => a - b);
  return { examples, selection: { kind, count, from, to } };
}

/** "3:7" → [3, 7]. */
export function parseInterval(text: string): [number, number] {
  const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(text);
  if (!m || Number(m[1]) > Number(m[2]))
    throw new UsageError(`--over expects A:B with A ≤ B (checkpoint steps), got "${text}"`);
  return [Number(m[1]), Number(m[2])];
}
