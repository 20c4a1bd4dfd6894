// Branching and LMC from the extension, without vscode: the choices offered (checkpoint steps, data
// seeds), the command lines, and running the real `lm` the way the sweep launcher does (the
// trainer's Node, trainerEnv): a branch of a tiny run lands beside its parent with `branchOf`,
// a user's mistake comes back as the CLI's message, cancelling stops the child.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import {
  branchArgs,
  checkpointSteps,
  firstLinePath,
  lmcArgs,
  MAX_DATA_SEED,
  newDataSeed,
  parseDataSeed,
  runLm,
} from "../../src/extension/branching";
import type { Launch } from "../../src/extension/supervisor";
import { tempDir } from "../support";

const ROOT = path.resolve(__dirname, "../../..");
const launch = (cwd: string, sidecar = path.join(ROOT, "dist", "trainer", "sidecar.js")): Launch => ({
  node: process.execPath,
  electronRunAsNode: false,
  sidecar,
  cwd,
});

test("checkpointSteps: ascending steps of checkpoints/; none without it or when it is a link", (t) => {
  const dir = tempDir(t);
  const run = path.join(dir, "run");
  mkdirSync(path.join(run, "checkpoints"), { recursive: true });
  for (const n of ["step-00000100.safetensors", "step-00000000.safetensors", "step-20.safetensors", "notes.txt"])
    writeFileSync(path.join(run, "checkpoints", n), "");
  assert.deepEqual(checkpointSteps(run), [0, 20, 100]);
  assert.deepEqual(checkpointSteps(path.join(dir, "missing")), []);
  const linked = path.join(dir, "linked");
  mkdirSync(linked);
  symlinkSync(path.join(run, "checkpoints"), path.join(linked, "checkpoints"));
  assert.deepEqual(checkpointSteps(linked), []);
});

test("data seeds: a new one in [1, 2³¹ − 1]; a typed one a whole number, else a message saying what is expected", () => {
  assert.equal(
    newDataSeed(() => 0),
    1,
  );
  assert.equal(
    newDataSeed(() => 0.999999999999),
    MAX_DATA_SEED - 1,
  );
  assert.equal(parseDataSeed(" 42 "), 42);
  assert.equal(parseDataSeed("0"), 0);
  assert.equal(parseDataSeed("-1"), `a data seed is a whole number from 0 to ${MAX_DATA_SEED}; "-1" is not`);
  assert.equal(parseDataSeed("1.5"), `a data seed is a whole number from 0 to ${MAX_DATA_SEED}; "1.5" is not`);
  assert.equal(parseDataSeed("4294967296"), `a data seed is at most ${MAX_DATA_SEED}; 4294967296 is larger`);
});

test("command lines: lm branch with or without --data-seed; the backend only when the CLI takes it by name", () => {
  assert.deepEqual(branchArgs("/r/a", 20, { kind: "same" }, "auto"), ["branch", "/r/a", "--step", "20"]);
  assert.deepEqual(branchArgs("/r/a", 20, { kind: "new", seed: 77 }, "wasm"), [
    "branch",
    "/r/a",
    "--step",
    "20",
    "--data-seed",
    "77",
    "--backend",
    "wasm",
  ]);
  assert.deepEqual(branchArgs("/r/a", 0, { kind: "typed", seed: 3 }, "torch"), [
    "branch",
    "/r/a",
    "--step",
    "0",
    "--data-seed",
    "3",
  ]);
  assert.deepEqual(lmcArgs("/r/a", "/r/b", "cpu"), ["lmc", "/r/a", "/r/b", "--backend", "cpu"]);
  assert.equal(firstLinePath("runs/x\nmore\n", "/ws"), path.join("/ws", "runs", "x"));
  assert.equal(firstLinePath("", "/ws"), undefined);
});

test("runLm: the real lm branch of a tiny run, beside its parent, recorded as its branch; a mistake is the CLI's message", async (t) => {
  const dir = tempDir(t);
  const parent = path.join(dir, "runs", "parent");
  const file = path.join(ROOT, "test", "fixtures", "experiments", "lmc.experiment.ts");
  const logs: string[] = [];
  const trained = await runLm(
    launch(dir),
    ["train", file, "--system", "mlpA", "--run-dir", parent, "--backend", "cpu", "--steps", "20"],
    (l) => logs.push(l),
  );
  assert.ok(trained.ok, !trained.ok ? trained.message : "");
  const r = await runLm(launch(dir), branchArgs(parent, 10, { kind: "typed", seed: 5 }, "cpu"), (l) => logs.push(l));
  assert.ok(r.ok, !r.ok ? r.message : "");
  const branch = firstLinePath(r.stdout, dir);
  assert.ok(branch !== undefined);
  assert.equal(path.dirname(branch), path.dirname(parent), "beside its parent");
  const m = JSON.parse(readFileSync(path.join(branch, "run.json"), "utf8")) as {
    status: string;
    branchOf: unknown;
  };
  assert.equal(m.status, "finished");
  assert.deepEqual(m.branchOf, {
    run: "../parent",
    runId: "parent",
    step: 10,
    change: { dataSeed: 5 },
  });
  assert.ok(logs.some((l) => l.startsWith("running: ") && l.includes(" branch ")));

  const bad = await runLm(launch(dir), branchArgs(parent, 15, { kind: "same" }, "cpu"), () => {});
  assert.ok(!bad.ok);
  assert.match(bad.message, /has no checkpoint of step 15/);
  assert.doesNotMatch(bad.message, /\n\s+at /, "the CLI's message, not a stack");
});

test("runLm: cancelling sends SIGTERM; a trainer that cannot start is a message", async (t) => {
  const dir = tempDir(t);
  const fake = path.join(dir, "trainer");
  mkdirSync(fake);
  // A stand-in cli.js beside the "sidecar": it says (in a file) when it listens, waits, and says how it ended.
  const listening = path.join(dir, "listening");
  writeFileSync(
    path.join(fake, "cli.js"),
    `process.on("SIGTERM", () => { process.stderr.write("stopped by SIGTERM\\n"); process.exit(1); });
require("node:fs").writeFileSync(${JSON.stringify(listening)}, "");
setTimeout(() => {}, 60000);`,
  );
  const controller = new AbortController();
  const pending = runLm(launch(dir, path.join(fake, "sidecar.js")), ["branch", "x"], () => {}, controller.signal);
  for (let i = 0; i < 600 && !existsSync(listening); i++) await new Promise((r) => setTimeout(r, 50));
  controller.abort();
  const r = await pending;
  assert.deepEqual(r, { ok: false, message: "stopped by SIGTERM" });

  const missing = await runLm({ ...launch(dir), node: path.join(dir, "no-such-node") }, ["lmc"], () => {});
  assert.ok(!missing.ok);
  assert.match(missing.message, /^could not start the trainer: spawn .*no-such-node ENOENT$/);
});
