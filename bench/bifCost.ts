// Cost of one BIF pass (src/trainer/methods/bif.ts) on the grokking MLP of
// examples/grokking.experiment.ts (p = 97, one-hot, hidden 256, 2,823 train examples), at a
// checkpoint trained for a few hundred AdamW steps (memorizing), per configuration: wall time,
// its split into SGLD steps and draw evaluations, and the chains' diagnostics.
//   node scripts/build.mjs && node dist/bench/bifCost.js [wasm|cpu] [trainSteps=300] [queries=32|testLoss] [configs=default,...]
import * as tf from "@tensorflow/tfjs-core";
import { selectBackend } from "../src/trainer/backend";
import { buildModel } from "../src/trainer/models/index";
import { generateTask } from "../src/trainer/tasks/index";
import { Optimizer } from "../src/trainer/optimizers";
import { Rng } from "../src/sdk/rng";
import { validateSystem } from "../src/sdk/validate";
import { models, optimizers, tasks } from "../src/sdk/builders";
import { computeBif, type BifOptions } from "../src/trainer/methods/bif";
import type { AnalysisTarget, Examples } from "../src/trainer/methods/target";

const CONFIGS: Record<string, BifOptions> = {
  default: {},
  fullBatch: { batchSize: 1e9 },
  thin1: { thin: 1 },
  thin5: { thin: 5 },
  draws400: { draws: 400 },
  eps1e4: { stepSize: 1e-4 },
  eps1e2: { stepSize: 1e-2 },
  eps3e3: { stepSize: 3e-3 },
};

void (async () => {
  const backend = (process.argv[2] ?? "wasm") as "wasm" | "cpu";
  const trainSteps = Number(process.argv[3] ?? 300);
  // A number: that many test examples, each its own query; "testLoss": one query, the mean loss of the whole test split.
  const queryArg = process.argv[4] ?? "32";
  const nQueries = queryArg === "testLoss" ? Infinity : Number(queryArg);
  const configNames = (process.argv[5] ?? "default").split(",");
  await selectBackend(backend);
  const r = validateSystem({
    task: tasks.modularArithmetic({ p: 97, op: "add", trainFraction: 0.3 }),
    model: models.mlp({ embed: "onehot", hidden: [256], activation: "relu" }),
    optimizer: optimizers.adamw({ lr: 1e-3, weightDecay: 1, betas: [0.9, 0.98] }),
    seed: 0,
  });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  const data = generateTask(r.spec.task, { baseDir: "/" });
  if (data.input.kind !== "tokens" || data.output.kind !== "classes")
    throw new Error("expects a token classification task");
  const model = buildModel(r.spec.model, data, new Rng(0, "init"));
  const split = (s: typeof data.train, first: number, count: number): Examples => {
    const len = (data.input as { length: number }).length;
    const n = Math.min(count, s.n - first);
    return {
      x: tf.tensor((s.x as Int32Array).slice(first * len, (first + n) * len), [n, len], "int32"),
      y: tf.tidy(() =>
        tf.cast(
          tf.oneHot(
            tf.tensor1d((s.y as Int32Array).slice(first, first + n), "int32"),
            (data.output as { count: number }).count,
          ),
          "float32",
        ),
      ),
      indices: Int32Array.from({ length: n }, (_, i) => first + i),
    };
  };
  const train = split(data.train, 0, data.train.n);
  const query = split(data.test, 0, nQueries);
  const queries =
    queryArg === "testLoss"
      ? { examples: query, groups: new Int32Array(query.indices.length), names: ["test loss"] }
      : { examples: query };
  const target: AnalysisTarget = {
    params: model.params,
    output: (x) => model.forward(x),
    perExampleLoss: (out, y) => tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(out)), -1)) as tf.Tensor1D,
  };

  // A checkpoint: full-batch AdamW, as the experiment trains.
  const opt = new Optimizer(r.spec.optimizer, model.params, 10_000);
  const vars = model.params.map((p) => p.variable);
  const names = new Map(model.params.map((p) => [p.variable.name, p.name]));
  const t0 = performance.now();
  let last = NaN;
  for (let s = 0; s < trainSteps; s++) {
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.mean(target.perExampleLoss(target.output(train.x), train.y)) as tf.Scalar,
        vars,
      );
      last = value.dataSync()[0]!;
      opt.apply(new Map(Object.entries(grads).map(([k, g]) => [names.get(k)!, g])));
    });
  }
  const trainMs = performance.now() - t0;
  const nParams = vars.reduce((s, v) => s + v.size, 0);
  console.log(
    `${backend}: ${data.train.n} train examples, ${nParams} params, ${queryArg === "testLoss" ? `query = mean loss of all ${query.indices.length} test examples` : `${nQueries} single-example queries`}; checkpoint after ${trainSteps} AdamW steps, train loss ${last.toFixed(4)} (${(trainMs / Math.max(1, trainSteps)).toFixed(1)} ms/step)`,
  );

  // Unit costs: one SGLD-like step (gradient + update) at the default minibatch and at full batch, one draw evaluation.
  const timeMs = (f: () => void, reps: number) => {
    f();
    const s = performance.now();
    for (let i = 0; i < reps; i++) f();
    return (performance.now() - s) / reps;
  };
  const mb = tf.tensor1d(
    Int32Array.from({ length: 256 }, (_, i) => i * 11),
    "int32",
  );
  const step = (full: boolean) => () =>
    tf.tidy(() => {
      const x = full ? train.x : tf.gather(train.x, mb);
      const y = full ? train.y : tf.gather(train.y, mb);
      const { value, grads } = tf.variableGrads(
        () => tf.mean(target.perExampleLoss(target.output(x), y)) as tf.Scalar,
        vars,
      );
      value.dataSync();
      Object.values(grads).forEach((g) => {
        g.dataSync();
      });
    });
  const snapshot = vars.map((v) => v.clone());
  const evalDraw = () => tf.tidy(() => void target.perExampleLoss(target.output(train.x), train.y).dataSync());
  const noise = new Rng(1, "bench");
  const noiseMs = timeMs(
    () =>
      vars.forEach((v) => {
        noise.normals(v.size, 0.01);
      }),
    10,
  );
  console.log(
    `unit costs: gradient batch 256 ${timeMs(step(false), 10).toFixed(1)} ms, full batch ${timeMs(step(true), 5).toFixed(1)} ms; ` +
      `per-example losses of all train examples ${timeMs(evalDraw, 10).toFixed(1)} ms; JS noise for all params ${noiseMs.toFixed(1)} ms`,
  );
  vars.forEach((v, k) => {
    v.assign(snapshot[k]!);
  });

  for (const name of configNames) {
    const cfg = CONFIGS[name];
    if (!cfg) throw new Error(`unknown config ${name} (have ${Object.keys(CONFIGS).join(", ")})`);
    const cpu0 = process.cpuUsage();
    const res = await computeBif(target, train, queries, cfg);
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const o = res.options;
    const steps = o.chains * (o.burnIn + o.draws * o.thin);
    const head = `[${name}] ε=${o.stepSize} nβ=${o.nBeta.toFixed(1)} γ=${o.localization} chains=${o.chains} draws=${o.draws} burnIn=${o.burnIn} thin=${o.thin} batch=${o.batchSize}: ${(res.wallMs / 1000).toFixed(1)} s wall, ${cpuS.toFixed(1)} s cpu (${steps} steps, ${o.chains * o.draws} draws)`;
    if (res.kind === "diverged") {
      console.log(`${head}\n  DIVERGED: ${res.message}`);
      continue;
    }
    const means = res.traces.map((t) => t.loss.reduce((s, v) => s + v, 0) / t.loss.length);
    const absBif = res.bif.map(Math.abs);
    const relSe = res.stdErr.reduce((s, v) => s + v, 0) / absBif.reduce((s, v) => s + v, 0);
    // Entries resolved from zero: |BIF| > 3 SE. With SE from K chains the ratio is t-distributed with K − 1 degrees of
    // freedom when the BIF is 0: 5.8 % of entries pass by chance with 4 chains (0.3 % with many).
    const resolved = res.bif.filter((b, k) => Math.abs(b) > 3 * res.stdErr[k]!).length / res.bif.length;
    console.log(
      `${head}\n  L(w*) ${res.initLoss.toFixed(4)}, chain mean L ${means.map((m) => m.toFixed(4)).join(" ")}, llc ${res.llc.toFixed(1)}; ` +
        `R-hat ${res.diagnostics.maxRhat.toFixed(3)} (loss ${res.diagnostics.lossRhat.toFixed(3)}), min ESS ${res.diagnostics.minEss.toFixed(1)} (loss ${res.diagnostics.lossEss.toFixed(1)}); ` +
        `mean |BIF| ${(absBif.reduce((s, v) => s + v, 0) / absBif.length).toExponential(2)}, mean SE / mean |BIF| ${relSe.toFixed(2)}, |BIF| > 3 SE in ${(100 * resolved).toFixed(1)} % of entries` +
        (res.warnings.length ? `\n  warnings: ${res.warnings.join(" | ")}` : ""),
    );
  }
})();
