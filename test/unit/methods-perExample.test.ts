// Per-example gradients from the tap: exact mode equals brute-force per-example tf.grads on the
// built-in models (one-hot and learned embeddings, biases, a transformer with LayerNorm whose
// untapped parameters fall back to the loop), coverage is reported, and the training-path ops
// are unchanged when no tap is active.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { GradientProjector, type PerExampleGradients } from "../../src/trainer/methods/perExample";
import { tapPass } from "../../src/trainer/methods/tap";
import type { AnalysisTarget } from "../../src/trainer/methods/target";
import { buildCustom } from "../../src/trainer/models/index";
import { Rng } from "../../src/sdk/rng";
import {
  bruteForceGradients,
  build,
  targetOf,
  dlSpec,
  featClassIO,
  features,
  mlpSpec,
  oneHotLabels,
  tokIO,
  tokens,
  trSpec,
  useBackend,
} from "../tensorAnalysisSupport";

/** Rearranges an exact per-example gradient row into target.params order (flattened). */
function inParamsOrder(target: AnalysisTarget, g: PerExampleGradients, i: number): Float32Array {
  const row = g.values.subarray(i * g.dim, (i + 1) * g.dim);
  const at = new Map<string, number>();
  for (const b of g.blocks) {
    if (b.kind === "tap") at.set(b.name, b.offset);
    else {
      let o = b.offset;
      for (const name of g.coverage.fallback) {
        at.set(name, o);
        o += target.params.find((p) => p.name === name)!.variable.size;
      }
    }
  }
  const out: number[] = [];
  for (const p of target.params) out.push(...row.subarray(at.get(p.name)!, at.get(p.name)! + p.variable.size));
  return Float32Array.from(out);
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let scale = 0,
    diff = 0;
  for (let k = 0; k < a.length; k++) {
    scale = Math.max(scale, Math.abs(b[k]!));
    diff = Math.max(diff, Math.abs(a[k]! - b[k]!));
  }
  return diff / scale;
}

const cases = [
  { name: "mlp one-hot tokens, bias", spec: mlpSpec({ hidden: [12] }), io: tokIO(7, 2, 7), tapped: 4 },
  {
    name: "mlp learned embedding, two hidden layers",
    spec: mlpSpec({ embed: 5, hidden: [9, 6], activation: "tanh" }),
    io: tokIO(7, 3, 4),
    tapped: 7,
  },
  {
    name: "mlp features, no bias",
    spec: mlpSpec({ hidden: [10], bias: false, activation: "gelu" }),
    io: featClassIO(6, 3),
    tapped: 2,
  },
  { name: "deep linear", spec: dlSpec({ hidden: [5, 4] }), io: featClassIO(6, 3), tapped: 3 },
  { name: "transformer with LayerNorm", spec: trSpec({ layerNorm: true }), io: tokIO(6, 3, 6), tapped: 11 },
] as const;

for (const backend of ["cpu", "wasm"] as const) {
  for (const c of cases) {
    test(`exact per-example gradients equal brute force: ${c.name} (${backend})`, async () => {
      await useBackend(backend);
      const { model, target } = build(c.spec, c.io);
      const n = 9;
      const x =
        c.io.input.kind === "tokens"
          ? tokens(n, c.io.input.length, c.io.input.vocab, 3)
          : features(n, c.io.input.dim, 3);
      const y = oneHotLabels(n, c.io.output.kind === "classes" ? c.io.output.count : 1, 4);
      const before = tf.memory().numTensors;
      // Chunk 4: exercises chunking (4 + 4 + 1).
      const proj = new GradientProjector(target, "exact");
      const g = proj.perExample({ x, y }, { chunk: 4 });
      proj.dispose();
      assert.equal(tf.memory().numTensors, before, "no leaked tensors");
      const total = target.params.reduce((s, p) => s + p.variable.size, 0);
      assert.equal(g.dim, total);
      assert.equal(g.coverage.tapped.length, c.tapped, `tapped: ${g.coverage.tapped.join(", ")}`);
      assert.equal(g.coverage.tapped.length + g.coverage.fallback.length, target.params.length);
      const brute = bruteForceGradients(target, x, y);
      for (let i = 0; i < n; i++) {
        const d = maxRelDiff(inParamsOrder(target, g, i), brute[i]!);
        assert.ok(d < 1e-4, `example ${i}: relative difference ${d}`);
      }
      x.dispose();
      y.dispose();
      model.dispose();
    });
  }
}

test("transformer coverage: LayerNorm falls back, everything else (positional embedding included) is tapped", async () => {
  await useBackend("cpu");
  const { model, target } = build(trSpec({ layerNorm: true }), tokIO(6, 3, 6));
  const x = tokens(4, 3, 6, 1);
  const pass = tapPass(target, x, (out) => tf.sum(out));
  const fallback = pass.uncovered.map((i) => target.params[i]!.name).sort();
  assert.deepEqual(fallback, [
    "blocks.0.ln1.b",
    "blocks.0.ln1.g",
    "blocks.0.ln2.b",
    "blocks.0.ln2.g",
    "lnf.b",
    "lnf.g",
  ]);
  // Rows per example: embeddings and k/v see every position, the last block's q/o/MLP only the last.
  const steps = Object.fromEntries(pass.layers.map((f) => [f.name, f.steps]));
  assert.deepEqual(steps, {
    "embed.weight": 3,
    "pos.weight": 3,
    "blocks.0.attn.wq": 1,
    "blocks.0.attn.wk": 3,
    "blocks.0.attn.wv": 3,
    "blocks.0.attn.wo": 1,
    "blocks.0.mlp.w1": 1,
    "blocks.0.mlp.b1": 1,
    "blocks.0.mlp.w2": 1,
    "blocks.0.mlp.b2": 1,
    "unembed.weight": 1,
  });
  pass.dispose();
  x.dispose();
  model.dispose();
});

test("sum and dotWith agree with the materialized projected rows (transformer: steps > 1 and a looped fallback)", async () => {
  await useBackend("wasm");
  const { model, target } = build(trSpec({ layerNorm: true }), tokIO(6, 3, 6));
  const n = 7;
  const x = tokens(n, 3, 6, 3),
    y = oneHotLabels(n, 6, 4);
  const proj = new GradientProjector(target, { kIn: 3, kOut: 4, kFallback: 5, seed: 2 });
  const g = proj.perExample({ x, y }, { chunk: 3 });
  assert.equal(proj.dim(), g.dim);
  assert.ok(g.blocks.some((b) => b.kind === "fallback" && b.size === 5));
  const total = proj.sum({ x, y }, { chunk: 3 });
  const v = Float64Array.from({ length: g.dim }, (_, k) => Math.sin(k));
  const dots = proj.dotWith({ x, y }, v, { chunk: 4 });
  let scale = 0;
  for (let k = 0; k < g.dim; k++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += g.values[i * g.dim + k]!;
    scale = Math.max(scale, Math.abs(s));
    assert.ok(Math.abs(total[k]! - s) < 1e-4 * (1 + Math.abs(s)), `sum, coordinate ${k}: ${total[k]} vs ${s}`);
  }
  assert.ok(scale > 0);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < g.dim; k++) s += g.values[i * g.dim + k]! * v[k]!;
    assert.ok(Math.abs(dots[i]! - s) < 1e-4 * (1 + Math.abs(s)), `dot, example ${i}: ${dots[i]} vs ${s}`);
  }
  proj.dispose();
  x.dispose();
  y.dispose();
  model.dispose();
});

test("custom model: every parameter falls back to the loop, gradients still exact, coverage says so", async () => {
  await useBackend("cpu");
  const io = featClassIO(5, 3);
  const model = buildCustom(
    {
      kind: "custom",
      name: "quad",
      init: (c) => {
        c.param("w", [5, 4], { std: 0.5 });
        c.param("v", [4, 3], { std: 0.5 });
      },
      forward: (p, x) => tf.matMul(tf.square(tf.matMul(x, p["w"]!)), p["v"]!),
    },
    io,
    new Rng(3, "init"),
  );
  const target = targetOf(model, io);
  const x = features(6, 5, 1),
    y = oneHotLabels(6, 3, 2);
  const proj = new GradientProjector(target, "exact");
  const g = proj.perExample({ x, y });
  proj.dispose();
  assert.deepEqual(g.coverage, { tapped: [], fallback: ["w", "v"] });
  const brute = bruteForceGradients(target, x, y);
  for (let i = 0; i < 6; i++) assert.ok(maxRelDiff(inParamsOrder(target, g, i), brute[i]!) < 1e-5);
  x.dispose();
  y.dispose();
  model.dispose();
});
