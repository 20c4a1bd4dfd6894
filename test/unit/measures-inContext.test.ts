// The in-context baselines (src/measures/inContext.ts): ridge against its closed form in both
// regimes (fewer pairs than dimensions and more), least squares as the minimum-norm interpolant
// when underdetermined, and the per-position errors on sequences with a known answer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bayesRidgeLambda, inContextBaseline, ridgeCoefficients } from "../../src/measures/index";
import { rng } from "../support";

function gaussianRows(n: number, p: number, next: () => number): Float64Array[] {
  return Array.from({ length: n }, () => Float64Array.from({ length: p }, () => 2 * next() - 1));
}

/** (XᵀX + λI)⁻¹Xᵀy by Gauss–Jordan on the p × p system: the textbook form, independent of the Gram trick. */
function directRidge(x: Float64Array[], y: Float64Array, n: number, lambda: number): number[] {
  const p = x[0]!.length;
  const a = Array.from({ length: p }, (_, i) =>
    Array.from({ length: p + 1 }, (_, j) => {
      let s = 0;
      if (j < p) for (let k = 0; k < n; k++) s += x[k]![i]! * x[k]![j]!;
      else for (let k = 0; k < n; k++) s += x[k]![i]! * y[k]!;
      return s + (i === j ? lambda : 0);
    }),
  );
  for (let c = 0; c < p; c++) {
    const piv = a[c]![c]!;
    for (let j = 0; j <= p; j++) a[c]![j]! /= piv;
    for (let r = 0; r < p; r++)
      if (r !== c) {
        const f = a[r]![c]!;
        for (let j = 0; j <= p; j++) a[r]![j]! -= f * a[c]![j]!;
      }
  }
  return a.map((row) => row[p]!);
}

test("ridgeCoefficients equals (XᵀX + λI)⁻¹Xᵀy with fewer pairs than dimensions and with more", () => {
  const next = rng(3);
  const x = gaussianRows(9, 5, next);
  const y = Float64Array.from({ length: 9 }, () => next());
  for (const n of [1, 3, 5, 9])
    for (const lambda of [0.05, 2]) {
      const got = ridgeCoefficients(x, y, n, lambda);
      const want = directRidge(x, y, n, lambda);
      for (let j = 0; j < 5; j++) assert.ok(Math.abs(got[j]! - want[j]!) < 1e-10, `n=${n} λ=${lambda} j=${j}`);
    }
});

test("λ = 0 with fewer pairs than dimensions: the minimum-norm interpolant (fits every pair, lies in their span)", () => {
  const next = rng(4);
  const x = gaussianRows(3, 6, next);
  const y = Float64Array.from([0.3, -1.2, 0.8]);
  const a = ridgeCoefficients(x, y, 3, 0);
  for (let i = 0; i < 3; i++) {
    let pred = 0;
    for (let j = 0; j < 6; j++) pred += a[j]! * x[i]![j]!;
    assert.ok(Math.abs(pred - y[i]!) < 1e-10, `pair ${i} not interpolated`);
  }
  // In the row space: a = Xᵀc, so a is orthogonal to any vector orthogonal to every row.
  const z = directRidge(x, y, 3, 1e-9); // the ridge limit λ → 0 is the minimum-norm solution
  for (let j = 0; j < 6; j++) assert.ok(Math.abs(a[j]! - z[j]!) < 1e-6, `j=${j}: ${a[j]} vs ${z[j]}`);
  assert.deepEqual(Array.from(ridgeCoefficients(x, y, 0, 0)), [0, 0, 0, 0, 0, 0], "no pair: predict 0");
});

test("inContextBaseline: noiseless sequences are solved exactly once there are dim pairs; position 1 predicts 0", () => {
  const next = rng(5);
  const dim = 3;
  const sequences = Array.from({ length: 4 }, () => {
    const w = Float64Array.from({ length: dim }, () => next());
    const x = gaussianRows(6, dim, next);
    const y = Float64Array.from(x, (xi) => xi.reduce((s, v, j) => s + v * w[j]!, 0));
    return { x, y };
  });
  const ls = inContextBaseline(sequences, 0);
  assert.equal(ls.length, 6);
  const meanSq = sequences.reduce((s, q) => s + q.y[0]! ** 2, 0) / 4;
  assert.ok(Math.abs(ls[0]! - meanSq) < 1e-12, "position 1: the prediction 0");
  assert.ok(ls[1]! > 1e-6 && ls[2]! > 1e-6, "fewer pairs than dim: not determined");
  for (const k of [3, 4, 5]) assert.ok(ls[k]! < 1e-18, `position ${k + 1}: ${ls[k]}`);
  assert.equal(bayesRidgeLambda(0.5, 8), 2);
});
