// Empirical NTK (trace over outputs) through the tap: closed form and constancy for a linear
// model, agreement with a brute-force J Jᵀ for a one-hidden-layer net and for a transformer (whose
// positional embedding goes through the looped fallback), the Hutchinson estimate's convergence,
// kernel distance, and the recorded hidden representations.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../../src/sdk/rng";
import { kernelDistance as kernelDistanceOf, matrix } from "../../src/measures/index";
import { empiricalNtk, layerRepresentations } from "../../src/trainer/methods/ntk";

/** Kernel distance of two n×n kernels as the analyzer computes it (src/measures/kernels.ts). */
function kernelDistance(a: Float32Array, b: Float32Array): number {
  const n = Math.round(Math.sqrt(a.length));
  return kernelDistanceOf(matrix(n, n, a), matrix(n, n, b));
}
import type { AnalysisTarget } from "../../src/trainer/methods/target";
import { build, dlSpec, featIO, features, mlpSpec, tokIO, tokens, trSpec, useBackend } from "../tensorAnalysisSupport";

/** K_ij = Σ_c ∇f_c(x_i)·∇f_c(x_j) from one tf.grads per (example, output). */
function bruteForceNtk(target: AnalysisTarget, x: tf.Tensor): Float64Array {
  const n = x.shape[0]!;
  const vars = target.params.map((p) => p.variable);
  const rows: Float32Array[][] = [];
  for (let i = 0; i < n; i++) {
    const xi = tf.slice(
      x,
      x.shape.map((_, k) => (k === 0 ? i : 0)),
      x.shape.map((d, k) => (k === 0 ? 1 : d)),
    );
    const width = tf.tidy(() => target.output(xi).shape[1]!);
    const perOutput: Float32Array[] = [];
    for (let c = 0; c < width; c++) {
      const g = tf.tidy(() => {
        const { grads } = tf.variableGrads(
          () => tf.sum(tf.slice(target.output(xi), [0, c], [1, 1])) as tf.Scalar,
          vars,
        );
        return tf.concat(vars.map((v) => tf.reshape(grads[v.name] ?? tf.zerosLike(v), [-1])));
      });
      perOutput.push(g.dataSync() as Float32Array);
      g.dispose();
    }
    rows.push(perOutput);
    xi.dispose();
  }
  const k = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      rows[i]!.forEach((gi, c) => {
        const gj = rows[j]![c]!;
        for (let p = 0; p < gi.length; p++) s += gi[p]! * gj[p]!;
      });
      k[i * n + j] = s;
    }
  return k;
}

function relFrobenius(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0,
    s = 0;
  for (let k = 0; k < a.length; k++) {
    d += (a[k]! - b[k]!) ** 2;
    s += b[k]! ** 2;
  }
  return Math.sqrt(d / s);
}

for (const backend of ["cpu", "wasm"] as const) {
  test(`linear model f = x·W: NTK is C·x·x′ and does not move when W changes (${backend})`, async () => {
    await useBackend(backend);
    const { model, target } = build(dlSpec({ hidden: [] }), featIO(5, 3));
    const x = features(7, 5, 2);
    const k0 = empiricalNtk(target, x);
    assert.equal(k0.method, "exact");
    assert.equal(k0.directions, 3);
    assert.deepEqual(k0.fallback, []);
    const xx = tf.matMul(x, x, false, true).dataSync();
    for (let k = 0; k < xx.length; k++)
      assert.ok(Math.abs(k0.kernel[k]! - 3 * xx[k]!) < 1e-4 * (1 + Math.abs(xx[k]!)), `entry ${k}`);
    // A very different W: the kernel is unchanged.
    const w = target.params[0]!.variable;
    w.assign(tf.tensor2d(new Rng(9, "w").normals(15, 3), [5, 3]));
    const k1 = empiricalNtk(target, x);
    const s = kernelDistance(k1.kernel, k0.kernel);
    assert.ok(Math.abs(s) < 1e-6, `kernel distance ${s}`);
    x.dispose();
    model.dispose();
  });

  test(`one-hidden-layer net: NTK equals brute-force J Jᵀ summed over outputs (${backend})`, async () => {
    await useBackend(backend);
    const { model, target } = build(mlpSpec({ hidden: [6], activation: "tanh" }), featIO(4, 3));
    const x = features(8, 4, 5);
    const before = tf.memory().numTensors;
    const k = empiricalNtk(target, x);
    assert.equal(tf.memory().numTensors, before, "no leaked tensors");
    assert.deepEqual(k.tapped, ["layers.0.weight", "layers.0.bias", "out.weight", "out.bias"]);
    const d = relFrobenius(k.kernel, bruteForceNtk(target, x));
    assert.ok(d < 1e-5, `relative difference ${d}`);
    // The kernel moves when the hidden layer's weights move (this model is not linear).
    const k0 = k.kernel;
    const w = target.params[0]!.variable;
    w.assign(tf.mul(w, 3));
    const s = kernelDistance(empiricalNtk(target, x).kernel, k0);
    assert.ok(s > 1e-3, `kernel distance ${s}`);
    x.dispose();
    model.dispose();
  });
}

test("transformer (LayerNorm parameters looped): NTK equals brute-force J Jᵀ", async () => {
  await useBackend("cpu");
  const { model, target } = build(trSpec({ dModel: 4, heads: 2, dMlp: 6, layerNorm: true }), tokIO(5, 3, 4));
  const x = tokens(5, 3, 5, 8);
  const before = tf.memory().numTensors;
  const k = empiricalNtk(target, x);
  assert.equal(tf.memory().numTensors, before, "no leaked tensors");
  assert.deepEqual(k.fallback, [
    "blocks.0.ln1.g",
    "blocks.0.ln1.b",
    "blocks.0.ln2.g",
    "blocks.0.ln2.b",
    "lnf.g",
    "lnf.b",
  ]);
  assert.ok(k.tapped.includes("pos.weight"));
  const d = relFrobenius(k.kernel, bruteForceNtk(target, x));
  assert.ok(d < 1e-5, `relative difference ${d}`);
  x.dispose();
  model.dispose();
});

test("Hutchinson NTK converges to the exact one as the number of directions grows", async () => {
  await useBackend("cpu");
  const { model, target } = build(mlpSpec({ hidden: [6], activation: "tanh" }), featIO(4, 5));
  const x = features(6, 4, 5);
  const exact = empiricalNtk(target, x).kernel;
  const errs = [4, 64, 1024].map((s) =>
    relFrobenius(empiricalNtk(target, x, { outputs: { hutchinson: s, seed: 3 } }).kernel, exact),
  );
  // Error ∝ 1/√S: 16x more directions → about 4x smaller error.
  assert.ok(errs[2]! < 0.1, `error at 1024 directions ${errs[2]}`);
  assert.ok(errs[2]! < errs[0]! / 4, `errors ${errs.join(", ")}`);
  x.dispose();
  model.dispose();
});

test("layer representations are the inputs of the tapped dense layers", async () => {
  await useBackend("cpu");
  const { model, target } = build(mlpSpec({ hidden: [6], activation: "tanh" }), featIO(4, 2));
  const x = features(5, 4, 1);
  const reps = layerRepresentations(target, x);
  assert.deepEqual(
    reps.map((r) => [r.param, r.n, r.dim]),
    [
      ["layers.0.weight", 5, 4],
      ["out.weight", 5, 6],
    ],
  );
  const [w, b] = [target.params[0]!.variable, target.params[1]!.variable];
  const hidden = tf.tanh(tf.add(tf.matMul(x, w), b)).dataSync();
  for (let k = 0; k < hidden.length; k++) assert.ok(Math.abs(reps[1]!.values[k]! - hidden[k]!) < 1e-6);
  assert.deepEqual(Array.from(reps[0]!.values), Array.from(x.dataSync()));
  x.dispose();
  model.dispose();
});
