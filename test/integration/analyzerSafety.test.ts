// The analyzer on broken and hostile run folders (issue 8), through the real CLI and sidecar: it
// writes only inside the run it is given, runs no experiment code unless asked, skips a bad
// checkpoint and analyses the rest, ends a follow when the trainer is gone, and holds a lock.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readAnalysis } from "../../src/shared/analysisFormat";
import { encodeSafetensors, readSafetensorsSync } from "../../src/shared/safetensors";
import { FIXTURES, killSidecars, runCli, Sidecar, tempDir } from "./harness";

after(killSidecars);

const CKPT = (step: number) => `step-${String(step).padStart(8, "0")}.safetensors`;

/** One trained tiny run whose experiment file leaves a marker file each time it is loaded; each test copies it. */
let template: { root: string; runDir: string };

before(async () => {
  const root = tempDir("safety");
  const file = join(root, "tiny.experiment.ts");
  writeFileSync(
    file,
    `${readFileSync(join(FIXTURES, "tiny.experiment.ts"), "utf8")}\nrequire("node:fs").appendFileSync(${JSON.stringify(join(root, "loaded"))}, "x");\n`,
  );
  const r = await runCli(["train", file, "--system", "tinyAdd", "--out", join(root, "runs"), "--backend", "cpu"]);
  assert.equal(r.code, 0, r.stderr);
  template = { root, runDir: r.stdout.trim() };
});

/** A fresh copy of the template run (its run.json still names the template's experiment file). */
function freshRun(): string {
  const dir = join(tempDir("safety-run"), "run");
  cpSync(template.runDir, dir, { recursive: true });
  return dir;
}

function loadedMarker(): string {
  return join(template.root, "loaded");
}

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, name);
    try {
      out[name] = readFileSync(p, "utf8");
    } catch {
      out[name] = "<dir>";
    }
  }
  return out;
}

describe("analyzer: writes only inside the run it is given", () => {
  test("an analyses/ symlink out of the run: refused with a message, nothing outside written or moved", async () => {
    const runDir = freshRun();
    const outside = tempDir("outside");
    writeFileSync(join(outside, "weights.jsonl"), "someone else's file\n");
    symlinkSync(outside, join(runDir, "analyses"));
    const before = snapshot(outside);
    const r = await runCli(["analyze", runDir, "--only", "weights"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error \(usage\): refusing to analyse .*analyses is a symbolic link/);
    assert.doesNotMatch(r.stderr, /internal/);
    assert.deepEqual(snapshot(outside), before, "the folder outside the run is unchanged");
  });

  test("a checkpoints/ symlink out of the run: refused", async () => {
    const runDir = freshRun();
    const outside = join(tempDir("outside-ckpt"), "checkpoints");
    renameSync(join(runDir, "checkpoints"), outside);
    symlinkSync(outside, join(runDir, "checkpoints"));
    const r = await runCli(["analyze", runDir, "--only", "weights"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error \(usage\): refusing to analyse .*checkpoints is a symbolic link/);
    assert.equal(existsSync(join(runDir, "analyses", "weights.jsonl")), false);
  });

  test("a symlinked analysis file is neither followed nor replaced; an unrelated file is not archived", async () => {
    const runDir = freshRun();
    const outside = join(tempDir("outside-file"), "weights.jsonl");
    writeFileSync(outside, "precious\n");
    mkdirSync(join(runDir, "analyses"));
    symlinkSync(outside, join(runDir, "analyses", "weights.jsonl"));
    const r = await runCli(["analyze", runDir, "--only", "weights"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /error \(usage\): .*weights\.jsonl is a symbolic link: the analyzer neither follows nor replaces it/,
    );
    assert.equal(readFileSync(outside, "utf8"), "precious\n");

    const runDir2 = freshRun();
    mkdirSync(join(runDir2, "analyses"));
    writeFileSync(join(runDir2, "analyses", "weights.jsonl"), "not ours\n");
    const r2 = await runCli(["analyze", runDir2, "--only", "weights"]);
    assert.equal(r2.code, 1, r2.stderr);
    assert.match(r2.stderr, /error \(usage\): .*weights\.jsonl is not a "weights" analysis file of Learning Mechanics/);
    assert.equal(readFileSync(join(runDir2, "analyses", "weights.jsonl"), "utf8"), "not ours\n");
    assert.equal(existsSync(join(runDir2, "analyses", "archive")), false);
  });

  test("a folder that is not a run is a usage error, not an internal one", async () => {
    const r = await runCli(["analyze", tempDir("not-a-run")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error \(usage\): .* is not a run folder: .*run\.json/);
    assert.doesNotMatch(r.stderr, /internal| {4}at /);
  });
});

describe("analyzer: runs experiment code only when asked", () => {
  test("lm analyze RUN_DIR runs the weight-space analysis only and says how to run the rest; --run-experiment loads the file", async () => {
    const runDir = freshRun();
    const marker = loadedMarker();
    const before = existsSync(marker) ? readFileSync(marker, "utf8").length : 0;
    const r = await runCli(["analyze", runDir, "--backend", "cpu"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /kernel, fourier, tracin, sharpness skipped: .*pass --run-experiment \(the file recorded in run\.json: .*tiny\.experiment\.ts\) or --file FILE/,
    );
    assert.equal(
      existsSync(marker) ? readFileSync(marker, "utf8").length : 0,
      before,
      "the experiment file was not loaded",
    );
    assert.equal(readAnalysis(runDir, "weights")!.records.length, 4);
    assert.equal(existsSync(join(runDir, "analyses", "kernel.jsonl")), false);

    const r2 = await runCli(["analyze", runDir, "--backend", "cpu", "--run-experiment", "--only", "kernel"]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(readFileSync(marker, "utf8").length, before + 1, "loaded once, as asked");
    assert.equal(readAnalysis(runDir, "kernel")!.records.length, 4);
  });

  test("the sidecar's analyze request loads no file it does not name", async () => {
    const runDir = freshRun();
    const marker = loadedMarker();
    const before = existsSync(marker) ? readFileSync(marker, "utf8").length : 0;
    const analyzer = new Sidecar();
    await analyzer.waitFor("ready");
    analyzer.send({ type: "analyze", runDir, backend: "cpu" });
    const done = await analyzer.waitFor("analyzerFinished");
    assert.equal(done.status, "finished", done.message);
    // The checkpoint-only analyses, 4 checkpoints each: weights and conservation.
    assert.equal(done.records, 8);
    assert.equal(existsSync(marker) ? readFileSync(marker, "utf8").length : 0, before);
  });
});

describe("analyzer: broken checkpoints", () => {
  test("a truncated checkpoint is skipped with a message naming it; the rest are analysed and counted", async () => {
    const runDir = freshRun();
    const bad = join(runDir, "checkpoints", CKPT(20));
    truncateSync(bad, 100);
    const r = await runCli(["analyze", runDir, "--only", "weights"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`skipped checkpoint .*${CKPT(20)}: `));
    assert.match(r.stderr, /analyzer finished: 3 records \(1 checkpoint skipped\)/);
    assert.doesNotMatch(r.stderr, /internal/);
    assert.deepEqual(
      readAnalysis(runDir, "weights")!.records.map((x) => x.step),
      [0, 40, 60],
    );
  });

  test("a checkpoint that is a symlink to /dev/zero is refused as a special file, not read", async () => {
    const runDir = freshRun();
    const path = join(runDir, "checkpoints", CKPT(40));
    rmSync(path);
    symlinkSync("/dev/zero", path);
    const r = await runCli(["analyze", runDir, "--only", "weights"], 60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`skipped checkpoint .*${CKPT(40)}: is a character device, not a regular file`));
    assert.deepEqual(
      readAnalysis(runDir, "weights")!.records.map((x) => x.step),
      [0, 20, 60],
    );
  });

  test("optimizer metadata that is not JSON does not matter to the weight-space analysis", async () => {
    const runDir = freshRun();
    const path = join(runDir, "checkpoints", CKPT(40));
    const decoded = readSafetensorsSync(path);
    const tensors = decoded.tensors.map((t) => ({
      name: t.name,
      dtype: "F32" as const,
      shape: t.shape,
      data: t.data as Float32Array,
    }));
    writeFileSync(path, encodeSafetensors(tensors, { ...decoded.metadata, optimizer: "{not json" }));
    const r = await runCli(["analyze", runDir, "--only", "weights"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /analyzer finished: 4 records/);
    assert.deepEqual(
      readAnalysis(runDir, "weights")!.records.map((x) => x.step),
      [0, 20, 40, 60],
    );
  });

  test("an unpadded checkpoint name (step-20.safetensors) is opened under the name listed", async () => {
    const runDir = freshRun();
    renameSync(join(runDir, "checkpoints", CKPT(20)), join(runDir, "checkpoints", "step-20.safetensors"));
    const r = await runCli(["analyze", runDir, "--only", "weights"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /analyzer finished: 4 records/);
    assert.deepEqual(
      readAnalysis(runDir, "weights")!.records.map((x) => x.step),
      [0, 20, 40, 60],
    );
  });
});

describe("analyzer: failures", () => {
  test("a failure after some records reports the records written, and a run without learning rates is not an internal error", async () => {
    const runDir = freshRun();
    writeFileSync(join(runDir, "metrics.jsonl"), "");
    const r = await runCli(["analyze", runDir, "--backend", "cpu", "--run-experiment", "--only", "weights,tracin"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error \(usage\): tracin: no learning rate logged at step 0/);
    // The weight-space record of step 0 was written before TracIn failed on it.
    assert.match(r.stderr, /analyzer failed: 1 records/);
    assert.equal(readAnalysis(runDir, "weights")!.records.length, 1);
  });

  test("bad --set and --only are usage errors naming the problem", async () => {
    const runDir = freshRun();
    const set = await runCli(["analyze", runDir, "--set", "tracin"]);
    assert.equal(set.code, 2);
    assert.match(set.stderr, /--set expects ANALYSIS\.FIELD=VALUE, got "tracin"/);
    const unknown = await runCli(["analyze", runDir, "--set", "nosuch.every=1"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /error \(config\): .*nosuch/);
    // Names of Object.prototype's members are unknown analyses or fields like any other.
    for (const item of ["constructor.x=1", "weights.constructor=1", "toString.every=1"]) {
      const proto = await runCli(["analyze", runDir, "--set", item]);
      assert.equal(proto.code, 1, item);
      assert.match(proto.stderr, /error \(config\): /, item);
      assert.doesNotMatch(proto.stderr, /internal/, item);
    }
    assert.doesNotMatch(set.stderr + unknown.stderr, /internal/);
  });
});

describe("analyzer: follow and lock", () => {
  test("--follow ends when run.json says running but its trainer's pid is gone", async () => {
    const runDir = freshRun();
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    const pid = Number(dead.stdout);
    const m = JSON.parse(readFileSync(join(runDir, "run.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(join(runDir, "run.json"), JSON.stringify({ ...m, status: "running", pid }));
    const r = await runCli(["analyze", runDir, "--only", "weights", "--follow"], 60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `analyzer finished: 4 records \\(run\\.json says "running" but its trainer \\(pid ${pid}\\) is no longer alive: stopped following\\)`,
      ),
    );
  });

  test("a second analyzer on the same run: 'in use by pid N', a usage error; the first's files untouched", async () => {
    const runDir = freshRun();
    mkdirSync(join(runDir, "analyses"));
    // A live process holds the analyzer lock (this test process stands in for another analyzer).
    writeFileSync(
      join(runDir, "analyses", ".lock"),
      JSON.stringify({ pid: process.pid, purpose: "analyze", since: "2026-01-01T00:00:00Z" }),
    );
    const r = await runCli(["analyze", runDir, "--only", "weights"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`error \\(usage\\): .*analyses/\\.lock: run folder in use by pid ${process.pid}`),
    );
    assert.equal(existsSync(join(runDir, "analyses", "weights.jsonl")), false);
  });

  test("a stale analyzer lock (dead pid) is taken over", async () => {
    const runDir = freshRun();
    mkdirSync(join(runDir, "analyses"));
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    writeFileSync(
      join(runDir, "analyses", ".lock"),
      JSON.stringify({ pid: Number(dead.stdout), purpose: "analyze", since: "2026-01-01T00:00:00Z" }),
    );
    const r = await runCli(["analyze", runDir, "--only", "weights"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /took over the analyzer lock of pid \d+/);
    assert.equal(existsSync(join(runDir, "analyses", ".lock")), false, "released at the end");
  });
});
