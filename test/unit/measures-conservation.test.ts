// Conservation laws (src/measures/conservation.ts, symmetries.ts) against closed forms: one exact
// GD step on hand-built networks whose gradients are written out by hand, the decay factors of
// each optimizer, and symmetry detection on built-in configs and a PyTorch-style state dict.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  conservedQuantities,
  decayFactor,
  detectSymmetries,
  driftOf,
  predictedQuantity,
  predictionQuality,
  type SavedTensor,
  type Symmetry,
} from "../../src/measures/index";
import { Rng } from "../../src/sdk/rng";

type Params = Map<string, SavedTensor>;
const t = (shape: number[], values: number[]): SavedTensor => ({ shape, values: Float64Array.from(values) });
const shapesOf = (p: ReadonlyMap<string, { shape: number[] }>) =>
  new Map([...p].map(([k, v]) => [k, { shape: v.shape }]));

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++)
    assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]} (tol ${tol})`);
}

function find(symmetries: Symmetry[], layer: string): Symmetry {
  const s = symmetries.find((x) => x.layer === layer);
  assert.ok(s, `no symmetry at ${layer}; found ${symmetries.map((x) => x.layer).join(", ")}`);
  return s;
}

/**
 * A ReLU network f(x) = Σ_i v_i relu(Σ_d w_di x_d + b_i) on a batch, loss ½ mean (f − y)², in the
 * built-in layout (layers.0.weight [D, H], out.weight [H, 1]); returns its parameters and gradients.
 */
function reluNet(D: number, H: number, seed: number) {
  const rng = new Rng(seed, "conservation-test");
  const w = Array.from({ length: D * H }, () => rng.normal());
  const b = Array.from({ length: H }, () => rng.normal() * 0.1);
  const v = Array.from({ length: H }, () => rng.normal());
  const xs = Array.from({ length: 5 }, () => Array.from({ length: D }, () => rng.normal()));
  const ys = xs.map(() => rng.normal());
  const gw = new Array<number>(D * H).fill(0);
  const gb = new Array<number>(H).fill(0);
  const gv = new Array<number>(H).fill(0);
  xs.forEach((x, n) => {
    const z = Array.from({ length: H }, (_, i) => b[i]! + x.reduce((s, xd, d) => s + xd * w[d * H + i]!, 0));
    const f = z.reduce((s, zi, i) => s + v[i]! * Math.max(0, zi), 0);
    const r = (f - ys[n]!) / xs.length;
    for (let i = 0; i < H; i++) {
      gv[i]! += r * Math.max(0, z[i]!);
      const on = z[i]! > 0 ? 1 : 0;
      gb[i]! += r * v[i]! * on;
      for (let d = 0; d < D; d++) gw[d * H + i]! += r * v[i]! * on * x[d]!;
    }
  });
  const params: Params = new Map([
    ["layers.0.weight", t([D, H], w)],
    ["layers.0.bias", t([H], b)],
    ["out.weight", t([H, 1], v)],
  ]);
  const grads: Params = new Map([
    ["layers.0.weight", t([D, H], gw)],
    ["layers.0.bias", t([H], gb)],
    ["out.weight", t([H, 1], gv)],
  ]);
  return { params, grads };
}

/** θ' = (1 − ηλ)θ − ηg for every tensor (SGD with coupled L2, no momentum). */
function sgdStep(params: Params, grads: Params, eta: number, lambda: number): Params {
  const out: Params = new Map();
  for (const [name, p] of params) {
    const g = grads.get(name)!;
    out.set(
      name,
      t(
        p.shape,
        Array.from(p.values, (x, i) => (1 - eta * lambda) * x - eta * g.values[i]!),
      ),
    );
  }
  return out;
}

const MLP_CONFIG = {
  task: { kind: "teacherStudent" },
  model: { kind: "mlp", activation: "relu", hidden: [4], bias: true, embed: "onehot" },
};

describe("rescale symmetry: one exact GD step", () => {
  test("Q_i = ‖w_in,i‖² + b_i² − ‖w_out,i‖² by hand on a 2×2 → 1 network", () => {
    const params: Params = new Map([
      ["layers.0.weight", t([2, 2], [1, 2, 3, 4])],
      ["layers.0.bias", t([2], [0.5, -1])],
      ["out.weight", t([2, 1], [2, -3])],
    ]);
    const { symmetries } = detectSymmetries(MLP_CONFIG, shapesOf(params));
    const q = conservedQuantities(find(symmetries, "layers.0 → out").law, params);
    // unit 0: 1² + 3² + 0.5² − 2² = 6.25; unit 1: 2² + 4² + 1 − 9 = 12
    close(q, [6.25, 12], 1e-12, "Q");
  });

  test("Q_{k+1} = (1 − ηλ)² Q_k + η²(‖g_in‖² − ‖g_out‖²), with and without weight decay", () => {
    const { params, grads } = reluNet(3, 6, 1);
    const law = find(detectSymmetries(MLP_CONFIG, shapesOf(params)).symmetries, "layers.0 → out").law;
    const q = conservedQuantities(law, params);
    // ‖g_in,i‖² − ‖g_out,i‖² is the same law evaluated on the gradients.
    const gq = conservedQuantities(law, grads);
    for (const [eta, lambda] of [
      [0.1, 0],
      [0.05, 0.3],
    ] as const) {
      const next = conservedQuantities(law, sgdStep(params, grads, eta, lambda));
      const expected = Array.from(q, (x, i) => (1 - eta * lambda) ** 2 * x + eta * eta * gq[i]!);
      close(next, expected, 1e-12, `η=${eta} λ=${lambda}`);
      // The first-order terms −2η⟨w, g⟩ of each side are there, and cancel only in the difference:
      // ‖w_in‖² alone moves by more than its η² term.
      const inOnly = { ...law, minus: [] };
      const inBefore = conservedQuantities(inOnly, params);
      const inAfter = conservedQuantities(inOnly, sgdStep(params, grads, eta, 0));
      const gIn = conservedQuantities(inOnly, grads);
      assert.ok(
        inAfter.some((x, i) => Math.abs(x - inBefore[i]! - eta * eta * gIn[i]!) > 1e-3),
        "first order present",
      );
    }
  });
});

describe("translation symmetry of a softmax readout", () => {
  test("Σ_c W[j, c] and Σ_c b_c are unchanged by a GD step on cross-entropy, and shrink by (1 − ηλ) with decay", () => {
    const F = 3;
    const C = 4;
    const rng = new Rng(2, "translation");
    const W = Array.from({ length: F * C }, () => rng.normal());
    const bias = Array.from({ length: C }, () => rng.normal());
    const x = [0.3, -1.2, 0.7];
    const label = 2;
    const logits = Array.from({ length: C }, (_, c) => bias[c]! + x.reduce((s, xj, j) => s + xj * W[j * C + c]!, 0));
    const m = Math.max(...logits);
    const e = logits.map((z) => Math.exp(z - m));
    const p = e.map((v) => v / e.reduce((s, u) => s + u, 0));
    const dz = p.map((pc, c) => pc - (c === label ? 1 : 0));
    const params: Params = new Map([
      ["out.weight", t([F, C], W)],
      ["out.bias", t([C], bias)],
    ]);
    const grads: Params = new Map([
      [
        "out.weight",
        t(
          [F, C],
          Array.from({ length: F * C }, (_, k) => x[Math.floor(k / C)]! * dz[k % C]!),
        ),
      ],
      ["out.bias", t([C], dz)],
    ]);
    const config = { task: { kind: "modularArithmetic" }, model: { kind: "mlp", activation: "relu", hidden: [] } };
    const sym = find(detectSymmetries(config, shapesOf(params)).symmetries, "out");
    assert.equal(sym.kind, "translation");
    assert.equal(sym.law.count, F + 1);
    const q = conservedQuantities(sym.law, params);
    close(
      q.subarray(0, F),
      [0, 1, 2].map((j) => W.slice(j * C, j * C + C).reduce((s, v) => s + v, 0)),
      1e-12,
      "row sums",
    );
    assert.ok(Math.abs(q[F]! - bias.reduce((s, v) => s + v, 0)) < 1e-12);
    close(conservedQuantities(sym.law, sgdStep(params, grads, 0.5, 0)), q, 1e-12, "no decay");
    close(
      conservedQuantities(sym.law, sgdStep(params, grads, 0.5, 0.2)),
      Array.from(q, (v) => 0.9 * v),
      1e-12,
      "decay",
    );
  });
});

describe("decay factors and drift", () => {
  test("SGD without momentum: a = ∏(1 − η_j λ); AdamW the same; Adam none; no decay 1", () => {
    const lrs = [0.1, 0.1, 0.05];
    const prod = (1 - 0.01) * (1 - 0.01) * (1 - 0.005);
    assert.ok(
      Math.abs(decayFactor({ kind: "sgd", weightDecay: 0.1, momentum: 0, nesterov: false }, lrs)! - prod) < 1e-15,
    );
    assert.ok(Math.abs(decayFactor({ kind: "adamw", weightDecay: 0.1 }, lrs)! - prod) < 1e-15);
    assert.equal(decayFactor({ kind: "sgd", weightDecay: 0, momentum: 0.9, nesterov: false }, lrs), 1);
    assert.equal(decayFactor({ kind: "adam", weightDecay: 0.1 }, lrs), undefined);
    assert.equal(decayFactor({ kind: "unknown", why: "x" }, lrs), undefined);
    assert.equal(predictionQuality({ kind: "sgd", weightDecay: 0.1, momentum: 0, nesterov: false }, "linear"), "exact");
    assert.equal(predictionQuality({ kind: "adamw", weightDecay: 0.1 }, "quadratic"), "decay only");
  });

  test("SGD with momentum and Nesterov: the factor of heavy-ball on λ/2‖θ‖² (PyTorch's update), step by step", () => {
    for (const nesterov of [false, true]) {
      const mu = 0.9;
      const lambda = 0.5;
      const lrs = [0.1, 0.2, 0.05, 0.1, 0.1];
      let theta = 2;
      let buf = 0;
      for (const eta of lrs) {
        const g = lambda * theta;
        buf = mu * buf + g;
        theta -= eta * (nesterov ? g + mu * buf : buf);
      }
      const a = decayFactor({ kind: "sgd", weightDecay: lambda, momentum: mu, nesterov }, lrs)!;
      assert.ok(Math.abs(a * 2 - theta) < 1e-12, `nesterov=${nesterov}: ${a * 2} vs ${theta}`);
    }
  });

  test("drift, predicted and residual relative to ‖Q(0)‖", () => {
    const q0 = [3, 4];
    const d = driftOf([1.5, 2], q0, predictedQuantity("quadratic", Math.SQRT1_2, q0));
    assert.equal(d.norm, 2.5);
    assert.equal(d.sum, 3.5);
    assert.ok(Math.abs(d.drift! - 0.5) < 1e-12);
    assert.ok(Math.abs(d.predicted! - 0.5) < 1e-12, "a² = 1/2 predicts half");
    assert.ok(d.residual! < 1e-12);
    const none = driftOf([1, 1], [0, 0], undefined);
    assert.equal(none.drift, null, "Q(0) = 0 has no relative drift");
    assert.equal(none.predicted, null);
  });
});

describe("symmetry detection", () => {
  const mlpShapes = new Map([
    ["embed.weight", { shape: [7, 3] }],
    ["layers.0.weight", { shape: [6, 5] }],
    ["layers.0.bias", { shape: [5] }],
    ["layers.1.weight", { shape: [5, 4] }],
    ["layers.1.bias", { shape: [4] }],
    ["out.weight", { shape: [4, 7] }],
    ["out.bias", { shape: [7] }],
  ]);
  const summary = (s: Symmetry[]) => s.map((x) => `${x.kind} ${x.layer} ${x.law.count}`);

  test("built-in MLP, ReLU, classes: embedding, two rescales, the readout's translation", () => {
    const r = detectSymmetries(
      { task: { kind: "modularArithmetic" }, model: { kind: "mlp", activation: "relu", embed: 3 } },
      mlpShapes,
    );
    assert.deepEqual(summary(r.symmetries), [
      "rescale embed → layers.0 3",
      "rescale layers.0 → layers.1 5",
      "rescale layers.1 → out 4",
      "translation out 5",
    ]);
    assert.ok(r.notes.some((n) => /no normalization layer/.test(n)));
  });

  test("tanh and GELU have no rescale symmetry, and the record says so; quadratic has degree 2", () => {
    for (const activation of ["tanh", "gelu"]) {
      const r = detectSymmetries({ task: { kind: "teacherStudent" }, model: { kind: "mlp", activation } }, mlpShapes);
      assert.deepEqual(summary(r.symmetries), ["rescale embed → layers.0 3"], activation);
      assert.ok(
        r.notes.some((n) => n.includes(`${activation} is not positively homogeneous`)),
        r.notes.join("; "),
      );
      assert.ok(r.notes.some((n) => /no translation symmetry.*regression/.test(n)));
    }
    const q = detectSymmetries({ model: { kind: "mlp", activation: "quadratic" } }, mlpShapes);
    assert.equal(find(q.symmetries, "layers.0 → layers.1").law.degree, 2);
  });

  test("deep linear network: a rescale between every pair of layers", () => {
    const shapes = new Map([
      ["layers.0.weight", { shape: [8, 6] }],
      ["layers.1.weight", { shape: [6, 6] }],
      ["layers.2.weight", { shape: [6, 3] }],
    ]);
    const r = detectSymmetries({ task: { kind: "hierarchical" }, model: { kind: "deepLinear" } }, shapes);
    assert.deepEqual(summary(r.symmetries), ["rescale layers.0 → layers.1 6", "rescale layers.1 → layers.2 6"]);
  });

  test("transformer: q·k and v·o per block, the ReLU MLP, the residual stream's scale with LayerNorm, the unembedding", () => {
    const d = 8;
    const shapes = new Map<string, { shape: number[] }>([
      ["embed.weight", { shape: [10, d] }],
      ["pos.weight", { shape: [3, d] }],
      ["unembed.weight", { shape: [d, 10] }],
    ]);
    for (const n of ["wq", "wk", "wv", "wo"]) shapes.set(`blocks.0.attn.${n}`, { shape: [d, d] });
    shapes.set("blocks.0.mlp.w1", { shape: [d, 16] });
    shapes.set("blocks.0.mlp.b1", { shape: [16] });
    shapes.set("blocks.0.mlp.w2", { shape: [16, d] });
    shapes.set("blocks.0.mlp.b2", { shape: [d] });
    const config = (activation: string, layerNorm: boolean) => ({
      task: { kind: "modularArithmetic" },
      model: { kind: "transformer", activation, layerNorm },
    });
    assert.deepEqual(summary(detectSymmetries(config("relu", true), shapes).symmetries), [
      "rescale blocks.0.attn q·k 8",
      "rescale blocks.0.attn v·o 8",
      "rescale blocks.0.mlp 16",
      "scale residual stream 1",
      "translation unembed 8",
    ]);
    const gelu = detectSymmetries(config("gelu", false), shapes);
    assert.deepEqual(summary(gelu.symmetries), [
      "rescale blocks.0.attn q·k 8",
      "rescale blocks.0.attn v·o 8",
      "translation unembed 8",
    ]);
    assert.ok(gelu.notes.some((n) => /gelu is not positively homogeneous/.test(n)));
    assert.ok(gelu.notes.some((n) => /no LayerNorm/.test(n)));
  });

  test("PyTorch state dict (nn.Sequential, weights [out, in]): rescale per hidden unit, translation, scale before BatchNorm", () => {
    const params: Params = new Map([
      ["net.0.weight", t([2, 2], [1, 2, 3, 4])], // rows = hidden units: unit 0 reads (1, 2), unit 1 (3, 4)
      ["net.0.bias", t([2], [1, 0])],
      ["net.2.weight", t([3, 2], [1, 0, 0, 1, 1, 1])], // column i = unit i's outgoing weights
      ["net.2.bias", t([3], [0.5, 0.5, 1])],
    ]);
    const torch = { layout: "pytorch" } as const;
    const r = detectSymmetries({ activation: "relu", loss: "cross_entropy", lr: 0.1 }, shapesOf(params), torch);
    assert.deepEqual(summary(r.symmetries), ["rescale net.0 → net.2 2", "translation net.2 3"]);
    // unit 0: 1 + 4 + 1 − (1 + 0 + 1) = 4; unit 1: 9 + 16 + 0 − (0 + 1 + 1) = 23
    close(conservedQuantities(find(r.symmetries, "net.0 → net.2").law, params), [4, 23], 1e-12, "rescale");
    // per feature: Σ_c W[c, j] = (2, 2); bias: 2
    close(conservedQuantities(find(r.symmetries, "net.2").law, params), [2, 2, 2], 1e-12, "translation");

    const noAct = detectSymmetries({ loss: "mse" }, shapesOf(params), torch);
    assert.deepEqual(noAct.symmetries, []);
    assert.ok(noAct.notes.some((n) => /names no activation/.test(n)));
    assert.ok(noAct.notes.some((n) => /regression/.test(n)));

    const bn = new Map([
      ["fc1.weight", { shape: [5, 3] }],
      ["fc1.bias", { shape: [5] }],
      ["bn1.weight", { shape: [5] }],
      ["bn1.bias", { shape: [5] }],
      ["bn1.running_mean", { shape: [5] }],
      ["bn1.running_var", { shape: [5] }],
      ["fc2.weight", { shape: [2, 5] }],
    ]);
    // Natural order would put bn1 first: the checkpoint's `params` order is the model's.
    const order = [
      "fc1.weight",
      "fc1.bias",
      "bn1.weight",
      "bn1.bias",
      "bn1.running_mean",
      "bn1.running_var",
      "fc2.weight",
    ];
    const rb = detectSymmetries({ activation: "relu" }, bn, { ...torch, order });
    assert.deepEqual(summary(rb.symmetries), ["scale fc1 (before bn1) 1"]);
    assert.ok(rb.notes.some((n) => /BatchNorm/.test(n)));

    const conv = detectSymmetries({ activation: "relu" }, new Map([["conv.weight", { shape: [4, 3, 3, 3] }]]), torch);
    assert.deepEqual(conv.symmetries, []);
    assert.match(conv.notes[0]!, /not a plain stack of Linear layers.*cannot be determined without the model/);
  });

  test("a custom model: not determined, and the note says why", () => {
    const r = detectSymmetries({ model: { kind: "custom", name: "mine" } }, mlpShapes);
    assert.deepEqual(r.symmetries, []);
    assert.match(r.notes[0]!, /custom model "mine".*without its code/);
  });
});
