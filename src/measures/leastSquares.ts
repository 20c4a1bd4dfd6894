// Minimum-norm least squares in float64: the closed form that gradient descent from zero reaches on
// a linear-in-parameters model (random features, src/trainer/models/randomFeatures.ts), used to
// check training against it (test/unit/doubleDescent.test.ts, scripts/docs-figures-double-descent.ts).
// Dense Cholesky on the smaller Gram matrix: these are small model systems (n, p in the thousands).

/** Solves the symmetric positive definite system A·x = b (A [m, m] row-major) by Cholesky; throws if A is not positive definite. */
export function choleskySolve(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const l = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * m + j]!;
      for (let k = 0; k < j; k++) s -= l[i * m + k]! * l[j * m + k]!;
      if (i === j) {
        if (!(s > 0)) throw new Error(`choleskySolve: matrix not positive definite (pivot ${i} is ${s})`);
        l[i * m + i] = Math.sqrt(s);
      } else l[i * m + j] = s / l[j * m + j]!;
    }
  }
  const z = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * m + k]! * z[k]!;
    z[i] = s / l[i * m + i]!;
  }
  const x = new Float64Array(m);
  for (let i = m - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < m; k++) s -= l[k * m + i]! * x[k]!;
    x[i] = s / l[i * m + i]!;
  }
  return x;
}

/**
 * The minimum-norm least-squares coefficients a⁺ = Φ⁺y of features Φ [n, p] (row-major) and
 * targets y [n]: (ΦᵀΦ)⁻¹Φᵀy when p < n, Φᵀ(ΦΦᵀ)⁻¹y when p ≥ n. Φ must have full rank (random
 * features do, almost surely); near p = n the Gram is badly conditioned but float64 holds it.
 */
export function minNormLeastSquares(phi: Float64Array, y: Float64Array, n: number, p: number): Float64Array {
  if (p < n) {
    const g = new Float64Array(p * p);
    const r = new Float64Array(p);
    for (let i = 0; i < n; i++) {
      const row = i * p;
      for (let j = 0; j < p; j++) {
        const v = phi[row + j]!;
        r[j]! += v * y[i]!;
        for (let k = 0; k < p; k++) g[j * p + k]! += v * phi[row + k]!;
      }
    }
    return choleskySolve(g, r, p);
  }
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < p; k++) s += phi[i * p + k]! * phi[j * p + k]!;
      g[i * n + j] = s;
      g[j * n + i] = s;
    }
  const c = choleskySolve(g, y, n);
  const a = new Float64Array(p);
  for (let i = 0; i < n; i++) for (let k = 0; k < p; k++) a[k]! += phi[i * p + k]! * c[i]!;
  return a;
}

/** Mean of (Φ·a − y)² over the rows of Φ [rows, p]. */
export function meanSquaredError(phi: Float64Array, a: Float64Array, y: Float64Array, p: number): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    let f = 0;
    for (let k = 0; k < p; k++) f += phi[i * p + k]! * a[k]!;
    s += (f - y[i]!) ** 2;
  }
  return s / y.length;
}
