// Empirical neural tangent kernel on a fixed probe set, and the hidden representations the tap
// records (for linear CKA).
//
// Multi-output models: the kernel is the trace over outputs,
//   K(x, x′) = Σ_c ∇_w f_c(x) · ∇_w f_c(x′)      (= J Jᵀ with J the [n·C, P] Jacobian, summed over c),
// a scalar kernel per pair of examples, the one kernel distance and kernel–target alignment are
// computed from. For a single output it is the usual ∇f(x)·∇f(x′).
//
// Computed exactly through the tap: a tapped backward pass seeds Σ_i f_c(x_i) for each output c
// (several outputs per pass, on copies of the probe set), and
// for a linear layer ⟨g_i, g_j⟩ = Σ_{t,t′} (x_it · x_jt′)(δ_it · δ_jt′), a Hadamard product of
// the input and output-gradient Gram matrices summed over step blocks; no per-example gradient is
// formed. Untapped parameters add G Gᵀ of their looped exact per-example gradients.
// Default "exact" (C output directions, i.e. the work of C backward passes over the probe set): the kernel is compared across checkpoints
// (kernel distance), and estimator noise would read as kernel motion. With many outputs,
// { hutchinson: S } uses S random Rademacher output directions v (E[v vᵀ] = I), an unbiased
// estimate K ≈ (1/S) Σ_s ∇(v_s·f)(x) · ∇(v_s·f)(x′) at S instead of C directions; fix its seed across
// checkpoints.
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../../sdk/rng";
import { oneHotRows } from "./perExample";
import { loopGradients, tapPass, type LayerFactors } from "./tap";
import type { AnalysisTarget } from "./target";

export type NtkOutputs = "exact" | { readonly hutchinson: number; readonly seed: number };

export interface NtkResult {
  readonly n: number;
  /** [n, n] row-major, symmetric. */
  readonly kernel: Float32Array;
  /** How the sum over outputs was taken. */
  readonly method: "exact" | "hutchinson";
  /** Output directions summed: C (exact) or the Hutchinson sample count; the cost is about that many backward passes over the probe set. */
  readonly directions: number;
  /** Parameter names whose contribution came from the tap / from the per-example loop. */
  readonly tapped: readonly string[];
  readonly fallback: readonly string[];
}

/** Empirical NTK (trace over outputs) of the target on the probe inputs x [n, …]. */
export function empiricalNtk(target: AnalysisTarget, x: tf.Tensor, options: { outputs?: NtkOutputs } = {}): NtkResult {
  const n = x.shape[0]!;
  const outputs = options.outputs ?? "exact";
  const first = tf.tidy(() =>
    target.output(
      tf.slice(
        x,
        x.shape.map(() => 0),
        x.shape.map((d, k) => (k === 0 ? 1 : d)),
      ),
    ),
  );
  const width = first.shape[1]!;
  first.dispose();
  const directions: Float32Array[] = [];
  if (outputs === "exact") {
    for (let c = 0; c < width; c++) {
      const v = new Float32Array(width);
      v[c] = 1;
      directions.push(v);
    }
  } else {
    if (!Number.isInteger(outputs.hutchinson) || outputs.hutchinson < 1)
      throw new Error(`ntk: hutchinson must be a positive integer, got ${outputs.hutchinson}`);
    const rng = new Rng(outputs.seed, "ntk-hutchinson");
    for (let s = 0; s < outputs.hutchinson; s++)
      directions.push(Float32Array.from({ length: width }, () => (rng.uniform() < 0.5 ? -1 : 1)));
  }
  const scale = outputs === "exact" ? 1 : 1 / directions.length;
  let kernel = tf.zeros([n, n]) as tf.Tensor2D;
  let tapped: string[] = [];
  let fallback: string[] = [];
  const accumulate = (k: tf.Tensor2D) => {
    const next = tf.tidy(() => tf.add(kernel, tf.mul(k, scale)) as tf.Tensor2D);
    kernel.dispose();
    k.dispose();
    kernel = next;
  };
  // Directions go through in groups: the probe set is replicated once per direction in one batch
  // (replica r seeds v_r · f), so one tapped pass serves many directions with large, fast products
  // instead of many small passes.
  const group = Math.max(1, Math.floor(MAX_ROWS / n));
  for (let start = 0; start < directions.length; start += group) {
    const dirs = directions.slice(start, start + group);
    const r = dirs.length;
    const xr =
      r === 1
        ? x
        : tf.tile(
            x,
            x.shape.map((_, k) => (k === 0 ? r : 1)),
          );
    const v = tf.tensor2d(concatRepeated(dirs, n), [r * n, width]);
    const pass = tapPass(target, xr, (out) => tf.sum(tf.mul(out, v)));
    try {
      tapped = pass.layers.map((f) => f.name);
      fallback = pass.uncovered.map((i) => target.params[i]!.name);
      accumulate(
        tf.tidy(() => pass.layers.reduce((acc, f) => tf.add(acc, layerGram(f, n, r)), tf.zeros([n, n])) as tf.Tensor2D),
      );
      for (const dir of pass.uncovered.length > 0 ? dirs : []) {
        const d = tf.tensor1d(dir);
        const g = loopGradients(target, x, pass.uncovered, (o) => tf.sum(tf.mul(o, d)));
        d.dispose();
        accumulate(
          tf.tidy(() => {
            const m = tf.tensor2d(g, [n, g.length / n]);
            return tf.matMul(m, tf.transpose(m));
          }),
        );
      }
    } finally {
      pass.dispose();
      v.dispose();
      if (xr !== x) xr.dispose();
    }
  }
  const values = kernel.dataSync() as Float32Array;
  kernel.dispose();
  return {
    n,
    kernel: values,
    method: outputs === "exact" ? "exact" : "hutchinson",
    directions: directions.length,
    tapped,
    fallback,
  };
}

/** Rows of a replicated batch per tapped pass (memory bound). */
const MAX_ROWS = 8192;

/** Row r·n + i = dirs[r]: each replica's direction repeated for its n examples. */
function concatRepeated(dirs: readonly Float32Array[], n: number): Float32Array {
  const width = dirs[0]!.length;
  const out = new Float32Array(dirs.length * n * width);
  dirs.forEach((d, r) => {
    for (let i = 0; i < n; i++) out.set(d, (r * n + i) * width);
  });
  return out;
}

/**
 * Σ_r ⟨g_i^r, g_j^r⟩ of one tapped layer over the r replicas (directions), for all pairs:
 * Σ_{t,t′} (x_it·x_jt′)(Σ_r δ^r_it·δ^r_jt′). Inputs are the same in every replica, so the input
 * Gram comes from replica 0 and the output-gradient Grams of all replicas are one product of the
 * replicas' δ laid side by side.
 */
function layerGram(f: LayerFactors, n: number, replicas: number): tf.Tensor2D {
  const rows = n * f.steps;
  const gram = (m: tf.Tensor2D): tf.Tensor2D => tf.matMul(m, tf.transpose(m));
  const delta = f.delta!;
  const side =
    replicas === 1
      ? delta
      : (tf.reshape(tf.transpose(tf.reshape(delta, [replicas, rows, f.outDim]), [1, 0, 2]), [
          rows,
          replicas * f.outDim,
        ]) as tf.Tensor2D);
  const gd = gram(side);
  let prod: tf.Tensor2D;
  if (f.input.kind === "ones") prod = gd;
  else if (f.input.kind === "dense")
    prod = tf.mul(gram(replicas === 1 ? f.input.x : tf.slice(f.input.x, [0, 0], [rows, f.inDim])), gd);
  else {
    // One-hot inputs: x_r · x_r′ = [index_r = index_r′].
    const idx = tf.tensor1d(f.input.indices.subarray(0, rows), "int32");
    prod = tf.mul(gram(oneHotRows(idx, f.input.dim)), gd);
  }
  if (f.steps === 1) return prod;
  return tf.sum(tf.reshape(prod, [n, f.steps, n, f.steps]), [1, 3]) as tf.Tensor2D;
}

/** A layer's input representation: the rows the tap saw entering a tapped dense layer. */
export interface Representation {
  /** The parameter the representation feeds, e.g. "layers.1.weight" (its input is layer 0's activation). */
  readonly param: string;
  readonly n: number;
  /** steps · width: an example's rows concatenated (sequence models: every position it contributes). */
  readonly dim: number;
  /** [n, dim] row-major. */
  readonly values: Float32Array;
}

/**
 * Hidden representations for linear CKA: the inputs of every tapped dense layer on x (one forward
 * pass, no backward). Embedding lookups and biases have no representation (their input is the
 * token or 1).
 */
export function layerRepresentations(target: AnalysisTarget, x: tf.Tensor): Representation[] {
  const pass = tapPass(target, x);
  try {
    const n = pass.n;
    return pass.layers.flatMap((f) => {
      if (f.input.kind !== "dense") return [];
      return [
        { param: f.name, n, dim: f.steps * f.inDim, values: Float32Array.from(f.input.x.dataSync() as Float32Array) },
      ];
    });
  } finally {
    pass.dispose();
  }
}
