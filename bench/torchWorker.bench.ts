// Steps/s of the PyTorch worker (python/learning_mechanics, driven through its TypeScript client
// exactly as the trainer will drive it) beside bench/reference_torch.py's bare loop on the same
// model, same interpreter, same thread count, in the same run. Prints one JSON line per system and
// a table with the ratio.
//
//   npm run build --silent && node dist/bench/torchWorker.js [--python P] [--systems mlp,transformer]
//                                  [--threads 1] [--cadence quiet|default] [--repeats 3]
//
// Cadence "quiet" evaluates and checkpoints only at the first and last step (as
// bench/systems.experiment.ts does for the tfjs figures); "default" uses the SDK defaults (metrics
// every 100 steps, a checkpoint every 1,000), each checkpoint read back and deleted as the trainer
// will. steps/s is measured between the first progress event (after ~0.2 s of training, so process
// start, torch import, data loading and the step-0 evaluation are excluded) and the last.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { selectBackend } from "../src/trainer/backend";
import { loadExperiment } from "../src/trainer/loadExperiment";
import { SystemInstance } from "../src/trainer/system";
import { chooseSystem, validatedSpec } from "../src/trainer/systems";
import { readWorkerCheckpoint, workerSystem, writeWorkerInputs } from "../src/trainer/torch/exchange";
import { probePython, workerPackageRoot } from "../src/trainer/torch/python";
import { TorchWorker } from "../src/trainer/torch/worker";

const { values } = parseArgs({
  options: {
    python: { type: "string", default: process.env["LM_TORCH_PYTHON"] ?? "python3" },
    systems: { type: "string", default: "mlp,transformer" },
    threads: { type: "string", default: "1" },
    cadence: { type: "string", default: "quiet" },
    repeats: { type: "string", default: "3" },
  },
});

/** Steps per worker run: a few seconds each on a quiet machine (tens of seconds under load). */
const STEPS: Record<string, number> = { mlp: 600, transformer: 40 };

function root(): string {
  return join(workerPackageRoot(), "..");
}

async function workerRate(
  system: SystemInstance,
  name: string,
  threads: number,
): Promise<{ stepsPerSecond: number; steps: number }> {
  const dir = mkdtempSync(join(tmpdir(), "lm-torch-bench-"));
  try {
    const params = system.model.params.map((p) => ({
      name: p.name,
      shape: [...p.variable.shape],
      values: Float32Array.from(p.variable.dataSync() as Float32Array),
    }));
    const tensorsFile = join(dir, "inputs.safetensors");
    writeWorkerInputs(tensorsFile, { data: system.data, params });
    const worker = await TorchWorker.spawn({ python: values.python });
    try {
      worker.start({
        system: workerSystem(name, system.spec, system.data, params),
        tensorsFile,
        exchangeDir: dir,
        device: "cpu",
        threads,
        fromStep: 0,
        optimizerT: 0,
      });
      const seen: Array<{ step: number; t: number }> = [];
      for await (const e of worker) {
        if (e.type === "progress") seen.push({ step: e.step, t: performance.now() });
        else if (e.type === "checkpoint") {
          readWorkerCheckpoint(e.file);
          rmSync(e.file);
        } else if (e.type === "error" || e.type === "diverged") throw new Error(JSON.stringify(e));
      }
      const first = seen[0];
      const last = seen[seen.length - 1];
      if (!first || !last || last.step === first.step) throw new Error("too few progress events");
      return { stepsPerSecond: ((last.step - first.step) * 1000) / (last.t - first.t), steps: last.step - first.step };
    } finally {
      worker.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function referenceRate(system: string, threads: number): { steps_per_s: number; torch: string } | { error: string } {
  const r = spawnSync(
    values.python,
    [join(root(), "bench/reference_torch.py"), system, "--threads", String(threads), "--repeats", "3"],
    { encoding: "utf8" },
  );
  if (r.status !== 0) return { error: (r.stderr || "no output").trim().split("\n").pop() ?? "" };
  return JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as { steps_per_s: number; torch: string };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const probe = await probePython(values.python);
  if (probe.kind !== "ok") throw new Error(probe.message);
  await selectBackend("cpu"); // tfjs only builds the data and the step-0 weights here
  const experiment = await loadExperiment(join(root(), "bench/systems.experiment.ts"));
  const threads = Number(values.threads);
  const rows: Array<Record<string, unknown>> = [];
  for (const name of values.systems.split(",")) {
    const base = validatedSpec(chooseSystem(experiment, name), { steps: STEPS[name] });
    const spec = values.cadence === "default" ? { ...base, evalEvery: 100, checkpointEvery: 1000 } : base;
    const system = new SystemInstance(spec, root());
    const workerRates: number[] = [];
    const refRates: number[] = [];
    try {
      // Interleaved, so both see the same load from whatever else runs on the machine.
      for (let r = 0; r < Number(values.repeats); r++) {
        workerRates.push((await workerRate(system, name, threads)).stepsPerSecond);
        const ref = referenceRate(name, threads);
        if ("error" in ref) throw new Error(`reference_torch.py failed: ${ref.error}`);
        refRates.push(ref.steps_per_s);
      }
    } finally {
      system.dispose();
    }
    const w = median(workerRates);
    const ref = median(refRates);
    const row = {
      system: name,
      cadence: values.cadence,
      torch: probe.torch,
      threads,
      workerStepsPerSecond: +w.toFixed(2),
      workerAll: workerRates.map((x) => +x.toFixed(1)),
      referenceStepsPerSecond: +ref.toFixed(2),
      referenceAll: refRates.map((x) => +x.toFixed(1)),
      ratio: +(w / ref).toFixed(3),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  console.log("\nsystem       cadence  worker steps/s  bare torch steps/s  ratio");
  for (const r of rows) {
    console.log(
      `${String(r["system"]).padEnd(12)} ${String(r["cadence"]).padEnd(8)} ${String(r["workerStepsPerSecond"]).padStart(14)}  ${String(r["referenceStepsPerSecond"]).padStart(18)}  ${String(r["ratio"])}`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
