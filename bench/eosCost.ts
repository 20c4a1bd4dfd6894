// Per-checkpoint cost of the sharpness and LLC analyses (src/trainer/analyzer/sharpnessAnalysis.ts,
// llcAnalysis.ts) at their defaults, against one forward + backward pass over the whole training
// set, on two systems: the grokking MLP of examples/grokking.experiment.ts (AdamW: the
// preconditioned sharpness too) and the tanh MLP of examples/edge-of-stability.experiment.ts.
// Prints cpu seconds (process.cpuUsage: the machine is shared) and the ratio to a gradient pass,
// and what the default cadence adds to training (a training step = one pass at full batch).
//   node scripts/build.mjs && node dist/bench/eosCost.js [wasm|cpu] [trainSteps=200]
import * as tf from "@tensorflow/tfjs-core";
import { analysesDefaults, models, optimizers, tasks } from "../src/sdk/builders";
import type { SystemInput } from "../src/sdk/spec";
import { validateSystem } from "../src/sdk/validate";
import { selectBackend } from "../src/trainer/backend";
import { adamPreconditioner } from "../src/trainer/analyzer/sharpnessAnalysis";
import { lossAndGradient, parameterCount, sharpness } from "../src/trainer/methods/hessian";
import { computeLlc } from "../src/trainer/methods/llc";
import type { Examples } from "../src/trainer/methods/target";
import { Optimizer } from "../src/trainer/optimizers";
import { SystemInstance } from "../src/trainer/system";

function cpuSeconds<T>(f: () => T): { value: T; s: number } {
  const t0 = process.cpuUsage();
  const value = f();
  const d = process.cpuUsage(t0);
  return { value, s: (d.user + d.system) / 1e6 };
}

async function cpuSecondsAsync<T>(f: () => Promise<T>): Promise<{ value: T; s: number }> {
  const t0 = process.cpuUsage();
  const value = await f();
  const d = process.cpuUsage(t0);
  return { value, s: (d.user + d.system) / 1e6 };
}

const SYSTEMS: Record<string, SystemInput> = {
  "grokking MLP (p 59, hidden 256, AdamW)": {
    task: tasks.modularArithmetic({ p: 59, op: "add", trainFraction: 0.4 }),
    model: models.mlp({ embed: "onehot", hidden: [256] }),
    optimizer: optimizers.adamw({ lr: 3e-3, weightDecay: 1, betas: [0.9, 0.98] }),
    steps: 8_000,
    checkpointEvery: 250,
  },
  "edge-of-stability tanh MLP (64 examples, GD)": {
    task: tasks.teacherStudent({
      dim: 8,
      teacher: "singleIndex",
      link: "tanh",
      trainSize: 64,
      testSize: 64,
      noise: 0.5,
    }),
    model: models.mlp({ hidden: [32, 32], activation: "tanh" }),
    optimizer: optimizers.sgd({ lr: 0.1 }),
    steps: 3_000,
    checkpointEvery: 100,
  },
};

void (async () => {
  const backend = (process.argv[2] ?? "wasm") as "wasm" | "cpu";
  const trainSteps = Number(process.argv[3] ?? 200);
  await selectBackend(backend);
  const defaults = analysesDefaults();
  console.log(`backend ${backend}; checkpoint after ${trainSteps} full-batch steps; cpu seconds`);
  for (const [name, input] of Object.entries(SYSTEMS)) {
    const r = validateSystem({ ...input, seed: 0, batchSize: "full" });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const system = new SystemInstance(r.spec, "/");
    const target = system.target();
    const n = system.train.n;
    const train: Examples = {
      x: system.train.x,
      y: system.train.y,
      indices: Int32Array.from({ length: n }, (_, i) => i),
    };
    const opt = new Optimizer(r.spec.optimizer, system.model.params, r.spec.steps);
    for (let t = 0; t < trainSteps; t++) {
      const { value, grads: byVar } = tf.variableGrads(() =>
        tf.mean(target.perExampleLoss(target.output(train.x), train.y)),
      );
      const grads = new Map(system.model.params.map((p) => [p.name, byVar[p.variable.name]!]));
      opt.apply(grads);
      value.dispose();
      for (const g of grads.values()) g.dispose();
    }
    const passes = Array.from({ length: 5 }, () => cpuSeconds(() => lossAndGradient(target, train)).s).sort();
    const pass = passes[2]!;
    const s = defaults.sharpness;
    const options = { count: s.eigenvalues, maxIterations: s.iterations, tolerance: s.tolerance, fdStep: s.fdStep };
    const plain = cpuSeconds(() => sharpness(target, train, options));
    let pre: { s: number; products: number; value: number } | undefined;
    if (r.spec.optimizer.kind !== "sgd") {
      const snap = opt.snapshot();
      const values = new Map(
        snap.slots
          .filter((x) => x.name.startsWith("v/"))
          .map((x) => [x.name.slice(2), x.tensor.dataSync() as Float32Array]),
      );
      const p = adamPreconditioner(
        r.spec.optimizer,
        target.params.map((q) => q.name),
        { t: snap.t, values },
      );
      if (p) {
        const res = cpuSeconds(() => sharpness(target, train, { ...options, count: 1 }, p));
        pre = { s: res.s, products: res.value.products, value: res.value.values[0]! };
      }
    }
    const l = defaults.llc;
    const llc = await cpuSecondsAsync(() =>
      computeLlc(target, train, {
        stepSize: l.epsilon,
        localization: l.gamma,
        chains: l.chains,
        draws: l.draws,
        burnIn: l.burnIn,
        thin: l.thin,
        batchSize: l.batchSize,
        seed: 0,
      }),
    );
    const sharpTotal = plain.s + (pre?.s ?? 0);
    const every = (input.checkpointEvery ?? 1000) as number;
    console.log(`\n${name}: ${parameterCount(target)} parameters, ${n} training examples`);
    console.log(`  one forward+backward over the training set: ${(pass * 1000).toFixed(1)} ms (median of 5)`);
    console.log(
      `  sharpness: ${plain.s.toFixed(2)} s = ${(plain.s / pass).toFixed(0)} passes (${plain.value.products} Hessian-vector products, λ₁ ${plain.value.values[0]!.toFixed(3)} ± ${plain.value.error.toExponential(1)})`,
    );
    if (pre)
      console.log(
        `  preconditioned sharpness: ${pre.s.toFixed(2)} s = ${(pre.s / pass).toFixed(0)} passes (${pre.products} products, λ_max(P⁻¹H) ${pre.value.toFixed(1)})`,
      );
    console.log(
      `  LLC (defaults, ${l.chains}×(${l.burnIn}+${l.draws}·${l.thin}) steps): ${llc.s.toFixed(2)} s = ${(llc.s / pass).toFixed(0)} passes (λ̂ ${llc.value.llc.toFixed(2)} ± ${llc.value.stdErr.toFixed(2)})`,
    );
    console.log(
      `  added to full-batch training (checkpoint every ${every} steps): sharpness every ${s.every}th checkpoint ${((100 * sharpTotal) / (pass * every * s.every)).toFixed(1)}%; LLC if every 4th ${((100 * llc.s) / (pass * every * 4)).toFixed(1)}%`,
    );
    opt.dispose();
    system.dispose();
  }
})();
