// In-context regression: the task's token layout and streams, the transformer's every-position
// readout against a brute-force forward (shapes, causal masking), the config rules that name a bad
// setting, and the torch backend's refusal.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { modelSystem, models, optimizers, tasks } from "../../src/sdk/index";
import { Rng } from "../../src/sdk/rng";
import type { InContextRegressionSpec, TransformerSpec } from "../../src/sdk/spec";
import { validateSystem } from "../../src/sdk/validate";
import { buildTransformer } from "../../src/trainer/models/index";
import { freshSequences, generateTask, sequencePairs, sequenceWidth } from "../../src/trainer/tasks/index";
import { torchUnsupportedReason } from "../../src/trainer/torch/exchange";
import { trSpec, useBackend } from "../tensorAnalysisSupport";

const icl = (over: Partial<Omit<InContextRegressionSpec, "kind">> = {}): InContextRegressionSpec =>
  tasks.inContextRegression({ dim: 3, points: 5, testSequences: 7, ...over });
const ctx = { baseDir: "." };

test("inContextRegression: 2·points tokens of dim+1 numbers, x tokens (x, 0), y tokens (0, y), targets the y's", () => {
  const spec = icl();
  const data = generateTask(spec, ctx);
  const { dim, points } = spec;
  assert.deepEqual(data.input, {
    kind: "features",
    dim: 2 * points * (dim + 1),
    sequence: { length: 2 * points, tokenDim: dim + 1 },
  });
  assert.deepEqual(data.output, { kind: "regression", dim: points });
  assert.equal(data.test.n, 7);
  assert.equal(data.train.n, 7, "fresh sequences: the train loss is measured on testSequences training sequences");
  const width = sequenceWidth(spec);
  const x = data.test.x as Float32Array;
  for (let s = 0; s < data.test.n; s++) {
    for (let i = 0; i < points; i++) {
      const xt = s * width + 2 * i * (dim + 1);
      assert.equal(x[xt + dim], 0, "x token's y slot");
      for (let j = 0; j < dim; j++) assert.equal(x[xt + dim + 1 + j], 0, "y token's x slots");
      assert.equal(x[xt + 2 * dim + 1], data.test.y[s * points + i], "y token carries the target");
    }
  }
});

test("inContextRegression: without noise each sequence is one linear function (a pool of 1: the same w everywhere)", () => {
  const spec = icl({ dim: 2, points: 6, tasks: 1, trainSequences: 4 });
  const data = generateTask(spec, ctx);
  // Solve w from the first two pairs of sequence 0, then every pair of every training sequence fits it.
  const p0 = sequencePairs(spec, data.train, 0);
  const [a, b] = [p0.x[0]!, p0.x[1]!];
  const det = a[0]! * b[1]! - a[1]! * b[0]!;
  const w = [(p0.y[0]! * b[1]! - p0.y[1]! * a[1]!) / det, (a[0]! * p0.y[1]! - b[0]! * p0.y[0]!) / det];
  for (let s = 0; s < 4; s++) {
    const p = sequencePairs(spec, data.train, s);
    for (let i = 0; i < 6; i++) {
      const pred = w[0]! * p.x[i]![0]! + w[1]! * p.x[i]![1]!;
      assert.ok(Math.abs(pred - p.y[i]!) < 1e-4, `sequence ${s} pair ${i}: ${pred} vs ${p.y[i]}`);
    }
  }
  // The test set draws fresh functions: sequence 1's pairs do not fit w.
  const t = sequencePairs(spec, data.test, 1);
  const miss = Math.abs(w[0]! * t.x[0]![0]! + w[1]! * t.x[0]![1]! - t.y[0]!);
  assert.ok(miss > 1e-3, `test sequence fits the pool's w (${miss})`);
});

test("inContextRegression: the test set is fixed by dataSeed alone; fresh sequences are a pure function of (seed, step)", () => {
  const a = generateTask(icl(), ctx);
  const b = generateTask(icl({ trainSequences: 11, tasks: 3 }), ctx);
  assert.deepEqual(a.test.x, b.test.x);
  assert.deepEqual(a.test.y, b.test.y);
  const c = generateTask(icl({ dataSeed: 1 }), ctx);
  assert.notDeepEqual(a.test.x, c.test.x);
  const fresh = freshSequences(icl())!;
  assert.deepEqual(fresh(4, 10, 3), fresh(4, 10, 3));
  assert.notDeepEqual(fresh(4, 10, 3).x, fresh(4, 11, 3).x);
  assert.notDeepEqual(fresh(4, 10, 3).x, fresh(5, 10, 3).x);
  assert.equal(freshSequences(icl({ trainSequences: 5 })), undefined, "a fixed training set has no fresh stream");
  // w ~ N(0, I/dim): Var(y) = E‖x‖²/dim = 1.
  const big = freshSequences(icl({ dim: 4, points: 8 }))!(0, 1, 2000);
  let sq = 0;
  for (const v of big.y) sq += v * v;
  assert.ok(Math.abs(sq / big.y.length - 1) < 0.1, `Var(y) = ${sq / big.y.length}`);
});

// ---------------------------------------------------------------- the transformer, every position

const seqSpec = (over: Partial<TransformerSpec> = {}): TransformerSpec =>
  trSpec({ dModel: 8, heads: 2, dMlp: 12, readout: "everyPosition", ...over });

/**
 * The transformer written out as loops over one sequence: read-in, positions, causal softmax
 * attention per head, MLP, readout at every `stride`-th token. Independent of the tensor code.
 */
function naiveForward(
  params: Map<string, { shape: number[]; v: Float32Array }>,
  spec: TransformerSpec,
  tokens: number[][],
  stride: number,
): number[] {
  const d = spec.dModel;
  const dh = d / spec.heads;
  const T = tokens.length;
  const P = (n: string) => params.get(n)!;
  const matVec = (m: { shape: number[]; v: Float32Array }, x: number[]): number[] => {
    const [rows, cols] = m.shape as [number, number];
    const out = new Array<number>(cols).fill(0);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j]! += x[i]! * m.v[i * cols + j]!;
    return out;
  };
  const ln = (x: number[], name: string): number[] => {
    if (!spec.layerNorm) return x;
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const vr = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
    const g = P(`${name}.g`).v;
    const b = P(`${name}.b`).v;
    return x.map((v, i) => ((v - mean) / Math.sqrt(vr + 1e-5)) * g[i]! + b[i]!);
  };
  let r = tokens.map((tok, t) => matVec(P("embed.weight"), tok).map((v, j) => v + P("pos.weight").v[t * d + j]!));
  for (let l = 0; l < spec.layers; l++) {
    const p = `blocks.${l}`;
    const a = r.map((x) => ln(x, `${p}.ln1`));
    const q = a.map((x) => matVec(P(`${p}.attn.wq`), x));
    const k = a.map((x) => matVec(P(`${p}.attn.wk`), x));
    const v = a.map((x) => matVec(P(`${p}.attn.wv`), x));
    r = r.map((res, t) => {
      const z = new Array<number>(d).fill(0);
      for (let h = 0; h < spec.heads; h++) {
        const s: number[] = [];
        for (let u = 0; u <= t; u++) {
          let dot = 0;
          for (let j = h * dh; j < (h + 1) * dh; j++) dot += q[t]![j]! * k[u]![j]!;
          s.push(dot / Math.sqrt(dh));
        }
        const mx = Math.max(...s);
        const e = s.map((x) => Math.exp(x - mx));
        const sum = e.reduce((x, y) => x + y, 0);
        for (let u = 0; u <= t; u++) for (let j = h * dh; j < (h + 1) * dh; j++) z[j]! += (e[u]! / sum) * v[u]![j]!;
      }
      const r1 = res.map((x, j) => x + matVec(P(`${p}.attn.wo`), z)[j]!);
      const m = ln(r1, `${p}.ln2`);
      const hid = matVec(P(`${p}.mlp.w1`), m).map((x, j) => Math.max(0, x + P(`${p}.mlp.b1`).v[j]!));
      const o = matVec(P(`${p}.mlp.w2`), hid);
      return r1.map((x, j) => x + o[j]! + P(`${p}.mlp.b2`).v[j]!);
    });
  }
  const out: number[] = [];
  for (let t = 0; t < T; t += stride) out.push(matVec(P("unembed.weight"), ln(r[t]!, "lnf"))[0]!);
  return out;
}

test("transformer readout everyPosition: shapes, and every output equals a naive loop forward (1 and 2 layers, LayerNorm on and off)", async () => {
  await useBackend("cpu");
  const task = icl({ dim: 3, points: 4, testSequences: 3 });
  const data = generateTask(task, ctx);
  const io = { input: data.input, output: data.output };
  for (const [layers, layerNorm] of [
    [1, false],
    [2, true],
  ] as const) {
    const spec = seqSpec({ layers, layerNorm });
    const m = buildTransformer(spec, io, new Rng(3));
    const shapes = Object.fromEntries(m.params.map((p) => [p.name, p.variable.shape]));
    assert.deepEqual(shapes["embed.weight"], [4, 8], "read-in [dim+1, dModel]");
    assert.deepEqual(shapes["pos.weight"], [8, 8], "a position per token: 2·points");
    assert.deepEqual(shapes["unembed.weight"], [8, 1], "a scalar readout");
    const x = tf.tensor2d(data.test.x, [3, sequenceWidth(task)]);
    const out = m.forward(x);
    assert.deepEqual(out.shape, [3, 4]);
    const got = out.dataSync();
    const params = new Map(
      m.params.map((p) => [p.name, { shape: p.variable.shape, v: p.variable.dataSync() as Float32Array }]),
    );
    for (let s = 0; s < 3; s++) {
      const toks = Array.from({ length: 8 }, (_, t) =>
        Array.from(data.test.x.subarray(s * 32 + t * 4, s * 32 + t * 4 + 4)),
      );
      const want = naiveForward(params, spec, toks, 2);
      for (let i = 0; i < 4; i++)
        assert.ok(
          Math.abs(got[s * 4 + i]! - want[i]!) < 1e-4,
          `layers ${layers} seq ${s} pos ${i}: ${got[s * 4 + i]} vs ${want[i]}`,
        );
    }
    x.dispose();
    out.dispose();
    m.dispose();
  }
});

test("transformer readout everyPosition is causal: the prediction at x_i ignores y_i and everything after, and reads what is before", async () => {
  await useBackend("cpu");
  const task = icl({ dim: 2, points: 5, testSequences: 1 });
  const data = generateTask(task, ctx);
  const m = buildTransformer(seqSpec({ layers: 2 }), { input: data.input, output: data.output }, new Rng(9));
  const width = sequenceWidth(task);
  const base = Float32Array.from(data.test.x);
  const run = (x: Float32Array) => tf.tidy(() => Array.from(m.forward(tf.tensor2d(x, [1, width])).dataSync()));
  const before = run(base);
  for (let token = 0; token < 10; token++) {
    const changed = Float32Array.from(base);
    for (let j = 0; j < 3; j++) changed[token * 3 + j]! += 1.5; // perturb every slot of this token
    const after = run(changed);
    for (let i = 0; i < 5; i++) {
      const sees = token <= 2 * i; // output i is read at token 2i (x_i)
      const diff = Math.abs(after[i]! - before[i]!);
      if (sees) assert.ok(diff > 1e-6, `output ${i} should depend on token ${token}`);
      else assert.equal(after[i], before[i], `output ${i} changed when token ${token} (later) changed`);
    }
  }
  m.dispose();
});

test("transformer readout everyPosition refuses token inputs, and readout last refuses sequences, each in words", async () => {
  await useBackend("cpu");
  const tokIO = { input: { kind: "tokens", vocab: 5, length: 3 }, output: { kind: "classes", count: 5 } } as const;
  assert.throws(
    () => buildTransformer(seqSpec(), tokIO, new Rng(0)),
    /readout "everyPosition" needs a task of vector sequences/,
  );
  const data = generateTask(icl(), ctx);
  assert.throws(
    () => buildTransformer(trSpec(), { input: data.input, output: data.output }, new Rng(0)),
    /needs token inputs/,
  );
});

// ---------------------------------------------------------------- config rules and the torch backend

const system = (over: Record<string, unknown>) =>
  modelSystem({
    task: tasks.inContextRegression({ dim: 4, points: 8 }),
    model: models.transformer({ readout: "everyPosition", dModel: 16 }),
    optimizer: optimizers.adam({ lr: 1e-3 }),
    batchSize: 32,
    ...over,
  });

function problems(input: unknown): string[] {
  const r = validateSystem(input);
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
}

test("inContextRegression config: a good system validates; bad settings are named by field", () => {
  assert.deepEqual(problems(system({})), []);
  const bad = problems(
    system({
      task: tasks.inContextRegression({
        dim: 0,
        points: 2.5,
        noise: -1,
        trainSequences: 0,
        tasks: -2,
        testSequences: 0,
      }),
    }),
  );
  for (const field of ["dim", "points", "noise", "trainSequences", "tasks", "testSequences"])
    assert.ok(
      bad.some((p) => p.startsWith(`task.${field}: must`)),
      `task.${field} not named in ${JSON.stringify(bad)}`,
    );
  assert.deepEqual(problems(system({ model: models.mlp() })), [
    'model.kind: must be "transformer" (with readout "everyPosition") or "custom" for inContextRegression: a mlp of the whole sequence would see the targets it predicts',
  ]);
  assert.deepEqual(problems(system({ model: models.transformer() })), [
    'model.readout: must be "everyPosition" for inContextRegression (a prediction at every x token, each seeing only the pairs before it)',
  ]);
  assert.deepEqual(problems(system({ batchSize: "full" })), [
    "batchSize: must be a number of sequences per step for inContextRegression without trainSequences (fresh sequences every step)",
  ]);
  assert.deepEqual(
    problems(system({ batchSize: "full", task: tasks.inContextRegression({ trainSequences: 64 }) })),
    [],
  );
  assert.deepEqual(problems(system({ task: tasks.modularArithmetic() })), [
    'model.readout: "everyPosition" needs a task of vector sequences (inContextRegression), not modularArithmetic',
  ]);
  assert.deepEqual(problems(system({ model: models.transformer({ readout: "all" as "last" }) })).length, 1);
});

test("torch backend: a transformer with readout everyPosition runs there (the worker has it: torchIcl.test.ts), a custom model is still refused", () => {
  assert.equal(torchUnsupportedReason("icl", models.transformer({ readout: "everyPosition" })), undefined);
  assert.equal(torchUnsupportedReason("tr", models.transformer()), undefined);
  assert.match(
    torchUnsupportedReason("c", { kind: "custom", name: "mine" }) ?? "",
    /^system "c": its custom model "mine" is tfjs code, which the torch backend cannot run/,
  );
});
