// The example grokking system, trained to memorization on wasm: train accuracy saturates while
// test accuracy stays at or below chance (the first phase of grokking). The cpu backend (pure
// JavaScript, 10–100x slower) is held to the same trajectory over its first 100 steps instead of
// the whole 500: it took 3–10 minutes of CI alone, for what the comparison shows just as well.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { grokkingReport, loadRunData, toGrokReport } from "../../src/shared/analysisViews";
import { EXAMPLES, metricsOf, readManifest, runCli, tempDir } from "./harness";

const STEPS = 500;
const CPU_STEPS = 100;

async function trainExample(backend: string, steps: number): Promise<{ runDir: string; stderr: string }> {
  const runDir = join(tempDir(`grok-${backend}`), "run");
  const r = await runCli(
    [
      "train",
      join(EXAMPLES, "grokking.experiment.ts"),
      "--system",
      "modAdd",
      "--run-dir",
      runDir,
      "--backend",
      backend,
      "--steps",
      String(steps),
    ],
    900_000,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readManifest(runDir).status, "finished");
  return { runDir, stderr: r.stderr };
}

describe("examples/grokking.experiment.ts modAdd", { concurrency: true }, () => {
  const wasmRun = trainExample("wasm", STEPS);

  test(`memorizes within ${STEPS} steps on wasm`, async () => {
    const metrics = metricsOf((await wasmRun).runDir);
    const first = metrics[0]!;
    const last = metrics.at(-1)!;
    assert.equal(last.step, STEPS);
    // At initialization: chance level on 59 classes, loss near ln 59.
    assert.ok(Math.abs(first["train_loss"]! - Math.log(59)) < 0.3, `initial loss ${first["train_loss"]}`);
    assert.ok(first["train_acc"]! < 0.05);
    // Memorized: every training pair right; not generalized: test accuracy at or below chance.
    assert.ok(last["train_acc"]! >= 0.99, `train accuracy ${last["train_acc"]}`);
    assert.ok(last["test_acc"]! <= 0.05, `test accuracy ${last["test_acc"]}`);
    assert.ok(last["test_loss"]! > first["test_loss"]!, "test loss rises while memorizing");
    const tMem = metrics.find((m) => m["train_acc"]! >= 0.99)!.step;
    assert.ok(tMem > 100 && tMem <= STEPS, `memorized at step ${tMem}`);
  });

  test("the CLI ends with the grokking verdict, t_mem, t_gen and their ratio: the report lm analyze gives", async () => {
    const { runDir, stderr } = await wasmRun;
    const lines = stderr.trimEnd().split("\n");
    const finished = lines.indexOf(`finished at step ${STEPS}`);
    assert.ok(finished >= 0, stderr);
    const verdict = lines[finished + 1] ?? "";
    // Memorized within the 500 steps, not generalized; t_mem as the grokking report has it.
    const report = toGrokReport(grokkingReport(loadRunData(runDir, readManifest(runDir))));
    assert.equal(report.verdict, "memorized");
    assert.ok(report.tMem !== undefined && report.tMem > 100 && report.tMem <= STEPS);
    assert.match(verdict, new RegExp(`^grokking: memorized · t_mem ${report.tMem} · t_gen — · t_gen/t_mem —`));
    const analyzed = await runCli(["analyze", runDir, "--only", "weights"]);
    assert.equal(analyzed.code, 0, analyzed.stderr);
    assert.equal(analyzed.stdout.split("\n")[0], verdict, "the same line as lm analyze");
  });

  test(`follows the wasm trajectory on cpu for ${CPU_STEPS} steps`, async (t) => {
    const cpu = metricsOf((await trainExample("cpu", CPU_STEPS)).runDir);
    const wasm = new Map(metricsOf((await wasmRun).runDir).map((m) => [m.step, m]));
    const steps = cpu.map((m) => m.step);
    assert.deepEqual(steps, [0, 50, 100]);
    let worst = 0;
    for (const c of cpu) {
      const w = wasm.get(c.step)!;
      // Same data, initialization and minibatches; float32 kernels that round differently (measured:
      // 3.4e-5 at most).
      for (const key of ["train_loss", "test_loss"]) {
        const rel = Math.abs(c[key]! - w[key]!) / Math.abs(w[key]!);
        assert.ok(rel < 5e-4, `step ${c.step} ${key}: cpu ${c[key]} wasm ${w[key]} (relative ${rel})`);
        worst = Math.max(worst, rel);
      }
      assert.ok(
        Math.abs(c["train_acc"]! - w["train_acc"]!) <= 0.01,
        `step ${c.step} train_acc: cpu ${c["train_acc"]} wasm ${w["train_acc"]}`,
      );
    }
    t.diagnostic(`largest relative loss difference cpu vs wasm: ${worst.toExponential(2)}`);
  });
});
