#!/usr/bin/env node
// Training throughput of the canonical systems through the real trainer (the sidecar, as the
// extension runs it), per backend, beside the PyTorch CPU reference of the identical model run in
// the same benchmark. Prints a table and one JSON line per measurement.
//
//   npm run bench                       # all systems, backends torch, wasm and cpu
//   node bench/train.bench.mjs --systems mlp --backends torch,wasm --cadence default --python .venv/bin/python
//
// The torch backend runs through the same sidecar (`backend: "torch"`, device cpu, the interpreter
// of --python) with --torch-threads threads (default 1; "default": PyTorch's own choice, one per
// core); every ratio is against the reference run with the thread count the worker reported in its
// "ready" log line (torch) or --torch-threads (tfjs). On a shared 2-core machine two threads measure
// the other tenants' load more than either loop (bench/README.md), so 1 is the default.
// --cadence default trains the `…Default` systems (metrics every 100 steps, a checkpoint every
// 1,000, as a user's run) instead of the quiet ones.
//
// steps/s is taken from the trainer's own progress events between the first event after warm-up
// and the last step (so process start, data generation and the step-0 evaluation are excluded);
// GFLOP/s counts forward matmul FLOPs × 3 (bench/README.md).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    systems: { type: "string", default: "mlp,transformer" },
    backends: { type: "string", default: "torch,wasm,cpu" },
    "torch-threads": { type: "string", default: "1" },
    python: { type: "string", default: "/usr/bin/python3" },
    cadence: { type: "string", default: "quiet" },
    // The torch backend's device; the reference is CPU-only, so on cuda the ratio is against the CPU loop.
    device: { type: "string", default: "cpu" },
    repeats: { type: "string", default: "1" },
  },
});
const systemName = (system) => (values.cadence === "default" ? `${system}Default` : system);

/** Forward matmul FLOPs per step (see bench/reference_torch.py's docstring), ×3 for fwd + bwd. */
const FLOPS = {
  mlp: (() => {
    const n = Math.round(0.3 * 97 * 97);
    return 3 * 2 * n * (194 * 256 + 256 * 97);
  })(),
  transformer: (() => {
    const n = Math.round(0.3 * 113 * 113),
      T = 3,
      d = 128,
      dm = 512,
      p = 113;
    return 3 * n * (3 * 2 * T * d * d + 2 * T * T * d * 2 + 2 * T * d * d + 2 * 2 * T * d * dm + 2 * d * p);
  })(),
};
/** Steps per run: enough for ~5–20 s on wasm here; cpu gets fewer (it is far slower). */
const STEPS = { mlp: { torch: 600, wasm: 300, cpu: 20 }, transformer: { torch: 30, wasm: 60, cpu: 6 } };

function trainerRate(system, backend) {
  return new Promise((resolve, reject) => {
    const out = mkdtempSync(join(tmpdir(), "lm-bench-"));
    const child = spawn(process.execPath, [join(root, "dist/trainer/sidecar.js")], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const seen = [];
    let threads;
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const lines = buf.split("\n");
      buf = lines.pop();
      for (const line of lines) {
        const e = JSON.parse(line);
        if (e.type === "progress") seen.push({ step: e.step, t: performance.now() });
        const ready = e.type === "log" ? /^PyTorch worker ready on \S+ \(.*, (\d+) threads?\)$/.exec(e.message) : null;
        if (ready) threads = Number(ready[1]);
        if (e.type === "error") reject(new Error(e.message));
        if (e.type === "finished") {
          child.stdin.end();
          rmSync(out, { recursive: true, force: true });
          if (e.status !== "finished") return reject(new Error(`run ${e.status}: ${e.message ?? ""}`));
          const first = seen[0],
            last = seen[seen.length - 1];
          if (!first || last.step === first.step) return reject(new Error("too few progress events"));
          resolve({
            stepsPerSecond: ((last.step - first.step) * 1000) / (last.t - first.t),
            steps: last.step - first.step,
            threads,
          });
        }
      }
    });
    const torch =
      backend === "torch"
        ? {
            python: values.python,
            device: values.device,
            ...(values["torch-threads"] === "default" ? {} : { threads: Number(values["torch-threads"]) }),
          }
        : {};
    child.stdin.write(
      `${JSON.stringify({ type: "train", file: join(root, "bench/systems.experiment.ts"), system: systemName(system), runsRoot: out, backend, ...torch, steps: STEPS[system][backend] })}\n`,
    );
  });
}

function torchRate(system, threads) {
  const r = spawnSync(values.python, [join(root, "bench/reference_torch.py"), system, "--threads", String(threads)], {
    encoding: "utf8",
  });
  if (r.status !== 0) return { error: (r.stderr || "python3-torch not available").trim().split("\n").pop() };
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const rows = [];
for (const system of values.systems.split(",")) {
  for (const backend of values.backends.split(",")) {
    // Interleaved repeats: the trainer and the reference see the same load from whatever else runs.
    const runs = [];
    const refs = [];
    let refError;
    for (let i = 0; i < Number(values.repeats); i++) {
      const r = await trainerRate(system, backend);
      runs.push(r);
      const torch = torchRate(system, r.threads ?? (Number(values["torch-threads"]) || 1));
      if (torch.error) refError = torch.error;
      else refs.push(torch.steps_per_s ?? torch.stepsPerSecond);
    }
    const sps = median(runs.map((r) => r.stepsPerSecond));
    const torchSps = refs.length ? median(refs) : undefined;
    const row = {
      system,
      backend,
      cadence: values.cadence,
      ...(backend === "torch" ? { device: values.device } : {}),
      stepsPerSecond: +sps.toFixed(2),
      all: runs.map((r) => +r.stepsPerSecond.toFixed(1)),
      gflops: +((FLOPS[system] * sps) / 1e9).toFixed(1),
      torchStepsPerSecond: torchSps === undefined ? null : +torchSps.toFixed(2),
      torchAll: refs.map((x) => +x.toFixed(1)),
      torchThreads: runs[0].threads ?? (Number(values["torch-threads"]) || 1),
      ratioVsTorch: torchSps ? +(sps / torchSps).toFixed(3) : null,
    };
    rows.push(row);
    console.log(JSON.stringify(row));
    if (refError)
      console.log(`PyTorch reference unavailable: ${refError} (apt-get install python3-torch libopenblas0-pthread)`);
  }
}
console.log("\nsystem       backend  cadence  steps/s  GFLOP/s  torch steps/s (threads)  ratio");
for (const r of rows) {
  console.log(
    `${r.system.padEnd(12)} ${r.backend.padEnd(8)} ${r.cadence.padEnd(8)} ${String(r.stepsPerSecond).padStart(7)}  ${String(r.gflops).padStart(7)}  ${String(r.torchStepsPerSecond ?? "-").padStart(13)} (${r.torchThreads})  ${r.ratioVsTorch ?? "-"}`,
  );
}
