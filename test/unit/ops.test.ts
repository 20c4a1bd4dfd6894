// dense(): forward equals tf.matMul, gradients equal the analytic dy·wᵀ / xᵀ·dy (computed with
// tf.matMul's transpose flags, i.e. exactly what tf.matMul's own gradient computes) and finite
// differences, on both cpu and wasm; gradients are lazy per input.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { maxAbsDiff } from "../support";
import { dense, matMulT, prefersExplicitTranspose } from "../../src/trainer/ops";
import { useBackend } from "../tensorAnalysisSupport";

function randn(shape: [number, number], seed: number): tf.Tensor2D {
  return tf.randomNormal(shape, 0, 1, "float32", seed) as tf.Tensor2D;
}

for (const backend of ["cpu", "wasm"] as const) {
  test(`dense forward equals tf.matMul (${backend})`, async () => {
    await useBackend(backend);
    tf.tidy(() => {
      const x = randn([37, 19], 1),
        w = randn([19, 23], 2);
      assert.equal(maxAbsDiff(dense(x, w), tf.matMul(x, w)), 0);
    });
  });

  test(`dense gradients equal dy·wᵀ and xᵀ·dy (${backend})`, async () => {
    await useBackend(backend);
    tf.tidy(() => {
      const x = randn([41, 29], 3),
        w = randn([29, 17], 4),
        dy = randn([41, 17], 5);
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => dense(a as tf.Tensor2D, b as tf.Tensor2D))([x, w], dy);
      // Reference: what tf.matMul's registered gradient computes (transpose flags).
      const refDx = tf.matMul(dy, w, false, true),
        refDw = tf.matMul(x, dy, true, false);
      // Same products in a different summation layout on wasm: equal to float rounding.
      const tol = prefersExplicitTranspose() ? 1e-4 : 0;
      assert.ok(maxAbsDiff(dx!, refDx) <= tol, `dx differs by ${maxAbsDiff(dx!, refDx)}`);
      assert.ok(maxAbsDiff(dw!, refDw) <= tol, `dw differs by ${maxAbsDiff(dw!, refDw)}`);
      assert.ok(maxAbsDiff(matMulT(dy, w, false, true), refDx) <= tol);
      assert.ok(maxAbsDiff(matMulT(x, dy, true, false), refDw) <= tol);
    });
  });

  test(`dense gradient matches finite differences (${backend})`, async () => {
    await useBackend(backend);
    // L = sum(dense(x, w) * c): dL/dw[i][j] = sum_b x[b][i] c[b][j].
    const x = randn([5, 4], 6),
      w = randn([4, 3], 7),
      c = randn([5, 3], 8);
    const [, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => dense(a as tf.Tensor2D, b as tf.Tensor2D))([x, w], c);
    const xs = x.arraySync(),
      cs = c.arraySync(),
      ws = w.arraySync();
    const loss = (wv: number[][]) => {
      let s = 0;
      for (let b = 0; b < 5; b++)
        for (let j = 0; j < 3; j++) for (let i = 0; i < 4; i++) s += xs[b]![i]! * wv[i]![j]! * cs[b]![j]!;
      return s;
    };
    const g = dw!.arraySync() as number[][];
    const h = 1e-3;
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 3; j++) {
        const up = ws.map((r) => [...r]),
          dn = ws.map((r) => [...r]);
        up[i]![j]! += h;
        dn[i]![j]! -= h;
        const num = (loss(up) - loss(dn)) / (2 * h);
        assert.ok(
          Math.abs(num - g[i]![j]!) < 1e-3 * Math.max(1, Math.abs(num)),
          `dw[${i}][${j}] ${g[i]![j]} vs ${num}`,
        );
      }
    }
    tf.dispose([x, w, c, dw!]);
  });

  test(`dense computes no gradient for a constant input (${backend})`, async () => {
    await useBackend(backend);
    const x = randn([11, 7], 9),
      w = randn([7, 5], 10),
      dy = randn([11, 5], 11);
    let matMuls = 0;
    const before = tf.engine().state.numTensors;
    const profile = await tf.profile(() => {
      // Only w is differentiated; x is a constant input.
      const dw = tf.grad((b: tf.Tensor) => dense(x, b as tf.Tensor2D))(w, dy);
      dw.dispose();
    });
    for (const k of profile.kernels) if (k.name === "BatchMatMul") matMuls++;
    // The forward runs as LmDense, so the one BatchMatMul is dw = xᵀ·dy; no dx = dy·wᵀ.
    assert.equal(matMuls, 1, profile.kernelNames.join(","));
    assert.equal(tf.engine().state.numTensors, before, "no leaked tensors");
    tf.dispose([x, w, dy]);
  });
}
