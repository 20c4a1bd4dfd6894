// Fourier progress measures (Nanda et al. 2023) for modular-arithmetic systems: the embedding's
// sparsity in the Fourier basis of Z_p, and the restricted / excluded losses of the logit table
// over all p² pairs. Frequencies are chosen per checkpoint (the top `keyFrequencies` by their share
// of the logit table): a live analyzer cannot know the final model's key frequencies, which is how
// Nanda et al. choose them after training.
import * as tf from "@tensorflow/tfjs-core";
import {
  embeddingFourierNorms,
  excludedLoss,
  gini,
  logitFrequencyShares,
  matrix,
  type Matrix,
  meanColumnFourierGini,
  restrictedLoss,
  topFrequencies,
} from "../../measures/index";
import type { FourierRecord } from "../../shared/analysisFormat";
import type { ModularArithmeticSpec } from "../../sdk/spec";
import type { SystemInstance } from "../system";
import { type Analysis, cadence } from "./analysis";

/** Why the Fourier analysis does not apply to a system, or undefined when it does. */
export function fourierUnsupported(system: SystemInstance): string | undefined {
  const task = system.spec.task;
  if (task.kind !== "modularArithmetic") return `the task is ${task.kind}, not modular arithmetic`;
  if (system.data.input.kind !== "tokens") return "the inputs are not tokens";
  const model = system.spec.model.kind;
  if (model !== "mlp" && model !== "transformer") return `a ${model} model has no embedding to read`;
  return undefined;
}

/**
 * The embedding W_E as a p × d matrix, row x = how residue x enters the network: the embedding
 * table's first p rows, or for a one-hot MLP the first layer's rows of x in each operand
 * position, side by side (p × 2h).
 */
function residueEmbedding(system: SystemInstance, p: number): Matrix {
  const byName = new Map(system.model.params.map((v) => [v.name, v.variable]));
  const table = byName.get("embed.weight");
  if (table) {
    const d = table.shape[1]!;
    return matrix(p, d, (table.dataSync() as Float32Array).subarray(0, p * d));
  }
  const first = byName.get("layers.0.weight");
  if (!first || system.data.input.kind !== "tokens")
    throw new Error("fourier: the model has neither embed.weight nor a one-hot first layer");
  const vocab = system.data.input.vocab;
  const h = first.shape[1]!;
  const w = first.dataSync() as Float32Array;
  const out = matrix(p, 2 * h);
  for (let x = 0; x < p; x++) {
    for (let t = 0; t < 2; t++) {
      const src = (t * vocab + x) * h;
      for (let j = 0; j < h; j++) out.data[x * 2 * h + t * h + j] = w[src + j]!;
    }
  }
  return out;
}

export function createFourierAnalysis(
  system: SystemInstance,
  settings: { every: number; keyFrequencies: number },
): Analysis<"fourier"> {
  const task = system.spec.task as ModularArithmeticSpec;
  const p = task.p;
  const length = system.data.input.kind === "tokens" ? system.data.input.length : 2;
  // Every pair (a, b) in row a·p + b, with the "=" token when the task has one.
  const pairs = new Int32Array(p * p * length);
  for (let a = 0; a < p; a++) {
    for (let b = 0; b < p; b++) {
      const r = (a * p + b) * length;
      pairs[r] = a;
      pairs[r + 1] = b;
      if (length === 3) pairs[r + 2] = p;
    }
  }
  const x = tf.tensor2d(pairs, [p * p, length], "int32");
  const trainX = system.data.train.x as Int32Array;
  const trainRows = Int32Array.from(
    { length: system.data.train.n },
    (_, i) => trainX[i * length]! * p + trainX[i * length + 1]!,
  );
  // Restricted and excluded losses use Fourier directions of a + b: they are defined for addition only.
  const additive = task.op === "add";

  return {
    name: "fourier",
    settings: { ...settings },
    needs: "model",
    due: cadence(settings.every),
    header: {},
    compute(step: number): FourierRecord {
      const wE = residueEmbedding(system, p);
      const norms = embeddingFourierNorms(wE);
      const logitsData = tf.tidy(() => {
        const out = system.output(x);
        return out.dataSync() as Float32Array;
      });
      const logits = matrix(p * p, p, logitsData);
      const keys = additive
        ? topFrequencies(logitFrequencyShares(logits, p), settings.keyFrequencies)
        : topFrequencies(norms.perFrequency, settings.keyFrequencies);
      let sumSquares = 0;
      for (const v of system.model.params) sumSquares += tf.tidy(() => tf.sum(tf.square(v.variable)).dataSync()[0]!);
      return {
        step,
        gini: gini(norms.perFrequency),
        neuronGini: meanColumnFourierGini(wE),
        frequencyNorms: Array.from(norms.perFrequency),
        keyFrequencies: keys,
        restrictedLoss: additive ? restrictedLoss(logits, p, keys) : Number.NaN,
        excludedLoss: additive ? excludedLoss(logits, p, keys, trainRows) : Number.NaN,
        sumSquares,
      };
    },
    dispose: () => x.dispose(),
  };
}
