// `lm lmc` through the real CLI (docs/branching.md): a run with itself is flat, two inits of a small
// MLP show a barrier, and a model linear in its parameters with the squared loss is a convex
// quadratic along the line (no barrier).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, test } from "node:test";
import { join } from "node:path";
import type { LmcRecord } from "../../src/shared/lmcFormat";
import { FIXTURES, metricsOf, runCli, tempDir } from "./harness";

const file = join(FIXTURES, "lmc.experiment.ts");
const root = tempDir("lmc");
const run = (system: string) => join(root, system);

async function lmc(...args: string[]): Promise<LmcRecord> {
  const r = await runCli(["lmc", ...args, "--backend", "cpu"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(readFileSync(r.stdout.trim(), "utf8")) as LmcRecord;
}

describe("lm lmc", () => {
  before(async () => {
    for (const system of ["mlpA", "mlpB", "linearA", "linearB"]) {
      const r = await runCli(["train", file, "--system", system, "--run-dir", run(system), "--backend", "cpu"]);
      assert.equal(r.code, 0, r.stderr);
    }
  });

  test("a run with itself: every point the same, every barrier exactly 0, α = 0 is the run's own metrics", async () => {
    const r = await runCli(["lmc", run("mlpA"), run("mlpA"), "--points", "5", "--backend", "cpu"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), join(run("mlpA"), "lmc", "60--mlpA--60.json"));
    assert.match(r.stderr, /barrier +0\.0000 +0\.0000 +0\.0000 +0\.0000/);
    const rec = JSON.parse(readFileSync(r.stdout.trim(), "utf8")) as LmcRecord;
    assert.deepEqual(rec.barrier, { train_loss: 0, train_error: 0, test_loss: 0, test_error: 0 });
    assert.deepEqual(rec.a, { run: "..", runId: "mlpA", step: 60 });
    assert.deepEqual(
      rec.points.map((p) => p.alpha),
      [0, 0.25, 0.5, 0.75, 1],
    );
    for (const p of rec.points) assert.deepEqual({ ...p, alpha: 0 }, { ...rec.points[0], alpha: 0 });
    const last = metricsOf(run("mlpA")).at(-1)!;
    assert.equal(rec.points[0]!.train_loss, last["train_loss"], "the trainer's own evaluation");
    assert.equal(rec.points[0]!.test_error, 1 - last["test_acc"]!);
  });

  test("two inits of a small MLP: a positive loss and error barrier", async () => {
    const rec = await lmc(run("mlpA"), run("mlpB"));
    assert.equal(rec.points.length, 11);
    assert.ok(rec.barrier.train_loss! > 0.1, `train loss barrier ${rec.barrier.train_loss}`);
    assert.ok(rec.barrier.train_error! > 0.05, `train error barrier ${rec.barrier.train_error}`);
  });

  test("linear in its parameters, squared loss: the loss along the line is a convex quadratic, barrier 0", async () => {
    const rec = await lmc(run("linearA"), run("linearB"), "--steps-a", "10");
    assert.equal(rec.a.step, 10);
    assert.equal(rec.b.step, 20);
    assert.deepEqual(rec.barrier, { train_loss: 0, test_loss: 0 });
    for (const q of ["train_loss", "test_loss"] as const) {
      const f = rec.points.map((p) => p[q]!);
      // L(α) = c₀ + c₁α + c₂α²: the second differences are all 2c₂h² > 0 (to float32 rounding).
      const second = f.slice(2).map((v, i) => v - 2 * f[i + 1]! + f[i]!);
      const mean = second.reduce((s, v) => s + v, 0) / second.length;
      assert.ok(mean > 0, `${q}: convex`);
      for (const d of second) assert.ok(Math.abs(d - mean) < 1e-5 * Math.max(1, Math.abs(f[0]!)), `${q}: ${second}`);
      // Every interior point strictly below the chord.
      for (const [i, p] of rec.points.entries())
        if (i > 0 && i < 10) assert.ok(f[i]! < f[0]! + p.alpha * (f[10]! - f[0]!), `${q} at α = ${p.alpha}`);
    }
  });

  test("a checkpoint that does not exist names those that do", async () => {
    const r = await runCli(["lmc", run("linearA"), run("linearB"), "--steps-b", "15", "--backend", "cpu"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /error \(usage\): --steps-b: .*linearB has no checkpoint of step 15; its checkpoints: 0, 10, 20/,
    );
    const r2 = await runCli(["lmc", run("linearA")]);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /missing RUN_B/);
  });
});
