// The symmetries detected on the real built-in models (src/trainer/models) are symmetries of their
// forward pass: applying each detected transformation to the parameters (rescale: unit u's
// incoming part × α_u, outgoing × α_u^−k; translation: + δ_u on every entry of unit u; scale: × α)
// leaves the outputs (for translation, the softmax) unchanged. So the names, shapes and axes the
// detection assumes (src/measures/symmetries.ts) are those the models really use.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs-core";
import { detectSymmetries, type Part, type Symmetry } from "../../src/measures/index";
import { Rng } from "../../src/sdk/rng";
import type { ModelSpec } from "../../src/sdk/spec";
import { buildModel, type Model } from "../../src/trainer/models/index";
import type { ModelIO } from "../../src/trainer/models/model";
import { dlSpec, featClassIO, mlpSpec, tokens, tokIO, trSpec, useBackend } from "../tensorAnalysisSupport";

/** Applies `f(value, unit)` to every entry of a part, in place. */
function eachEntry(
  part: Part,
  shape: readonly number[],
  values: Float32Array,
  f: (x: number, u: number) => number,
): void {
  const [rows = 1, cols = 1] = shape.length === 1 ? [shape[0], 1] : shape;
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      values[i] = f(values[i]!, part.offset + ((part.axis === 0 ? r : c) % part.units));
    }
}

/** The model's parameters with the symmetry's transformation applied (a fresh copy per tensor). */
function transformed(model: Model, sym: Symmetry, rng: Rng): Map<string, Float32Array> {
  const out = new Map(model.params.map((p) => [p.name, Float32Array.from(p.variable.dataSync())]));
  const shape = (name: string) => model.params.find((p) => p.name === name)!.variable.shape;
  const law = sym.law;
  const alpha = Array.from({ length: law.count }, () => 0.5 + rng.uniform() * 1.5);
  const delta = Array.from({ length: law.count }, () => rng.normal());
  for (const p of law.plus)
    eachEntry(p, shape(p.tensor), out.get(p.tensor)!, (x, u) =>
      law.form === "linear" ? x + delta[u]! : x * alpha[u]!,
    );
  for (const p of law.minus) eachEntry(p, shape(p.tensor), out.get(p.tensor)!, (x, u) => x * alpha[u]! ** -law.degree);
  return out;
}

function outputs(model: Model, x: tf.Tensor, softmax: boolean): Float32Array {
  return tf.tidy(() => {
    const y = model.forward(x);
    return (softmax ? tf.softmax(y) : y).dataSync() as Float32Array;
  });
}

before(() => useBackend("cpu"));

async function check(spec: ModelSpec, io: ModelIO, x: tf.Tensor, config: unknown, expected: string[], tol: number) {
  const model = buildModel(spec, io, new Rng(5));
  const shapes = new Map(model.params.map((p) => [p.name, { shape: p.variable.shape }]));
  const { symmetries } = detectSymmetries(config, shapes);
  assert.deepEqual(
    symmetries.map((s) => `${s.kind} ${s.layer}`),
    expected,
  );
  const rng = new Rng(9, "transform");
  for (const sym of symmetries) {
    const before = outputs(model, x, sym.kind === "translation");
    const saved = new Map(model.params.map((p) => [p.name, p.variable.clone()]));
    const next = transformed(model, sym, rng);
    for (const p of model.params) p.variable.assign(tf.tensor(next.get(p.name)!, p.variable.shape));
    const after = outputs(model, x, sym.kind === "translation");
    let worst = 0;
    for (let i = 0; i < before.length; i++) worst = Math.max(worst, Math.abs(after[i]! - before[i]!));
    assert.ok(worst < tol, `${sym.kind} ${sym.layer}: the output moved by ${worst}`);
    // And the transformation was not a no-op: some parameter changed.
    assert.ok(
      model.params.some((p) => p.variable.dataSync().some((v, i) => v !== saved.get(p.name)!.dataSync()[i])),
      `${sym.layer}: nothing changed`,
    );
    for (const p of model.params) p.variable.assign(saved.get(p.name)!);
    for (const t of saved.values()) t.dispose();
  }
  model.dispose();
}

test("mlp with an embedding, ReLU, classes: every detected symmetry leaves the function unchanged", async () => {
  const spec = mlpSpec({ embed: 4, hidden: [8, 6] });
  await check(
    spec,
    tokIO(7, 3, 7),
    tokens(10, 3, 7, 1),
    { task: { kind: "modularArithmetic" }, model: spec },
    ["rescale embed → layers.0", "rescale layers.0 → layers.1", "rescale layers.1 → out", "translation out"],
    1e-4,
  );
});

test("mlp with the quadratic activation: the degree-2 rescale is a symmetry", async () => {
  const spec = mlpSpec({ hidden: [6], activation: "quadratic" });
  const x = tf.tensor2d(
    Array.from({ length: 20 }, (_, i) => Math.sin(i)),
    [5, 4],
  );
  await check(
    spec,
    featClassIO(4, 3),
    x,
    { task: { kind: "sparseParity" }, model: spec },
    ["rescale layers.0 → out", "translation out"],
    1e-4,
  );
});

test("deep linear network: the rescales between its layers", async () => {
  const spec = dlSpec({ hidden: [6, 5] });
  const x = tf.tensor2d(
    Array.from({ length: 16 }, (_, i) => Math.cos(i)),
    [4, 4],
  );
  await check(
    spec,
    featClassIO(4, 3),
    x,
    { task: { kind: "hierarchical" }, model: spec },
    ["rescale layers.0 → layers.1", "rescale layers.1 → layers.2"],
    1e-4,
  );
});

test("transformer with LayerNorm: attention q·k and v·o, the ReLU MLP, the residual stream's scale, the unembedding", async () => {
  const spec = trSpec({ layers: 2, layerNorm: true });
  await check(
    spec,
    tokIO(7, 3, 7),
    tokens(6, 3, 7, 2),
    { task: { kind: "modularArithmetic" }, model: spec },
    [
      "rescale blocks.0.attn q·k",
      "rescale blocks.0.attn v·o",
      "rescale blocks.0.mlp",
      "rescale blocks.1.attn q·k",
      "rescale blocks.1.attn v·o",
      "rescale blocks.1.mlp",
      "scale residual stream",
      "translation unembed",
    ],
    // LayerNorm's ε makes the scale symmetry approximate.
    2e-3,
  );
});
