// Models: parameter names and shapes (checkpoint keys), deterministic init, the one-hot-by-gather
// path against an explicit one-hot product, transformer causality and last-position readout,
// finite-difference gradients, cpu vs wasm agreement, small-init deep linear, custom model errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { maxAbsDiff } from "../support";
import { Rng } from "../../src/sdk/rng";
import type { CustomModelSpec, DeepLinearSpec } from "../../src/sdk/spec";
import { buildModel, buildTransformer, type Model } from "../../src/trainer/models/index";
import { activate } from "../../src/trainer/models/params";
import { featIO, features, mlpSpec, tokIO, tokens, trSpec, useBackend } from "../tensorAnalysisSupport";

const dlSpec = (over: Partial<DeepLinearSpec> = {}): DeepLinearSpec => ({
  kind: "deepLinear",
  hidden: [6, 5],
  initScale: 1,
  ...over,
});
const shapes = (m: Model) => m.params.map((p) => [p.name, p.variable.shape] as const);

test("mlp: parameter names, shapes and output shape for each input kind", async () => {
  await useBackend("cpu");
  const a = buildModel(mlpSpec({ hidden: [16, 12] }), tokIO(7, 3, 7), new Rng(1));
  assert.deepEqual(shapes(a), [
    ["layers.0.weight", [21, 16]],
    ["layers.0.bias", [16]],
    ["layers.1.weight", [16, 12]],
    ["layers.1.bias", [12]],
    ["out.weight", [12, 7]],
    ["out.bias", [7]],
  ]);
  const xa = tokens(5, 3, 7, 0);
  assert.deepEqual(a.forward(xa).shape, [5, 7]);
  const b = buildModel(mlpSpec({ embed: 4, bias: false }), tokIO(7, 3, 10), new Rng(1));
  assert.deepEqual(shapes(b), [
    ["embed.weight", [7, 4]],
    ["layers.0.weight", [12, 16]],
    ["out.weight", [16, 10]],
  ]);
  assert.deepEqual(b.forward(xa).shape, [5, 10]);
  const c = buildModel(mlpSpec({ hidden: [] }), featIO(6, 2), new Rng(1));
  assert.deepEqual(shapes(c), [
    ["out.weight", [6, 2]],
    ["out.bias", [2]],
  ]);
  assert.deepEqual(c.forward(features(4, 6, 0)).shape, [4, 2]);
  for (const m of [a, b, c]) m.dispose();
});

test("mlp: init statistics follow std = initScale/√fan_in, biases 0, embeddings N(0, initScale²)", async () => {
  await useBackend("cpu");
  const m = buildModel(mlpSpec({ embed: 32, hidden: [400], initScale: 3 }), tokIO(50, 2, 10), new Rng(2));
  const std = (name: string) => {
    const v = m.params.find((p) => p.name === name)!.variable.dataSync();
    let s = 0;
    for (const x of v) s += x * x;
    return Math.sqrt(s / v.length);
  };
  assert.ok(Math.abs(std("embed.weight") / 3 - 1) < 0.05, `embed std ${std("embed.weight")}`);
  assert.ok(Math.abs(std("layers.0.weight") / (3 / Math.sqrt(64)) - 1) < 0.05);
  assert.ok(Math.abs(std("out.weight") / (3 / Math.sqrt(400)) - 1) < 0.05);
  assert.equal(std("layers.0.bias"), 0);
  m.dispose();
});

test("same seed → identical initial values; different seed → different; two models coexist", async () => {
  await useBackend("cpu");
  const specs = [mlpSpec({ embed: 4 }), trSpec(), dlSpec()] as const;
  for (const spec of specs) {
    const io = tokIO(5, 3, 5);
    const a = buildModel(spec, io, new Rng(42, "init"));
    const b = buildModel(spec, io, new Rng(42, "init"));
    const c = buildModel(spec, io, new Rng(43, "init"));
    for (let i = 0; i < a.params.length; i++) {
      assert.equal(a.params[i]!.name, b.params[i]!.name);
      assert.notEqual(a.params[i]!.variable.name, b.params[i]!.variable.name, "engine variable names are unique");
      assert.deepEqual(
        a.params[i]!.variable.dataSync(),
        b.params[i]!.variable.dataSync(),
        `${spec.kind} ${a.params[i]!.name}`,
      );
    }
    const w = a.params.findIndex((p) => p.variable.shape.length === 2);
    assert.notDeepEqual(a.params[w]!.variable.dataSync(), c.params[w]!.variable.dataSync());
    for (const m of [a, b, c]) m.dispose();
  }
});

test("mlp one-hot path (gather + scatter-add) equals explicit one-hot · W, values and gradients", async () => {
  await useBackend("cpu");
  const vocab = 11,
    length = 3;
  const m = buildModel(mlpSpec({ hidden: [9], activation: "tanh" }), tokIO(vocab, length, 4), new Rng(3));
  const x = tokens(17, length, vocab, 1);
  const [w0, b0, w1, b1] = m.params.map((p) => p.variable) as [tf.Variable, tf.Variable, tf.Variable, tf.Variable];
  const explicit = () => {
    const oh = tf.reshape(tf.cast(tf.oneHot(x, vocab), "float32"), [17, length * vocab]);
    return tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(oh, w0), b0)), w1), b1);
  };
  assert.ok(maxAbsDiff(m.forward(x), explicit()) < 1e-5);
  const R = features(17, 4, 9);
  const g1 = tf.variableGrads(() => tf.sum(tf.mul(m.forward(x), R)) as tf.Scalar, [w0]).grads[w0.name]!;
  const g2 = tf.variableGrads(() => tf.sum(tf.mul(explicit(), R)) as tf.Scalar, [w0]).grads[w0.name]!;
  assert.ok(tf.max(tf.abs(g1)).dataSync()[0]! > 0.01);
  assert.ok(maxAbsDiff(g1, g2) < 1e-5);
  m.dispose();
});

test("transformer: parameter names and shapes, with and without LayerNorm", async () => {
  await useBackend("cpu");
  const io = tokIO(13, 3, 12);
  const m = buildModel(trSpec({ layers: 2 }), io, new Rng(4));
  const block = (l: number) => [
    [`blocks.${l}.attn.wq`, [8, 8]],
    [`blocks.${l}.attn.wk`, [8, 8]],
    [`blocks.${l}.attn.wv`, [8, 8]],
    [`blocks.${l}.attn.wo`, [8, 8]],
    [`blocks.${l}.mlp.w1`, [8, 16]],
    [`blocks.${l}.mlp.b1`, [16]],
    [`blocks.${l}.mlp.w2`, [16, 8]],
    [`blocks.${l}.mlp.b2`, [8]],
  ];
  assert.deepEqual(shapes(m), [
    ["embed.weight", [13, 8]],
    ["pos.weight", [3, 8]],
    ...block(0),
    ...block(1),
    ["unembed.weight", [8, 12]],
  ]);
  assert.deepEqual(m.forward(tokens(6, 3, 13, 2)).shape, [6, 12]);
  const ln = buildModel(trSpec({ layerNorm: true, activation: "gelu" }), io, new Rng(4));
  assert.deepEqual(
    ln.params.map((p) => p.name),
    [
      "embed.weight",
      "pos.weight",
      "blocks.0.attn.wq",
      "blocks.0.attn.wk",
      "blocks.0.attn.wv",
      "blocks.0.attn.wo",
      "blocks.0.mlp.w1",
      "blocks.0.mlp.b1",
      "blocks.0.mlp.w2",
      "blocks.0.mlp.b2",
      "blocks.0.ln1.g",
      "blocks.0.ln1.b",
      "blocks.0.ln2.g",
      "blocks.0.ln2.b",
      "lnf.g",
      "lnf.b",
      "unembed.weight",
    ],
  );
  assert.deepEqual(ln.forward(tokens(6, 3, 13, 2)).shape, [6, 12]);
  m.dispose();
  ln.dispose();
});

test("transformer: features input is rejected with a clear error", async () => {
  await useBackend("cpu");
  assert.throws(() => buildModel(trSpec(), featIO(4, 2), new Rng(0)), /transformer: needs token inputs/);
});

test("transformer: attention is causal; forward = unembed of the last position of the full stream", async () => {
  await useBackend("cpu");
  for (const layerNorm of [false, true]) {
    const m = buildTransformer(trSpec({ layers: 2, layerNorm }), tokIO(13, 4, 12), new Rng(5));
    const x1 = tf.tensor2d(
      [
        [1, 2, 3, 4],
        [5, 6, 7, 8],
      ],
      [2, 4],
      "int32",
    );
    const x2 = tf.tensor2d(
      [
        [1, 2, 3, 9],
        [5, 6, 0, 8],
      ],
      [2, 4],
      "int32",
    ); // change last token / token 2
    const s1 = m.residualStream(x1).arraySync(),
      s2 = m.residualStream(x2).arraySync();
    const diff = (b: number, t: number) => Math.max(...s1[b]![t]!.map((v, i) => Math.abs(v - s2[b]![t]![i]!)));
    for (let t = 0; t < 3; t++) assert.equal(diff(0, t), 0, `row 0, position ${t} must not see position 3`);
    for (let t = 0; t < 2; t++) assert.equal(diff(1, t), 0, `row 1, position ${t} must not see position 2`);
    assert.ok(diff(0, 3) > 1e-3 && diff(1, 2) > 1e-3 && diff(1, 3) > 1e-3);
    // Changing the first token changes the output (read at the last position).
    const x3 = tf.tensor2d(
      [
        [0, 2, 3, 4],
        [5, 6, 7, 8],
      ],
      [2, 4],
      "int32",
    );
    const o1 = m.forward(x1).arraySync() as number[][],
      o3 = m.forward(x3).arraySync() as number[][];
    assert.ok(Math.max(...o1[0]!.map((v, i) => Math.abs(v - o3[0]![i]!))) > 1e-4);
    assert.deepEqual(o1[1], o3[1]);
    // The last-position shortcut gives the same logits as the full computation.
    const full = tf.tidy(() => {
      let last = tf.reshape(tf.slice(m.residualStream(x1), [0, 3, 0], [2, 1, 8]), [2, 8]);
      if (layerNorm) {
        const { mean, variance } = tf.moments(last, -1, true);
        const p = (n: string) => m.params.find((q) => q.name === n)!.variable;
        last = tf.add(tf.mul(tf.div(tf.sub(last, mean), tf.sqrt(tf.add(variance, 1e-5))), p("lnf.g")), p("lnf.b"));
      }
      return tf.matMul(last, m.params.find((p) => p.name === "unembed.weight")!.variable);
    });
    assert.ok(maxAbsDiff(m.forward(x1), full) < 1e-5);
    m.dispose();
  }
});

/** Central finite differences against autodiff for a few entries of every parameter. */
function checkGradients(m: Model, x: tf.Tensor, label: string): void {
  const out = tf.tidy(() => m.forward(x));
  const R = tf.tensor(new Rng(7, "proj").normals(out.size), out.shape);
  out.dispose();
  const loss = () => tf.tidy(() => tf.sum(tf.mul(m.forward(x), R)) as tf.Scalar);
  const { grads } = tf.variableGrads(
    loss,
    m.params.map((p) => p.variable),
  );
  const pick = new Rng(8, label);
  const eps = 1e-2;
  let checked = 0;
  for (const p of m.params) {
    const v = p.variable;
    const g = grads[v.name]!.dataSync();
    const base = v.dataSync().slice();
    for (let k = 0; k < 3; k++) {
      const i = pick.int(base.length);
      const at = (delta: number) => {
        const vals = base.slice();
        vals[i] = base[i]! + delta;
        v.assign(tf.tensor(vals, v.shape));
        return loss().dataSync()[0]!;
      };
      const fd = (at(eps) - at(-eps)) / (2 * eps);
      v.assign(tf.tensor(base, v.shape));
      const ag = g[i]!;
      assert.ok(
        Math.abs(fd - ag) <= 2e-3 + 2e-2 * Math.abs(ag),
        `${label} ${p.name}[${i}]: autodiff ${ag}, finite difference ${fd}`,
      );
      checked++;
    }
  }
  assert.ok(checked >= 3 * m.params.length);
}

test("gradients match finite differences: mlp, transformer, deep linear", async () => {
  await useBackend("cpu");
  const mlp = buildModel(mlpSpec({ embed: 3, hidden: [5], activation: "tanh" }), tokIO(6, 2, 4), new Rng(10));
  checkGradients(mlp, tokens(7, 2, 6, 3), "mlp");
  const mlpOh = buildModel(mlpSpec({ hidden: [5], activation: "gelu" }), tokIO(6, 2, 4), new Rng(10));
  checkGradients(mlpOh, tokens(7, 2, 6, 3), "mlp-onehot");
  const tr = buildModel(trSpec({ activation: "gelu", layers: 2, layerNorm: true }), tokIO(7, 3, 5), new Rng(11));
  checkGradients(tr, tokens(6, 3, 7, 4), "transformer");
  const tr1 = buildModel(trSpec({ activation: "gelu" }), tokIO(7, 3, 5), new Rng(11));
  checkGradients(tr1, tokens(6, 3, 7, 4), "transformer-1");
  const dl = buildModel(dlSpec(), featIO(4, 3), new Rng(12));
  checkGradients(dl, features(5, 4, 5), "deepLinear");
  for (const m of [mlp, mlpOh, tr, tr1, dl]) m.dispose();
});

test("cpu and wasm agree on initial weights (bit-identical) and forward outputs (~1e-5)", async () => {
  const cases = [
    { spec: mlpSpec({ hidden: [32], activation: "gelu" }), io: tokIO(97, 2, 97), x: () => tokens(50, 2, 97, 1) },
    {
      spec: mlpSpec({ embed: 8, hidden: [16, 16], activation: "tanh" }),
      io: tokIO(10, 3, 10),
      x: () => tokens(20, 3, 10, 2),
    },
    { spec: trSpec({ layers: 2, layerNorm: true }), io: tokIO(14, 3, 13), x: () => tokens(20, 3, 14, 3) },
    { spec: trSpec(), io: tokIO(14, 3, 13), x: () => tokens(20, 3, 14, 3) },
    { spec: dlSpec(), io: featIO(8, 4), x: () => features(10, 8, 4) },
  ];
  const results: Record<string, { w: Float32Array[]; y: Float32Array; grad: Float32Array }[]> = { cpu: [], wasm: [] };
  for (const backend of ["cpu", "wasm"] as const) {
    await useBackend(backend);
    for (const c of cases) {
      const m = buildModel(c.spec, c.io, new Rng(99));
      const x = c.x();
      const y = m.forward(x);
      const v0 = m.params[0]!.variable;
      const grad = tf.variableGrads(() => tf.sum(tf.square(m.forward(x))) as tf.Scalar, [v0]).grads[v0.name]!;
      results[backend]!.push({
        w: m.params.map((p) => p.variable.dataSync() as Float32Array),
        y: y.dataSync() as Float32Array,
        grad: grad.dataSync() as Float32Array,
      });
      m.dispose();
    }
  }
  assert.equal(tf.getBackend(), "wasm");
  await useBackend("cpu");
  results["cpu"]!.forEach((r, k) => {
    const o = results["wasm"]![k]!;
    r.w.forEach((w, i) => {
      assert.deepEqual(w, o.w[i], `case ${k}: init of param ${i} differs between backends`);
    });
    const dy = Math.max(...Array.from(r.y, (v, i) => Math.abs(v - o.y[i]!)));
    assert.ok(dy < 1e-5, `case ${k}: forward differs by ${dy}`);
    const scale = Math.max(...Array.from(r.grad, Math.abs));
    const dg = Math.max(...Array.from(r.grad, (v, i) => Math.abs(v - o.grad[i]!)));
    assert.ok(scale > 0 && dg < 1e-4 * Math.max(1, scale), `case ${k}: gradient differs by ${dg} (scale ${scale})`);
  });
});

test("deep linear: names, shapes; tiny init scale gives near-zero output, tokens become one-hot", async () => {
  await useBackend("cpu");
  const m = buildModel(dlSpec({ hidden: [6, 5] }), featIO(4, 3), new Rng(13));
  assert.deepEqual(shapes(m), [
    ["layers.0.weight", [4, 6]],
    ["layers.1.weight", [6, 5]],
    ["layers.2.weight", [5, 3]],
  ]);
  const x = features(8, 4, 6);
  const big = tf.max(tf.abs(m.forward(x))).dataSync()[0]!;
  const tiny = buildModel(dlSpec({ hidden: [6, 5], initScale: 1e-3 }), featIO(4, 3), new Rng(13));
  const small = tf.max(tf.abs(tiny.forward(x))).dataSync()[0]!;
  assert.ok(big > 0.1, `initScale 1 output ${big}`);
  assert.ok(small < 1e-8 && small > 0, `initScale 1e-3 output ${small} should be ~1e-9 of initScale 1`);
  // Same seed, scale 1e-3: every weight is exactly 1e-3 times the scale-1 weight.
  assert.ok(maxAbsDiff(tf.mul(m.params[0]!.variable, 1e-3), tiny.params[0]!.variable) < 1e-9);
  const tok = buildModel(dlSpec({ hidden: [5] }), tokIO(4, 2, 3), new Rng(14));
  assert.deepEqual(shapes(tok), [
    ["layers.0.weight", [8, 5]],
    ["layers.1.weight", [5, 3]],
  ]);
  const xt = tf.tensor2d(
    [
      [1, 3],
      [0, 0],
    ],
    [2, 2],
    "int32",
  );
  const oh = tf.tensor2d(
    [
      [0, 1, 0, 0, 0, 0, 0, 1],
      [1, 0, 0, 0, 1, 0, 0, 0],
    ],
    [2, 8],
  );
  const [w0, w1] = tok.params.map((p) => p.variable);
  assert.ok(maxAbsDiff(tok.forward(xt), tf.matMul(tf.matMul(oh, w0!), w1!)) < 1e-6);
  for (const mm of [m, tiny, tok]) mm.dispose();
});

test("custom model: params via ParamContext, forward, and errors naming the model", async () => {
  await useBackend("cpu");
  const io = featIO(3, 2);
  const linear = (init: CustomModelSpec["init"], forward?: CustomModelSpec["forward"]): CustomModelSpec => ({
    kind: "custom",
    name: "lin",
    init,
    forward: forward ?? ((p, x) => tf.add(tf.matMul(x, p["w"]!), p["b"]!)),
  });
  const ok = buildModel(
    linear((ctx) => {
      assert.deepEqual(ctx.input, io.input);
      ctx.param("w", [3, 2], { std: 0.5 });
      ctx.param("b", [2], new Float32Array([1, -1]));
      ctx.param("one", [2, 2], "ones");
      ctx.param("zero", [1], "zeros");
    }),
    io,
    new Rng(20),
  );
  assert.deepEqual(shapes(ok), [
    ["w", [3, 2]],
    ["b", [2]],
    ["one", [2, 2]],
    ["zero", [1]],
  ]);
  assert.deepEqual(Array.from(ok.params[1]!.variable.dataSync()), [1, -1]);
  assert.deepEqual(Array.from(ok.params[2]!.variable.dataSync()), [1, 1, 1, 1]);
  const again = buildModel(
    linear((ctx) => {
      ctx.param("w", [3, 2], { std: 0.5 });
      ctx.param("b", [2], "zeros");
    }),
    io,
    new Rng(20),
  );
  assert.deepEqual(
    again.params[0]!.variable.dataSync(),
    ok.params[0]!.variable.dataSync(),
    "std init comes from the seeded rng",
  );
  const x = features(4, 3, 1);
  assert.ok(maxAbsDiff(ok.forward(x), tf.add(tf.matMul(x, ok.params[0]!.variable), ok.params[1]!.variable)) < 1e-6);

  const bad = (init: CustomModelSpec["init"]) => () => buildModel(linear(init), io, new Rng(0));
  assert.throws(
    bad((c) => {
      c.param("w", [2], "zeros");
      c.param("w", [2], "ones");
    }),
    /custom model "lin": duplicate parameter name "w"/,
  );
  assert.throws(
    bad((c) => c.param("w", [2, 0], "zeros")),
    /custom model "lin": parameter "w" has a bad shape \[2,0\]/,
  );
  assert.throws(
    bad((c) => c.param("w", [2, 1.5], "zeros")),
    /custom model "lin": parameter "w" has a bad shape/,
  );
  assert.throws(
    bad((c) => c.param("w", [2, 3], new Float32Array(5))),
    /custom model "lin": parameter "w" of shape \[2,3\] needs 6 values, got a Float32Array of length 5/,
  );
  assert.throws(
    bad((c) => c.param("w", [2], { std: -1 })),
    /custom model "lin": parameter "w": std must be/,
  );

  let late: Parameters<CustomModelSpec["init"]>[0] | undefined;
  buildModel(
    linear((c) => {
      late = c;
      c.param("w", [3, 2], "zeros");
      c.param("b", [2], "zeros");
    }),
    io,
    new Rng(0),
  ).dispose();
  assert.throws(() => late!.param("z", [1], "zeros"), /custom model "lin": param\("z"\) called after init returned/);

  const wrong = buildModel(
    linear(
      (c) => c.param("w", [3, 10], "zeros"),
      (p, xx) => tf.matMul(xx, p["w"]!),
    ),
    featIO(3, 97),
    new Rng(0),
  );
  assert.throws(() => wrong.forward(features(32, 3, 0)), {
    message: 'custom model "lin": forward returned shape [32,10], expected [32,97]',
  });
  const notTensor = buildModel(
    linear(
      () => {},
      () => 3 as unknown as tf.Tensor,
    ),
    io,
    new Rng(0),
  );
  assert.throws(() => notTensor.forward(x), /custom model "lin": forward returned number/);
  for (const m of [ok, again, wrong, notTensor]) m.dispose();
});

test("dispose frees every variable", async () => {
  await useBackend("cpu");
  const before = tf.memory().numTensors;
  const m = buildModel(trSpec({ layerNorm: true }), tokIO(5, 3, 5), new Rng(0));
  assert.ok(tf.memory().numTensors > before);
  m.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test("activate: gelu is exact, x·Φ(x) (PyTorch's nn.GELU()); gelu_tanh the tanh approximation; on cpu and wasm", async () => {
  // x·Φ(x) in float64, Φ from the standard normal table (Φ(1) = 0.8413447460685429, …).
  const exact: ReadonlyArray<readonly [number, number]> = [
    [-3, -0.00404969409489031],
    [-1, -0.15865525393145707],
    [-0.5, -0.15426876936299344],
    [0, 0],
    [0.5, 0.34573123063700656],
    [1, 0.8413447460685429],
    [2, 1.9544997361036416],
    [3, 2.99595030590511],
  ];
  const tanhForm = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  for (const backend of ["cpu", "wasm"] as const) {
    await useBackend(backend);
    const x = tf.tensor1d(exact.map(([v]) => v));
    const gelu = Array.from(activate(x, "gelu").dataSync());
    const approx = Array.from(activate(x, "gelu_tanh").dataSync());
    exact.forEach(([v, want], i) => {
      // float32 and tfjs's erf (Abramowitz–Stegun 7.1.26, |error| ≤ 1.5e-7): within 1e-6; the two
      // forms differ by 1.7e-5 to 4e-4 at these points, so each is told from the other.
      assert.ok(Math.abs(gelu[i]! - want) < 1e-6, `${backend} gelu(${v}) = ${gelu[i]}, want ${want}`);
      assert.ok(Math.abs(approx[i]! - tanhForm(v)) < 1e-6, `${backend} gelu_tanh(${v}) = ${approx[i]}`);
      if (v !== 0) assert.ok(Math.abs(gelu[i]! - tanhForm(v)) > 1e-5, `${backend}: gelu(${v}) is not the tanh form`);
    });
    // The gradient of the exact form: Φ(x) + x·φ(x), at x = 1: 0.8413447460685429 + 0.24197072451914337.
    const g = tf
      .grad((t: tf.Tensor) => tf.sum(activate(t, "gelu")))(tf.tensor1d([1]))
      .dataSync()[0]!;
    assert.ok(Math.abs(g - (0.8413447460685429 + 0.24197072451914337)) < 1e-5, `${backend} gelu'(1) = ${g}`);
    x.dispose();
  }
});
