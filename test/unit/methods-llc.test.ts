// The local learning coefficient against the learning coefficients of singular learning theory:
// a regular model (linear regression with d parameters) has λ = d/2; the scalar two-layer linear
// network f = u·v·x at a minimum with uv = c ≠ 0 has a one-dimensional set of minima, so λ = 1/2
// (one direction of curvature), not d/2 = 1. The SGLD estimate λ̂ = nβ(E[L_n] − L_n(w*)) of
// src/trainer/methods/llc.ts must land within 15% of each.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../../src/sdk/rng";
import { computeLlc } from "../../src/trainer/methods/llc";
import type { AnalysisTarget } from "../../src/trainer/methods/target";
import { useBackend } from "../tensorAnalysisSupport";

const squared = (out: tf.Tensor, y: tf.Tensor) => tf.mul(0.5, tf.sum(tf.square(tf.sub(out, y)), 1)) as tf.Tensor1D;

/** Least squares by the normal equations (Gauss–Jordan), float64. */
function leastSquares(z: number[][], y: number[]): number[] {
  const d = z[0]!.length;
  const a = Array.from({ length: d }, (_, i) => [
    ...Array.from({ length: d }, (_, j) => z.reduce((s, r) => s + r[i]! * r[j]!, 0)),
    z.reduce((s, r, k) => s + r[i]! * y[k]!, 0),
  ]);
  for (let c = 0; c < d; c++) {
    const p = a[c]![c]!;
    for (let j = 0; j <= d; j++) a[c]![j]! /= p;
    for (let r = 0; r < d; r++) {
      if (r === c) continue;
      const f = a[r]![c]!;
      for (let j = 0; j <= d; j++) a[r]![j]! -= f * a[c]![j]!;
    }
  }
  return a.map((r) => r[d]!);
}

test("λ̂ of linear regression with d = 5 parameters is within 15% of d/2 (at the least-squares minimum)", async () => {
  await useBackend("cpu");
  const n = 1000;
  const D = 4;
  const rng = new Rng(11, "llc");
  const x = Array.from({ length: n }, () => Array.from({ length: D }, () => rng.normal()));
  const y = x.map((r) => r[0]! - 0.5 * r[1]! + 0.3 + 0.5 * rng.normal());
  const theta = leastSquares(
    x.map((r) => [...r, 1]),
    y,
  );
  const w = tf.variable(tf.tensor2d(theta.slice(0, D).map((v) => [v])), true, "llc.w");
  const b = tf.variable(tf.tensor1d([theta[D]!]), true, "llc.b");
  const target: AnalysisTarget = {
    params: [
      { name: "w", variable: w },
      { name: "b", variable: b },
    ],
    output: (xx) => tf.add(tf.matMul(xx as tf.Tensor2D, w as tf.Tensor2D), b),
    perExampleLoss: squared,
  };
  const train = { x: tf.tensor2d(x), y: tf.tensor2d(y.map((v) => [v])), indices: Int32Array.from(x, (_, i) => i) };
  try {
    const r = await computeLlc(target, train, {
      stepSize: 1e-3,
      localization: 1,
      chains: 4,
      draws: 400,
      burnIn: 200,
      thin: 1,
      batchSize: n,
      seed: 3,
    });
    const d = D + 1;
    assert.ok(Math.abs(r.llc - d / 2) <= 0.15 * (d / 2), `λ̂ = ${r.llc} ± ${r.stdErr}, expected ${d / 2}`);
    assert.ok(r.stdErr > 0 && r.stdErr < 0.1 * (d / 2), `standard error ${r.stdErr}`);
    assert.equal(r.chainLlc.length, 4);
    assert.ok(r.rhat < 1.1, `split R-hat ${r.rhat}`);
    assert.deepEqual(r.warnings, []);
    assert.ok(Math.abs(r.options.nBeta - n / Math.log(n)) < 1e-9, "β = 1/log n by default");
    // The checkpoint is restored after sampling.
    assert.deepEqual(Array.from(b.dataSync()), [Math.fround(theta[D]!)]);
  } finally {
    tf.dispose([w, b, train.x, train.y]);
  }
});

test("λ̂ of the degenerate minimum of f = u·v·x (minima uv = c form a curve) is within 15% of 1/2, not d/2 = 1", async () => {
  await useBackend("cpu");
  const n = 1000;
  const rng = new Rng(12, "llc-uv");
  const x = Array.from({ length: n }, () => rng.normal());
  // y = c·x exactly: every (u, v) with uv = c is a minimum with zero loss.
  const c = 1;
  const u = tf.variable(tf.tensor2d([[1]]), true, "llc.u");
  const v = tf.variable(tf.tensor2d([[c]]), true, "llc.v");
  const target: AnalysisTarget = {
    params: [
      { name: "u", variable: u },
      { name: "v", variable: v },
    ],
    output: (xx) => tf.matMul(tf.matMul(xx as tf.Tensor2D, v as tf.Tensor2D), u as tf.Tensor2D),
    perExampleLoss: squared,
  };
  const train = {
    x: tf.tensor2d(x.map((t) => [t])),
    y: tf.tensor2d(x.map((t) => [c * t])),
    indices: Int32Array.from(x, (_, i) => i),
  };
  try {
    const r = await computeLlc(target, train, {
      stepSize: 1e-3,
      localization: 1,
      chains: 4,
      draws: 400,
      burnIn: 200,
      batchSize: n,
      seed: 5,
    });
    assert.ok(Math.abs(r.llc - 0.5) <= 0.15 * 0.5, `λ̂ = ${r.llc} ± ${r.stdErr}, expected 1/2`);
  } finally {
    tf.dispose([u, v, train.x, train.y]);
  }
});
