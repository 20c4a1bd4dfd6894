// fourier.ts: the basis is orthonormal (Parseval), embedding norms and Gini behave as the paper
// describes, and restricted/excluded logits split a logit table exactly along the key frequencies.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  crossEntropy,
  embeddingFourierGini,
  meanColumnFourierGini,
  embeddingFourierNorms,
  excludedLogits,
  excludedLoss,
  fourierBasis,
  fourierBasisRows,
  frequenciesExplaining,
  frequencyComponents,
  logitFrequencyShares,
  modularAdditionLabels,
  restrictedLogits,
  restrictedLoss,
  topFrequencies,
} from "../../src/measures/fourier";
import { frobeniusNorm, matMulTransB, matrix, type Matrix } from "../../src/measures/matrix";
import { Rng } from "../../src/sdk/rng";
import { assertClose, maxAbsDiffArrays, randomMatrix } from "../analysisSupport";

/** A logit table mod p: Σ_k amp_k cos(w_k(a + b − c) + phase_k), plus bias[c] when given. */
function trigTable(p: number, terms: Array<{ k: number; amp: number; phase: number }>, bias?: Float64Array): Matrix {
  const m = matrix(p * p, p);
  for (let a = 0; a < p; a++)
    for (let b = 0; b < p; b++)
      for (let c = 0; c < p; c++) {
        let v = bias ? bias[c]! : 0;
        for (const t of terms) v += t.amp * Math.cos((2 * Math.PI * t.k * (a + b - c)) / p + t.phase);
        m.data[(a * p + b) * p + c] = v;
      }
  return m;
}

test("Fourier basis: orthonormal rows (F Fᵀ = I) for odd and even p, and Parseval ‖Fx‖ = ‖x‖", () => {
  for (const p of [2, 7, 8, 113]) {
    const f = fourierBasis(p);
    const ffT = matMulTransB(f, f);
    let err = 0;
    for (let i = 0; i < p; i++)
      for (let j = 0; j < p; j++) err = Math.max(err, Math.abs(ffT.data[i * p + j]! - (i === j ? 1 : 0)));
    assert.ok(err < 1e-12, `p=${p}: max |FFᵀ − I| = ${err}`);
    const rng = new Rng(p, "parseval");
    const x = Float64Array.from({ length: p }, () => rng.normal());
    let fx2 = 0,
      x2 = 0;
    for (let i = 0; i < p; i++) {
      let s = 0;
      for (let j = 0; j < p; j++) s += f.data[i * p + j]! * x[j]!;
      fx2 += s * s;
      x2 += x[i]! * x[i]!;
    }
    assertClose(fx2, x2, 1e-10 * x2, `Parseval p=${p}`);
    assert.equal(fourierBasisRows(p).length, p);
  }
});

test("Fourier basis rows are 1/√p, cos(w_k x), sin(w_k x) normalized, in the reference's order", () => {
  const p = 11;
  const f = fourierBasis(p);
  for (let x = 0; x < p; x++) {
    assertClose(f.data[x]!, 1 / Math.sqrt(p), 1e-15, "const");
    assertClose(f.data[(2 * 3 - 1) * p + x]!, Math.sqrt(2 / p) * Math.cos((2 * Math.PI * 3 * x) / p), 1e-14, "cos 3");
    assertClose(f.data[2 * 3 * p + x]!, Math.sqrt(2 / p) * Math.sin((2 * Math.PI * 3 * x) / p), 1e-14, "sin 3");
  }
  assert.deepEqual(fourierBasisRows(5), [
    { kind: "const", frequency: 0 },
    { kind: "cos", frequency: 1 },
    { kind: "sin", frequency: 1 },
    { kind: "cos", frequency: 2 },
    { kind: "sin", frequency: 2 },
  ]);
});

test("embedding Fourier norms: a one-frequency embedding has Gini 1 − 1/⌊p/2⌋, a random one a low Gini", () => {
  const p = 113,
    d = 32,
    k = 14;
  const u = randomMatrix(1, d, 1),
    v = randomMatrix(1, d, 2),
    c0 = randomMatrix(1, d, 3);
  const wE = matrix(p, d);
  for (let x = 0; x < p; x++)
    for (let j = 0; j < d; j++) {
      const w = (2 * Math.PI * k * x) / p;
      wE.data[x * d + j] = Math.cos(w) * u.data[j]! + Math.sin(w) * v.data[j]! + c0.data[j]!; // constant row too: excluded from Gini
    }
  const norms = embeddingFourierNorms(wE);
  assert.equal(norms.perFrequency.length, 56);
  for (let f = 1; f <= 56; f++)
    if (f !== k) assert.ok(norms.perFrequency[f - 1]! < 1e-9, `frequency ${f} should be empty`);
  // Σ_x (cos w x · u + sin w x · v)² = (p/2)(‖u‖² + ‖v‖²) for 0 < k < p/2.
  assertClose(
    norms.perFrequency[k - 1]!,
    Math.sqrt((p / 2) * (frobeniusNorm(u) ** 2 + frobeniusNorm(v) ** 2)),
    1e-9,
    "energy at k",
  );
  assertClose(norms.constant, Math.sqrt(p) * frobeniusNorm(c0), 1e-9, "constant");
  assertClose(norms.perBasisRow[2 * k - 1]!, Math.sqrt(p / 2) * frobeniusNorm(u), 1e-9, "cos row");
  assertClose(norms.perBasisRow[2 * k]!, Math.sqrt(p / 2) * frobeniusNorm(v), 1e-9, "sin row");
  assertClose(embeddingFourierGini(wE), 1 - 1 / 56, 1e-9, "one-frequency Gini");
  assert.deepEqual(topFrequencies(norms.perFrequency, 1), [k]);

  const random = embeddingFourierGini(randomMatrix(p, 128, 4));
  assert.ok(random < 0.15, `random embedding Gini ${random}`);
});

test("a table made of key-frequency components: excluded part 0, restricted logits equal the input", () => {
  const p = 23;
  const key = [3, 7];
  const table = trigTable(p, [
    { k: 3, amp: 2, phase: 0 },
    { k: 7, amp: 1.3, phase: 0.4 },
  ]);
  const excluded = excludedLogits(table, p, key);
  assert.ok(frobeniusNorm(excluded) < 1e-9 * frobeniusNorm(table), `excluded norm ${frobeniusNorm(excluded)}`);
  assert.ok(maxAbsDiffArrays(restrictedLogits(table, p, key).data, table.data) < 1e-10);
  // Zero logits give ln p; restricted loss is the table's own loss.
  const train = Int32Array.from({ length: 100 }, (_, i) => (i * 5) % (p * p));
  assertClose(excludedLoss(table, p, key, train), Math.log(p), 1e-9, "excluded loss of the pure table");
  assertClose(restrictedLoss(table, p, key), crossEntropy(table, modularAdditionLabels(p)), 1e-10, "restricted loss");
  // Removing only one key frequency leaves the other.
  const onlySeven = trigTable(p, [{ k: 7, amp: 1.3, phase: 0.4 }]);
  assert.ok(maxAbsDiffArrays(excludedLogits(table, p, [3]).data, onlySeven.data) < 1e-10);
});

test("restricted logits drop other frequencies and a-only/b-only terms but keep the per-answer bias", () => {
  const p = 17;
  const bias = Float64Array.from({ length: p }, (_, c) => 0.1 * c);
  const key = trigTable(p, [{ k: 2, amp: 3, phase: 1 }], bias);
  const full = trigTable(
    p,
    [
      { k: 2, amp: 3, phase: 1 },
      { k: 5, amp: 0.7, phase: 0 },
    ],
    bias,
  );
  // A term in a alone (cos(w a)) is not a function of a + b: restricted logits must drop it too.
  for (let a = 0; a < p; a++)
    for (let b = 0; b < p; b++)
      for (let c = 0; c < p; c++) full.data[(a * p + b) * p + c]! += 0.5 * Math.cos((2 * Math.PI * 2 * a) / p);
  assert.ok(maxAbsDiffArrays(restrictedLogits(full, p, [2]).data, key.data) < 1e-10);
  const shares = logitFrequencyShares(full, p);
  assert.deepEqual(topFrequencies(shares, 2), [2, 5]);
  const total = shares.reduce((s, v) => s + v, 0);
  assert.ok(total < 1 && total > 0.9, `the a-only term is not a frequency of a + b: shares sum ${total}`);
  assert.deepEqual(frequenciesExplaining(shares, 0.8), [2]);
  assert.deepEqual(frequenciesExplaining(shares, total - 1e-9), [2, 5]);
  // The components are orthogonal projections: their energy is the shares' fraction of the
  // variance about the per-answer means.
  const comps = frequencyComponents(full, p, [2, 5]);
  let variance = 0;
  for (let c = 0; c < p; c++) {
    let mean = 0;
    for (let r = 0; r < p * p; r++) mean += full.data[r * p + c]! / (p * p);
    for (let r = 0; r < p * p; r++) variance += (full.data[r * p + c]! - mean) ** 2;
  }
  assertClose(frobeniusNorm(comps) ** 2, (shares[1]! + shares[4]!) * variance, 1e-9 * variance, "energy");
});

test("cross-entropy: uniform logits give ln C; the closed form on a 2-class row; row subsets", () => {
  const uniform = matrix(3, 4).data.fill(2.0);
  assertClose(crossEntropy(matrix(3, 4, uniform), [0, 1, 3]), Math.log(4), 1e-15, "uniform");
  const m = matrix(2, 2, [1000, 0, 0, 2]); // large logit: must not overflow
  assertClose(crossEntropy(m, [0, 0], [0]), Math.log1p(Math.exp(-1000)), 1e-15, "confident");
  assertClose(crossEntropy(m, [0, 0], [1]), Math.log(1 + Math.exp(2)), 1e-12, "wrong");
  assert.ok(Number.isNaN(crossEntropy(m, [0, 0], [])));
});

test("per-neuron Fourier Gini: one frequency per column scores high even when the columns spread over all frequencies", () => {
  const p = 13;
  const cols = 6; // frequencies 1..6, one per column
  const w = matrix(p, cols);
  for (let x = 0; x < p; x++)
    for (let j = 0; j < cols; j++) w.data[x * cols + j] = Math.cos((2 * Math.PI * (j + 1) * x) / p);
  const perNeuron = meanColumnFourierGini(w);
  assert.ok(Math.abs(perNeuron - (1 - 1 / 6)) < 1e-9, `one frequency per column: ${perNeuron}`);
  assert.ok(embeddingFourierGini(w) < 0.05, "pooled over columns the frequencies are uniform");
});
