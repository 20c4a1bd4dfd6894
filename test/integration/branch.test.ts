// `lm branch`: a new run from a checkpoint of another (docs/branching.md). With the parent's data
// order it must continue the parent bit for bit (a determinism check of the trainer: weights,
// optimizer state, step counter and schedule position are all in the checkpoint); with another,
// it diverges from it.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { describe, test } from "node:test";
import { join, resolve } from "node:path";
import { FIXTURES, metricsOf, readManifest, runCli, tempDir, withoutTime } from "./harness";

const tiny = join(FIXTURES, "tiny.experiment.ts");
const last = "step-00000060.safetensors";

describe("lm branch", () => {
  test("cpu: a branch with the parent's data order continues it byte for byte", async () => {
    const root = tempDir("branch-cpu");
    const parent = join(root, "parent");
    const r0 = await runCli(["train", tiny, "--system", "tinyAdd", "--run-dir", parent, "--backend", "cpu"]);
    assert.equal(r0.code, 0, r0.stderr);
    const same = join(root, "same");
    const r1 = await runCli(["branch", parent, "--step", "40", "--run-dir", same, "--backend", "cpu"]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.deepEqual(
      withoutTime(metricsOf(same)),
      withoutTime(metricsOf(parent)).filter((r) => r["step"]! >= 40),
    );
    assert.ok(readFileSync(join(parent, "checkpoints", last)).equals(readFileSync(join(same, "checkpoints", last))));
  });

  test("wasm, same data seed: the parent's later metrics and final weights exactly; another seed diverges", async () => {
    const root = tempDir("branch");
    const parent = join(root, "parent");
    const r0 = await runCli(["train", tiny, "--system", "tinyAdd", "--run-dir", parent, "--backend", "wasm"]);
    assert.equal(r0.code, 0, r0.stderr);

    const same = join(root, "same");
    const r1 = await runCli(["branch", parent, "--step", "20", "--run-dir", same, "--backend", "wasm"]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r1.stdout.trim(), same);
    const m = readManifest(same);
    assert.deepEqual(m.branchOf, { run: "../parent", runId: "parent", step: 20, change: {} });
    assert.equal(m.status, "finished");
    assert.equal(m.totalSteps, 60);
    assert.equal(resolve(same, m.branchOf!.run), parent);
    const fromK = withoutTime(metricsOf(parent)).filter((r) => r["step"]! >= 20);
    const branch = withoutTime(metricsOf(same));
    assert.equal(branch[0]!["step"], 20, "the branch's metrics start at step K");
    assert.deepEqual(branch, fromK, "identical metrics from step K on (step K recomputed, equal too)");
    assert.ok(
      readFileSync(join(parent, "checkpoints", last)).equals(readFileSync(join(same, "checkpoints", last))),
      "identical final weights and optimizer state, byte for byte",
    );

    const other = join(root, "other");
    const r2 = await runCli([
      "branch",
      parent,
      "--step",
      "20",
      "--data-seed",
      "99",
      "--run-dir",
      other,
      "--backend",
      "wasm",
    ]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(readManifest(other).branchOf!.change, { dataSeed: 99 });
    const diverged = withoutTime(metricsOf(other));
    assert.deepEqual(diverged[0], fromK[0], "same start");
    assert.notDeepEqual(diverged.at(-1), fromK.at(-1), "another minibatch order ends elsewhere");
    assert.ok(!readFileSync(join(parent, "checkpoints", last)).equals(readFileSync(join(other, "checkpoints", last))));

    // A resume of the branch keeps its data order: cut it back to step 40 and resume it.
    const cut = join(root, "cut");
    const r3 = await runCli([
      "branch",
      parent,
      "--step",
      "20",
      "--data-seed",
      "99",
      "--steps",
      "40",
      "--run-dir",
      cut,
      "--backend",
      "wasm",
    ]);
    assert.equal(r3.code, 0, r3.stderr);
    const cutManifest = readManifest(cut);
    assert.equal(cutManifest.totalSteps, 40);
    writeFileSync(join(cut, "run.json"), JSON.stringify({ ...cutManifest, totalSteps: 60, status: "stopped" }));
    const r4 = await runCli(["resume", cut, "--backend", "wasm"]);
    assert.equal(r4.code, 0, r4.stderr);
    // tinyAdd's learning rate is constant, so a 40-step run extended to 60 trains as the 60-step one.
    assert.deepEqual(withoutTime(metricsOf(cut)), diverged, "the resumed branch trained on seed 99's order");
  });

  test("refusals: a checkpoint that does not exist names those that do; a changed experiment file", async () => {
    const root = tempDir("branch-refused");
    const file = join(root, "copy.experiment.ts");
    writeFileSync(file, readFileSync(tiny));
    const parent = join(root, "parent");
    const r0 = await runCli(["train", file, "--system", "tinyAdd", "--run-dir", parent, "--backend", "cpu"]);
    assert.equal(r0.code, 0, r0.stderr);

    const r1 = await runCli(["branch", parent, "--step", "15", "--run-dir", join(root, "b1"), "--backend", "cpu"]);
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /error \(usage\): .*has no checkpoint of step 15; its checkpoints: 0, 20, 40, 60/);
    assert.equal(r1.stdout, "");

    const r2 = await runCli(["branch", parent, "--run-dir", join(root, "b2")]);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /missing --step K/);

    const r3 = await runCli(["branch", parent, "--step", "60", "--run-dir", join(root, "b3"), "--backend", "cpu"]);
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /would train no step: it starts at step 60 and ends at step 60/);

    writeFileSync(file, readFileSync(tiny, "utf8").replace("seed: 7", "seed: 8"));
    const r4 = await runCli(["branch", parent, "--step", "20", "--run-dir", join(root, "b4"), "--backend", "cpu"]);
    assert.equal(r4.code, 1);
    assert.match(r4.stderr, /changed since .*parent was trained.*--allow-changed/);
    const r5 = await runCli([
      "branch",
      parent,
      "--step",
      "40",
      "--allow-changed",
      "--run-dir",
      join(root, "b5"),
      "--backend",
      "cpu",
    ]);
    assert.equal(r5.code, 0, r5.stderr);
  });
});
