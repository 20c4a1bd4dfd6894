// The sharpness analysis on real training runs: full-batch GD on a small tanh MLP regression
// reaches the edge of stability at η = 0.1 (sharpness rises from half of 2/η and then stays within
// 10% of it) and stays far below 2/η at η = 0.02 (Cohen et al. 2021); an AdamW run gets the
// preconditioned sharpness from its checkpoints' optimizer state and Adam's threshold 38/η.
import assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { readAnalysis } from "../../src/shared/analysisFormat";
import { FIXTURES, killSidecars, runCli, tempDir } from "./harness";

after(killSidecars);

async function trainAndAnalyse(fixture: string, system: string, extra: string[] = []): Promise<string> {
  const root = tempDir("sharpness");
  const file = join(root, fixture);
  copyFileSync(join(FIXTURES, fixture), file);
  const r = await runCli(["train", file, "--system", system, "--out", join(root, "runs"), "--backend", "cpu"]);
  assert.equal(r.code, 0, r.stderr);
  const runDir = r.stdout.trim();
  const a = await runCli(["analyze", runDir, "--only", "sharpness", "--backend", "cpu", "--run-experiment", ...extra]);
  assert.equal(a.code, 0, a.stderr);
  return runDir;
}

describe("sharpness", () => {
  test("full-batch GD on a tanh MLP: sharpness rises to 2/η and hovers within 10% at η = 0.1; far below at η = 0.02", async () => {
    const eos = readAnalysis(await trainAndAnalyse("eos.experiment.ts", "eos"), "sharpness")!;
    assert.deepEqual(
      eos.records.map((r) => r.step),
      [0, 200, 400, 600, 800, 1000, 1200],
    );
    for (const r of eos.records) {
      assert.equal(r.threshold, 20, "2/η with η = 0.1 from the logged lr");
      assert.equal(r.thresholdOf, "sharpness");
      assert.equal(r.method, "finite-difference");
      assert.equal(r.preconditioned, null, "no preconditioner for SGD");
      assert.equal(r.eigenvalues.length, 2);
      assert.ok(r.eigenvalues[0]! >= r.eigenvalues[1]!);
      assert.ok(r.error < 0.01 * r.eigenvalues[0]!, `step ${r.step}: error ${r.error}`);
    }
    const first = eos.records[0]!.eigenvalues[0]!;
    assert.ok(first < 0.6 * 20, `starts well below 2/η: ${first}`);
    for (const r of eos.records.slice(2)) {
      const s = r.eigenvalues[0]!;
      assert.ok(Math.abs(s - 20) <= 2, `step ${r.step}: sharpness ${s} within 10% of 2/η = 20`);
    }

    const stableDir = await trainAndAnalyse("eos.experiment.ts", "stable");
    const stable = readAnalysis(stableDir, "sharpness")!;
    for (const r of stable.records) {
      assert.equal(r.threshold, 100);
      assert.ok(r.eigenvalues[0]! < 0.5 * 100, `step ${r.step}: ${r.eigenvalues[0]} stays far below 2/η = 100`);
    }
    // The small step sharpens too (the rise is not caused by the large η), it just never meets its threshold.
    assert.ok(stable.records.at(-1)!.eigenvalues[0]! > 1.5 * stable.records[0]!.eigenvalues[0]!);

    // The LLC on the same run, through the analyzer with short chains set from the command line.
    const a = await runCli([
      "analyze",
      stableDir,
      "--only",
      "llc",
      "--backend",
      "cpu",
      "--run-experiment",
      "--set",
      "llc.every=6",
      "--set",
      "llc.draws=20",
      "--set",
      "llc.burnIn=20",
    ]);
    assert.equal(a.code, 0, a.stderr);
    const llc = readAnalysis(stableDir, "llc")!;
    assert.equal(llc.header.settings["draws"], 20);
    assert.deepEqual(
      llc.records.map((r) => r.step),
      [0, 1200],
    );
    const last = llc.records[1]!;
    assert.ok(Math.abs(last.nBeta - 64 / Math.log(64)) < 1e-9, "nβ = n / log n");
    assert.equal(last.traces.length, 4);
    assert.ok(last.traces.every((t) => t.length === 20));
    assert.equal(last.chainLlc.length, 4);
    assert.ok(last.llc !== null && last.llc > 0, `λ̂ ${last.llc} at a trained checkpoint`);
    assert.ok(last.stdErr !== null && last.stdErr > 0);
    assert.ok(llc.records[0]!.warning?.includes("λ̂ < 0") || llc.records[0]!.llc! > 0);
  });

  test("AdamW: the preconditioned sharpness from the checkpoint's second moments, against 38/η", async () => {
    const file = readAnalysis(await trainAndAnalyse("tiny.experiment.ts", "tinyAdd"), "sharpness")!;
    assert.deepEqual(
      file.records.map((r) => r.step),
      [0, 60],
      "every 8th checkpoint by default (the first), and the last",
    );
    const [first, last] = file.records as [(typeof file.records)[0], (typeof file.records)[0]];
    assert.equal(first.preconditioned, null, "step 0 has no second moments yet");
    assert.ok(last.preconditioned !== null && last.preconditioned > 0, `λ_max(P⁻¹H) = ${last.preconditioned}`);
    // The model is a relu MLP: difference quotients that cross a kink of relu differ between ε and ε/2,
    // and the estimate says so (finite, not zero) rather than hiding it.
    assert.ok(Number.isFinite(last.preconditionedError) && last.preconditionedError! > 0);
    assert.equal(last.thresholdOf, "preconditioned");
    assert.ok(Math.abs(last.threshold! - 38 / 3e-3) < 1e-6, `threshold ${last.threshold}`);
    // P ≈ √v̂ is far below 1 for these small gradients, so P⁻¹H is much sharper than H.
    assert.ok(last.preconditioned > last.eigenvalues[0]!);
  });
});
