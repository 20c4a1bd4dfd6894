// TracIn on linear regression against the closed form η (wᵀx − y)x · mean_q (wᵀx′ − y′)x′, in
// exact mode and projected mode (unbiased over projection seeds), TracInCP as the sum over
// checkpoints, and query selection.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../../src/sdk/rng";
import { dense } from "../../src/trainer/ops";
import type { AnalysisTarget, Examples } from "../../src/trainer/methods/target";
import { GradientProjector } from "../../src/trainer/methods/perExample";
import { selectExamples, tracIn, tracInCheckpoint, tracInCP } from "../../src/trainer/methods/tracin";
import { useBackend } from "../tensorAnalysisSupport";

const d = 12;

function linearRegression(seed: number): { target: AnalysisTarget; w: tf.Variable; dispose: () => void } {
  const w = tf.variable(
    tf.tensor2d(new Rng(seed, "w").normals(d, 1), [d, 1]),
    true,
    `tracin_w_${seed}_${Math.random()}`,
  );
  const target: AnalysisTarget = {
    params: [{ name: "w", variable: w }],
    output: (x) => dense(x as tf.Tensor2D, w as unknown as tf.Tensor2D),
    perExampleLoss: (out, y) => tf.tidy(() => tf.mul(tf.sum(tf.square(tf.sub(out, y)), -1), 0.5) as tf.Tensor1D),
  };
  return { target, w, dispose: () => w.dispose() };
}

function examples(n: number, seed: number): Examples {
  const r = new Rng(seed, "examples");
  return {
    x: tf.tensor2d(r.normals(n * d), [n, d]),
    y: tf.tensor2d(r.normals(n), [n, 1]),
    indices: Int32Array.from({ length: n }, (_, i) => 100 + i),
  };
}

/** η Σ_k g_z[k] q̄[k] with g = (wᵀx − y)x computed in plain JS. */
function closedForm(
  w: Float32Array,
  train: Examples,
  query: Examples,
  lr: number,
  aggregate: "mean" | "sum",
): number[] {
  const grad = (e: Examples) => {
    const x = e.x.dataSync(),
      y = e.y.dataSync(),
      n = y.length;
    return Array.from({ length: n }, (_, i) => {
      let r = -y[i]!;
      for (let k = 0; k < d; k++) r += w[k]! * x[i * d + k]!;
      return Array.from({ length: d }, (_, k) => r * x[i * d + k]!);
    });
  };
  const q = grad(query);
  const qbar = Array.from(
    { length: d },
    (_, k) => q.reduce((s, g) => s + g[k]!, 0) / (aggregate === "mean" ? q.length : 1),
  );
  return grad(train).map((g) => lr * g.reduce((s, v, k) => s + v * qbar[k]!, 0));
}

for (const backend of ["cpu", "wasm"] as const) {
  test(`TracIn on linear regression equals the closed form (exact mode, mean and sum) (${backend})`, async () => {
    await useBackend(backend);
    const { target, w, dispose } = linearRegression(1);
    const train = examples(10, 2),
      query = examples(4, 3);
    for (const aggregate of ["mean", "sum"] as const) {
      const before = tf.memory().numTensors;
      const r = tracIn(target, train, query, { lr: 0.05, mode: "exact", aggregate });
      const want = closedForm(w.dataSync() as Float32Array, train, query, 0.05, aggregate);
      assert.equal(tf.memory().numTensors, before, "no leaked tensors");
      assert.equal(r.dim, d);
      assert.equal(r.querySize, 4);
      assert.deepEqual(Array.from(r.indices), Array.from(train.indices));
      r.scores.forEach((s, i) => {
        assert.ok(Math.abs(s - want[i]!) <= 1e-4 * (1 + Math.abs(want[i]!)), `example ${i}: ${s} vs ${want[i]}`);
      });
    }
    dispose();
  });
}

test("projected TracIn is an unbiased estimate of exact TracIn (mean over projection seeds)", async () => {
  await useBackend("cpu");
  const { target, w, dispose } = linearRegression(4);
  const train = examples(6, 5),
    query = examples(3, 6);
  const want = closedForm(w.dataSync() as Float32Array, train, query, 1, "mean");
  const seeds = 300;
  const mean = new Float64Array(6);
  for (let s = 0; s < seeds; s++) {
    const r = tracIn(target, train, query, { lr: 1, mode: { kIn: 4, kOut: 4, kFallback: 4, seed: s } });
    assert.equal(r.dim, 4); // in side projected to 4, the 1-wide output side kept
    r.scores.forEach((v, i) => {
      mean[i]! += v / seeds;
    });
  }
  // Per-seed spread of a 4-dim JL estimate is ≈ ‖g‖‖q̄‖·√(2/4); the mean of 300 is ~17x tighter.
  const scale = Math.max(...want.map(Math.abs));
  mean.forEach((m, i) => {
    assert.ok(Math.abs(m - want[i]!) < 0.15 * scale, `example ${i}: mean ${m} vs exact ${want[i]}`);
  });
  dispose();
});

test("TracInCP sums checkpoints, each scaled by its own learning rate", async () => {
  await useBackend("cpu");
  const { target, w, dispose } = linearRegression(7);
  const train = examples(5, 8),
    query = examples(2, 9);
  const projector = new GradientProjector(target, "exact");
  const c1 = tracInCheckpoint(projector, train, query, { lr: 0.1 });
  const w1 = w.dataSync().slice() as Float32Array;
  w.assign(tf.add(w, 0.5));
  const c2 = tracInCheckpoint(projector, train, query, { lr: 0.02 });
  const want1 = closedForm(w1, train, query, 0.1, "mean"),
    want2 = closedForm(w.dataSync() as Float32Array, train, query, 0.02, "mean");
  const cp = tracInCP([c1, c2]);
  cp.forEach((v, i) => {
    assert.ok(Math.abs(v - (want1[i]! + want2[i]!)) < 1e-4 * (1 + Math.abs(v)), `example ${i}`);
  });
  projector.dispose();
  dispose();
});

test("query selection: one class, positions, all", async () => {
  await useBackend("cpu");
  const labels = [2, 0, 2, 1, 2];
  const e: Examples = {
    x: tf.tensor2d([0, 1, 2, 3, 4], [5, 1]),
    y: tf.cast(tf.oneHot(tf.tensor1d(labels, "int32"), 3), "float32"),
    indices: Int32Array.from([10, 11, 12, 13, 14]),
  };
  const c = selectExamples(e, { kind: "class", label: 2 });
  assert.deepEqual(Array.from(c.indices), [10, 12, 14]);
  assert.deepEqual(Array.from(c.x.dataSync()), [0, 2, 4]);
  const p = selectExamples(e, { kind: "positions", positions: [4, 1] });
  assert.deepEqual(Array.from(p.indices), [14, 11]);
  assert.equal(selectExamples(e, { kind: "all" }).indices.length, 5);
  assert.throws(() => selectExamples(e, { kind: "class", label: 7 }), /empty/);
  assert.throws(() => selectExamples(e, { kind: "positions", positions: [5] }), /outside/);
});
