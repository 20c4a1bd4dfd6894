// The baselines of in-context linear regression (Garg et al. 2022): for each context position k,
// the mean squared error of predicting y_k from the k − 1 pairs before it by
//   - least squares: the minimum-norm solution (Xᵀ(XXᵀ)⁻¹y when k − 1 < dim, else (XᵀX)⁻¹Xᵀy),
//     what numpy.linalg.lstsq returns; with no pair, the prediction 0;
//   - ridge: (XᵀX + λI)⁻¹Xᵀy, the posterior mean of w ~ N(0, I/dim) under noise σ² when
//     λ = σ²·dim, so the Bayes-optimal prediction (λ = 0 is least squares).
// Plain float64 arithmetic on the test sequences' numbers (no tensor library): computed once per
// run, since they do not depend on the model.
import { choleskySolve } from "./leastSquares";

/** One sequence's pairs: x[i] (length dim) and y[i], i = 0 … points − 1. */
export interface RegressionSequence {
  x: Float64Array[];
  y: Float64Array;
}

/**
 * Coefficients a minimizing ‖X a − y‖² + λ‖a‖² for the first `n` pairs (λ = 0: the minimum-norm
 * least-squares solution). Solved on the smaller Gram matrix: (XᵀX + λI) a = Xᵀy when n ≥ dim, else
 * a = Xᵀ c with (XXᵀ + λI) c = y, the same solution written in the row space.
 */
export function ridgeCoefficients(
  x: readonly Float64Array[],
  y: Float64Array,
  n: number,
  lambda: number,
): Float64Array {
  const p = x[0]?.length ?? 0;
  if (n === 0) return new Float64Array(p);
  if (n >= p) {
    const g = new Float64Array(p * p);
    const r = new Float64Array(p);
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      for (let j = 0; j < p; j++) {
        r[j]! += xi[j]! * y[i]!;
        for (let k = 0; k < p; k++) g[j * p + k]! += xi[j]! * xi[k]!;
      }
    }
    for (let j = 0; j < p; j++) g[j * p + j]! += lambda;
    return solveSpd(g, r, p);
  }
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < p; k++) s += x[i]![k]! * x[j]![k]!;
      g[i * n + j] = s;
      g[j * n + i] = s;
    }
  for (let i = 0; i < n; i++) g[i * n + i]! += lambda;
  const c = solveSpd(g, y.subarray(0, n), n);
  const a = new Float64Array(p);
  for (let i = 0; i < n; i++) for (let k = 0; k < p; k++) a[k]! += c[i]! * x[i]![k]!;
  return a;
}

/**
 * Cholesky, with a jitter of 1e-12 of the trace when the matrix is singular to working precision
 * (random Gaussian pairs are full rank almost surely; this only keeps a degenerate sequence from
 * throwing).
 */
function solveSpd(g: Float64Array, b: Float64Array, m: number): Float64Array {
  try {
    return choleskySolve(g, b, m);
  } catch {
    let trace = 0;
    for (let i = 0; i < m; i++) trace += g[i * m + i]!;
    const jittered = Float64Array.from(g);
    for (let i = 0; i < m; i++) jittered[i * m + i]! += 1e-12 * Math.max(trace, 1);
    return choleskySolve(jittered, b, m);
  }
}

/**
 * For k = 1 … points: the mean over sequences of (ŷ_k − y_k)², ŷ_k = a·x_k with a fitted on the
 * pairs 1 … k − 1 with this λ (0: least squares). Element k − 1 of the result is position k.
 */
export function inContextBaseline(sequences: readonly RegressionSequence[], lambda: number): number[] {
  const points = sequences[0]?.y.length ?? 0;
  const sums = new Float64Array(points);
  for (const s of sequences) {
    for (let k = 0; k < points; k++) {
      const a = ridgeCoefficients(s.x, s.y, k, lambda);
      let pred = 0;
      const xk = s.x[k]!;
      for (let j = 0; j < a.length; j++) pred += a[j]! * xk[j]!;
      const e = pred - s.y[k]!;
      sums[k]! += e * e;
    }
  }
  return Array.from(sums, (v) => v / Math.max(1, sequences.length));
}

/** λ of the Bayes-optimal ridge for w ~ N(0, I/dim) and label noise σ: σ²·dim. */
export function bayesRidgeLambda(noise: number, dim: number): number {
  return noise * noise * dim;
}
