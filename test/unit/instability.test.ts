// runInstability's control flow with a stand-in for the child `lm` processes: what it launches,
// what it keeps, and that a branch which did not finish (stopped by a Ctrl-C that reached the
// children too, exit code 0) ends the analysis instead of being compared.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
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

/** A stand-in `lm` whose children end when the test says, recording what runs at once. */
function controlledLm(root: string) {
  const calls: string[][] = [];
  const pending: Array<{ args: string[]; end: (code: number) => void }> = [];
  let running = 0;
  let peak = 0;
  const lm: RunLm = (args) => {
    calls.push(args);
    running++;
    peak = Math.max(peak, running);
    return new Promise((resolve) => {
      pending.push({
        args,
        end: (code) => {
          if (args[0] === "branch" && code === 0) writeRun(args[args.indexOf("--run-dir") + 1]!, "finished", [10, 20]);
          if (args[0] === "lmc") {
            const k = Number(/lmc-k(\d+)\.json$/.exec(args[args.indexOf("--out") + 1]!)?.[1]);
            writeFileSync(args[args.indexOf("--out") + 1]!, JSON.stringify({ barrier: { train_loss: 1 / (1 + k) } }));
          }
          running--;
          resolve({ code, stdout: "" });
        },
      });
    });
  };
  const tick = () => new Promise((r) => setImmediate(r));
  /** Ends the running child whose args match, then lets the scheduler react. */
  const end = async (match: (args: string[]) => boolean, code = 0) => {
    await tick();
    const i = pending.findIndex((p) => match(p.args));
    assert.ok(i >= 0, `no running child matches; running: ${JSON.stringify(pending.map((p) => p.args.slice(0, 2)))}`);
    pending.splice(i, 1)[0]!.end(code);
    await tick();
  };
  const runningArgs = () =>
    pending.map((p) => `${p.args[0]} ${p.args[0] === "lmc" ? p.args[4]!.replace(`${root}/out/`, "") : p.args[3]}`);
  return { lm, calls, end, runningArgs, peak: () => peak };
}

test("runInstability --parallel 2: at most two children; a k's lmc waits for its two branches and goes first; instability.json in ascending k", async (t) => {
  const root = tempDir(t);
  const parent = join(root, "parent");
  writeRun(parent, "finished", [0, 10, 20]);
  const out = join(root, "out");
  const c = controlledLm(root);
  const done = runInstability({ runDir: parent, at: [0, 10], dataSeeds: [1, 2], out, parallel: 2 }, c.lm, () => {});
  await c.end(() => false).catch(() => {}); // let it start
  assert.deepEqual(c.runningArgs(), ["branch 0", "branch 0"]);
  await c.end((a) => a[0] === "branch" && a[3] === "0" && a[5] === "1");
  assert.deepEqual(c.runningArgs(), ["branch 0", "branch 10"], "a free slot takes the next branch");
  await c.end((a) => a[0] === "branch" && a[3] === "10");
  assert.deepEqual(c.runningArgs(), ["branch 0", "branch 10"]);
  await c.end((a) => a[0] === "branch" && a[3] === "10");
  assert.deepEqual(c.runningArgs(), ["branch 0", "lmc lmc-k10.json"], "k = 10's pair is done: its lmc");
  await c.end((a) => a[0] === "lmc");
  const early = JSON.parse(readFileSync(join(out, "instability.json"), "utf8")) as { points: { k: number }[] };
  assert.deepEqual(
    early.points.map((p) => p.k),
    [10],
  );
  await c.end((a) => a[0] === "branch");
  await c.end((a) => a[0] === "lmc");
  const { record } = await done;
  assert.deepEqual(
    record.points.map((p) => [p.k, p.barrier.train_loss]),
    [
      [0, 1],
      [10, 1 / 11],
    ],
    "ascending k, whatever order they ended in",
  );
  assert.equal(c.peak(), 2);
});

test("runInstability --parallel 1 keeps the sequential order; a failure or a stop starts nothing more and waits for the running", async (t) => {
  const root = tempDir(t);
  const parent = join(root, "parent");
  writeRun(parent, "finished", [0, 10, 20]);
  const seq = controlledLm(root);
  const done = runInstability(
    { runDir: parent, at: [0, 10], dataSeeds: [1, 2], out: join(root, "out") },
    seq.lm,
    () => {},
  );
  for (let i = 0; i < 6; i++) await seq.end(() => true);
  await done;
  assert.deepEqual(
    seq.calls.map((a) => `${a[0]} ${a[0] === "lmc" ? a[4]!.replace(`${root}/out/`, "") : `${a[3]}/${a[5]}`}`),
    ["branch 0/1", "branch 0/2", "lmc lmc-k0.json", "branch 10/1", "branch 10/2", "lmc lmc-k10.json"],
  );

  const failing = controlledLm(root);
  const out2 = join(root, "out2");
  const failed = runInstability(
    { runDir: parent, at: [0, 10], dataSeeds: [1, 2], out: out2, parallel: 2 },
    failing.lm,
    () => {},
  );
  failed.catch(() => {}); // asserted below, once the running child has ended
  await failing.end((a) => a[5] === "1", 7);
  assert.deepEqual(failing.runningArgs(), ["branch 0"], "nothing started after the failure; the other still runs");
  await failing.end(() => true);
  await assert.rejects(failed, /lm branch .* ended with exit code 7; fix it, then run this again to continue/);
  assert.equal(failing.calls.length, 2);

  const stopping = controlledLm(root);
  const controller = new AbortController();
  const stopped = runInstability(
    { runDir: parent, at: [0, 10], dataSeeds: [1, 2], out: join(root, "out3"), parallel: 2 },
    stopping.lm,
    () => {},
    { signal: controller.signal },
  );
  stopped.catch(() => {}); // asserted below
  await stopping.end(() => false).catch(() => {});
  controller.abort();
  await stopping.end((a) => a[5] === "1");
  await stopping.end((a) => a[5] === "2");
  await assert.rejects(
    stopped,
    /^Error: stopped; the branches that finished are kept in .*out3: run this again to continue$/,
  );
  assert.equal(stopping.calls.length, 2, "no lmc and no other k after the stop");
});
