// runInstability's control flow with a stand-in for the child `lm` processes: what it launches,
// what it keeps, and that a branch which did not finish (stopped by a Ctrl-C that reached the
// children too, exit code 0) ends the analysis instead of being compared.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { type RunLm, runInstability } from "../../src/trainer/instability";
import { tempDir } from "../support";

function writeRun(dir: string, status: string, steps: number[]): void {
  mkdirSync(join(dir, "checkpoints"), { recursive: true });
  for (const s of steps) writeFileSync(join(dir, "checkpoints", `step-${String(s).padStart(8, "0")}.safetensors`), "");
  writeFileSync(
    join(dir, "run.json"),
    JSON.stringify({
      format: "learning-mechanics/run",
      formatVersion: 1,
      id: dir.replace(/^.*\//, ""),
      system: "s",
      config: {},
      seed: 0,
      backend: { name: "cpu", reason: "test" },
      status,
      startedAt: "t",
      updatedAt: "t",
      totalSteps: 20,
      step: 20,
      producer: "test",
    }),
  );
}

test("runInstability: launches branch then lmc per k; a branch left stopped ends it with a message", async (t) => {
  const root = tempDir(t);
  const parent = join(root, "parent");
  writeRun(parent, "finished", [0, 10, 20]);
  const calls: string[][] = [];
  const lm =
    (branchStatus: (dir: string) => string): RunLm =>
    async (args) => {
      calls.push(args);
      if (args[0] === "branch") writeRun(args[args.indexOf("--run-dir") + 1]!, branchStatus(args[6]!), [10, 20]);
      if (args[0] === "resume") writeRun(args[1]!, "finished", [10, 20]);
      if (args[0] === "lmc")
        writeFileSync(args[args.indexOf("--out") + 1]!, JSON.stringify({ barrier: { train_loss: 0.5 } }));
      return { code: 0, stdout: "" };
    };
  const out = join(root, "out");
  const done = await runInstability(
    { runDir: parent, at: [10], dataSeeds: [1, 2], out },
    lm(() => "finished"),
    () => {},
  );
  assert.deepEqual(
    calls.map((c) => c.slice(0, 2)),
    [
      ["branch", parent],
      ["branch", parent],
      ["lmc", join(out, "k10-seed1")],
    ],
  );
  assert.deepEqual(done.record.points, [
    { k: 10, branches: ["k10-seed1", "k10-seed2"], lmc: "lmc-k10.json", barrier: { train_loss: 0.5 } },
  ]);

  calls.length = 0;
  await assert.rejects(
    runInstability(
      { runDir: parent, at: [0], dataSeeds: [1, 2], out },
      lm(() => "stopped"),
      () => {},
    ),
    (e: Error) => e.message === `${join(out, "k0-seed1")} ended stopped; run this again to continue it`,
  );
  assert.equal(calls.length, 1, "nothing launched after the stopped branch");

  calls.length = 0;
  const again = await runInstability(
    { runDir: parent, at: [0], dataSeeds: [1, 2], out },
    lm(() => "finished"),
    () => {},
  );
  assert.deepEqual(
    calls.map((c) => c[0]),
    ["resume", "branch", "lmc"],
    "the stopped branch is resumed, the missing one branched",
  );
  assert.equal(again.record.points[0]!.k, 0);
});
