// Cost of a TracIn pass per checkpoint against one forward-and-backward pass over the same
// examples, on the grokking MLP (examples/grokking.experiment.ts: p = 97, one-hot, hidden 256,
// train fraction 0.3). Also the tap's per-example gradient pass alone, exact NTK on a probe set,
// and the training step with and without the tap hook compiled in (see bench/README.md).
//   node scripts/build.mjs && node dist/bench/tracin.js [wasm|cpu] [reps] [mlp|transformer]
// ("transformer": the Nanda et al. 2023 system of the same experiment file, p = 113.)
import * as tf from "@tensorflow/tfjs-core";
import { selectBackend } from "../src/trainer/backend";
import { buildModel } from "../src/trainer/models/index";
import { generateTask } from "../src/trainer/tasks/index";
import { Rng } from "../src/sdk/rng";
import { validateSystem } from "../src/sdk/validate";
import { models, optimizers, tasks } from "../src/sdk/builders";
import type { AnalysisTarget, Examples } from "../src/trainer/methods/target";
import { GradientProjector, type GradientMode } from "../src/trainer/methods/perExample";
import { selectExamples, tracInCheckpoint } from "../src/trainer/methods/tracin";
import { empiricalNtk } from "../src/trainer/methods/ntk";

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

void (async () => {
  const backend = (process.argv[2] ?? "wasm") as "wasm" | "cpu";
  const reps = Number(process.argv[3] ?? 5);
  const system = process.argv[4] ?? "mlp";
  await selectBackend(backend);
  const r = validateSystem(
    system === "mlp"
      ? {
          task: tasks.modularArithmetic({ p: 97, op: "add", trainFraction: 0.3 }),
          model: models.mlp({ embed: "onehot", hidden: [256], activation: "relu" }),
          optimizer: optimizers.adamw({ lr: 1e-3, weightDecay: 1, betas: [0.9, 0.98] }),
        }
      : {
          task: tasks.modularArithmetic({ p: 113, op: "add", trainFraction: 0.3, equalsToken: true }),
          model: models.transformer({
            layers: 1,
            dModel: 128,
            heads: 4,
            dMlp: 512,
            activation: "relu",
            layerNorm: false,
          }),
          optimizer: optimizers.adamw({ lr: 1e-3, weightDecay: 1, betas: [0.9, 0.98] }),
        },
  );
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  const data = generateTask(r.spec.task, { baseDir: "/" });
  if (data.input.kind !== "tokens" || data.output.kind !== "classes")
    throw new Error("expects a token classification task");
  const model = buildModel(r.spec.model, data, new Rng(0, "init"));
  const classes = data.output.count,
    length = data.input.length;
  const split = (s: typeof data.train): Examples => ({
    x: tf.tensor(s.x, [s.n, length], "int32"),
    y: tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(s.y as Int32Array, "int32"), classes), "float32")),
    indices: Int32Array.from({ length: s.n }, (_, i) => i),
  });
  const train = split(data.train),
    test = split(data.test);
  const target: AnalysisTarget = {
    params: model.params,
    output: (x) => model.forward(x),
    perExampleLoss: (out, y) => tf.tidy(() => tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(out)), -1)) as tf.Tensor1D),
  };
  const vars = model.params.map((p) => p.variable);
  const concat = (a: Examples, b: Examples): Examples => ({
    x: tf.concat([a.x, b.x]),
    y: tf.concat([a.y, b.y]),
    indices: new Int32Array(0),
  });
  /** One forward and backward pass (all parameter gradients, mean loss) over e, as a training step computes it. */
  const fwdBwd = (e: Examples) => () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.mean(target.perExampleLoss(target.output(e.x), e.y)) as tf.Scalar,
        vars,
      );
      value.dataSync();
      for (const g of Object.values(grads)) g.dataSync();
    });

  console.log(`${system}, backend ${backend}; train ${data.train.n} examples, test ${data.test.n}; median of ${reps}`);
  const tTrain = time(reps, fwdBwd(train));
  console.log(`forward+backward, train (${data.train.n}):            ${tTrain.toFixed(1)} ms`);

  const queryClass = selectExamples(test, { kind: "class", label: 0 });
  const trainPlusClass = concat(train, queryClass),
    trainPlusTest = concat(train, test);
  const tTrainClass = time(reps, fwdBwd(trainPlusClass));
  const tTrainTest = time(reps, fwdBwd(trainPlusTest));
  console.log(`forward+backward, train + class-0 query (${trainPlusClass.x.shape[0]}):  ${tTrainClass.toFixed(1)} ms`);
  console.log(`forward+backward, train + test (${trainPlusTest.x.shape[0]}):          ${tTrainTest.toFixed(1)} ms`);

  const modes: Array<[string, GradientMode]> = [
    ["LoGra k=16x16", { kIn: 16, kOut: 16, kFallback: 64, seed: 0 }],
    ["LoGra k=64x64", { kIn: 64, kOut: 64, kFallback: 256, seed: 0 }],
    ...(system === "mlp" ? ([["exact", "exact"]] as Array<[string, GradientMode]>) : []),
  ];
  for (const [label, mode] of modes) {
    const projector = new GradientProjector(target, mode);
    // Exact rows would be 2,823 x 75,201 floats: time the pass only for projected modes.
    let dim = 0;
    const tGrad =
      mode === "exact"
        ? NaN
        : time(reps, () => {
            dim = projector.perExample(train).dim;
          });
    const tClass = time(reps, () => tracInCheckpoint(projector, train, queryClass, { lr: 1e-3 }));
    const tTest = time(reps, () => tracInCheckpoint(projector, train, test, { lr: 1e-3 }));
    dim ||= projector.dim() ?? 0;
    console.log(`${label} (D = ${dim}):`);
    if (mode !== "exact")
      console.log(
        `  per-example grads, train:      ${tGrad.toFixed(1)} ms  (${(tGrad / tTrain).toFixed(2)}x fwd+bwd over train)`,
      );
    console.log(
      `  TracIn, query = class 0 (${queryClass.x.shape[0]}):  ${tClass.toFixed(1)} ms  (${(tClass / tTrainClass).toFixed(2)}x fwd+bwd over the same examples)`,
    );
    console.log(
      `  TracIn, query = test set:      ${tTest.toFixed(1)} ms  (${(tTest / tTrainTest).toFixed(2)}x fwd+bwd over the same examples)`,
    );
    projector.dispose();
  }

  const probe = tf.slice(test.x, [0, 0], [256, length]);
  const tNtk = time(Math.max(1, Math.floor(reps / 2)), () => empiricalNtk(target, probe));
  const tProbe = time(
    reps,
    fwdBwd({ x: probe, y: tf.slice(test.y, [0, 0], [256, classes]), indices: new Int32Array(0) }),
  );
  console.log(
    `exact NTK, 256 probes x ${classes} outputs: ${tNtk.toFixed(0)} ms (${(tNtk / tProbe).toFixed(0)}x fwd+bwd over the probes, ${tProbe.toFixed(1)} ms)`,
  );
})();
