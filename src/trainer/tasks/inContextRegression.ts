// In-context linear regression (Garg et al. 2022; task diversity: Raventós et al. 2023). A sequence
// is one random linear function w ~ N(0, I/dim) seen through `points` pairs (x_i, y_i), x_i ~
// N(0, I_dim), y_i = w·x_i + noise·ε_i, laid out as 2·points tokens of dim + 1 numbers:
//   x_i → (x_i, 0)        at token 2i
//   y_i → (0, …, 0, y_i)  at token 2i + 1
// and flattened into one feature row (`InputKind.sequence` says how to cut it). The targets are
// y_1..y_points: a model predicts y_i at x_i's token, seeing only the pairs before it (causal).
//
// Every stream has its own Rng fork, so the test set does not change with trainSequences, tasks
// or noise, and fresh training sequences are a pure function of (seed, step): a resumed run sees
// exactly the batches an uninterrupted one would.
import { Rng } from "../../sdk/rng";
import type { InContextRegressionSpec } from "../../sdk/spec";
import type { Split, TaskData } from "./task";

/** A batch of sequences: x [n, 2·points·(dim+1)], y [n, points]. */
export interface SequenceBatch {
  n: number;
  x: Float32Array;
  y: Float32Array;
}

type Geometry = Pick<InContextRegressionSpec, "dim" | "points" | "noise">;

/** Numbers per sequence row: 2·points tokens of dim + 1. */
export function sequenceWidth(spec: Pick<InContextRegressionSpec, "dim" | "points">): number {
  return 2 * spec.points * (spec.dim + 1);
}

/** The pool of training functions (`tasks`), drawn once from the data seed; undefined without a pool. */
function taskPool(spec: InContextRegressionSpec): Float64Array[] | undefined {
  if (spec.tasks === undefined) return undefined;
  const rng = new Rng(spec.dataSeed, "inContextRegression").fork("pool");
  return Array.from({ length: spec.tasks }, () => drawW(rng, spec.dim));
}

function drawW(rng: Rng, dim: number): Float64Array {
  const w = new Float64Array(dim);
  const std = 1 / Math.sqrt(dim);
  for (let j = 0; j < dim; j++) w[j] = std * rng.normal();
  return w;
}

/**
 * `n` sequences from `rng`: each picks its w (fresh, or uniformly from `pool`), then its pairs.
 * The label is computed from the stored float32 x, so it is exact for the data the model sees.
 */
function sampleSequences(rng: Rng, n: number, g: Geometry, pool: Float64Array[] | undefined): SequenceBatch {
  const { dim, points, noise } = g;
  const width = 2 * points * (dim + 1);
  const x = new Float32Array(n * width);
  const y = new Float32Array(n * points);
  for (let s = 0; s < n; s++) {
    const w = pool ? pool[rng.int(pool.length)]! : drawW(rng, dim);
    for (let i = 0; i < points; i++) {
      const xAt = s * width + 2 * i * (dim + 1);
      let dot = 0;
      for (let j = 0; j < dim; j++) {
        x[xAt + j] = rng.normal();
        dot += w[j]! * x[xAt + j]!;
      }
      const yi = noise > 0 ? dot + noise * rng.normal() : dot;
      x[xAt + (dim + 1) + dim] = yi; // the y token's last slot
      y[s * points + i] = x[xAt + (dim + 1) + dim]!; // the float32 value the model reads
    }
  }
  return { n, x, y };
}

export function generateInContextRegression(spec: InContextRegressionSpec): TaskData {
  const root = new Rng(spec.dataSeed, "inContextRegression");
  const pool = taskPool(spec);
  // The test set always draws fresh functions: the loss on the prior (Raventós et al. evaluate both).
  const test = sampleSequences(root.fork("test"), spec.testSequences, spec, undefined);
  // A fixed training set, or (fresh sequences every step) a fixed sample of the training
  // distribution that the logged train loss is measured on.
  const train: Split =
    spec.trainSequences !== undefined
      ? sampleSequences(root.fork("train"), spec.trainSequences, spec, pool)
      : sampleSequences(root.fork("trainSample"), spec.testSequences, spec, pool);
  return {
    input: {
      kind: "features",
      dim: sequenceWidth(spec),
      sequence: { length: 2 * spec.points, tokenDim: spec.dim + 1 },
    },
    output: { kind: "regression", dim: spec.points },
    train,
    test,
  };
}

/**
 * Fresh training sequences for update `t`, when the task has no fixed training set: a pure
 * function of (seed, t), so resuming and branching reproduce them. Undefined for a fixed set.
 */
export function freshSequences(
  spec: InContextRegressionSpec,
): ((seed: number, t: number, size: number) => SequenceBatch) | undefined {
  if (spec.trainSequences !== undefined) return undefined;
  const pool = taskPool(spec);
  return (seed, t, size) => sampleSequences(new Rng(seed, "inContextRegression", "step", t), size, spec, pool);
}

/** The pairs of test sequence `s` as plain arrays (x [points][dim], y [points]): what the baselines fit. */
export function sequencePairs(
  spec: Pick<InContextRegressionSpec, "dim" | "points">,
  split: Pick<Split, "x" | "y">,
  s: number,
): { x: Float64Array[]; y: Float64Array } {
  const { dim, points } = spec;
  const width = sequenceWidth(spec);
  const x = Array.from({ length: points }, (_, i) =>
    Float64Array.from(split.x.subarray(s * width + 2 * i * (dim + 1), s * width + 2 * i * (dim + 1) + dim)),
  );
  return { x, y: Float64Array.from(split.y.subarray(s * points, (s + 1) * points)) };
}
