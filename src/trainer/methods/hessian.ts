// Sharpness: the largest eigenvalues of the Hessian of the full-batch training loss L_n(w) at the
// target's current parameters (docs/analyses.md, "Sharpness and the edge of stability"), by Lanczos
// (src/measures/lanczos.ts) on Hessian-vector products, and the preconditioned sharpness
// λ_max(P⁻¹H) of an adaptive optimizer (P diagonal, positive) as the top eigenvalue of the
// symmetric P^{-1/2} H P^{-1/2}.
//
// Hessian-vector products two ways:
// - "finite-difference" (what the analysis uses): (∇L(w + εv) − ∇L(w − εv)) / 2ε along a unit v.
//   Its error is measured at the top eigenvector by the same quotient at ε/2:
//   |vᵀHv(ε) − vᵀHv(ε/2)| is added to the error estimate.
// - "exact": double backward, ∇_w(∇_w L · v), nesting tf.variableGrads. tfjs 4.22 cannot be trusted
//   with it for the built-in models (measured in test/unit/methods-hessian.test.ts): it matches
//   finite differences for linear layers with relu, but differs by 8% (gelu) and 23% (tanh)
//   without any error, and throws on embeddings and attention (no gradient of ScatterNd, the
//   gradient of gatherRows). It stays as the reference for the closed-form tests.
// The full-batch loss is the mean over every training example, summed over chunks of `chunk` rows
// (each chunk's mean weighted by its share) so memory stays bounded. Parameters are put back
// exactly (the saved values are re-assigned) after a finite-difference product, also on a throw.
import * as tf from "@tensorflow/tfjs-core";
import { lanczosTop, type LanczosResult } from "../../measures/lanczos";
import type { AnalysisTarget, Examples } from "./target";

export type HvpMethod = "exact" | "finite-difference";

export interface SharpnessOptions {
  /** How many of the largest eigenvalues (default 1). */
  count?: number;
  /** Most Hessian-vector products per Lanczos run (default 20). */
  maxIterations?: number;
  /** Relative residual at which Lanczos stops (default 1e-3). */
  tolerance?: number;
  /** How Hessian-vector products are computed (default "finite-difference"; "exact" only for linear/relu models, see above). */
  method?: HvpMethod;
  /** ε of the finite-difference product along a unit vector (default 1e-3). */
  fdStep?: number;
  /** Rows per forward/backward pass (default 4096). */
  chunk?: number;
  /** λ added to every eigenvalue: the L2 term (λ/2)‖w‖² of coupled weight decay adds λI to the Hessian. */
  l2?: number;
}

export interface SharpnessResult {
  /** Largest eigenvalues, descending. */
  values: number[];
  /** Estimated absolute error of values[0]: the Lanczos residual, plus the finite-difference discrepancy. */
  error: number;
  method: HvpMethod;
  /** Hessian-vector products used (the error check's included). */
  products: number;
}

/** The flattened parameters as tfjs variables, with their sizes and offsets. */
interface Flat {
  vars: tf.Variable[];
  sizes: number[];
  offsets: number[];
  dim: number;
}

function flatOf(target: AnalysisTarget): Flat {
  const vars = target.params.map((p) => p.variable);
  const sizes = vars.map((v) => v.size);
  const offsets: number[] = [];
  let dim = 0;
  for (const s of sizes) {
    offsets.push(dim);
    dim += s;
  }
  return { vars, sizes, offsets, dim };
}

function pieces(f: Flat, v: Float64Array): tf.Tensor[] {
  return f.vars.map((w, k) =>
    tf.tensor(Float32Array.from(v.subarray(f.offsets[k]!, f.offsets[k]! + f.sizes[k]!)), w.shape, "float32"),
  );
}

/** Runs `body` on each chunk of rows with its weight (chunk size / n). */
function forChunks(train: Examples, chunk: number, body: (x: tf.Tensor, y: tf.Tensor, weight: number) => void): void {
  const n = train.x.shape[0]!;
  if (n < 1) throw new RangeError("sharpness needs at least one training example");
  for (let start = 0; start < n; start += chunk) {
    const size = Math.min(chunk, n - start);
    tf.tidy(() => {
      const x = size === n ? train.x : tf.slice(train.x, start, size);
      const y = size === n ? train.y : tf.slice(train.y, start, size);
      body(x, y, size / n);
    });
  }
}

const meanLoss = (target: AnalysisTarget, x: tf.Tensor, y: tf.Tensor): tf.Scalar =>
  tf.mean(target.perExampleLoss(target.output(x), y));

/** The full-batch loss and its gradient, flattened in parameter order. */
export function lossAndGradient(
  target: AnalysisTarget,
  train: Examples,
  chunk = 4096,
): { loss: number; grad: Float64Array } {
  const f = flatOf(target);
  const grad = new Float64Array(f.dim);
  let loss = 0;
  forChunks(train, chunk, (x, y, weight) => {
    const { value, grads } = tf.variableGrads(() => meanLoss(target, x, y), f.vars);
    loss += weight * value.dataSync()[0]!;
    f.vars.forEach((v, k) => {
      const g = grads[v.name];
      if (!g) return; // a parameter the loss does not use
      const data = g.dataSync();
      const o = f.offsets[k]!;
      for (let i = 0; i < data.length; i++) grad[o + i]! += weight * data[i]!;
    });
  });
  return { loss, grad };
}

/** H·v by double backward. Throws when an op on the path has no differentiable gradient in tfjs. */
export function hvpExact(target: AnalysisTarget, train: Examples, v: Float64Array, chunk = 4096): Float64Array {
  const f = flatOf(target);
  const out = new Float64Array(f.dim);
  forChunks(train, chunk, (x, y, weight) => {
    const vt = pieces(f, v);
    const { grads } = tf.variableGrads(() => {
      const inner = tf.variableGrads(() => meanLoss(target, x, y), f.vars).grads;
      const terms = f.vars.flatMap((w, k) => {
        const g = inner[w.name];
        return g ? [tf.sum(tf.mul(g, vt[k]!))] : [];
      });
      return (terms.length === 1 ? terms[0]! : tf.addN(terms)) as tf.Scalar;
    }, f.vars);
    f.vars.forEach((w, k) => {
      const g = grads[w.name];
      if (!g) return;
      const data = g.dataSync();
      const o = f.offsets[k]!;
      for (let i = 0; i < data.length; i++) out[o + i]! += weight * data[i]!;
    });
  });
  return out;
}

/** H·v by central differences of the full-batch gradient, ε along v/‖v‖ (scaled back by ‖v‖). */
export function hvpFiniteDifference(
  target: AnalysisTarget,
  train: Examples,
  v: Float64Array,
  eps: number,
  chunk = 4096,
): Float64Array {
  const f = flatOf(target);
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  if (norm === 0) return new Float64Array(f.dim);
  const saved = f.vars.map((w) => tf.keep(w.clone()));
  const dir = pieces(
    f,
    Float64Array.from(v, (x) => x / norm),
  );
  const shift = (sign: number) =>
    tf.tidy(() =>
      f.vars.forEach((w, k) => {
        w.assign(tf.add(saved[k]!, tf.mul(dir[k]!, sign * eps)));
      }),
    );
  try {
    shift(1);
    const plus = lossAndGradient(target, train, chunk).grad;
    shift(-1);
    const minus = lossAndGradient(target, train, chunk).grad;
    const out = new Float64Array(f.dim);
    const scale = norm / (2 * eps);
    for (let i = 0; i < f.dim; i++) out[i] = (plus[i]! - minus[i]!) * scale;
    return out;
  } finally {
    f.vars.forEach((w, k) => {
      w.assign(saved[k]!);
    });
    for (const t of [...saved, ...dir]) t.dispose();
  }
}

/** The number of scalar parameters of `target`. */
export function parameterCount(target: AnalysisTarget): number {
  return flatOf(target).dim;
}

/**
 * Top Hessian eigenvalues of the full-batch loss at the current parameters. With `preconditioner`
 * (one positive entry per parameter, flattened in parameter order), those of P^{-1/2} H P^{-1/2},
 * i.e. of P⁻¹H.
 */
export function sharpness(
  target: AnalysisTarget,
  train: Examples,
  options: SharpnessOptions = {},
  preconditioner?: Float64Array,
): SharpnessResult {
  const chunk = options.chunk ?? 4096;
  const eps = options.fdStep ?? 1e-3;
  const l2 = options.l2 ?? 0;
  const dim = parameterCount(target);
  let d: Float64Array | undefined;
  if (preconditioner) {
    if (preconditioner.length !== dim)
      throw new RangeError(`preconditioner has ${preconditioner.length} entries, the model ${dim} parameters`);
    d = Float64Array.from(preconditioner, (p) => 1 / Math.sqrt(p));
    if (d.some((x) => !Number.isFinite(x) || x <= 0))
      throw new RangeError("the preconditioner must be positive and finite everywhere");
  }
  let products = 0;
  const operator = (hvp: (v: Float64Array) => Float64Array) => (u: Float64Array) => {
    products++;
    const v = d ? Float64Array.from(u, (x, i) => x * d![i]!) : u;
    const hv = hvp(v);
    for (let i = 0; i < dim; i++) {
      hv[i]! += l2 * v[i]!;
      if (d) hv[i]! *= d[i]!;
    }
    return hv;
  };
  const run = (hvp: (v: Float64Array) => Float64Array): LanczosResult =>
    lanczosTop(operator(hvp), dim, {
      count: options.count ?? 1,
      maxIterations: options.maxIterations ?? 20,
      tolerance: options.tolerance ?? 1e-3,
    });
  const fd = (e: number) => (v: Float64Array) => hvpFiniteDifference(target, train, v, e, chunk);
  const finish = (r: LanczosResult, method: HvpMethod): SharpnessResult => {
    let error = r.residuals[0]!;
    if (method === "finite-difference") {
      // The Rayleigh quotient at the top Ritz vector with ε and ε/2: their gap measures the
      // truncation (O(ε²)) and rounding (O(u/ε)) error of the difference quotient.
      const y = r.vector;
      const q = (e: number) => {
        const hy = operator(fd(e))(y);
        let s = 0;
        for (let i = 0; i < dim; i++) s += hy[i]! * y[i]!;
        return s;
      };
      error += Math.abs(q(eps) - q(eps / 2));
    }
    return { values: r.values, error, method, products };
  };
  if ((options.method ?? "finite-difference") === "exact")
    return finish(
      run((v) => hvpExact(target, train, v, chunk)),
      "exact",
    );
  return finish(run(fd(eps)), "finite-difference");
}
