// The trainer against experiment code that misbehaves and run folders in odd states: signals
// always work, the CLI exits when its work is done, user mistakes read as such, a resume keeps
// what is not its own and restarts what was cut short. Real CLI processes throughout.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after as afterAll, describe, test } from "node:test";
import {
  CLI,
  FIXTURES,
  ROOT,
  Sidecar,
  checkpointFiles,
  killSidecars,
  metricsOf,
  readManifest,
  runCli,
  tempDir,
  withoutTime,
} from "./harness";

const tiny = join(FIXTURES, "tiny.experiment.ts");
afterAll(killSidecars);
const HEADER = `import { modelSystem, models, optimizers, tasks, tf } from "learning-mechanics";\n`;
const SMALL = `modelSystem({ task: tasks.modularArithmetic({ p: 11 }), model: models.mlp({ hidden: [8] }), optimizer: optimizers.adam({ lr: 1e-3 }), steps: 10 })`;

/** Writes an experiment file with `body` after the SDK import; returns its path. */
function experiment(name: string, body: string): string {
  const dir = tempDir("exp");
  const file = join(dir, `${name}.experiment.ts`);
  writeFileSync(file, HEADER + body);
  return file;
}

interface Signalled {
  code: number | null;
  stderr: string;
  /** Milliseconds from the first signal to the exit. */
  afterSignal: number;
}

/** Starts `lm args`, sends `signals` once `ready(stderr)` holds (or after `delayMs`), and times the exit. */
function runAndSignal(
  args: string[],
  signals: NodeJS.Signals[],
  ready: (stderr: string) => boolean,
  timeoutMs = 60_000,
): Promise<Signalled> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let signalledAt: number | undefined;
    const fire = () => {
      if (signalledAt !== undefined) return;
      signalledAt = Date.now();
      signals.forEach((s, i) => {
        setTimeout(() => child.kill(s), i * 200);
      });
    };
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (ready(stderr)) fire();
    });
    const poll = setInterval(() => ready(stderr) && fire(), 100);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`lm ${args.join(" ")} still running ${timeoutMs} ms after start\n${stderr}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve({ code, stderr, afterSignal: Date.now() - (signalledAt ?? Date.now()) });
    });
  });
}

/** After `ms` from the start: for code that prints nothing before it hangs. */
function after(ms: number): () => boolean {
  const t0 = Date.now();
  return () => Date.now() - t0 > ms;
}

function noStack(stderr: string): void {
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
  assert.doesNotMatch(stderr, /error \(internal\)|internal error/);
}

describe("signals and exits", () => {
  const loop = () => experiment("loop", `export const s = ${SMALL};\nfor (;;) {}\n`);

  test("an endless loop at import: Ctrl-C ends the CLI within seconds, saying the code did not return", async () => {
    const r = await runAndSignal(
      ["train", loop(), "--out", tempDir("loop"), "--backend", "cpu"],
      ["SIGINT"],
      after(2000),
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /did not return within 3 s of the stop request while loading the experiment/);
    assert.ok(r.afterSignal < 10_000, `exited ${r.afterSignal} ms after SIGINT`);
  });

  test("an endless loop at import: SIGTERM ends it too, and a second Ctrl-C at once (exit 130)", async () => {
    const term = await runAndSignal(
      ["train", loop(), "--out", tempDir("loop"), "--backend", "cpu"],
      ["SIGTERM"],
      after(2000),
    );
    assert.equal(term.code, 1, term.stderr);
    assert.ok(term.afterSignal < 10_000, `exited ${term.afterSignal} ms after SIGTERM`);
    const twice = await runAndSignal(
      ["train", loop(), "--out", tempDir("loop"), "--backend", "cpu"],
      ["SIGINT", "SIGINT"],
      after(2000),
    );
    assert.equal(twice.code, 130, twice.stderr);
    assert.ok(twice.afterSignal < 2500, `exited ${twice.afterSignal} ms after the first of two SIGINTs`);
  });

  test("a custom model that never returns: Ctrl-C terminates it, the run is marked failed naming its intact checkpoints", async () => {
    const file = experiment(
      "hang",
      `let calls = 0;
export const hang = modelSystem({
  task: tasks.modularArithmetic({ p: 11 }),
  model: { kind: "custom", name: "hangs", init(ctx) { ctx.param("w", [22, 11], { std: 0.1 }); },
    forward(p, x) { if (++calls > 40) for (;;) {} return tf.matMul(tf.reshape(tf.oneHot(tf.cast(x, "int32"), 11), [-1, 22]), p["w"]!); } },
  optimizer: optimizers.adam({ lr: 1e-2 }), steps: 1000, evalEvery: 5, checkpointEvery: 5,
});\n`,
    );
    const runDir = join(tempDir("hang"), "run");
    const r = await runAndSignal(
      ["train", file, "--run-dir", runDir, "--backend", "cpu"],
      ["SIGINT"],
      after(6000),
      90_000,
    );
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.afterSignal < 20_000, `exited ${r.afterSignal} ms after SIGINT`);
    const m = readManifest(runDir);
    assert.equal(m.status, "failed");
    assert.match(
      m.error!.message,
      /did not return within [\d.]+ s of the stop request at step \d+\. Checkpoints up to step \d+ are intact/,
    );
    assert.equal(existsSync(join(runDir, ".lock")), false, "the lock of the terminated worker is released");
    assert.match(r.stderr, /failed at step \d+/);
  });

  test("the sidecar: stop reaches a training whose experiment never finishes loading", async () => {
    const sidecar = new Sidecar();
    await sidecar.waitFor("ready");
    sidecar.send({ type: "train", file: loop(), system: "s", runsRoot: tempDir("sideloop"), backend: "cpu" });
    await new Promise((r) => setTimeout(r, 2000));
    const t0 = Date.now();
    sidecar.send({ type: "stop" });
    const error = await sidecar.waitFor("error", () => true, 15_000);
    assert.equal(error.kind, "runtime");
    assert.match(error.message, /did not return within 3 s of the stop request while loading the experiment/);
    const fin = await sidecar.waitFor("finished", () => true, 15_000);
    assert.equal(fin.status, "failed");
    assert.equal(await sidecar.exited, 1);
    assert.ok(Date.now() - t0 < 10_000, `exited ${Date.now() - t0} ms after stop`);
    assert.deepEqual(sidecar.stray, []);
  });

  test("the sidecar: a stop sent with the train request, while the file is still being bundled, still ends an endless import", async () => {
    // The worker used to acknowledge a stop whenever its event loop saw it, which it does during
    // the bundling (esbuild is asynchronous): the host then cancelled its kill timer, and the
    // import's endless loop ran for ever (CI hung 60 s on a SIGTERM that landed there under load).
    const sidecar = new Sidecar();
    await sidecar.waitFor("ready");
    sidecar.send({ type: "train", file: loop(), system: "s", runsRoot: tempDir("sideloop0"), backend: "cpu" });
    sidecar.send({ type: "stop" });
    const t0 = Date.now();
    const error = await sidecar.waitFor("error", () => true, 15_000);
    assert.match(error.message, /did not return within 3 s of the stop request while loading the experiment/);
    const fin = await sidecar.waitFor("finished", () => true, 15_000);
    assert.equal(fin.status, "failed");
    assert.equal(await sidecar.exited, 1);
    assert.ok(Date.now() - t0 < 10_000, `exited ${Date.now() - t0} ms after stop`);
  });

  test("setInterval at import: the CLI exits when training is finished", async () => {
    const file = experiment("interval", `setInterval(() => {}, 1000);\nexport const s = ${SMALL};\n`);
    const r = await runCli(["train", file, "--out", tempDir("interval"), "--backend", "cpu"], 60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /finished at step 10/);
  });

  test("process.exit(0) in the experiment is reported with its line, and the command fails", async () => {
    const file = experiment("exits", `export const s = ${SMALL};\nprocess.exit(0);\n`);
    const out = tempDir("exits");
    const r = await runCli(["train", file, "--out", out, "--backend", "cpu"], 60_000);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /the experiment called process\.exit\(0\) at .*exits\.experiment\.ts:3:\d+/);
    assert.deepEqual(readdirSync(out), []);
  });

  test("an output folder that cannot be created fails at once with the folder named", async (t) => {
    if (!existsSync("/proc/self")) return t.skip("no /proc here");
    const t0 = Date.now();
    const r = await runCli(
      ["train", tiny, "--system", "tinyAdd", "--out", "/proc/lm-test-x", "--backend", "cpu"],
      30_000,
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error \(io\): cannot create \/proc\/lm-test-x\/.*: \/proc exists but takes no new folders/);
    assert.ok(Date.now() - t0 < 20_000);
  });
});

describe("sizes", () => {
  test("a model too large for the limit is a config error on its field, with the numbers, before allocating", async () => {
    for (const hidden of ["[1e9]", "[20000, 20000]"]) {
      const file = experiment(
        "huge",
        `export const huge = modelSystem({ task: tasks.modularArithmetic({ p: 59 }), model: models.mlp({ hidden: ${hidden} }), optimizer: optimizers.adam({ lr: 1e-3 }), steps: 10 });\n`,
      );
      const out = tempDir("huge");
      const t0 = Date.now();
      const r = await runCli(["train", file, "--out", out, "--backend", "cpu"], 60_000);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /error \(config\): invalid config for "huge": model\.hidden too large: [\d,]+ parameters need about [\d.]+ GiB to train, over (the limit of 2\.0 GiB per training|\d+% of the)/,
      );
      noStack(r.stderr);
      assert.ok(Date.now() - t0 < 30_000, `${hidden}: failed after ${Date.now() - t0} ms`);
      assert.deepEqual(readdirSync(out), [], "no run folder");
    }
  });
});

describe("user mistakes read as such", () => {
  test("several systems and no --system: a usage error naming them and the flag, exit 2", async () => {
    const r = await runCli(["train", join(ROOT, "examples", "grokking.experiment.ts"), "--out", tempDir("choose")]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /error \(usage\): .*grokking\.experiment\.ts has several model systems \(modAdd, nanda\): choose one with --system modAdd\|nanda/,
    );
    assert.doesNotMatch(r.stderr, /failed at step/);
    noStack(r.stderr);
  });

  test("an unknown backend, a folder given as the file, a folder that is not a run: clear errors, no stack", async () => {
    const backend = await runCli(["train", tiny, "--system", "tinyAdd", "--out", tempDir("tpu"), "--backend", "tpu"]);
    assert.equal(backend.code, 2, backend.stderr);
    assert.match(
      backend.stderr,
      /error \(usage\): unknown backend "tpu" \(expected one of auto, torch, gpu, native, wasm, cpu\)/,
    );
    noStack(backend.stderr);
    const dir = await runCli(["train", FIXTURES, "--out", tempDir("dir")]);
    assert.equal(dir.code, 1, dir.stderr);
    assert.match(dir.stderr, /cannot read experiment file .*fixtures\/experiments/);
    noStack(dir.stderr);
    const notRun = await runCli(["resume", tempDir("notrun")]);
    assert.equal(notRun.code, 1, notRun.stderr);
    assert.match(notRun.stderr, /error \(usage\): .* is not a run folder: run\.json not found/);
    noStack(notRun.stderr);
    assert.doesNotMatch(notRun.stderr, /failed at step/);
  });
});

describe("run folders", () => {
  async function trained(label: string): Promise<string> {
    const runDir = join(tempDir(label), "run");
    const r = await runCli(["train", tiny, "--system", "tinyAdd", "--run-dir", runDir, "--backend", "cpu"]);
    assert.equal(r.code, 0, r.stderr);
    return runDir;
  }
  /** Leaves the run as a killed trainer would: checkpoints after `keep` gone, status running, a dead pid. */
  function cutBack(runDir: string, keep: number | undefined): void {
    for (const f of checkpointFiles(runDir))
      if (keep === undefined || Number(f.slice(5, 13)) > keep) rmSync(join(runDir, "checkpoints", f));
    const m = readManifest(runDir);
    writeFileSync(
      join(runDir, "run.json"),
      JSON.stringify({ ...m, status: "running", pid: 2147483646, step: keep ?? 0, endedAt: undefined }),
    );
  }

  test("a resume keeps metrics lines it cannot parse, and drops only its own records past the checkpoint", async () => {
    const straight = await trained("straight");
    const runDir = await trained("badlines");
    cutBack(runDir, 20);
    const bad = ["not json at all", '{"step": "x"}', "{ half a record", '{"note": "written by someone else"}'];
    appendFileSync(join(runDir, "metrics.jsonl"), `${bad.join("\n")}\n`);
    const r = await runCli(["resume", runDir, "--backend", "cpu"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = readFileSync(join(runDir, "metrics.jsonl"), "utf8").split("\n");
    for (const b of bad) assert.ok(lines.includes(b), `kept: ${b}`);
    assert.deepEqual(
      withoutTime(metricsOf(runDir)),
      withoutTime(metricsOf(straight)),
      "each step once, as in an uninterrupted run",
    );
  });

  test("a resume from the step-0 checkpoint does not repeat the step-0 metrics", async () => {
    const runDir = await trained("from0");
    cutBack(runDir, 0);
    const r = await runCli(["resume", runDir, "--backend", "cpu"]);
    assert.equal(r.code, 0, r.stderr);
    const steps = metricsOf(runDir).map((x) => x.step);
    assert.deepEqual(steps, [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]);
  });

  test("a run killed before its step-0 checkpoint restarts from its initialization on resume", async () => {
    const straight = await trained("straight0");
    const runDir = await trained("nockpt");
    cutBack(runDir, undefined);
    const r = await runCli(["resume", runDir, "--backend", "cpu"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readManifest(runDir).status, "finished");
    assert.deepEqual(withoutTime(metricsOf(runDir)), withoutTime(metricsOf(straight)));
    for (const f of checkpointFiles(straight))
      assert.ok(readFileSync(join(runDir, "checkpoints", f)).equals(readFileSync(join(straight, "checkpoints", f))), f);
  });

  test("temporary files of writes cut short are removed at resume when their writer is dead, and only those", async () => {
    const runDir = await trained("tmpfiles");
    cutBack(runDir, 40);
    const dead = [
      join(runDir, ".run.json.2147483646.0badc0de.tmp"),
      join(runDir, "checkpoints", ".step-00000060.safetensors.2147483646.deadbeef.tmp"),
    ];
    const live = join(runDir, "checkpoints", `.step-00000060.safetensors.${process.pid}.feedface.tmp`);
    for (const p of [...dead, live]) writeFileSync(p, "partial");
    const r = await runCli(["resume", runDir, "--backend", "cpu"]);
    assert.equal(r.code, 0, r.stderr);
    for (const p of dead) assert.equal(existsSync(p), false, `removed ${p}`);
    assert.ok(existsSync(live), "a live writer's file stays");
  });

  test("a run folder in use by a live process is refused, for train and for resume", async () => {
    const runDir = await trained("locked");
    writeFileSync(
      join(runDir, ".lock"),
      JSON.stringify({ pid: process.pid, purpose: "train", since: new Date().toISOString() }),
    );
    const before = statSync(join(runDir, "metrics.jsonl")).size;
    const resume = await runCli(["resume", runDir, "--backend", "cpu"]);
    assert.equal(resume.code, 1, resume.stderr);
    assert.match(resume.stderr, new RegExp(`error \\(usage\\): .*run folder in use by pid ${process.pid}`));
    noStack(resume.stderr);
    const fresh = join(tempDir("locked2"), "run");
    mkdirSync(fresh, { recursive: true });
    writeFileSync(
      join(fresh, ".lock"),
      JSON.stringify({ pid: process.pid, purpose: "train", since: new Date().toISOString() }),
    );
    const train = await runCli(["train", tiny, "--system", "tinyAdd", "--run-dir", fresh, "--backend", "cpu"]);
    assert.equal(train.code, 1, train.stderr);
    assert.match(train.stderr, new RegExp(`run folder in use by pid ${process.pid}`));
    assert.equal(existsSync(join(fresh, "run.json")), false, "nothing written");
    assert.equal(statSync(join(runDir, "metrics.jsonl")).size, before);
  });
});

describe("disk full", () => {
  test("the failure says the step reached and which checkpoints are intact", async (t) => {
    const mount = tempDir("full2");
    const m = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mount], { encoding: "utf8" });
    if (m.status !== 0) return t.skip(`cannot mount a small tmpfs here: ${m.stderr.trim()}`);
    try {
      const runDir = join(mount, "run");
      const r = await runCli(["train", tiny, "--system", "tinyAdd", "--run-dir", runDir, "--backend", "cpu"]);
      assert.equal(r.code, 1, r.stderr);
      const files = checkpointFiles(runDir);
      const last = Number(files.at(-1)!.slice(5, 13));
      assert.ok(last > 0, `a checkpoint after step 0 fits: ${files.join(", ")}`);
      const reached = Number(/Training reached step (\d+)\./.exec(r.stderr)?.[1]);
      assert.ok(reached >= last, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `Checkpoints up to step ${last} are intact \\(${files.length} files?: steps ${files.map((f) => Number(f.slice(5, 13))).join(", ")}\\)`,
        ),
      );
      assert.match(r.stderr, new RegExp(`^failed at step ${reached}$`, "m"), "not at step 0");
    } finally {
      spawnSync("umount", [mount]);
    }
  });
});
