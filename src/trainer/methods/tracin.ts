// TracIn (Pruthi et al. 2020). Per checkpoint t_i with learning rate η_i:
//   T_i(z, Q) = η_i ∇ℓ(w_{t_i}, z) · q̄,   q̄ = mean over z′ ∈ Q of ∇ℓ(w_{t_i}, z′)
// for every training example z. The query aggregate is the MEAN of the query gradients, so a
// score is the first-order change of the query set's mean loss per unit step on z, comparable
// across query sets of different sizes ("sum" is available: |Q| times the mean). Positive =
// proponent (a step on z lowers the query loss), negative = opponent. TracInCP sums T_i over
// checkpoints.
//
// Gradients are LoGra-projected (perExample.ts) by default; "exact" materializes them (small
// models). The caller restores each checkpoint into target.params before calling, and reuses one
// GradientProjector for every checkpoint so that all use the same projection.
import * as tf from "@tensorflow/tfjs-core";
import { GradientProjector, type Coverage, type GradientMode } from "./perExample";
import type { AnalysisTarget, Examples } from "./target";

export type QueryAggregate = "mean" | "sum";

/** Which examples form the query set. */
export type QuerySelection =
  | { readonly kind: "all" }
  /** Examples whose target class (argmax of the one-hot target) is `label`. */
  | { readonly kind: "class"; readonly label: number }
  /** Positions within the given Examples (not split indices). */
  | { readonly kind: "positions"; readonly positions: readonly number[] };

export interface TracInScores {
  /** η · ∇ℓ(z)·q̄ for each training example, in the order of train.indices. */
  readonly scores: Float32Array;
  readonly indices: Int32Array;
  readonly lr: number;
  readonly aggregate: QueryAggregate;
  readonly querySize: number;
  /** Width of the (projected) gradients the scores were computed from. */
  readonly dim: number;
  readonly coverage: Coverage;
}

/** The query subset of some examples (targets one-hot for "class"). The caller disposes the result's tensors. */
export function selectExamples(examples: Examples, selection: QuerySelection): Examples {
  const n = examples.x.shape[0]!;
  let positions: number[];
  if (selection.kind === "all") positions = Array.from({ length: n }, (_, i) => i);
  else if (selection.kind === "positions") {
    positions = [...selection.positions];
    const bad = positions.find((p) => !Number.isInteger(p) || p < 0 || p >= n);
    if (bad !== undefined) throw new Error(`query: position ${bad} is outside [0, ${n})`);
  } else {
    if (examples.y.rank !== 2 || examples.y.shape[1]! < 2)
      throw new Error("query: selecting a class needs one-hot class targets");
    const labels = tf.tidy(() => tf.argMax(examples.y, -1)).dataSync();
    positions = [];
    labels.forEach((l, i) => {
      if (l === selection.label) positions.push(i);
    });
  }
  if (positions.length === 0) throw new Error(`query: the selection ${JSON.stringify(selection)} is empty`);
  const idx = tf.tensor1d(positions, "int32");
  try {
    return {
      x: tf.gather(examples.x, idx),
      y: tf.gather(examples.y, idx),
      indices: Int32Array.from(positions, (p) => examples.indices[p]!),
    };
  } finally {
    idx.dispose();
  }
}

/**
 * TracIn scores of every training example against a query set at the current parameters (one
 * checkpoint). `projector` fixes the gradient mode (exact or a seeded projection) and its
 * matrices; pass the same one for every checkpoint.
 */
export function tracInCheckpoint(
  projector: GradientProjector,
  train: Examples,
  query: Examples,
  options: { lr: number; aggregate?: QueryAggregate; chunk?: number },
): TracInScores {
  const aggregate = options.aggregate ?? "mean";
  if (!(Number.isFinite(options.lr) && options.lr >= 0))
    throw new Error(`tracin: lr must be a finite number ≥ 0, got ${options.lr}`);
  const chunk = options.chunk === undefined ? {} : { chunk: options.chunk };
  // Neither side forms per-example rows: q̄ is Σ_rows AᵀB per layer, and each training score is
  // Σ_t a_tᵀ Q̄ b_t (GradientProjector.sum / dotWith).
  const querySize = query.x.shape[0]!;
  if (querySize === 0) throw new Error("tracin: the query set is empty");
  const qbar = projector.sum(query, chunk);
  if (aggregate === "mean") for (let k = 0; k < qbar.length; k++) qbar[k]! /= querySize;
  const dots = projector.dotWith(train, qbar, chunk);
  const scores = Float32Array.from(dots, (v) => options.lr * v);
  return {
    scores,
    indices: train.indices,
    lr: options.lr,
    aggregate,
    querySize,
    dim: qbar.length,
    coverage: projector.coverage()!,
  };
}

/** TracInCP: the sum of per-checkpoint scores (same training examples in the same order). */
export function tracInCP(perCheckpoint: readonly TracInScores[]): Float32Array {
  const first = perCheckpoint[0];
  if (!first) return new Float32Array(0);
  const out = new Float32Array(first.scores.length);
  for (const c of perCheckpoint) {
    if (c.scores.length !== out.length)
      throw new Error(
        `tracInCP: checkpoints score different numbers of examples (${c.scores.length} vs ${out.length})`,
      );
    for (let i = 0; i < out.length; i++) out[i]! += c.scores[i]!;
  }
  return out;
}

/** Convenience for one-off use: builds a projector for `mode`, scores, and frees it. */
export function tracIn(
  target: AnalysisTarget,
  train: Examples,
  query: Examples,
  options: { lr: number; mode: GradientMode; aggregate?: QueryAggregate; chunk?: number },
): TracInScores {
  const projector = new GradientProjector(target, options.mode);
  try {
    const { mode: _mode, ...rest } = options;
    return tracInCheckpoint(projector, train, query, rest);
  } finally {
    projector.dispose();
  }
}
