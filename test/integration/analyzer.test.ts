// The analyzer on real run folders, through the CLI and the sidecar protocol.
import assert from "node:assert/strict";
import { copyFileSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { readAnalysis } from "../../src/shared/analysisFormat";
import type { DataRecord } from "../../src/shared/runFormat";
import { readSafetensorsSync } from "../../src/shared/safetensors";
import { FIXTURES, killSidecars, readManifest, runCli, Sidecar, tempDir } from "./harness";

after(killSidecars);

async function trainTiny(system = "tinyAdd", extra: string[] = []): Promise<string> {
  const root = tempDir("analyzer");
  const file = join(root, "tiny.experiment.ts");
  copyFileSync(join(FIXTURES, "tiny.experiment.ts"), file);
  const r = await runCli([
    "train",
    file,
    "--system",
    system,
    "--out",
    join(root, "runs"),
    "--backend",
    "cpu",
    ...extra,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

function norm(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]! * values[i]!;
  return Math.sqrt(s);
}

describe("lm analyze", () => {
  test("weights: one record per checkpoint, matching the checkpoint files; a second run does nothing; --set archives", async () => {
    const runDir = await trainTiny();
    const r1 = await runCli(["analyze", runDir, "--only", "weights"]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stderr, /analyzer finished: 4 records/);
    const file = readAnalysis(runDir, "weights")!;
    assert.deepEqual(
      file.records.map((r) => r.step),
      [0, 20, 40, 60],
    );
    const last = readSafetensorsSync(join(runDir, "checkpoints", "step-00000060.safetensors"));
    const w = last.byName.get("layers.0.weight")!;
    assert.ok(Math.abs(file.records[3]!.tensors["layers.0.weight"]!.norm - norm(w.data)) < 1e-9);
    assert.ok(file.records[3]!.relChange! > 0 && file.records[0]!.relChange === 0);

    const r2 = await runCli(["analyze", runDir, "--only", "weights"]);
    assert.match(r2.stderr, /analyzer finished: 0 records/);

    const r3 = await runCli(["analyze", runDir, "--only", "weights", "--set", "weights.every=2"]);
    assert.equal(r3.code, 0, r3.stderr);
    assert.match(r3.stderr, /the settings changed; the earlier file is kept as .*archive/);
    assert.deepEqual(
      readAnalysis(runDir, "weights")!.records.map((r) => r.step),
      [0, 40, 60],
    );
    assert.equal(readdirSync(join(runDir, "analyses", "archive")).length, 1);
  });

  test("the model analyses: kernel, Fourier, TracIn per checkpoint, and a summary on stdout", async () => {
    const runDir = await trainTiny();
    const r = await runCli(["analyze", runDir, "--backend", "cpu", "--run-experiment"]);
    assert.equal(r.code, 0, r.stderr);
    const kernel = readAnalysis(runDir, "kernel")!;
    assert.deepEqual(
      kernel.records.map((x) => x.step),
      [0, 20, 40, 60],
    );
    assert.equal(kernel.header.referenceStep, 0);
    assert.equal(kernel.records[0]!.kernelDistance, 0, "the reference kernel against itself");
    assert.ok(kernel.records[3]!.kernelDistance > 0 && kernel.records[3]!.kernelDistance < 1);
    for (const rec of kernel.records) {
      assert.equal(rec.probe, 64);
      assert.ok(rec.kta > -1 && rec.kta <= 1);
      for (const v of Object.values(rec.cka)) assert.ok(v > 0 && v <= 1 + 1e-9, `CKA ${v}`);
    }
    assert.ok(
      Object.values(kernel.records[0]!.cka).every((v) => Math.abs(v - 1) < 1e-9),
      "CKA of the reference with itself is 1",
    );

    const fourier = readAnalysis(runDir, "fourier")!;
    assert.equal(fourier.records.length, 4);
    for (const rec of fourier.records) {
      assert.equal(rec.frequencyNorms.length, 5, "p = 11 has 5 frequencies");
      assert.ok(rec.gini >= 0 && rec.gini < 1);
      assert.equal(rec.keyFrequencies.length, 5);
    }

    const tracin = readAnalysis(runDir, "tracin")!;
    const n = Math.round(0.6 * 121);
    assert.equal(tracin.header.examples!.length, n, "every training example is scored");
    assert.match(tracin.header.examples![0]!.text, /^\d+ \+ \d+ = \d+ \(mod 11\)$/);
    assert.equal(tracin.header.query, "48 test examples");
    // Each row names its example as the run's data.json does: pair (a, b) at a·11 + b.
    const data = JSON.parse(readFileSync(join(runDir, "data.json"), "utf8")) as DataRecord;
    for (const ex of tracin.header.examples!) {
      assert.equal(ex.dataIndex, data.train.indices[ex.index], `row ${ex.index}`);
      const [a, b] = ex.text
        .split(" ")
        .filter((_, k) => k === 0 || k === 2)
        .map(Number);
      assert.equal(ex.dataIndex, a! * 11 + b!, ex.text);
    }
    for (const rec of tracin.records) {
      assert.equal(rec.values.length, n);
      assert.equal(rec.lr, 3e-3);
    }
    assert.match(r.stdout, /^grokking: (grokked|memorized|generalized-without-delay|not-memorized) · t_mem /m);
    assert.match(r.stdout, /^regime: (Lazy|Transitioning|Rich)/m);
  });

  test("relative weight change scales as 1/α in the lazy regime (α = 10 against α = 100)", async () => {
    const root = tempDir("alpha");
    const file = join(root, "alpha.experiment.ts");
    copyFileSync(join(FIXTURES, "alpha.experiment.ts"), file);
    const rwc: Record<string, number> = {};
    for (const system of ["alpha10", "alpha100"]) {
      const r = await runCli(["train", file, "--system", system, "--out", join(root, "runs"), "--backend", "cpu"]);
      assert.equal(r.code, 0, r.stderr);
      const runDir = r.stdout.trim();
      assert.equal((await runCli(["analyze", runDir, "--only", "weights"])).code, 0);
      const last = readAnalysis(runDir, "weights")!.records.at(-1)!;
      assert.equal(last.step, 100);
      rwc[system] = last.relChange!;
    }
    const ratio = rwc["alpha10"]! / rwc["alpha100"]!;
    // Lazy training moves the weights by O(1/α): ten times the α, a tenth of the movement.
    assert.ok(ratio > 9 && ratio < 11, `RWC(α=10) / RWC(α=100) = ${ratio} (${rwc["alpha10"]} / ${rwc["alpha100"]})`);
  });

  test("a bad setting names the field; an unknown analysis is a usage error", async () => {
    const runDir = await trainTiny();
    const bad = await runCli(["analyze", runDir, "--set", "tracin.projectionDim=0"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /analyses\.tracin\.projectionDim: must be a positive integer/);
    const usage = await runCli(["analyze", runDir, "--only", "weights,tracn"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown analysis tracn/);
  });

  test("a run from elsewhere (no experiment file): the weight-space analysis runs, the others say why not", async () => {
    const runDir = await trainTiny();
    const foreign = tempDir("foreign");
    cpSync(runDir, foreign, { recursive: true });
    const manifest = readManifest(foreign) as unknown as Record<string, unknown>;
    delete manifest["experiment"];
    manifest["producer"] = "someone else's script";
    writeFileSync(join(foreign, "run.json"), JSON.stringify(manifest));
    const r = await runCli(["analyze", foreign, "--run-experiment"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /kernel, fourier, tracin, sharpness skipped: they need the model, and run\.json names no experiment file/,
    );
    assert.equal(readAnalysis(foreign, "weights")!.records.length, 4);
    assert.equal(existsSync(join(foreign, "analyses", "kernel.jsonl")), false);
  });
});

describe("sidecar analyze", () => {
  test("follows a run while it trains, then finishes when the run does", async () => {
    const root = tempDir("follow");
    const file = join(root, "tiny.experiment.ts");
    copyFileSync(join(FIXTURES, "tiny.experiment.ts"), file);
    const trainer = new Sidecar();
    await trainer.waitFor("ready");
    trainer.send({ type: "train", file, system: "tinyAdd", runsRoot: join(root, "runs"), backend: "cpu", steps: 400 });
    const started = await trainer.waitFor("started");

    const analyzer = new Sidecar();
    await analyzer.waitFor("ready");
    analyzer.send({ type: "analyze", runDir: started.runDir, only: ["weights"], follow: true });
    const done = await analyzer.waitFor("analyzerFinished", () => true, 180_000);
    await trainer.waitFor("finished");
    assert.equal(done.status, "finished", done.message);
    assert.equal(readManifest(started.runDir).status, "finished");
    const steps = readAnalysis(started.runDir, "weights")!.records.map((r) => r.step);
    assert.deepEqual(
      steps,
      Array.from({ length: 21 }, (_, i) => i * 20),
      "every checkpoint, each once",
    );
    assert.ok(analyzer.events.some((e) => e.type === "analysis" && e.analysis === "weights"));
    rmSync(root, { recursive: true, force: true });
  });

  test("stop ends a follow at once with status stopped", async () => {
    const runDir = await trainTiny();
    const m = JSON.parse(readFileSync(join(runDir, "run.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(join(runDir, "run.json"), JSON.stringify({ ...m, status: "running", pid: process.pid })); // looks live (a live pid): the analyzer waits
    const analyzer = new Sidecar();
    await analyzer.waitFor("ready");
    analyzer.send({ type: "analyze", runDir, only: ["weights"], follow: true, pollMs: 100 } as never);
    await analyzer.waitFor("analysis");
    analyzer.send({ type: "stop" });
    const done = await analyzer.waitFor("analyzerFinished");
    assert.equal(done.status, "stopped");
  });
});
