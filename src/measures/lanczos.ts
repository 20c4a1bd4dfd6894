// Extreme eigenvalues of a symmetric operator known only through products v ↦ Av (a Hessian
// through Hessian-vector products, docs/analyses.md "Sharpness"): Lanczos with full
// reorthogonalization (Golub & Van Loan, "Matrix Computations", §10.1), whose Ritz values converge
// to the largest eigenvalues far faster than power iteration when the top two are close, and the
// eigen-decomposition of the small tridiagonal matrix by cyclic Jacobi rotations. Each Ritz
// value comes with its residual bound |β_m · s_m|: some eigenvalue of A lies within it.

/** y = A·x for the symmetric operator A of dimension `dim`. */
export type SymmetricOperator = (x: Float64Array) => Float64Array;

export interface LanczosResult {
  /** The largest Ritz values, descending (at most `count`). */
  values: number[];
  /** Residual bound of each value: ‖A y − θ y‖ for its Ritz vector y (unit length). */
  residuals: number[];
  /** Ritz vector of the largest value (unit length, in the operator's space). */
  vector: Float64Array;
  /** Products with A performed. */
  iterations: number;
}

export interface LanczosOptions {
  /** How many of the largest eigenvalues to report (default 1). */
  count?: number;
  /** Most products with A (default 30; capped at the dimension). */
  maxIterations?: number;
  /** Stop once the top `count` residuals are ≤ tol·|θ_1| (default 1e-3). */
  tolerance?: number;
  /** Start vector (default: a fixed pseudo-random one, so results are reproducible). */
  start?: Float64Array;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** A fixed start vector: xorshift values in (−1, 1), the same for every call of one dimension. */
export function defaultStart(dim: number): Float64Array {
  const out = new Float64Array(dim);
  let s = 0x9e3779b9;
  for (let i = 0; i < dim; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

/**
 * Eigenvalues and eigenvectors of a symmetric m × m matrix (row-major) by cyclic Jacobi rotations.
 * Returns values ascending-unsorted with `vectors[k]` the k-th eigenvector as a column.
 */
export function symmetricEigen(a: Float64Array, m: number): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(a);
  const V = new Float64Array(m * m);
  for (let i = 0; i < m; i++) V[i * m + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let norm = 0;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < m; j++) {
        const v = A[i * m + j]! ** 2;
        norm += v;
        if (i !== j) off += v;
      }
    if (off <= 1e-30 * norm || off === 0) break;
    for (let p = 0; p < m - 1; p++)
      for (let q = p + 1; q < m; q++) {
        const apq = A[p * m + q]!;
        if (apq === 0) continue;
        const theta = (A[q * m + q]! - A[p * m + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < m; k++) {
          const akp = A[k * m + p]!;
          const akq = A[k * m + q]!;
          A[k * m + p] = c * akp - s * akq;
          A[k * m + q] = s * akp + c * akq;
        }
        for (let k = 0; k < m; k++) {
          const apk = A[p * m + k]!;
          const aqk = A[q * m + k]!;
          A[p * m + k] = c * apk - s * aqk;
          A[q * m + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < m; k++) {
          const vkp = V[k * m + p]!;
          const vkq = V[k * m + q]!;
          V[k * m + p] = c * vkp - s * vkq;
          V[k * m + q] = s * vkp + c * vkq;
        }
      }
  }
  return { values: Float64Array.from({ length: m }, (_, i) => A[i * m + i]!), vectors: V };
}

/** The largest eigenvalues of the symmetric operator `apply` on R^dim, by Lanczos. */
export function lanczosTop(apply: SymmetricOperator, dim: number, options: LanczosOptions = {}): LanczosResult {
  if (!(dim >= 1)) throw new RangeError(`lanczos: dimension must be ≥ 1, got ${dim}`);
  const count = Math.max(1, Math.min(options.count ?? 1, dim));
  const maxIt = Math.max(1, Math.min(options.maxIterations ?? 30, dim));
  const tol = options.tolerance ?? 1e-3;
  const q0 = options.start ? Float64Array.from(options.start) : defaultStart(dim);
  if (q0.length !== dim) throw new RangeError(`lanczos: start vector has ${q0.length} entries, expected ${dim}`);
  const n0 = Math.sqrt(dot(q0, q0));
  if (!(n0 > 0)) throw new RangeError("lanczos: the start vector is zero");
  for (let i = 0; i < dim; i++) q0[i]! /= n0;

  const Q: Float64Array[] = [q0];
  const alpha: number[] = [];
  const beta: number[] = [];
  let ritz: { values: number[]; residuals: number[]; order: number[]; vectors: Float64Array; m: number } = {
    values: [0],
    residuals: [Infinity],
    order: [0],
    vectors: new Float64Array(1),
    m: 1,
  };
  for (let j = 0; j < maxIt; j++) {
    const q = Q[j]!;
    const w = apply(q);
    if (w.length !== dim) throw new RangeError(`lanczos: the operator returned ${w.length} entries, expected ${dim}`);
    const a = dot(w, q);
    alpha.push(a);
    // Full reorthogonalization, twice (the "twice is enough" rule): floating-point Lanczos loses
    // orthogonality exactly when a Ritz value converges, and ghosts of it would appear.
    for (let pass = 0; pass < 2; pass++)
      for (const u of Q) {
        const c = dot(w, u);
        for (let i = 0; i < dim; i++) w[i]! -= c * u[i]!;
      }
    const b = Math.sqrt(dot(w, w));
    const m = j + 1;
    const T = new Float64Array(m * m);
    for (let i = 0; i < m; i++) {
      T[i * m + i] = alpha[i]!;
      if (i + 1 < m) {
        T[i * m + i + 1] = beta[i]!;
        T[(i + 1) * m + i] = beta[i]!;
      }
    }
    const eig = symmetricEigen(T, m);
    const order = Array.from({ length: m }, (_, i) => i).sort((x, y) => eig.values[y]! - eig.values[x]!);
    ritz = {
      values: order.map((k) => eig.values[k]!),
      // The last component of each Ritz vector times β_m bounds ‖A y − θ y‖.
      residuals: order.map((k) => Math.abs(b * eig.vectors[(m - 1) * m + k]!)),
      order,
      vectors: eig.vectors,
      m,
    };
    const top = Math.abs(ritz.values[0]!);
    const k = Math.min(count, m);
    const converged = m >= count && ritz.residuals.slice(0, k).every((r) => r <= tol * Math.max(top, 1e-300));
    // β ≈ 0: the Krylov space is invariant, its Ritz values are eigenvalues.
    if (converged || b <= 1e-12 * Math.max(top, 1) || m === maxIt) break;
    beta.push(b);
    const next = new Float64Array(dim);
    for (let i = 0; i < dim; i++) next[i] = w[i]! / b;
    Q.push(next);
  }
  const { m, order, vectors } = ritz;
  const vector = new Float64Array(dim);
  for (let i = 0; i < m; i++) {
    const s = vectors[i * m + order[0]!]!;
    const qi = Q[i]!;
    for (let d = 0; d < dim; d++) vector[d]! += s * qi[d]!;
  }
  const k = Math.min(count, m);
  return {
    values: ritz.values.slice(0, k),
    residuals: ritz.residuals.slice(0, k),
    vector,
    iterations: alpha.length,
  };
}
