// `lm train --backend torch` through the real CLI and sidecar: the run folder a torch run writes is
// the one a wasm run writes (same step-0 checkpoint byte for byte, final weights within float32
// tolerance), stop / resume / divergence / disk full behave as on tfjs, the analyzer reads a torch
// run, and a missing interpreter, PyTorch or device is one message with nothing written. Needs a
// Python with torch (test/support.ts `torchPython`); skipped without one unless LM_REQUIRE_TORCH=1.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readSafetensorsSync } from "../../src/shared/safetensors";
import { torchPython } from "../support";
import {
  CLI,
  FIXTURES,
  killSidecars,
  metricsOf,
  readManifest,
  ROOT,
  runCli,
  Sidecar,
  tempDir,
  withoutTime,
} from "./harness";

const { python, skip } = torchPython();
const py = python ?? "python3";
const tiny = join(FIXTURES, "tiny.experiment.ts");
const ckpt = (runDir: string, step: number) =>
  join(runDir, "checkpoints", `step-${String(step).padStart(8, "0")}.safetensors`);

after(killSidecars);

/** Tensors of a checkpoint by name. */
function tensors(file: string): Map<string, Float32Array> {
  return new Map(readSafetensorsSync(file).tensors.map((t) => [t.name, t.data as Float32Array]));
}

/**
 * Same tolerance as test/integration/torchWorker.test.ts (where it is argued): the two backends
 * differ only in the order of float32 sums, so after 60 Adam(W) steps entries agree to ~1e-5;
 * 1e-4 + 1e-3·|w| still catches a wrong update rule or a wrong minibatch, which move weights by 1e-3 or more.
 */
const ATOL = 1e-4;
const RTOL = 1e-3;

describe("training on torch through the CLI", { skip }, () => {
  const root = tempDir("torch-cli");
  const wasmRun = join(root, "wasm");
  const torchRun = join(root, "torch");
  let torchStderr = "";
  before(async () => {
    const [w, t] = await Promise.all([
      runCli(["train", tiny, "--system", "tinyAdd", "--run-dir", wasmRun, "--backend", "wasm"]),
      runCli([
        "train",
        tiny,
        "--system",
        "tinyAdd",
        "--run-dir",
        torchRun,
        "--backend",
        "torch",
        "--device",
        "cpu",
        "--python",
        py,
        "--threads",
        "1",
      ]),
    ]);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(t.code, 0, t.stderr);
    torchStderr = t.stderr;
  });

  test("run.json names torch, its device, versions and interpreter; the same files as a wasm run", () => {
    const m = readManifest(torchRun);
    assert.equal(m.status, "finished");
    assert.equal(m.step, 60);
    assert.equal(m.backend.name, "torch");
    assert.equal(m.backend.reason, "requested: torch");
    assert.equal(m.backend.device, "cpu");
    assert.ok(m.backend.python && existsSync(m.backend.python), `python ${m.backend.python}`);
    assert.match(m.backend.versions?.["torch"] ?? "", /^\d+\.\d+/);
    assert.match(torchStderr, /training tinyAdd \(60 steps\) on torch/);
    assert.match(torchStderr, /PyTorch worker ready on cpu \(.*, 1 thread\)/, "--threads reaches the worker");
    assert.deepEqual(readdirSync(join(torchRun, "checkpoints")), readdirSync(join(wasmRun, "checkpoints")));
    const steps = (run: string) => metricsOf(run).map((r) => r.step);
    assert.deepEqual(steps(torchRun), steps(wasmRun), "metrics at the same steps");
    const keys = (run: string) => Object.keys(metricsOf(run)[0]!);
    assert.deepEqual(keys(torchRun), keys(wasmRun), "the same metrics");
  });

  test("step 0 is the same checkpoint byte for byte; after 60 AdamW minibatch steps the weights agree within float32 tolerance", () => {
    assert.ok(
      readFileSync(ckpt(torchRun, 0)).equals(readFileSync(ckpt(wasmRun, 0))),
      "identical step-0 checkpoint (same init, same stats)",
    );
    const a = tensors(ckpt(wasmRun, 60));
    const b = tensors(ckpt(torchRun, 60));
    assert.deepEqual(
      [...b.keys()],
      [...a.keys()],
      "the same tensors (parameters and optimizer slots) in the same order",
    );
    const header = (run: string) => readSafetensorsSync(ckpt(run, 60)).metadata;
    assert.equal(header(torchRun)["optimizer"], header(wasmRun)["optimizer"], "optimizer step count");
    let worst = 0;
    let moved = 0;
    const start = tensors(ckpt(wasmRun, 0));
    for (const [name, wa] of a) {
      if (name.startsWith("optimizer/")) continue;
      const wb = b.get(name)!;
      for (let i = 0; i < wa.length; i++) {
        worst = Math.max(worst, Math.abs(wa[i]! - wb[i]!) / (ATOL + RTOL * Math.abs(wa[i]!)));
        moved = Math.max(moved, Math.abs(wa[i]! - start.get(name)![i]!));
      }
    }
    assert.ok(moved > 10 * ATOL, "the weights moved");
    assert.ok(worst <= 1, `worst |Δ| / tolerance ${worst}`);
    const lossAt = (run: string, step: number) => metricsOf(run).find((r) => r.step === step)!["train_loss"]!;
    assert.ok(Math.abs(lossAt(torchRun, 0) - lossAt(wasmRun, 0)) < 1e-6, "the same loss at initialization");
    assert.ok(
      Math.abs(lossAt(torchRun, 60) - lossAt(wasmRun, 60)) < 1e-4,
      `final loss ${lossAt(torchRun, 60)} vs ${lossAt(wasmRun, 60)}`,
    );
  });

  test("stop through the sidecar, then resume: identical to the uninterrupted run, checkpoints byte for byte", async () => {
    const runDir = join(root, "interrupted");
    const sidecar = new Sidecar();
    await sidecar.waitFor("ready");
    sidecar.send({
      type: "train",
      file: tiny,
      system: "tinyAdd",
      runDir,
      backend: "torch",
      python: py,
      device: "cpu",
      threads: 1,
    });
    // Stopped while the worker starts (Python imports torch for seconds): torch runs the 60 steps
    // of tinyAdd in well under a second, so a stop sent at a later checkpoint could arrive after
    // the end. A stop that arrives before the first step ends the run after step 1.
    await sidecar.waitFor("started", () => true, 240_000);
    sidecar.send({ type: "stop" });
    const fin = await sidecar.waitFor("finished", () => true, 240_000);
    assert.equal(fin.status, "stopped");
    assert.equal(await sidecar.exited, 0);
    assert.deepEqual(sidecar.stray, [], "nothing but protocol lines on stdout");
    const stoppedAt = fin.step;
    assert.equal(stoppedAt, 1, "stopped after the first step");
    assert.equal(readManifest(runDir).status, "stopped");
    assert.deepEqual(
      readdirSync(join(runDir, "checkpoints")).sort(),
      [ckpt(runDir, 0), ckpt(runDir, 1)].map((f) => f.slice(f.lastIndexOf("/") + 1)),
      "step 0 and a checkpoint at the stop",
    );
    assert.deepEqual(
      metricsOf(runDir).map((r) => r.step),
      [0, 1],
      "metrics at step 0 and at the stop",
    );

    const r = await runCli(["resume", runDir, "--backend", "torch", "--python", py, "--threads", "1"]);
    assert.equal(r.code, 0, r.stderr);
    const m = readManifest(runDir);
    assert.equal(m.status, "finished");
    assert.deepEqual(m.resumedFrom, [stoppedAt]);
    assert.equal(m.backend.name, "torch");
    assert.ok(
      readFileSync(ckpt(runDir, 60)).equals(readFileSync(ckpt(torchRun, 60))),
      "identical final weights and optimizer state: resume equals the uninterrupted run, and the same seed gives the same bytes on the CPU",
    );
    const straight = withoutTime(metricsOf(torchRun));
    const resumed = withoutTime(metricsOf(runDir)).filter(
      (x) => x["step"] !== stoppedAt || straight.some((y) => y["step"] === stoppedAt),
    );
    assert.deepEqual(resumed, straight, "identical metrics at every step");
  });

  test("the analyzer writes its records for a torch run, as for any other", async () => {
    // --backend torch (the extension passes its setting along): the analyzer computes with tfjs, the best there is.
    const r = await runCli(["analyze", torchRun, "--backend", "torch", "--run-experiment", "--only", "weights,kernel"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /analyzer backend: (wasm|tensorflow|cpu) \(auto/);
    assert.match(r.stderr, /analyzer finished: [1-9]\d* records/);
    const files = readdirSync(join(torchRun, "analyses")).sort();
    assert.ok(files.includes("weights.jsonl") && files.includes("kernel.jsonl"), files.join(", "));
    const [header, ...records] = readFileSync(join(torchRun, "analyses", "weights.jsonl"), "utf8")
      .trim()
      .split("\n");
    assert.match(header!, /"analysis":"weights"/);
    const parsed = records.map((l) => JSON.parse(l) as { step: number; paramNorm: number });
    assert.deepEqual(
      parsed.map((x) => x.step),
      [0, 20, 40, 60],
      "one record per checkpoint",
    );
    // The analyzer's norm of the step-60 weights is the one the trainer recorded for them.
    const recorded = metricsOf(torchRun).find((x) => x.step === 60)!["param_norm"]!;
    assert.ok(Math.abs(parsed[3]!.paramNorm - recorded) < 1e-4 * recorded, `${parsed[3]!.paramNorm} vs ${recorded}`);
  });
});

describe("a custom task on torch", { skip }, () => {
  test("the data a custom task generates in TypeScript trains on torch as on wasm", async () => {
    const root = tempDir("torch-custom-task");
    const file = join(FIXTURES, "customTask.experiment.ts");
    const [w, t] = await Promise.all([
      runCli(["train", file, "--run-dir", join(root, "wasm"), "--backend", "wasm"]),
      runCli(["train", file, "--run-dir", join(root, "torch"), "--backend", "torch", "--python", py, "--threads", "1"]),
    ]);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(t.code, 0, t.stderr);
    assert.ok(
      readFileSync(ckpt(join(root, "torch"), 0)).equals(readFileSync(ckpt(join(root, "wasm"), 0))),
      "the same step-0 checkpoint",
    );
    const a = tensors(ckpt(join(root, "wasm"), 50));
    const b = tensors(ckpt(join(root, "torch"), 50));
    let worst = 0;
    for (const [name, wa] of a) {
      const wb = b.get(name)!;
      for (let i = 0; i < wa.length; i++)
        worst = Math.max(worst, Math.abs(wa[i]! - wb[i]!) / (ATOL + RTOL * Math.abs(wa[i]!)));
    }
    assert.ok(worst <= 1, `worst |Δ| / tolerance ${worst}`);
    const loss = (run: string) => metricsOf(join(root, run)).map((r) => r["train_loss"]!);
    assert.ok(loss("torch").at(-1)! < loss("torch")[0]!, "it learned");
  });
});

describe("Ctrl-C in a terminal", { skip }, () => {
  test("SIGINT to the whole process group (trainer and worker) stops gracefully: status stopped, a checkpoint at the stop, no Python traceback", async () => {
    const runDir = join(tempDir("torch-ctrl-c"), "run");
    // Its own process group, as a shell gives a foreground job: the signal reaches Python too.
    const child = spawn(
      process.execPath,
      [
        CLI,
        "train",
        tiny,
        "--system",
        "tinyAdd",
        "--run-dir",
        runDir,
        "--backend",
        "torch",
        "--python",
        py,
        "--steps",
        "100000",
      ],
      {
        cwd: ROOT,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on("close", r));
    try {
      // Training is under way once step 0 is on disk and a few more steps have run.
      const deadline = Date.now() + 120_000;
      while (!(existsSync(ckpt(runDir, 0)) && /PyTorch worker ready/.test(stderr))) {
        if (Date.now() > deadline) throw new Error(`the run did not start: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 1000));
      process.kill(-child.pid!, "SIGINT");
      assert.equal(await exited, 0, stderr);
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, "SIGKILL");
    }
    assert.match(stderr, /stopped at step (\d+)/);
    assert.doesNotMatch(stderr, /KeyboardInterrupt|Traceback/);
    const m = readManifest(runDir);
    assert.equal(m.status, "stopped");
    assert.ok(m.step > 0, `stopped at ${m.step}`);
    assert.ok(existsSync(ckpt(runDir, m.step)), "a checkpoint at the stop");
  });
});

describe("torch runs that end badly", { skip }, () => {
  test("a learning rate far too large: status diverged, exit code 3, no checkpoint past the last finite step", async () => {
    const runDir = join(tempDir("torch-diverge"), "run");
    const r = await runCli([
      "train",
      join(FIXTURES, "diverge.experiment.ts"),
      "--run-dir",
      runDir,
      "--backend",
      "torch",
      "--python",
      py,
    ]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /training diverged: the (training loss became (NaN|-?Infinity)|loss or the weights became non-finite) at step \d+; the last finite checkpoint is step \d+/,
    );
    const m = readManifest(runDir);
    assert.equal(m.status, "diverged");
    assert.equal(typeof m.divergedAtStep, "number");
    const steps = readdirSync(join(runDir, "checkpoints")).map((f) => Number(f.slice(5, 13)));
    assert.ok(steps.length >= 1 && steps.every((s) => s <= m.divergedAtStep!), steps.join(","));
  });

  test("a full disk fails the run with a clear message and keeps every checkpoint already written", async (t) => {
    const mount = tempDir("torch-full");
    const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=40k", "tmpfs", mount], { encoding: "utf8" });
    if (mounted.status !== 0) return t.skip(`cannot mount a small tmpfs here: ${mounted.stderr.trim()}`);
    try {
      const runDir = join(mount, "run");
      const r = await runCli([
        "train",
        tiny,
        "--system",
        "tinyAdd",
        "--run-dir",
        runDir,
        "--backend",
        "torch",
        "--python",
        py,
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /error \(io\): disk full: .*ENOSPC.*Checkpoints up to step \d+ are intact/);
      const files = readdirSync(join(runDir, "checkpoints")).sort();
      assert.ok(files.length >= 1 && files.length < 4, files.join(", "));
      assert.ok(
        files.every((f) => /^step-\d{8}\.safetensors$/.test(f)),
        `no temporary files left: ${files.join(", ")}`,
      );
      for (const f of files)
        assert.ok(readSafetensorsSync(join(runDir, "checkpoints", f)).tensors.length > 0, `${f} is complete`);
      const manifest = readManifest(runDir);
      assert.ok(
        manifest.step <= Number(files.at(-1)!.slice(5, 13)),
        "run.json never points past the last complete checkpoint",
      );
    } finally {
      spawnSync("umount", [mount]);
    }
  });
});

describe("when torch cannot run: one message, nothing written", { skip }, () => {
  const dir = tempDir("torch-missing");
  /** An interpreter that starts but cannot import torch: the real one without site-packages. */
  const noTorch = join(dir, "python-without-torch");
  before(() => {
    const real = spawnSync(py, ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).stdout.trim();
    writeFileSync(noTorch, `#!/bin/sh\nexec ${JSON.stringify(real)} -S "$@"\n`);
    chmodSync(noTorch, 0o755);
  });

  const cases: Array<{ name: string; args: () => string[]; message: RegExp }> = [
    {
      name: "no interpreter at that path",
      args: () => ["--backend", "torch", "--python", join(dir, "no-such-python")],
      message:
        /error \(backend\): backend "torch" is not available: no Python interpreter: ".*no-such-python" could not be started \(not found\)\. Install Python 3 with PyTorch/,
    },
    {
      name: "an interpreter without PyTorch",
      args: () => ["--backend", "torch", "--python", noTorch],
      message:
        /error \(backend\): backend "torch" is not available: .* has no PyTorch \(ModuleNotFoundError: No module named 'torch'\)\. Install PyTorch into it \(`.* -m pip install torch`/,
    },
    {
      name: "--device cuda without CUDA",
      args: () => ["--backend", "torch", "--device", "cuda", "--python", py],
      message:
        /error \(backend\): backend "torch" is not available: --device cuda: PyTorch .* (is a CPU-only build|sees no CUDA device).*Choose --device cpu/,
    },
    {
      name: "a custom tfjs model",
      args: () => ["--system", "xor", "--backend", "torch", "--python", py],
      message:
        /error \(backend\): backend "torch" is not available: system "xor": its custom model "twoLayer" is tfjs code, which the torch backend cannot run; train it with --backend wasm, cpu, native or gpu/,
    },
  ];
  for (const c of cases) {
    test(c.name, async (t) => {
      if (
        c.name.includes("cuda") &&
        spawnSync(py, ["-c", "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"]).status === 0
      ) {
        return t.skip("this machine has CUDA");
      }
      const out = join(dir, c.name.replace(/\W+/g, "-"));
      const file = c.name.includes("custom") ? join(FIXTURES, "custom.experiment.ts") : tiny;
      const system = c.name.includes("custom") ? [] : ["--system", "tinyAdd"];
      const r = await runCli(["train", file, ...system, "--out", out, ...c.args()]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, c.message);
      assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack");
      assert.equal(r.stdout, "");
      assert.ok(!existsSync(out) || readdirSync(out).length === 0, "no run folder");
    });
  }

  test("--device or --threads with a tfjs backend, an unknown device, a bad thread count: usage errors (exit 2)", async () => {
    const a = await runCli([
      "train",
      tiny,
      "--system",
      "tinyAdd",
      "--out",
      join(dir, "x"),
      "--backend",
      "wasm",
      "--device",
      "cuda",
    ]);
    assert.equal(a.code, 2, a.stderr);
    assert.match(a.stderr, /--device applies to --backend torch \(or auto\), not wasm/);
    const b = await runCli([
      "train",
      tiny,
      "--system",
      "tinyAdd",
      "--out",
      join(dir, "y"),
      "--backend",
      "torch",
      "--device",
      "tpu",
    ]);
    assert.equal(b.code, 2, b.stderr);
    assert.match(b.stderr, /error \(usage\): unknown device "tpu" \(expected cpu, cuda, cuda:N or mps\)/);
    const c = await runCli([
      "train",
      tiny,
      "--system",
      "tinyAdd",
      "--out",
      join(dir, "z"),
      "--backend",
      "torch",
      "--threads",
      "0",
    ]);
    assert.equal(c.code, 2, c.stderr);
    assert.match(c.stderr, /--threads must be a positive integer, got "0"/);
    const d = await runCli([
      "train",
      tiny,
      "--system",
      "tinyAdd",
      "--out",
      join(dir, "w"),
      "--backend",
      "cpu",
      "--threads",
      "2",
    ]);
    assert.equal(d.code, 2, d.stderr);
    assert.match(d.stderr, /--threads applies to --backend torch \(or auto\), not cpu/);
    for (const o of ["x", "y", "z", "w"]) assert.ok(!existsSync(join(dir, o)), `no run folder (${o})`);
  });
});
