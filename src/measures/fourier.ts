// Fourier analysis of modular arithmetic mod p (Nanda et al. 2023, "Progress measures for grokking
// via mechanistic interpretability"). Definitions follow the paper's reference code
// (github.com/mechanistic-interpretability-grokking/progress-measures-paper: `make_fourier_basis`,
// `get_component_cos_xpy` / `get_component_sin_xpy`, `calculate_trig_loss`,
// `calculate_excluded_loss_2D_full`):
// - the basis rows are 1/√p, then cos(w_k x), sin(w_k x) normalized, k = 1..⌊p/2⌋, w_k = 2πk/p;
// - a logit table has one row per input pair, row a·p + b for (a, b), and one column per answer c;
// - the "cos(w_k(a+b))" direction over pairs is (cos_k⊗cos_k − sin_k⊗sin_k)/√2 in the reference,
//   which equals cos(w_k(a+b)) normalized to unit length; we build it that way (the same vector),
//   and project every logit column onto it;
// - restricted logits keep only the key frequencies' cos/sin(w_k(a+b)) components, plus the
//   reference's bias correction (the per-answer mean of the original logits, which these components
//   cannot carry); restricted loss is their cross-entropy over all p² pairs;
// - excluded logits remove those components (no bias correction); excluded loss is their
//   cross-entropy over the training pairs only.
// One deviation, for even p only: sin(π x) is identically zero, so the basis keeps cos(π x) alone
// (the reference would divide by a zero norm). For the prime moduli of the papers nothing changes.
// Cross-entropy is computed in float64 (the reference casts to float32 after noting float32
// log-softmax underflow; float64 is strictly more accurate).

import { gini } from "./kernels";
import { type Matrix, matMul, matrix } from "./matrix";

/** What one row of the Fourier basis is. `frequency` is 0 for the constant row. */
export interface FourierBasisRow {
  kind: "const" | "cos" | "sin";
  frequency: number;
}

/** Number of nonzero frequencies, ⌊p/2⌋. */
export function frequencyCount(p: number): number {
  return Math.floor(p / 2);
}

/** Row layout of `fourierBasis(p)`: const, cos 1, sin 1, cos 2, sin 2, … (even p: ends with cos p/2). */
export function fourierBasisRows(p: number): FourierBasisRow[] {
  assertModulus(p);
  const rows: FourierBasisRow[] = [{ kind: "const", frequency: 0 }];
  for (let k = 1; k <= frequencyCount(p); k++) {
    rows.push({ kind: "cos", frequency: k });
    if (2 * k !== p) rows.push({ kind: "sin", frequency: k });
  }
  return rows;
}

/** The real orthonormal Fourier basis of Z_p as a p×p matrix whose rows are the basis vectors (F Fᵀ = I). */
export function fourierBasis(p: number): Matrix {
  const rows = fourierBasisRows(p);
  const f = matrix(p, p);
  rows.forEach((row, r) => {
    let norm = 0;
    for (let x = 0; x < p; x++) {
      const angle = (2 * Math.PI * row.frequency * x) / p;
      const v = row.kind === "const" ? 1 : row.kind === "cos" ? Math.cos(angle) : Math.sin(angle);
      f.data[r * p + x] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let x = 0; x < p; x++) f.data[r * p + x]! /= norm;
  });
  return f;
}

/** Coordinates of the rows of W (p×d, one row per residue) in the Fourier basis: F·W (p×d). */
export function fourierCoefficients(w: Matrix): Matrix {
  return matMul(fourierBasis(w.rows), w);
}

export interface EmbeddingFourierNorms {
  /** ‖(F W_E)_const‖: the part of the embedding shared by all residues. */
  constant: number;
  /** Entry k − 1 is √(‖(F W_E)_cos k‖² + ‖(F W_E)_sin k‖²), k = 1..⌊p/2⌋. */
  perFrequency: Float64Array;
  /** ‖(F W_E)_r‖ for every basis row r, in `fourierBasisRows(p)` order (cos and sin apart, constant first). */
  perBasisRow: Float64Array;
}

/**
 * Norms of an embedding W_E (p×d, row x = the embedding of residue x) per Fourier frequency: cos
 * and sin of one frequency are one 2-D subspace (a rotation of x mixes them), so they are pooled.
 */
export function embeddingFourierNorms(wE: Matrix): EmbeddingFourierNorms {
  const p = wE.rows;
  const coeffs = fourierCoefficients(wE);
  const rows = fourierBasisRows(p);
  const squared = new Float64Array(frequencyCount(p));
  const perBasisRow = new Float64Array(p);
  let constant = 0;
  rows.forEach((row, r) => {
    let s = 0;
    for (let j = 0; j < wE.cols; j++) s += coeffs.data[r * wE.cols + j]! ** 2;
    perBasisRow[r] = Math.sqrt(s);
    if (row.kind === "const") constant = s;
    else squared[row.frequency - 1]! += s;
  });
  return { constant: Math.sqrt(constant), perFrequency: squared.map(Math.sqrt), perBasisRow };
}

/**
 * Gini coefficient of the per-frequency Fourier norms of W_E (the constant excluded: it carries no
 * frequency): near 0 for a random embedding, 1 − 1/⌊p/2⌋ when one frequency holds everything.
 * Nanda et al. track it as the embedding's sparsity in the Fourier basis. Cos and sin of a frequency
 * are pooled (a phase shift moves weight between them); for the Gini over all p basis rows instead,
 * take `gini(embeddingFourierNorms(wE).perBasisRow)`.
 */
export function embeddingFourierGini(wE: Matrix): number {
  return gini(embeddingFourierNorms(wE).perFrequency);
}

/**
 * Mean over the embedding's columns (for a one-hot MLP: its hidden neurons) of the Gini coefficient
 * of that column's per-frequency Fourier norms. An MLP that groks modular addition gives each
 * neuron one frequency but spreads its neurons over many frequencies (Gromov 2023), so the pooled
 * `embeddingFourierGini` stays low while this one rises; in Nanda et al.'s transformer both rise.
 */
export function meanColumnFourierGini(wE: Matrix): number {
  const p = wE.rows;
  const coeffs = fourierCoefficients(wE);
  const rows = fourierBasisRows(p);
  const perFrequency = new Float64Array(frequencyCount(p));
  let total = 0;
  for (let j = 0; j < wE.cols; j++) {
    perFrequency.fill(0);
    rows.forEach((row, r) => {
      if (row.kind !== "const") perFrequency[row.frequency - 1]! += coeffs.data[r * wE.cols + j]! ** 2;
    });
    total += gini(perFrequency.map(Math.sqrt));
  }
  return wE.cols === 0 ? Number.NaN : total / wE.cols;
}

/** The `k` frequencies (1-based) with the largest scores (scores[k − 1] belongs to frequency k), largest first. */
export function topFrequencies(scores: ArrayLike<number>, k: number): number[] {
  return rankFrequencies(scores).slice(0, Math.max(0, k));
}

/** The fewest frequencies, largest score first, whose scores sum to at least `share` (e.g. 0.9 of the logit table). */
export function frequenciesExplaining(shares: ArrayLike<number>, share: number): number[] {
  const out: number[] = [];
  let total = 0;
  for (const k of rankFrequencies(shares)) {
    if (total >= share) break;
    out.push(k);
    total += shares[k - 1]!;
  }
  return out;
}

/** Labels of (a + b) mod p for the rows of a logit table (row a·p + b). */
export function modularAdditionLabels(p: number): Int32Array {
  assertModulus(p);
  const labels = new Int32Array(p * p);
  for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) labels[a * p + b] = (a + b) % p;
  return labels;
}

/**
 * Share of the logit table's variance over pairs carried by each frequency's cos/sin(w_k(a+b))
 * directions: (‖cos component‖² + ‖sin component‖²) / ‖L − per-answer means‖², entry k − 1 for
 * frequency k. The shares sum to at most 1 (the rest varies with a and b separately).
 */
export function logitFrequencyShares(logits: Matrix, p: number): Float64Array {
  assertLogitTable(logits, p);
  const grouped = groupBySum(logits, p);
  const shares = new Float64Array(frequencyCount(p));
  for (let k = 1; k <= frequencyCount(p); k++) {
    for (const dir of sumDirections(p, k)) {
      const coef = projectGrouped(grouped, dir, p);
      for (const c of coef) shares[k - 1]! += c * c;
    }
  }
  const means = columnMeans(logits);
  let variance = 0;
  for (let r = 0; r < p * p; r++) for (let c = 0; c < p; c++) variance += (logits.data[r * p + c]! - means[c]!) ** 2;
  return variance === 0 ? shares.fill(0) : shares.map((s) => s / variance);
}

/** Σ over `freqs` of the logit table's components along cos(w_k(a+b)) and sin(w_k(a+b)), per answer column. */
export function frequencyComponents(logits: Matrix, p: number, freqs: readonly number[]): Matrix {
  assertLogitTable(logits, p);
  const grouped = groupBySum(logits, p);
  const out = matrix(p * p, p);
  for (const k of new Set(freqs)) {
    if (!Number.isInteger(k) || k < 1 || k > frequencyCount(p))
      throw new RangeError(`frequency ${k} is not in 1..${frequencyCount(p)}`);
    for (const dir of sumDirections(p, k)) {
      const coef = projectGrouped(grouped, dir, p);
      // Component at pair (a, b), answer c: dir[(a+b) mod p] · coef[c].
      for (let a = 0; a < p; a++) {
        for (let b = 0; b < p; b++) {
          const u = dir[(a + b) % p]!;
          const row = (a * p + b) * p;
          for (let c = 0; c < p; c++) out.data[row + c]! += u * coef[c]!;
        }
      }
    }
  }
  return out;
}

/** Key-frequency components plus the per-answer mean of the original logits (the reference's bias correction). */
export function restrictedLogits(logits: Matrix, p: number, keyFreqs: readonly number[]): Matrix {
  const out = frequencyComponents(logits, p, keyFreqs);
  const means = columnMeans(logits);
  for (let r = 0; r < p * p; r++) for (let c = 0; c < p; c++) out.data[r * p + c]! += means[c]!;
  return out;
}

/** The logit table with the key frequencies' cos/sin(w_k(a+b)) components removed. */
export function excludedLogits(logits: Matrix, p: number, keyFreqs: readonly number[]): Matrix {
  const comps = frequencyComponents(logits, p, keyFreqs);
  return matrix(
    logits.rows,
    logits.cols,
    logits.data.map((v, i) => v - comps.data[i]!),
  );
}

/** Restricted loss: cross-entropy of `restrictedLogits` over all p² pairs. Labels default to (a + b) mod p. */
export function restrictedLoss(
  logits: Matrix,
  p: number,
  keyFreqs: readonly number[],
  labels: Int32Array = modularAdditionLabels(p),
): number {
  return crossEntropy(restrictedLogits(logits, p, keyFreqs), labels);
}

/** Excluded loss: cross-entropy of `excludedLogits` over the training pairs (row indices a·p + b). */
export function excludedLoss(
  logits: Matrix,
  p: number,
  keyFreqs: readonly number[],
  trainRows: ArrayLike<number>,
  labels: Int32Array = modularAdditionLabels(p),
): number {
  return crossEntropy(excludedLogits(logits, p, keyFreqs), labels, trainRows);
}

/** Mean cross-entropy −log softmax(logits_r)[label_r] over `rows` (all rows when omitted), in float64. */
export function crossEntropy(logits: Matrix, labels: ArrayLike<number>, rows?: ArrayLike<number>): number {
  if (labels.length !== logits.rows)
    throw new RangeError(`crossEntropy: ${labels.length} labels for ${logits.rows} rows`);
  const n = rows === undefined ? logits.rows : rows.length;
  if (n === 0) return Number.NaN;
  const c = logits.cols;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const r = rows === undefined ? i : rows[i]!;
    const base = r * c;
    let max = -Infinity;
    for (let j = 0; j < c; j++) max = Math.max(max, logits.data[base + j]!);
    let sum = 0;
    for (let j = 0; j < c; j++) sum += Math.exp(logits.data[base + j]! - max);
    total += max + Math.log(sum) - logits.data[base + labels[r]!]!;
  }
  return total / n;
}

// --- internals ---

/** G[s, c] = Σ over pairs with (a + b) mod p = s of L[(a,b), c]: every cos/sin(w(a+b)) direction is constant on these classes. */
function groupBySum(logits: Matrix, p: number): Float64Array {
  const g = new Float64Array(p * p);
  for (let a = 0; a < p; a++) {
    for (let b = 0; b < p; b++) {
      const s = (a + b) % p;
      const row = (a * p + b) * p;
      for (let c = 0; c < p; c++) g[s * p + c]! += logits.data[row + c]!;
    }
  }
  return g;
}

/**
 * The unit vectors over pairs along cos(w_k(a+b)) and sin(w_k(a+b)), stored by s = (a+b) mod p
 * (value at pair (a,b) is dir[(a+b) mod p]). sin(π(a+b)) vanishes for even p, k = p/2: omitted.
 */
function sumDirections(p: number, k: number): Float64Array[] {
  const dirs: Float64Array[] = [];
  for (const fn of [Math.cos, Math.sin]) {
    const d = new Float64Array(p);
    let norm2 = 0;
    for (let s = 0; s < p; s++) {
      d[s] = fn((2 * Math.PI * k * s) / p);
      norm2 += d[s]! * d[s]!;
    }
    norm2 *= p; // each residue class s holds p pairs
    if (norm2 < 1e-9) continue;
    const inv = 1 / Math.sqrt(norm2);
    dirs.push(d.map((v) => v * inv));
  }
  return dirs;
}

/** uᵀ L per answer column, from the grouped sums: Σ_s dir[s] G[s, c]. */
function projectGrouped(grouped: Float64Array, dir: Float64Array, p: number): Float64Array {
  const coef = new Float64Array(p);
  for (let s = 0; s < p; s++) {
    const u = dir[s]!;
    for (let c = 0; c < p; c++) coef[c]! += u * grouped[s * p + c]!;
  }
  return coef;
}

function columnMeans(m: Matrix): Float64Array {
  const means = new Float64Array(m.cols);
  for (let r = 0; r < m.rows; r++) for (let c = 0; c < m.cols; c++) means[c]! += m.data[r * m.cols + c]!;
  return means.map((v) => v / m.rows);
}

function rankFrequencies(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, i) => i + 1).sort(
    (x, y) => scores[y - 1]! - scores[x - 1]! || x - y,
  );
}

function assertModulus(p: number): void {
  if (!Number.isInteger(p) || p < 2) throw new RangeError(`modulus p must be an integer ≥ 2, got ${p}`);
}

function assertLogitTable(logits: Matrix, p: number): void {
  assertModulus(p);
  if (logits.rows !== p * p || logits.cols !== p) {
    throw new RangeError(
      `a logit table mod ${p} is ${p * p}×${p} (row a·p + b, column = answer), got ${logits.rows}×${logits.cols}`,
    );
  }
}
