// Local sweeps through the real CLI (docs/sweeps.md): `lm sweep` runs each point as a child
// `lm sweep-task`, at most --parallel at once; a point that crashes fails alone; SIGTERM stops
// the running points gracefully and leaves the rest pending; --resume runs only what is missing.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseSweepManifest, type SweepManifest } from "../../src/shared/sweepFormat";
import { CLI, FIXTURES, ROOT, readManifest, runCli, tempDir } from "./harness";

const FILE = join(FIXTURES, "sweep.experiment.ts");

function sweepJson(dir: string): SweepManifest {
  const r = parseSweepManifest(readFileSync(join(dir, "sweep.json"), "utf8"));
  assert.ok(r.ok, r.ok ? "" : r.problems.join("; "));
  return r.manifest;
}

/** The sweep folder: the one line on stdout. */
function folderOf(stdout: string): string {
  const lines = stdout.trim().split("\n");
  assert.equal(lines.length, 1, `one line on stdout, got ${JSON.stringify(stdout)}`);
  return lines[0] as string;
}

/** The most runs whose [startedAt, endedAt] overlap at one time. */
function peakOverlap(intervals: readonly [number, number][]): number {
  const events = intervals.flatMap(([a, b]) => [
    [a, 1],
    [b, -1],
  ]);
  // An end before a start at the same instant: touching intervals do not overlap.
  events.sort((x, y) => (x[0] as number) - (y[0] as number) || (x[1] as number) - (y[1] as number));
  let now = 0;
  let peak = 0;
  for (const [, d] of events) {
    now += d as number;
    peak = Math.max(peak, now);
  }
  return peak;
}

describe("lm sweep, locally", () => {
  test("4 points with --parallel 2: never more than 2 at once; sweep.json, run.json and sweep-status agree", async () => {
    const out = tempDir("sweep");
    const r = await runCli(["sweep", FILE, "--system", "widthLr", "--out", out, "--parallel", "2", "--backend", "cpu"]);
    assert.equal(r.code, 0, r.stderr);
    const dir = folderOf(r.stdout);
    assert.match(dir, new RegExp(`^${out}/widthLr-sweep-\\d{8}-\\d{6}$`));
    const m = sweepJson(dir);
    assert.deepEqual(m.fields, ["model.hidden[0]", "optimizer.lr"]);
    assert.deepEqual(m.launcher, { kind: "local", parallel: 2 });
    assert.deepEqual(
      m.points.map((p) => [p.run, p.status, p.values["model.hidden[0]"], p.values["optimizer.lr"]]),
      [
        ["0000", "finished", 8, 1e-3],
        ["0001", "finished", 8, 3e-3],
        ["0002", "finished", 16, 1e-3],
        ["0003", "finished", 16, 3e-3],
      ],
    );
    const intervals: [number, number][] = [];
    for (const p of m.points) {
      const run = readManifest(join(dir, p.run));
      assert.equal(run.status, "finished");
      assert.deepEqual(run.sweep, { dir: "..", index: p.index, values: p.values, seed: 0 });
      const model = run.config["model"] as { hidden: number[] };
      const optimizer = run.config["optimizer"] as { lr: number };
      assert.deepEqual(model.hidden, [p.values["model.hidden[0]"]]);
      assert.equal(optimizer.lr, p.values["optimizer.lr"]);
      intervals.push([Date.parse(run.startedAt), Date.parse(run.endedAt ?? "")]);
    }
    // The run folders' own times: at most 2 trainings overlapped.
    assert.ok(peakOverlap(intervals) <= 2, JSON.stringify(intervals));
    // The launcher's count: it reached 2 and never more.
    const counts = [...r.stderr.matchAll(/· (\d+) running\]/g)].map((x) => Number(x[1]));
    assert.equal(Math.max(...counts), 2, r.stderr);
    assert.match(r.stderr, /sweep: 4 finished\n/);

    // The analyses that rebuild the model rebuild the point's (width 8), not the declared one (256).
    const analyzed = await runCli([
      "analyze",
      join(dir, "0000"),
      "--run-experiment",
      "--only",
      "kernel",
      "--backend",
      "cpu",
    ]);
    assert.equal(analyzed.code, 0, analyzed.stderr);
    assert.match(analyzed.stderr, /analyzer finished: 4 records/);

    const status = await runCli(["sweep-status", dir]);
    assert.equal(status.code, 0, status.stderr);
    const lines = status.stdout.trimEnd().split("\n");
    assert.equal(lines[0], "widthLr sweep: 4 points (4 finished)");
    assert.match(lines[1] ?? "", /^index +model\.hidden\[0\] +optimizer\.lr +seed +status +step +test_loss +test_acc$/);
    assert.match(lines[2] ?? "", /^0 +8 +0\.001 +0 +finished +60 +\d+\.\d+ +\d/);
    const json = JSON.parse((await runCli(["sweep-status", dir, "--json"])).stdout) as {
      points: { status: string; test_loss?: number; test_acc?: number; run: string }[];
    };
    assert.equal(json.points.length, 4);
    for (const p of json.points) {
      assert.equal(p.status, "finished");
      assert.equal(typeof p.test_loss, "number");
      assert.equal(typeof p.test_acc, "number");
    }
  });

  test("a point whose value makes the custom model throw fails alone; --resume runs only that one again", async () => {
    const out = tempDir("sweep");
    const r = await runCli([
      "sweep",
      FILE,
      "--system",
      "crashAtThree",
      "--out",
      out,
      "--parallel",
      "2",
      "--backend",
      "cpu",
    ]);
    assert.equal(r.code, 1, r.stderr);
    const dir = folderOf(r.stdout);
    assert.deepEqual(
      sweepJson(dir).points.map((p) => [p.values["task.dim"], p.status]),
      [
        [2, "finished"],
        [3, "failed"],
        [4, "finished"],
      ],
    );
    // The launcher says why, with the task's own error line, and where its log is.
    assert.match(
      r.stderr,
      /point 1 \(task\.dim = 3, seed 0\) failed \(exit code 1\): error \(runtime\): .*sweep\.experiment\.ts:\d+:\d+: no model of width 3; log: .*logs\/0001\.log/,
    );
    assert.match(r.stderr, /sweep: 2 finished, 1 failed\n/);
    assert.equal(readManifest(join(dir, "0000")).status, "finished");

    const before = ["0000", "0002"].map((run) => statSync(join(dir, run, "run.json")).mtimeMs);
    const again = await runCli(["sweep", "--resume", dir, "--parallel", "2", "--backend", "cpu"]);
    assert.equal(again.code, 1, again.stderr);
    assert.equal(folderOf(again.stdout), dir);
    assert.match(again.stderr, /2 already done; running 1, at most 2 at once/);
    assert.doesNotMatch(again.stderr, /started point [02]/);
    assert.deepEqual(
      ["0000", "0002"].map((run) => statSync(join(dir, run, "run.json")).mtimeMs),
      before,
      "finished points untouched",
    );
  });

  test("SIGTERM stops the running points with final checkpoints and leaves the rest pending; --resume finishes them", async () => {
    const out = tempDir("sweep");
    const child = spawn(
      process.execPath,
      [
        CLI,
        "sweep",
        FILE,
        "--system",
        "longWidths",
        // Long enough that neither running point can finish before the other passes step 100
        // (400 was not, once, on a loaded machine).
        "--steps",
        "1000",
        "--out",
        out,
        "--parallel",
        "2",
        "--backend",
        "cpu",
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      const t0 = Date.now();
      const poll = setInterval(() => {
        const dir = stdout.trim();
        // Both running points are past their first checkpoint after step 0: stop them mid-run.
        const past100 = (run: string) =>
          existsSync(join(dir, run, "checkpoints")) &&
          readdirSync(join(dir, run, "checkpoints")).some((f) => /^step-0*[1-9]\d{2,}\.safetensors$/.test(f));
        if (dir && past100("0000") && past100("0001")) {
          clearInterval(poll);
          child.kill("SIGTERM");
        } else if (Date.now() - t0 > 120_000) {
          clearInterval(poll);
          child.kill("SIGKILL");
          reject(new Error(`no checkpoint after 120 s\n${stderr}`));
        }
      }, 100);
      child.on("close", (c) => {
        clearInterval(poll);
        resolve(c);
      });
    });
    assert.equal(code, 130, stderr);
    const dir = folderOf(stdout);
    assert.deepEqual(
      sweepJson(dir).points.map((p) => p.status),
      ["stopped", "stopped", "pending", "pending"],
      stderr,
    );
    const stoppedAt: number[] = [];
    for (const run of ["0000", "0001"]) {
      const m = readManifest(join(dir, run));
      assert.equal(m.status, "stopped");
      assert.ok(m.step > 0 && m.step < 1000, `stopped midway, at ${m.step}`);
      // The final checkpoint is the step the run stopped at.
      assert.ok(existsSync(join(dir, run, "checkpoints", `step-${String(m.step).padStart(8, "0")}.safetensors`)));
      stoppedAt.push(m.step);
    }
    assert.equal(existsSync(join(dir, "0002", "run.json")), false, "the third point never started");
    assert.equal(existsSync(join(dir, "0003", "run.json")), false, "the fourth point never started");
    assert.match(stderr, /sweep: 2 stopped, 2 pending \(stopped: lm sweep --resume .* runs the rest\)/);

    const resumed = await runCli(["sweep", "--resume", dir, "--parallel", "2", "--backend", "cpu"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(
      sweepJson(dir).points.map((p) => p.status),
      ["finished", "finished", "finished", "finished"],
    );
    // Resumed from their checkpoints: the point's width rebuilt (a width-32 model would not load them).
    assert.deepEqual(readManifest(join(dir, "0000")).resumedFrom, [stoppedAt[0]]);
    assert.deepEqual(readManifest(join(dir, "0001")).resumedFrom, [stoppedAt[1]]);
    assert.deepEqual(readManifest(join(dir, "0001")).sweep, {
      dir: "..",
      index: 1,
      values: { "model.hidden[0]": 16 },
      seed: 5,
    });
    const fourth = readManifest(join(dir, "0003"));
    assert.equal(fourth.resumedFrom, undefined);
    assert.equal(fourth.totalSteps, 1000, "--steps is recorded in sweep.json and kept on --resume");
    assert.equal(fourth.seed, 5);
    assert.deepEqual((fourth.config["model"] as { hidden: number[] }).hidden, [24]);
  });
});

describe("sweep mistakes through the CLI", () => {
  test("lm list shows each system's sweep size", async () => {
    const r = await runCli(["list", FILE]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^widthLr\t.*\n {2}sweep: 4 runs = 2 × 2$/m);
    assert.match(r.stdout, /^crashAtThree\t.*\n {2}sweep: 3 runs = 3 values of task\.dim$/m);
    assert.match(r.stdout, /^longWidths\t.*\n {2}sweep: 4 runs = 2 values of model\.hidden\[0\] × 2 seeds$/m);
  });

  test("bad command lines and folders read as usage errors, without a stack", async () => {
    const cases: [string[], number, RegExp][] = [
      [["sweep", FILE, "--system", "widthLr", "--parallel", "0"], 2, /--parallel must be a positive integer, got "0"/],
      [["sweep", "--resume", tempDir("nosweep"), "--system", "x"], 2, /--system does not apply to --resume/],
      [["sweep", "--resume", tempDir("nosweep")], 1, /is not a sweep folder \(it has no sweep\.json/],
      [["sweep-status", tempDir("nosweep")], 1, /is not a sweep folder/],
      [["sweep-task", tempDir("nosweep"), "x"], 2, /INDEX must be a point's index/],
      [["train", FILE, "--parallel", "2"], 2, /--parallel applies to sweep, instability, calibrate and imp, not train/],
      [
        ["sweep", join(FIXTURES, "tiny.experiment.ts"), "--system", "tinyAdd"],
        1,
        /model system "tinyAdd" declares no sweep/,
      ],
    ];
    for (const [args, code, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, code, `${args.join(" ")}\n${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
      assert.equal(r.stdout, "");
    }
  });

  test("an index out of range, a point already done, and a sweep in an invalid file", async () => {
    const out = tempDir("sweep");
    const r = await runCli([
      "sweep",
      FILE,
      "--system",
      "crashAtThree",
      "--out",
      out,
      "--parallel",
      "1",
      "--backend",
      "cpu",
    ]);
    const dir = folderOf(r.stdout);
    const task = await runCli(["sweep-task", dir, "7"]);
    assert.equal(task.code, 2);
    assert.match(task.stderr, /has points 0 to 2; there is no point 7/);
    const done = await runCli(["sweep-task", dir, "0"]);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /sweep point 0 already finished at step 20: nothing to do/);
    assert.equal(done.stdout, `${join(dir, "0000")}\n`);

    const file = join(tempDir("badsweep"), "bad.experiment.ts");
    writeFileSync(
      file,
      `import { modelSystem, models, optimizers, tasks } from "learning-mechanics";
export const typo = modelSystem({
  task: tasks.modularArithmetic({ p: 11 }), model: models.mlp({ hidden: [8] }), optimizer: optimizers.adam({}), steps: 5,
  sweep: { grid: { "model.hiden[0]": [8, 16], "optimizer.lr": [0.1, -1] } },
});\n`,
    );
    const bad = await runCli(["sweep", file, "--out", out]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /^error \(config\): /m);
    assert.match(
      bad.stderr,
      /^ {2}sweep\.grid\["model\.hiden\[0\]"\]: unknown path "model\.hiden\[0\]": model has no field "hiden" \(did you mean "model\.hidden\[0\]"\?\)$/m,
    );
    assert.equal(bad.stdout, "");
    assert.deepEqual(readdirSync(out), [dir.slice(out.length + 1)], "no sweep folder for an invalid sweep");
  });
});
