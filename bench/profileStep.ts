// Per-kernel profile of one training step of the canonical systems (tf.profile), to find where a
// step goes before optimizing it: `npm run build && node dist/bench/profileStep.js [wasm|cpu] [mlp|transformer]`.
import * as tf from "@tensorflow/tfjs-core";
import { selectBackend } from "../src/trainer/backend";
import { buildModel } from "../src/trainer/models/index";
import { generateTask } from "../src/trainer/tasks/index";
import { Optimizer } from "../src/trainer/optimizers";
import { Rng } from "../src/sdk/rng";
import { validateSystem } from "../src/sdk/validate";
import { tasks, models, optimizers } from "../src/sdk/builders";
void (async () => {
  await selectBackend((process.argv[2] ?? "wasm") as "wasm");
  const kind = process.argv[3] ?? "mlp";
  const r = validateSystem(
    kind === "mlp"
      ? { task: tasks.modularArithmetic({ p: 97 }), model: models.mlp({}), optimizer: optimizers.adam({}) }
      : {
          task: tasks.modularArithmetic({ p: 113, equalsToken: true }),
          model: models.transformer({}),
          optimizer: optimizers.adamw({ weightDecay: 1 }),
        },
  );
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  const data = generateTask(r.spec.task, { baseDir: "/" });
  const model = buildModel(r.spec.model, data, new Rng(0, "init"));
  const opt = new Optimizer(r.spec.optimizer, model.params, 100);
  if (data.input.kind !== "tokens" || data.output.kind !== "classes")
    throw new Error("expects a token classification task");
  const x = tf.tensor(data.train.x, [data.train.n, data.input.length], "int32");
  const y = tf.cast(tf.oneHot(tf.tensor1d(data.train.y as Int32Array, "int32"), data.output.count), "float32");
  const vars = model.params.map((p) => p.variable);
  const names = new Map(model.params.map((p) => [p.variable.name, p.name]));
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(model.forward(x))), -1))) as tf.Scalar,
        vars,
      );
      value.dataSync();
      opt.apply(new Map(Object.entries(grads).map(([k, g]) => [names.get(k)!, g])));
    });
  for (let i = 0; i < 5; i++) step();
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) step();
  const ms = (performance.now() - t0) / 20;
  const prof = await tf.profile(() => {
    step();
  });
  const agg = new Map<string, number>();
  for (const k of prof.kernels) agg.set(k.name, (agg.get(k.name) ?? 0) + (k.kernelTimeMs as number));
  console.log(`step ${ms.toFixed(1)} ms (${(1000 / ms).toFixed(1)} steps/s); kernels:`);
  [...agg]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 18)
    .forEach(([k, v]) => {
      console.log(v.toFixed(1).padStart(7), k);
    });
})();
