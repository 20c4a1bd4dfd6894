// Small analysis targets for the tensor-analysis tests: built-in models with a softmax
// cross-entropy or squared-error loss, inputs and targets from our seeded Rng. The model specs,
// inputs and backend selection serve test/unit/models.test.ts and ops.test.ts as well.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../src/sdk/rng";
import type { DeepLinearSpec, MlpSpec, TransformerSpec } from "../src/sdk/spec";
import { buildModel, type Model, type ModelIO } from "../src/trainer/models/index";
import type { AnalysisTarget } from "../src/trainer/methods/target";
import { selectBackend } from "../src/trainer/backend";

/** The trainer's own backend selection (also registers gradients and finds the wasm binaries), checked. */
export async function useBackend(name: "cpu" | "wasm"): Promise<void> {
  await selectBackend(name);
  assert.equal(tf.getBackend(), name);
}

export const mlpSpec = (over: Partial<MlpSpec> = {}): MlpSpec => ({
  kind: "mlp",
  embed: "onehot",
  hidden: [16],
  activation: "relu",
  initScale: 1,
  alpha: 1,
  centered: false,
  bias: true,
  ...over,
});
export const trSpec = (over: Partial<TransformerSpec> = {}): TransformerSpec => ({
  kind: "transformer",
  layers: 1,
  dModel: 8,
  heads: 2,
  dMlp: 16,
  activation: "relu",
  layerNorm: false,
  initScale: 1,
  readout: "last",
  ...over,
});
export const dlSpec = (over: Partial<DeepLinearSpec> = {}): DeepLinearSpec => ({
  kind: "deepLinear",
  hidden: [],
  initScale: 1,
  ...over,
});

export const tokIO = (vocab: number, length: number, classes: number): ModelIO => ({
  input: { kind: "tokens", vocab, length },
  output: { kind: "classes", count: classes },
});
export const featIO = (dim: number, out: number): ModelIO => ({
  input: { kind: "features", dim },
  output: { kind: "regression", dim: out },
});
export const featClassIO = (dim: number, classes: number): ModelIO => ({
  input: { kind: "features", dim },
  output: { kind: "classes", count: classes },
});

export function tokens(batch: number, length: number, vocab: number, seed: number): tf.Tensor2D {
  const r = new Rng(seed, "tokens");
  const a = new Int32Array(batch * length);
  for (let i = 0; i < a.length; i++) a[i] = r.int(vocab);
  return tf.tensor2d(a, [batch, length], "int32");
}
export function features(batch: number, dim: number, seed: number): tf.Tensor2D {
  return tf.tensor2d(new Rng(seed, "features").normals(batch * dim), [batch, dim]);
}
export function oneHotLabels(batch: number, classes: number, seed: number): tf.Tensor2D {
  const r = new Rng(seed, "labels");
  return tf.tidy(
    () =>
      tf.cast(
        tf.oneHot(
          tf.tensor1d(
            Array.from({ length: batch }, () => r.int(classes)),
            "int32",
          ),
          classes,
        ),
        "float32",
      ) as tf.Tensor2D,
  );
}

/** Cross-entropy for classes, ½‖out − y‖² for regression, per example. */
export function targetOf(model: Model, io: ModelIO): AnalysisTarget {
  return {
    params: model.params,
    output: (x) => model.forward(x),
    perExampleLoss: (out, y) =>
      tf.tidy(() =>
        io.output.kind === "classes"
          ? (tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(out)), -1)) as tf.Tensor1D)
          : (tf.mul(tf.sum(tf.square(tf.sub(out, y)), -1), 0.5) as tf.Tensor1D),
      ),
  };
}

export function build(
  spec: MlpSpec | TransformerSpec | DeepLinearSpec,
  io: ModelIO,
  seed = 1,
): { model: Model; target: AnalysisTarget } {
  const model = buildModel(spec, io, new Rng(seed, "init"));
  return { model, target: targetOf(model, io) };
}

/** Per-example gradients by brute force: one tf.grads per example over every parameter, flattened in params order. */
export function bruteForceGradients(target: AnalysisTarget, x: tf.Tensor, y: tf.Tensor): Float32Array[] {
  const n = x.shape[0]!;
  const vars = target.params.map((p) => p.variable);
  const rows: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const g = tf.tidy(() => {
      const xi = tf.slice(
        x,
        x.shape.map((_, k) => (k === 0 ? i : 0)),
        x.shape.map((d, k) => (k === 0 ? 1 : d)),
      );
      const yi = tf.slice(y, [i, 0], [1, -1]);
      const { grads } = tf.variableGrads(() => tf.sum(target.perExampleLoss(target.output(xi), yi)) as tf.Scalar, vars);
      return tf.concat(vars.map((v) => tf.reshape(grads[v.name] ?? tf.zerosLike(v), [-1])));
    });
    rows.push(g.dataSync() as Float32Array);
    g.dispose();
  }
  return rows;
}
