// Kernel and representation similarity measures for the lazy-vs-rich analyses (docs/analyses.md,
// "Kernel"). All inputs are dense row-major Float64 matrices (see matrix.ts); nothing here
// allocates more than one n×n matrix at a time.
//
// Degenerate inputs (a zero kernel, a constant representation, a constant target) make the
// normalized measures 0/0: they return NaN rather than a made-up number, so a panel can say
// "undefined" instead of plotting a misleading 0 or 1.

import { type Matrix, centerColumns, doubleCenter, frobeniusInner, frobeniusNorm, gram, matMulTransA } from "./matrix";

/**
 * Kernel distance (Fort et al. 2020): S = 1 − ⟨K_t, K_0⟩_F / (‖K_t‖_F ‖K_0‖_F).
 * 0 when K_t is a positive multiple of K_0 (the kernel only rescaled: lazy), 1 when orthogonal.
 * For positive semi-definite kernels S ∈ [0, 1]. NaN when either kernel is zero.
 */
export function kernelDistance(kt: Matrix, k0: Matrix): number {
  assertSquarePair(kt, k0, "kernelDistance");
  return 1 - frobeniusInner(kt, k0) / (frobeniusNorm(kt) * frobeniusNorm(k0));
}

/**
 * Centred kernel–target alignment (Baratin et al. 2021):
 * ⟨CKC, CYYᵀC⟩_F / (‖CKC‖_F ‖CYYᵀC‖_F), C = I − 11ᵀ/n,
 * with K an n×n kernel and Y an n×k target matrix (one-hot labels for classification, the
 * targets themselves for regression). 1 when CKC is a positive multiple of CYYᵀC.
 *
 * Cost O(n²k): CYYᵀC = Y_c Y_cᵀ (Y_c = CY) is never formed; ⟨CKC, Y_cY_cᵀ⟩ = Σ_j y_jᵀ(CKC)y_j over
 * the columns y_j of Y_c, and ‖Y_cY_cᵀ‖_F = ‖Y_cᵀY_c‖_F (k×k). NaN when CKC or CY is zero.
 */
export function centeredKernelTargetAlignment(k: Matrix, y: Matrix): number {
  if (k.rows !== k.cols)
    throw new RangeError(`centeredKernelTargetAlignment: K must be square, got ${k.rows}×${k.cols}`);
  if (y.rows !== k.rows)
    throw new RangeError(`centeredKernelTargetAlignment: Y has ${y.rows} rows, K is ${k.rows}×${k.rows}`);
  const n = k.rows;
  const kc = doubleCenter(k);
  const yc = centerColumns(y);
  const kcY = new Float64Array(n);
  let inner = 0;
  for (let j = 0; j < yc.cols; j++) {
    // kcY = (CKC) y_j, then inner += y_jᵀ kcY.
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let c = 0; c < n; c++) s += kc.data[r * n + c]! * yc.data[c * yc.cols + j]!;
      kcY[r] = s;
    }
    for (let r = 0; r < n; r++) inner += yc.data[r * yc.cols + j]! * kcY[r]!;
  }
  const targetNorm = frobeniusNorm(matMulTransA(yc, yc));
  return inner / (frobeniusNorm(kc) * targetNorm);
}

/**
 * Linear CKA (Kornblith et al. 2019) between representations X (n×p) and Y (n×q) of the same n
 * examples: ‖Y_cᵀX_c‖_F² / (‖X_cᵀX_c‖_F ‖Y_cᵀY_c‖_F), columns centred.
 * Picks the cheaper of two equal forms: the feature form (p×p, q×q, q×p products, O(n(p+q)²))
 * when n is large against p + q, else the Gram form (n×n Gram matrices, O(n²(p+q))).
 * In [0, 1]; 1 for X vs itself; invariant to orthogonal transforms and isotropic scaling of
 * either side. NaN when either representation is constant across examples.
 */
export function linearCka(x: Matrix, y: Matrix): number {
  assertSameExamples(x, y);
  return x.rows >= x.cols + y.cols ? linearCkaFeatureForm(x, y) : linearCkaGramForm(x, y);
}

/** Linear CKA by the feature-space form ‖Y_cᵀX_c‖² / (‖X_cᵀX_c‖ ‖Y_cᵀY_c‖). Exported for tests and benchmarks. */
export function linearCkaFeatureForm(x: Matrix, y: Matrix): number {
  assertSameExamples(x, y);
  const xc = centerColumns(x);
  const yc = centerColumns(y);
  const cross = frobeniusNorm(matMulTransA(yc, xc));
  return (cross * cross) / (frobeniusNorm(matMulTransA(xc, xc)) * frobeniusNorm(matMulTransA(yc, yc)));
}

/**
 * Linear CKA by the Gram form ⟨K, L⟩ / (‖K‖ ‖L‖), K = X_cX_cᵀ, L = Y_cY_cᵀ (n×n). Equal to the
 * feature form because ⟨X_cX_cᵀ, Y_cY_cᵀ⟩ = ‖Y_cᵀX_c‖² and ‖X_cX_cᵀ‖ = ‖X_cᵀX_c‖. Exported for tests.
 */
export function linearCkaGramForm(x: Matrix, y: Matrix): number {
  assertSameExamples(x, y);
  const xc = centerColumns(x);
  const yc = centerColumns(y);
  const kx = gram(xc);
  const ky = gram(yc);
  return frobeniusInner(kx, ky) / (frobeniusNorm(kx) * frobeniusNorm(ky));
}

/**
 * Gini coefficient of a nonnegative vector, G = Σ_i (2i − n − 1) x_(i) / (n Σ_i x_i) with x sorted
 * ascending (i = 1..n): the mean absolute difference over all ordered pairs divided by twice the mean.
 * Convention (the one Nanda et al. 2023's sparsity plots use): 0 for a constant vector, 1 − 1/n for a
 * one-hot vector (the maximum for n entries). An all-zero vector is perfectly equal: 0. An empty
 * vector: NaN. Throws on a negative or non-finite entry (norms are never negative: a sign error upstream).
 */
export function gini(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  const sorted = Float64Array.from(values);
  for (const v of sorted) {
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`gini needs finite nonnegative values, got ${v}`);
  }
  sorted.sort();
  let total = 0;
  let weighted = 0;
  for (let i = 0; i < n; i++) {
    total += sorted[i]!;
    weighted += (2 * (i + 1) - n - 1) * sorted[i]!;
  }
  return total === 0 ? 0 : weighted / (n * total);
}

function assertSquarePair(a: Matrix, b: Matrix, what: string): void {
  if (a.rows !== a.cols || b.rows !== b.cols || a.rows !== b.rows) {
    throw new RangeError(
      `${what}: kernels must be square and of equal size, got ${a.rows}×${a.cols} and ${b.rows}×${b.cols}`,
    );
  }
}

function assertSameExamples(x: Matrix, y: Matrix): void {
  if (x.rows !== y.rows) throw new RangeError(`linear CKA: X has ${x.rows} examples, Y has ${y.rows}`);
}
