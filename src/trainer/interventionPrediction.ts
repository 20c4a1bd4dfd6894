// What the influence scores predict for an intervention (docs/interventions.md, "Predicted").
//
// TracIn (docs/analysis-format.md): T_i(z) = η_i ∇ℓ(w_i, z)·∇ℓ_Q(w_i) at checkpoint i, positive =
// proponent. One SGD update t on a minibatch of size B moves the weights by −(η/B)·s·Σ w_z ∇ℓ(z)
// (s the loss scale 1/α², w_z the example's weight, 1 in the parent), so changing z's weight from
// 1 to m at update t changes the query loss, to first order, by (1 − m)·s·T(z)/B: removing a
// proponent (m = 0, T > 0) RAISES the query loss. Summed over the updates t = K+1 … E in which z
// is in the minibatch, T taken at the last analysed checkpoint at or before t − 1 (a left Riemann
// sum, as TracInCP), this is the predicted change branch − parent at step E. Exact to first order
// in η for plain SGD; momentum and Adam are not accounted for.
//
// BIF (Kreer et al. 2025): BIF(z) = −Cov(ℓ_z, φ) under the tempered posterior ∝ exp(−β Σ_z w_z ℓ_z),
// β = nβ/n per example, so dE[φ]/dw_z = β·BIF(z): changing z's weight by (m − 1) changes the
// query loss by β(m − 1)·BIF(z) (negative BIF = helps, so removing a helper raises it). It has no
// notion of when: only remove and upweight get a BIF prediction.
import type { InterventionAction, InterventionPrediction } from "../shared/interventionFormat";
import { actionWeight } from "./intervention";

export interface TracinInput {
  /** The TracIn records (any order), each with one value per scored example. */
  records: readonly { step: number; values: readonly (number | null)[] }[];
  /** The training row of each value position (the header's `examples[i].index`). */
  rows: readonly number[];
  chosen: readonly number[];
  action: InterventionAction;
  branchStep: number;
  /** The steps to predict at, ascending, each ≥ branchStep. */
  steps: readonly number[];
  /** The rows of update t's minibatch; undefined: the full training split. */
  batch: (t: number) => Int32Array | undefined;
  /** The minibatch's size B (the training split's size for full batch). */
  batchSize: number;
  /** The loss scale the trainer multiplies the loss by (1/α²). */
  lossScale: number;
}

export type PredictionResult = { ok: true; prediction: InterventionPrediction } | { ok: false; why: string };

export function tracinPrediction(input: TracinInput): PredictionResult {
  const records = [...input.records].sort((a, b) => a.step - b.step);
  const position = new Map(input.rows.map((row, i) => [row, i]));
  const missing = input.chosen.filter((z) => !position.has(z));
  if (missing.length > 0)
    return {
      ok: false,
      why: `TracIn scored no value for example${missing.length === 1 ? "" : "s"} ${missing.slice(0, 8).join(", ")} (tracin.trainExamples caps the examples scored)`,
    };
  const first = records.findIndex((r) => r.step <= input.branchStep);
  if (first < 0 || records.length === 0)
    return { ok: false, why: `tracin.jsonl has no record at or before the branch step ${input.branchStep}` };
  const chosen = new Set(input.chosen);
  const end = input.steps.at(-1) ?? input.branchStep;
  const change: number[] = [];
  let r = 0;
  let total = 0;
  let next = 0;
  const scale = input.lossScale / input.batchSize;
  while (next < input.steps.length && input.steps[next]! <= input.branchStep) {
    change.push(0);
    next++;
  }
  for (let t = input.branchStep + 1; t <= end; t++) {
    while (r + 1 < records.length && records[r + 1]!.step <= t - 1) r++;
    const m = actionWeight(input.action, t);
    if (m !== 1) {
      const values = records[r]!.values;
      const rows = input.batch(t);
      const add = (z: number) => {
        const v = values[position.get(z)!];
        if (typeof v === "number") total += (1 - m) * scale * v;
      };
      if (rows === undefined) for (const z of chosen) add(z);
      else for (const z of rows) if (chosen.has(z)) add(z);
    }
    while (next < input.steps.length && input.steps[next] === t) {
      change.push(total);
      next++;
    }
  }
  const kind = records.length > 1 ? "each update, at the last analysed checkpoint before it" : "each update";
  return {
    ok: true,
    prediction: {
      steps: [...input.steps],
      change,
      method: `Σ over the updates that saw a chosen example of (1 − weight)·T(z)/B, T = TracIn at ${kind}; B = ${input.batchSize}`,
    },
  };
}

export interface BifInput {
  records: readonly { step: number; values: readonly (number | null)[] }[];
  rows: readonly number[];
  chosen: readonly number[];
  action: InterventionAction;
  /** The step the BIF is read at: its last record at or before this step. */
  at: number;
  /** β per example = nβ / n. */
  beta: number;
  steps: readonly number[];
}

export function bifPrediction(input: BifInput): PredictionResult {
  const { action } = input;
  if (action.kind !== "remove" && action.kind !== "upweight")
    return { ok: false, why: "the BIF has no notion of when an example is seen: no BIF prediction for a move" };
  const record = [...input.records].filter((r) => r.step <= input.at).sort((a, b) => b.step - a.step)[0];
  if (record === undefined) return { ok: false, why: `bif.jsonl has no record at or before step ${input.at}` };
  const position = new Map(input.rows.map((row, i) => [row, i]));
  const missing = input.chosen.filter((z) => !position.has(z));
  if (missing.length > 0)
    return {
      ok: false,
      why: `the BIF scored no value for example${missing.length === 1 ? "" : "s"} ${missing.slice(0, 8).join(", ")} (bif.trainExamples caps the examples scored)`,
    };
  const m = action.kind === "remove" ? 0 : action.weight;
  let total = 0;
  for (const z of input.chosen) {
    const v = record.values[position.get(z)!];
    if (typeof v === "number") total += input.beta * (m - 1) * v;
  }
  return {
    ok: true,
    prediction: {
      // The BIF predicts the end state only.
      steps: input.steps.length > 0 ? [input.steps.at(-1)!] : [],
      change: input.steps.length > 0 ? [total] : [],
      method: `β·(weight − 1)·Σ BIF(z) at step ${record.step}, β = nβ/n = ${input.beta.toPrecision(4)}`,
    },
  };
}
