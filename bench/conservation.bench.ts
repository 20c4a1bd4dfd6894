// Cost of the conservation-laws analysis per checkpoint (src/trainer/analyzer/conservationAnalysis.ts,
// through its real adapter) against one forward-and-backward pass over the training set, on the
// grokking MLP (examples/grokking.experiment.ts: p = 97, one-hot, hidden 256, 2,823 examples) and
// the Nanda et al. 2023 transformer (p = 113, 3,830 examples). The checkpoint's read from disk is
// not included: the analyzer reads each checkpoint once for all its analyses (bench/README.md).
//   node scripts/build.mjs && node dist/bench/conservation.js [wasm|cpu] [reps]
import * as tf from "@tensorflow/tfjs-core";
import { analysesDefaults, models, optimizers, tasks } from "../src/sdk/builders";
import { Rng } from "../src/sdk/rng";
import type { SystemInput } from "../src/sdk/spec";
import { validateSystem } from "../src/sdk/validate";
import type { RunManifest } from "../src/shared/runFormat";
import { createConservationAnalysis } from "../src/trainer/analyzer/conservationAnalysis";
import type { CheckpointParams } from "../src/trainer/analyzer/analysis";
import { selectBackend } from "../src/trainer/backend";
import { buildModel } from "../src/trainer/models/index";
import { generateTask } from "../src/trainer/tasks/index";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(reps: number, f: () => void): number {
  f(); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

const SYSTEMS: Record<string, Omit<SystemInput, "steps">> = {
  mlp: {
    task: tasks.modularArithmetic({ p: 97, op: "add", trainFraction: 0.3 }),
    model: models.mlp({ embed: "onehot", hidden: [256], activation: "relu" }),
    optimizer: optimizers.adamw({ lr: 1e-3, weightDecay: 1, betas: [0.9, 0.98] }),
  },
  transformer: {
    task: tasks.modularArithmetic({ p: 113, op: "add", trainFraction: 0.3, equalsToken: true }),
    model: models.transformer({ layers: 1, dModel: 128, heads: 4, dMlp: 512, activation: "relu", layerNorm: true }),
    optimizer: optimizers.adamw({ lr: 1e-3, weightDecay: 1, betas: [0.9, 0.98] }),
  },
};

void (async () => {
  const backend = (process.argv[2] ?? "wasm") as "wasm" | "cpu";
  const reps = Number(process.argv[3] ?? 9);
  await selectBackend(backend);
  console.log(`backend ${backend}; median of ${reps}`);
  for (const [name, input] of Object.entries(SYSTEMS)) {
    const r = validateSystem({ ...input, steps: 1000 });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const data = generateTask(r.spec.task, { baseDir: "/" });
    if (data.input.kind !== "tokens" || data.output.kind !== "classes") throw new Error("expects token classification");
    const model = buildModel(r.spec.model, data, new Rng(0, "init"));
    const x = tf.tensor(data.train.x, [data.train.n, data.input.length], "int32");
    const y = tf.oneHot(tf.tensor1d(data.train.y as Int32Array, "int32"), data.output.count);
    const vars = model.params.map((p) => p.variable);
    const tFwdBwd = time(reps, () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(
          () => tf.mean(tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(model.forward(x))), -1))) as tf.Scalar,
          vars,
        );
        value.dataSync();
        for (const g of Object.values(grads)) g.dataSync();
      }),
    );
    // The checkpoint as the analyzer holds it: every parameter as a Float32Array.
    const params: CheckpointParams = new Map(
      model.params.map((p) => [p.name, { shape: p.variable.shape, values: p.variable.dataSync() as Float32Array }]),
    );
    const manifest = { config: JSON.parse(JSON.stringify(r.spec)), totalSteps: 1000 } as RunManifest;
    const settings = analysesDefaults();
    const analysis = createConservationAnalysis({
      settings,
      referenceStep: 0,
      params: () => params,
      lr: () => Number.NaN,
      emit: () => {},
      manifest,
      checkpointMetadata: () => undefined,
    });
    let record = analysis.compute(1000);
    const tAnalysis = time(reps, () => {
      record = analysis.compute(1000);
    });
    const nParams = [...params.values()].reduce((s, t) => s + t.values.length, 0);
    const kinds = "symmetries" in record ? record.symmetries.map((s) => `${s.kind} ${s.layer}`).join(", ") : "";
    console.log(
      `${name}: ${nParams} parameters, train ${data.train.n} examples; forward+backward ${tFwdBwd.toFixed(1)} ms; ` +
        `conservation per checkpoint ${tAnalysis.toFixed(2)} ms = ${((100 * tAnalysis) / tFwdBwd).toFixed(1)}% of it\n  symmetries: ${kinds}`,
    );
    model.dispose();
  }
})();
