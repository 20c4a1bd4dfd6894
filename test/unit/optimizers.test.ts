import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { before, describe, test } from "node:test";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { optimizers, schedules } from "../../src/sdk/builders";
import type { OptimizerSpec, ScheduleSpec } from "../../src/sdk/spec";
import { Optimizer, scheduledLr } from "../../src/trainer/optimizers";

before(async () => {
  await tf.setBackend("cpu");
});

const W0 = [1, -2, 0.5];
/** A fixed gradient sequence: g_t = w_{t-1} · 0.3 + c_t, so it depends on the trajectory. */
const C = [
  [0.5, 0.1, -0.2],
  [-0.3, 0.4, 0.05],
  [0.2, -0.1, 0.3],
  [0.05, 0.2, -0.4],
];
const grad = (w: number[], t: number) => w.map((x, i) => 0.3 * x + C[t]![i]!);

/** The torch.optim update rules, in float64, written independently of the implementation. */
function reference(spec: OptimizerSpec, steps: number): number[] {
  let w = [...W0];
  let m = w.map(() => 0);
  let v = w.map(() => 0);
  let buf = w.map(() => 0);
  for (let t = 1; t <= steps; t++) {
    const lr = scheduledLr(spec.lr, spec.schedule, t, steps);
    let g = grad(w, t - 1);
    if (spec.kind === "sgd") {
      g = g.map((x, i) => x + spec.weightDecay * w[i]!);
      if (spec.momentum) {
        buf = buf.map((b, i) => spec.momentum * b + g[i]!);
        g = spec.nesterov ? g.map((x, i) => x + spec.momentum * buf[i]!) : buf;
      }
      w = w.map((x, i) => x - lr * g[i]!);
    } else {
      const [b1, b2] = spec.betas;
      if (spec.kind === "adam") g = g.map((x, i) => x + spec.weightDecay * w[i]!);
      else w = w.map((x) => x * (1 - lr * spec.weightDecay));
      m = m.map((x, i) => b1 * x + (1 - b1) * g[i]!);
      v = v.map((x, i) => b2 * x + (1 - b2) * g[i]! ** 2);
      const c1 = 1 - b1 ** t;
      const c2 = 1 - b2 ** t;
      w = w.map((x, i) => x - (lr / c1) * (m[i]! / (Math.sqrt(v[i]!) / Math.sqrt(c2) + spec.eps)));
    }
  }
  return w;
}

function run(spec: OptimizerSpec, steps: number): number[] {
  const variable = tf.variable(tf.tensor1d(W0));
  const opt = new Optimizer(spec, [{ name: "w", variable }], steps);
  for (let t = 0; t < steps; t++) {
    const g = tf.tensor1d(grad(Array.from(variable.dataSync()), t));
    opt.apply(new Map([["w", g]]));
    g.dispose();
  }
  const out = Array.from(variable.dataSync());
  opt.dispose();
  variable.dispose();
  return out;
}

const cases: Array<[string, OptimizerSpec]> = [
  ["sgd", optimizers.sgd({ lr: 0.1 }) as OptimizerSpec],
  ["sgd momentum + wd", optimizers.sgd({ lr: 0.1, momentum: 0.9, weightDecay: 0.01 }) as OptimizerSpec],
  ["sgd nesterov", optimizers.sgd({ lr: 0.1, momentum: 0.9, nesterov: true }) as OptimizerSpec],
  ["adam + L2", optimizers.adam({ lr: 0.01, weightDecay: 0.1 }) as OptimizerSpec],
  ["adamw", optimizers.adamw({ lr: 0.01, weightDecay: 1, betas: [0.9, 0.98] }) as OptimizerSpec],
  [
    "adamw warmup+cosine",
    optimizers.adamw({
      lr: 0.01,
      weightDecay: 1,
      schedule: { warmupSteps: 2, decay: "cosine", minLrFraction: 0.1 },
    }) as OptimizerSpec,
  ],
];

describe("optimizers match the torch.optim update rules", () => {
  for (const [name, spec] of cases) {
    test(name, () => {
      const got = run(spec, 4);
      const want = reference(spec, 4);
      for (let i = 0; i < want.length; i++)
        assert.ok(Math.abs(got[i]! - want[i]!) < 1e-5, `${name}[${i}]: ${got[i]} vs ${want[i]}`);
      assert.notDeepEqual(got, W0, "parameters moved");
    });
  }

  test("agrees with real PyTorch where it is installed", (t) => {
    const probe = spawnSync("/usr/bin/python3", ["-c", "import torch"], { encoding: "utf8" });
    if (probe.status !== 0) return t.skip("python3-torch not installed");
    const script = `
import torch, json
w = torch.tensor(${JSON.stringify(W0)}, dtype=torch.float64, requires_grad=True)
C = ${JSON.stringify(C)}
opt = torch.optim.AdamW([w], lr=0.01, betas=(0.9, 0.98), weight_decay=1.0, eps=1e-8)
for t in range(4):
    opt.zero_grad()
    w.grad = (0.3 * w.detach() + torch.tensor(C[t], dtype=torch.float64))
    opt.step()
print(json.dumps(w.detach().tolist()))
`;
    const out = spawnSync("/usr/bin/python3", ["-c", script], { encoding: "utf8" });
    assert.equal(out.status, 0, out.stderr);
    const torchW = JSON.parse(out.stdout) as number[];
    const ours = run(optimizers.adamw({ lr: 0.01, weightDecay: 1, betas: [0.9, 0.98] }) as OptimizerSpec, 4);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(ours[i]! - torchW[i]!) < 1e-5, `${ours[i]} vs torch ${torchW[i]}`);
  });

  test("snapshot and restore continue exactly", () => {
    const spec = optimizers.adamw({ lr: 0.01, weightDecay: 1 }) as OptimizerSpec;
    const straight = run(spec, 4);
    const variable = tf.variable(tf.tensor1d(W0));
    const a = new Optimizer(spec, [{ name: "w", variable }], 4);
    for (let t = 0; t < 2; t++) a.apply(new Map([["w", tf.tensor1d(grad(Array.from(variable.dataSync()), t))]]));
    const snap = a.snapshot();
    const saved = new Map(
      snap.slots.map((s) => [s.name, { shape: s.tensor.shape, values: s.tensor.dataSync() as Float32Array }]),
    );
    assert.deepEqual([...saved.keys()].sort(), ["m/w", "v/w"]);
    const b = new Optimizer(spec, [{ name: "w", variable }], 4);
    b.restore(snap.t, saved);
    for (let t = 2; t < 4; t++) b.apply(new Map([["w", tf.tensor1d(grad(Array.from(variable.dataSync()), t))]]));
    assert.deepEqual(Array.from(variable.dataSync()), straight);
    assert.throws(() => b.restore(1, new Map()), /no optimizer state "m\/w"/);
  });
});

describe("learning-rate schedules", () => {
  const s = (o: Partial<ScheduleSpec>): ScheduleSpec => ({ ...schedules.constant(), ...o });
  test("constant, warmup, cosine and linear values", () => {
    assert.equal(scheduledLr(0.1, s({}), 7, 10), 0.1);
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((t) => scheduledLr(1, s({ warmupSteps: 4 }), t, 10)),
      [0.25, 0.5, 0.75, 1, 1],
    );
    const cos = s({ decay: "cosine", minLrFraction: 0.1 });
    assert.equal(scheduledLr(1, cos, 0, 10), 1);
    assert.ok(Math.abs(scheduledLr(1, cos, 5, 10) - 0.55) < 1e-12);
    assert.ok(Math.abs(scheduledLr(1, cos, 10, 10) - 0.1) < 1e-12);
    const lin = s({ warmupSteps: 2, decay: "linear", minLrFraction: 0 });
    assert.equal(scheduledLr(1, lin, 2, 12), 1);
    assert.ok(Math.abs(scheduledLr(1, lin, 7, 12) - 0.5) < 1e-12);
    assert.equal(scheduledLr(1, lin, 12, 12), 0);
  });
});
