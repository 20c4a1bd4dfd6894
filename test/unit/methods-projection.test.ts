// LoGra projection error against the JL expectation on a small MLP. For a rank-one layer
// gradient g = x δᵀ (one row per example), the factor-wise estimate of ⟨g_i, g_j⟩ is â·b̂ with
// â = P_inᵀx_i·P_inᵀx_j, b̂ = P_outᵀδ_i·P_outᵀδ_j independent and unbiased, Var(â) =
// (‖x_i‖²‖x_j‖² + (x_i·x_j)²)/k_in (same for b̂ with k_out); layers use independent matrices. The
// test standardizes every pair's error by that predicted standard deviation and checks, over many
// projection seeds, that the standardized errors have mean ≈ 0 (unbiased) and mean square ≈ 1
// (the spread the JL analysis predicts), not a single lucky draw.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { selectBackend } from "../../src/trainer/backend";
import { GradientProjector, projectionError } from "../../src/trainer/methods/perExample";
import { tapPass } from "../../src/trainer/methods/tap";
import { build, featClassIO, features, mlpSpec, oneHotLabels } from "../tensorAnalysisSupport";

const dot = (v: Float32Array | Float64Array, w: number, i: number, j: number) => {
  let s = 0;
  for (let k = 0; k < w; k++) s += v[i * w + k]! * v[j * w + k]!;
  return s;
};

test("LoGra projected dot products: unbiased, with the spread the JL analysis predicts", async (t) => {
  await selectBackend("cpu");
  const { model, target } = build(mlpSpec({ hidden: [20], bias: false, activation: "tanh" }), featClassIO(24, 10));
  const n = 6;
  const x = features(n, 24, 1),
    y = oneHotLabels(n, 10, 2);
  const kIn = 6,
    kOut = 5;
  // Exact factors per layer: x_i and δ_i (one row per example).
  const pass = tapPass(target, x, (out) => tf.sum(target.perExampleLoss(out, y)));
  const factors = pass.layers.map((f) => {
    assert.equal(f.input.kind, "dense");
    return {
      x: (f.input as { x: tf.Tensor2D }).x.dataSync() as Float32Array,
      xw: f.inDim,
      d: f.delta!.dataSync() as Float32Array,
      dw: f.outDim,
    };
  });
  pass.dispose();
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) pairs.push([i, j]);
  const exact = pairs.map(([i, j]) => factors.reduce((s, f) => s + dot(f.x, f.xw, i, j) * dot(f.d, f.dw, i, j), 0));
  const variance = pairs.map(([i, j]) =>
    factors.reduce((s, f) => {
      const a = dot(f.x, f.xw, i, j),
        A = dot(f.x, f.xw, i, i) * dot(f.x, f.xw, j, j);
      const b = dot(f.d, f.dw, i, j),
        B = dot(f.d, f.dw, i, i) * dot(f.d, f.dw, j, j);
      return s + (a * a + (A + a * a) / kIn) * (b * b + (B + b * b) / kOut) - a * a * b * b;
    }, 0),
  );
  // Sanity: the exact mode reproduces the factor dot products.
  const ex = new GradientProjector(target, "exact");
  const g = ex.perExample({ x, y });
  ex.dispose();
  pairs.forEach(([i, j], p) => {
    assert.ok(Math.abs(dot(g.values, g.dim, i, j) - exact[p]!) < 1e-4 * (1 + Math.abs(exact[p]!)));
  });

  const seeds = 80;
  let sum = 0,
    sq = 0,
    count = 0;
  for (let seed = 0; seed < seeds; seed++) {
    const proj = new GradientProjector(target, { kIn, kOut, kFallback: 8, seed });
    const p = proj.perExample({ x, y });
    proj.dispose();
    assert.equal(p.dim, 2 * kIn * kOut);
    pairs.forEach(([i, j], q) => {
      const z = (dot(p.values, p.dim, i, j) - exact[q]!) / Math.sqrt(variance[q]!);
      sum += z;
      sq += z * z;
      count++;
    });
  }
  const meanZ = sum / count,
    meanZ2 = sq / count;
  t.diagnostic(`standardized errors over ${count} pairs: mean ${meanZ.toFixed(3)}, mean square ${meanZ2.toFixed(3)}`);
  assert.ok(Math.abs(meanZ) < 0.15, `mean standardized error ${meanZ}`);
  assert.ok(meanZ2 > 0.7 && meanZ2 < 1.35, `mean squared standardized error ${meanZ2}`);
  x.dispose();
  y.dispose();
  model.dispose();
});

test("projectionError: cosine-scale error is centred, within the JL scale, and shrinks like 1/√k", async (t) => {
  await selectBackend("cpu");
  const { model, target } = build(mlpSpec({ hidden: [32], activation: "relu" }), featClassIO(40, 16));
  const x = features(8, 40, 3),
    y = oneHotLabels(8, 16, 4);
  const stats = (k: number) => {
    const runs = Array.from({ length: 12 }, (_, seed) =>
      projectionError(target, { x, y }, { kIn: k, kOut: k, kFallback: k, seed }),
    );
    return {
      mean: runs.reduce((s, r) => s + r.mean, 0) / runs.length,
      rms: Math.sqrt(runs.reduce((s, r) => s + r.rms ** 2, 0) / runs.length),
      pairs: runs[0]!.pairs,
    };
  };
  const small = stats(4),
    large = stats(16);
  t.diagnostic(
    `k=4: mean ${small.mean.toFixed(4)} rms ${small.rms.toFixed(4)}; k=16: mean ${large.mean.toFixed(4)} rms ${large.rms.toFixed(4)}`,
  );
  assert.equal(small.pairs, 36);
  // Rank-one layers: the diagonal's variance is (1+2/k)² − 1; off-diagonal pairs have less.
  for (const [k, s] of [
    [4, small],
    [16, large],
  ] as const) {
    const bound = Math.sqrt((1 + 2 / k) ** 2 - 1);
    assert.ok(s.rms < 1.2 * bound && s.rms > 0.1 * bound, `k=${k}: rms ${s.rms}, JL scale ${bound}`);
    assert.ok(Math.abs(s.mean) < 0.5 * s.rms, `k=${k}: mean ${s.mean} vs rms ${s.rms}`);
  }
  const ratio = small.rms / large.rms;
  assert.ok(ratio > 1.5 && ratio < 3.5, `rms(k=4)/rms(k=16) = ${ratio}, JL predicts ≈ 2.2`);
  x.dispose();
  y.dispose();
  model.dispose();
});

test("projection is deterministic in its seed and identity where k ≥ width", async () => {
  await selectBackend("cpu");
  const { model, target } = build(mlpSpec({ hidden: [5], activation: "tanh" }), featClassIO(30, 3));
  const x = features(4, 30, 1),
    y = oneHotLabels(4, 3, 2);
  const run = (seed: number) => {
    const p = new GradientProjector(target, { kIn: 8, kOut: 8, kFallback: 8, seed });
    const r = p.perExample({ x, y });
    p.dispose();
    return r;
  };
  const a = run(1),
    b = run(1),
    c = run(2);
  assert.deepEqual(Array.from(a.values), Array.from(b.values));
  assert.notDeepEqual(Array.from(a.values), Array.from(c.values));
  // layers.0.weight [30,5]: in 30→8, out 5 kept; bias [5]: 1·5; out.weight [5,3]: kept 5·3; out.bias 3.
  assert.deepEqual(
    a.blocks.map((bl) => [bl.name, bl.size]),
    [
      ["layers.0.weight", 40],
      ["layers.0.bias", 5],
      ["out.weight", 15],
      ["out.bias", 3],
    ],
  );
  const ex = new GradientProjector(target, "exact");
  const e = ex.perExample({ x, y });
  ex.dispose();
  // The unprojected blocks equal the exact gradient's.
  for (let i = 0; i < 4; i++)
    for (let k = 0; k < 23; k++)
      assert.ok(Math.abs(a.values[i * a.dim + 40 + k]! - e.values[i * e.dim + 150 + k]!) < 1e-6);
  x.dispose();
  y.dispose();
  model.dispose();
});
