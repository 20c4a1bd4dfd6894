// examples/double-descent.experiment.ts loads, validates with its two sweeps, lists its systems
// and trains: what docs/experiments.md ("Double descent") and its figure are made from.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { readSafetensorsSync } from "../../src/shared/safetensors";
import { validateSystem } from "../../src/sdk/validate/system";
import { loadExperiment } from "../../src/trainer/loadExperiment";
import { EXAMPLES, checkpointFiles, metricsOf, readManifest, runCli, tempDir } from "./harness";

const FILE = join(EXAMPLES, "double-descent.experiment.ts");

test("the double-descent example validates: width over 14 widths and trainingSize over 12 sizes, 3 seeds each", async () => {
  const loaded = await loadExperiment(FILE);
  assert.deepEqual(loaded.systems.map((s) => s.name).sort(), ["trainingSize", "width"]);
  const plans = new Map(
    loaded.systems.map((s) => {
      const r = validateSystem(s.system);
      assert.ok(r.ok, `${s.name}: ${JSON.stringify(r.ok ? [] : r.problems)}`);
      assert.equal(r.spec.model.kind, "randomFeatures");
      assert.ok(r.sweep !== undefined, `${s.name} declares a sweep`);
      return [s.name, r.sweep] as const;
    }),
  );
  const width = plans.get("width")!;
  assert.deepEqual(width.fields, ["model.features"]);
  assert.deepEqual(width.seeds, [0, 1, 2]);
  assert.equal(width.points.length, 42);
  const widths = [...new Set(width.points.map((p) => p.values["model.features"]))];
  assert.ok(widths.includes(100), "the interpolation threshold p = n = 100 is a point");
  assert.ok(widths.some((p) => Number(p) < 100) && widths.some((p) => Number(p) >= 1000), String(widths));
  const sizes = plans.get("trainingSize")!;
  assert.deepEqual(sizes.fields, ["task.trainSize"]);
  assert.equal(sizes.points.length, 36);
  assert.ok(
    sizes.points.some((p) => p.values["task.trainSize"] === 100),
    "n = p = 100 is a point",
  );
});

test("lm list shows both systems; lm train trains the width system's readout only", async () => {
  const list = await runCli(["list", FILE]);
  assert.equal(list.code, 0, list.stderr);
  const lines = list.stdout.trim().split("\n");
  // One line per system, each followed by its sweep's size.
  assert.equal(lines.filter((l) => !l.startsWith(" ")).length, 2, list.stdout);
  assert.ok(lines.includes("  sweep: 42 runs = 14 values of model.features × 3 seeds"), list.stdout);
  assert.ok(lines.includes("  sweep: 36 runs = 12 values of task.trainSize × 3 seeds"), list.stdout);
  for (const name of ["width", "trainingSize"])
    assert.match(
      lines.find((l) => l.startsWith(`${name}\t`)) ?? "",
      /teacherStudent d=20 linear n=100 noise=0\.5 · randomFeatures p=100 relu · sgd lr=1 momentum=0\.9 · 10000 steps/,
    );

  const runDir = join(tempDir("double-descent"), "width");
  const r = await runCli([
    "train",
    FILE,
    "--system",
    "width",
    "--run-dir",
    runDir,
    "--backend",
    "wasm",
    "--steps",
    "200",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readManifest(runDir).status, "finished");
  const evals = metricsOf(runDir).filter((m) => typeof m["test_loss"] === "number");
  const first = evals[0]!;
  const last = evals.at(-1)!;
  // The zero readout predicts 0: test loss E[(β·x)²] = ‖β‖² = 1 on clean labels, train loss 1 + σ²
  // (1.5 on this draw). At p = n the fit of the training set is fast, the test error is not.
  assert.ok(Math.abs(first["test_loss"]! - 1) < 0.15, `step 0 test loss ${first["test_loss"]}`);
  assert.equal(first["param_norm"], 0);
  assert.ok(last["train_loss"]! < 0.2 * first["train_loss"]!, `step 200 train loss ${last["train_loss"]}`);
  assert.ok(Number.isFinite(last["test_loss"]!));
  const ckpt = readSafetensorsSync(join(runDir, "checkpoints", checkpointFiles(runDir).at(-1)!));
  assert.deepEqual(
    ckpt.tensors.filter((t) => !t.name.startsWith("optimizer/")).map((t) => [t.name, t.shape]),
    [["readout.weight", [100, 1]]],
  );
});
