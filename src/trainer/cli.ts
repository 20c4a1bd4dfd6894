// Headless CLI on the same code as the sidecar:
//   lm train FILE [--system NAME] [--out DIR] [--run-dir DIR] [--backend auto|torch|gpu|native|wasm|cpu] [--device D] [--python PATH] [--threads N] [--steps N]
//   lm resume RUN_DIR [--backend B] [--device D] [--python PATH] [--threads N]
//   lm branch RUN_DIR --step K [--data-seed S] [--steps N] [--out DIR | --run-dir DIR] [--allow-changed] [--backend B]
//   lm lmc RUN_A RUN_B [--steps-a K] [--steps-b K] [--points N] [--out FILE] [--allow-changed] [--backend B]
//   lm instability RUN_DIR --at K1,K2,… [--data-seeds S1,S2] [--points N] [--out DIR] [--backend B]
//   lm list FILE
//   lm analyze RUN_DIR [--follow] [--only weights,kernel,…] [--set tracin.projectionDim=128 …] [--file FILE | --run-experiment] [--backend B]
//   lm sweep FILE [--system NAME] [--out DIR] [--parallel N] [--backend B] [--steps N];  lm sweep --resume SWEEP_DIR [--parallel N] [--backend B]
//   lm sweep-task SWEEP_DIR INDEX [--backend B]; lm sweep-status SWEEP_DIR [--json]   (docs/sweeps.md)
//   lm sweep … --slurm [--partition P] [--time T] [--gpus G] [--cpus-per-task C] [--mem M] [--account A] [--sbatch-arg ARG]…;
//   lm sweep-cancel SWEEP_DIR   (a Slurm sweep: sweep/slurmCli.ts)
// Progress goes to stderr; the run folder's path is the one line on stdout, for scripts.
// The experiment's code runs in a worker thread (jobHost.ts), so signals always work: Ctrl-C or
// SIGTERM stops gracefully (final checkpoint, status "stopped"); if the code does not return
// within a few seconds, or on a second Ctrl-C, it is terminated and the run marked failed.
// Exit codes: 0 finished or stopped, 1 failed, 2 usage, 3 diverged, 130 a second Ctrl-C.
import { parseArgs } from "node:util";
import type { TrainerEvent } from "../shared/trainerProtocol";
import { ANALYSIS_NAMES, type AnalysesInput, type AnalysisName } from "../sdk/spec";
import type { AnalyzeRequest } from "./analyzer/index";
import { startJob, type JobHandle } from "./jobHost";
import type { Job, JobResult } from "./jobs";
import { FileRefusedError } from "../shared/safeRead";
import type { RunRequest, SweepPlanRequest } from "./session";
import { dirname, resolve } from "node:path";
import { UsageError } from "./errors";
import { childLm, type InstabilityRequest, instabilityTable, runInstability } from "./instability";
import type { LmcRequest } from "./lmc";
import { errorText, progressLine } from "./progress";
import { analyzeSummary, lmcSummary, trainSummary } from "./summary";
import { VERSION } from "./version";
import { availableParallelism } from "node:os";
import { createSweepFolder, loadSweep, pointsToRun, reconcile } from "./sweep/folder";
import { defaultParallel, runLocalSweep } from "./sweep/local";
import { formatSweepStatus, sweepStatus } from "./sweep/status";
import { finishSweepTask, prepareSweepTask, type TaskBackend } from "./sweep/task";
import {
  cancelCommand,
  localResumeProblem,
  SLURM_FLAGS,
  slurmContext,
  slurmPreflight,
  slurmStatusLines,
  submitCommand,
  taskArgsOf,
  withSlurmStatus,
} from "./sweep/slurmCli";
import { type SlurmOptions, slurmOptionsRecord } from "./sweep/slurmScript";

const USAGE = `Learning Mechanics ${VERSION}
usage:
  lm train FILE [--system NAME] [--out DIR] [--run-dir DIR] [--backend auto|torch|gpu|native|wasm|cpu] [--steps N]
           [--device cpu|cuda|cuda:N|mps] [--python PATH] [--threads N]   (for torch, and for auto, which may choose it)
  lm resume RUN_DIR [--backend B] [--device D] [--python PATH] [--threads N]
  lm branch RUN_DIR --step K [--data-seed S] [--steps N] [--out DIR | --run-dir DIR] [--allow-changed] [--backend B]
    (a new run from checkpoint K of RUN_DIR: weights, optimizer state, schedule position; --data-seed
    changes the minibatch order only; --steps N, the step it ends at, defaults to the parent's total)
  lm lmc RUN_A RUN_B [--steps-a K] [--steps-b K] [--points 11] [--out FILE] [--allow-changed] [--backend B]
    (linear mode connectivity: train/test loss and error at (1−α)θ_A + αθ_B, and the barrier
    heights; default the last checkpoints; written to RUN_A/lmc/, the file's path on stdout)
  lm instability RUN_DIR --at K1,K2,… [--data-seeds S1,S2] [--points 11] [--out DIR] [--backend B]
    (for each k: two branches at k with data seeds S1, S2 (default 1,2) trained to the end, then lmc
    between them; barrier against k printed and written to DIR/instability.json, DIR on stdout)
  lm list FILE
  lm analyze RUN_DIR [--follow] [--only weights,kernel,fourier,tracin,bif,conservation] [--set ANALYSIS.FIELD=VALUE]… [--file FILE | --run-experiment] [--backend B]
    (the analyses that need the model run the experiment file's code: only with --file FILE, or
    --run-experiment for the file recorded in run.json; without either, only the weight-space one)
  lm sweep FILE [--system NAME] [--out DIR] [--parallel N] [--backend B] [--steps N]
  lm sweep --resume SWEEP_DIR [--parallel N] [--backend B]   (runs the points not finished)
  lm sweep-task SWEEP_DIR INDEX [--backend B]                (trains one point; what a launcher runs)
  lm sweep-status SWEEP_DIR [--json]
  lm sweep FILE … --slurm [--partition P] [--time T] [--gpus G] [--cpus-per-task C] [--mem M] [--account A]
           [--parallel N (the array's throttle)] [--sbatch-arg ARG]…   (one Slurm job array; also with --resume SWEEP_DIR)
  lm sweep-cancel SWEEP_DIR                                  (scancel a Slurm sweep's jobs)
    (a sweep of the system's \`sweep\` field, docs/sweeps.md; --parallel defaults to the cores less one)`;

/**
 * `--set tracin.projectionDim=128` (repeatable) → { tracin: { projectionDim: 128 } }; values are
 * JSON when they parse as JSON. Built on a Map and own properties, so a name such as `constructor`
 * or `__proto__` never reaches a prototype: the analyses' validation reports it as unknown.
 */
function parseSettingOverrides(items: readonly string[]): AnalysesInput {
  const out = new Map<string, Record<string, unknown>>();
  for (const item of items) {
    const m = /^([A-Za-z]+)\.([A-Za-z]+)=(.*)$/s.exec(item);
    const [analysis, field, raw] = [m?.[1], m?.[2], m?.[3]];
    if (analysis === undefined || field === undefined || raw === undefined)
      throw new Error(`--set expects ANALYSIS.FIELD=VALUE, got "${item}"`);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a bare word stays a string
    }
    const section = out.get(analysis) ?? {};
    Object.defineProperty(section, field, { value, enumerable: true, writable: true, configurable: true });
    out.set(analysis, section);
  }
  return Object.fromEntries(out) as AnalysesInput;
}

function printer(): (e: TrainerEvent) => void {
  const tty = process.stderr.isTTY === true;
  let lastPlain = 0;
  let barShown = false;
  // "failed at step N" only describes a run that started; a mistake caught before is its error line alone.
  let started = false;
  const clearBar = () => {
    if (tty && barShown) process.stderr.write("\r\x1b[K");
    barShown = false;
  };
  return (e) => {
    switch (e.type) {
      case "started":
        started = true;
        process.stderr.write(
          `${e.fromStep > 0 ? "resuming" : "training"} ${e.system} (${e.totalSteps} steps) on ${e.backend.name} → ${e.runDir}\n`,
        );
        break;
      case "progress": {
        const line = progressLine(e.step, e.totalSteps, e.loss ?? Number.NaN, e.stepsPerSecond);
        if (tty) {
          process.stderr.write(`\r\x1b[K${line}`);
          barShown = true;
        } else if (Date.now() - lastPlain > 5000 || e.step === e.totalSteps) {
          process.stderr.write(`${line}\n`);
          lastPlain = Date.now();
        }
        break;
      }
      case "log":
        clearBar();
        process.stderr.write(`${e.level === "info" ? "" : `${e.level}: `}${e.message}\n`);
        break;
      case "error":
        clearBar();
        process.stderr.write(errorText(e));
        break;
      case "finished":
        clearBar();
        if (started || e.status !== "failed")
          process.stderr.write(
            `${e.status} at step ${e.step}${e.message && e.status !== "failed" ? `: ${e.message}` : ""}\n`,
          );
        if (e.runDir) process.stdout.write(`${e.runDir}\n`);
        break;
      default:
        break;
    }
  };
}

const COMMANDS = [
  "train",
  "resume",
  "branch",
  "lmc",
  "instability",
  "list",
  "analyze",
  "sweep",
  "sweep-task",
  "sweep-status",
  "sweep-cancel",
];

/** A whole number ≥ `min` from an option's text, or a usage message naming the option. */
function wholeNumber(option: string, text: string, min: number): number | string {
  const n = Number(text);
  return /^\s*-?\d+\s*$/.test(text) && Number.isSafeInteger(n) && n >= min
    ? n
    : `--${option} must be an integer ≥ ${min}, got "${text}"`;
}

/** A malformed command line: one `error (usage)` line, the usage when it helps; exit code 2. */
function usageError(message: string, withUsage = false): 2 {
  process.stderr.write(`error (usage): ${message}\n${withUsage ? `${USAGE}\n` : ""}`);
  return 2;
}

/** The `lm` command line; throws on an unknown or malformed option. */
function parseCommandLine(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      system: { type: "string", short: "s" },
      out: { type: "string", short: "o" },
      "run-dir": { type: "string" },
      backend: { type: "string", short: "b" },
      device: { type: "string" },
      python: { type: "string" },
      threads: { type: "string" },
      steps: { type: "string" },
      follow: { type: "boolean" },
      only: { type: "string" },
      set: { type: "string", multiple: true },
      file: { type: "string" },
      "run-experiment": { type: "boolean" },
      parallel: { type: "string" },
      resume: { type: "boolean" },
      json: { type: "boolean" },
      slurm: { type: "boolean" },
      partition: { type: "string" },
      time: { type: "string" },
      gpus: { type: "string" },
      "cpus-per-task": { type: "string" },
      mem: { type: "string" },
      account: { type: "string" },
      "sbatch-arg": { type: "string", multiple: true },
      step: { type: "string" },
      "data-seed": { type: "string" },
      "allow-changed": { type: "boolean" },
      "steps-a": { type: "string" },
      "steps-b": { type: "string" },
      points: { type: "string" },
      at: { type: "string" },
      "data-seeds": { type: "string" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
    },
  });
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (e) {
    return usageError((e as Error).message, true);
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const [command, target] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (!COMMANDS.includes(command))
    return usageError(`unknown command "${command}" (expected ${COMMANDS.join(", ")})`, true);
  if (!target) {
    const missing =
      command === "lmc"
        ? "RUN_A"
        : command === "resume" || command === "analyze" || command === "branch" || command === "instability"
          ? "RUN_DIR"
          : command.startsWith("sweep-") || values.resume
            ? "SWEEP_DIR"
            : "FILE";
    return usageError(`${command}: missing ${missing}`, true);
  }
  const sweepOnly = (["parallel", "resume", "json"] as const).find(
    (f) => values[f] !== undefined && !(command === "sweep" || (f === "json" && command === "sweep-status")),
  );
  if (sweepOnly)
    return usageError(`--${sweepOnly} applies to ${sweepOnly === "json" ? "sweep-status" : "sweep"}, not ${command}`);
  if (command === "sweep-status") return sweepStatusCommand(target, values.json === true);
  if (command === "sweep-cancel") return sweepUsageOr(() => cancelCommand(resolve(target), slurmContext(__filename)));
  // --slurm and sbatch's options: only for `lm sweep`, and checked (sbatch on PATH) before anything is created.
  let slurm: SlurmOptions | undefined;
  const slurmFlag = (["slurm", ...SLURM_FLAGS] as const).find((f) => values[f] !== undefined);
  if (slurmFlag !== undefined) {
    if (command !== "sweep") return usageError(`--${slurmFlag} applies to sweep --slurm, not ${command}`);
    try {
      slurm = slurmPreflight(values);
    } catch (e) {
      return sweepUsage(e);
    }
  }

  if (command === "list") {
    const { result } = await runJob({ kind: "list", file: target }, () => {});
    if (result.kind !== "list") {
      if (result.kind === "listFailed") process.stderr.write(errorText(result.error));
      return 1;
    }
    const { systems } = result.listed;
    if (systems.length === 0) process.stderr.write(`${target} exports no model system\n`);
    for (const s of systems) {
      const where = s.location ? `  (line ${s.location.line})` : "";
      process.stdout.write(`${s.name}\t${s.description}${where}\n`);
      if (s.sweep) process.stdout.write(`  sweep: ${s.sweep.text}\n`);
      for (const p of s.problems) process.stdout.write(`  ✗ ${p.path}: ${p.message}\n`);
    }
    return systems.some((s) => s.problems.length) ? 1 : 0;
  }

  if (command === "lmc") return lmcCommand(target, positionals[2], values);
  if (command === "instability") return instabilityCommand(target, values);

  if (command === "analyze") {
    let request: AnalyzeRequest;
    try {
      request = { runDir: target, follow: values.follow === true, overrides: parseSettingOverrides(values.set ?? []) };
      if (values.only) {
        const only = values.only.split(",").map((s) => s.trim());
        const bad = only.filter((n) => !(ANALYSIS_NAMES as readonly string[]).includes(n));
        if (bad.length)
          throw new Error(`--only: unknown analysis ${bad.join(", ")} (expected ${ANALYSIS_NAMES.join(", ")})`);
        request.only = only as AnalysisName[];
      }
      if (values.file) request.file = values.file;
      if (values["run-experiment"]) request.runExperiment = true;
      if (values.backend) request.backend = values.backend;
    } catch (e) {
      return usageError((e as Error).message);
    }
    const print = printer();
    const { result, interrupted } = await runJob({ kind: "analyze", request }, (e) => {
      if (e.type === "analysis") process.stderr.write(`${e.analysis} step ${e.step} (${e.seconds.toFixed(2)} s)\n`);
      else print(e);
    });
    if (result.kind !== "analyze") return 1;
    const outcome = result.outcome;
    process.stderr.write(
      `analyzer ${outcome.status}: ${outcome.records} records${outcome.message ? ` (${outcome.message})` : ""}\n`,
    );
    if (outcome.status !== "failed") {
      // The summary is extra: a metrics file it cannot read (a FIFO, too large) is said, not fatal.
      try {
        process.stdout.write(analyzeSummary(request.runDir));
      } catch (e) {
        if (!(e instanceof FileRefusedError)) throw e;
        process.stderr.write(`warn: no summary: ${e.message}\n`);
      }
    }
    return interrupted ? 130 : outcome.status === "failed" ? 1 : 0;
  }

  // --device, --python and --threads choose where PyTorch runs: meaningless for a tfjs backend, so a mistake.
  const torchFlag = (["device", "python", "threads"] as const).find((f) => values[f] !== undefined);
  if (torchFlag && values.backend !== undefined && values.backend !== "torch" && values.backend !== "auto") {
    return usageError(`--${torchFlag} applies to --backend torch (or auto), not ${values.backend}`);
  }
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
    return usageError(`--threads must be a positive integer, got "${values.threads}"`);
  }
  const choice = {
    ...(values.backend ? { backend: values.backend } : {}),
    ...(values.device !== undefined ? { device: values.device } : {}),
    ...(values.python !== undefined ? { python: values.python } : {}),
    ...(threads !== undefined ? { threads } : {}),
  };
  const steps = values.steps === undefined ? undefined : Number(values.steps);
  if (steps !== undefined && !(Number.isInteger(steps) && steps >= 1))
    return usageError(`--steps must be a positive integer, got "${values.steps}"`);
  if (command === "sweep") {
    const parallel = values.parallel === undefined ? defaultParallel(availableParallelism()) : Number(values.parallel);
    if (!(Number.isInteger(parallel) && parallel >= 1))
      return usageError(`--parallel must be a positive integer, got "${values.parallel}"`);
    if (values.resume) {
      const extra = (["system", "out", "steps", "run-dir"] as const).find((f) => values[f] !== undefined);
      if (extra) return usageError(`--${extra} does not apply to --resume: the sweep folder records the sweep`);
      return sweepCommand(
        { kind: "resume", dir: target },
        slurm ? { kind: "slurm", options: slurm } : { kind: "local", parallel },
        choice,
      );
    }
    if (values["run-dir"] !== undefined) return usageError("--run-dir does not apply to sweep: use --out DIR");
    const source: SweepSource = { kind: "new", file: target };
    if (values.system) source.system = values.system;
    if (values.out) source.runsRoot = values.out;
    if (steps !== undefined) source.steps = steps;
    return sweepCommand(source, slurm ? { kind: "slurm", options: slurm } : { kind: "local", parallel }, choice);
  }
  if (command === "sweep-task") {
    const index = Number(positionals[2]);
    if (positionals[2] === undefined || !/^\d+$/.test(positionals[2]) || !Number.isSafeInteger(index))
      return usageError(
        `sweep-task: INDEX must be a point's index (0, 1, …), got ${JSON.stringify(positionals[2] ?? "")}`,
        true,
      );
    const extra = (["system", "out", "steps", "run-dir"] as const).find((f) => values[f] !== undefined);
    if (extra) return usageError(`--${extra} does not apply to sweep-task: the sweep folder records the sweep`);
    return sweepTaskCommand(target, index, choice);
  }
  let request: RunRequest;
  if (command === "train") {
    request = { kind: "train", file: target, ...choice };
    if (values.system) request.system = values.system;
    if (values.out) request.runsRoot = values.out;
    if (values["run-dir"]) request.runDir = values["run-dir"];
    if (steps !== undefined) request.steps = steps;
  } else if (command === "resume") {
    request = { kind: "resume", runDir: target, ...choice };
  } else if (command === "branch") {
    if (values.step === undefined)
      return usageError("branch: missing --step K (the parent's checkpoint to start from)");
    const step = wholeNumber("step", values.step, 0);
    if (typeof step === "string") return usageError(step);
    request = { kind: "branch", parentDir: target, step, ...choice };
    if (values["data-seed"] !== undefined) {
      const seed = wholeNumber("data-seed", values["data-seed"], 0);
      if (typeof seed === "string") return usageError(seed);
      request.dataSeed = seed;
    }
    if (values.steps !== undefined) {
      const n = wholeNumber("steps", values.steps, 1);
      if (typeof n === "string") return usageError(n);
      request.steps = n;
    }
    if (values.out) request.runsRoot = values.out;
    if (values["run-dir"]) request.runDir = values["run-dir"];
    if (values["allow-changed"]) request.allowChanged = true;
  } else {
    return usageError(`unknown command "${command}"`, true);
  }
  return trainCommand(request);
}

/** Trains or resumes one run in the worker, printing progress; the run folder on stdout; the CLI's exit code. */
async function trainCommand(request: RunRequest): Promise<number> {
  const print = printer();
  let ended: (TrainerEvent & { type: "finished" }) | undefined;
  const { result, interrupted } = await runJob(
    { kind: "run", request },
    (e) => {
      if (e.type === "finished") ended = e;
      print(e);
    },
    "stopping after this step (Ctrl-C again to quit at once)…",
  );
  if (result.kind !== "run") return 1;
  // What the run came to, on stderr (stdout stays the run folder's path alone, for scripts).
  if (ended?.runDir && !interrupted && (ended.status === "finished" || ended.status === "stopped")) {
    try {
      process.stderr.write(trainSummary(ended.runDir));
    } catch (e) {
      if (!(e instanceof FileRefusedError)) throw e;
      process.stderr.write(`warn: no summary: ${e.message}\n`);
    }
  }
  return interrupted ? 130 : result.outcome.exitCode;
}

/** Where a sweep's points come from: a new sweep of a file's system, or the folder of one to resume. */
type SweepSource =
  | { kind: "new"; file: string; system?: string; runsRoot?: string; steps?: number }
  | { kind: "resume"; dir: string };

/**
 * Who runs the points. Local: child processes here, at most `parallel` at once (sweep/local.ts).
 * A launcher is one more case here and one module beside local.ts.
 */
type SweepLauncherChoice = { kind: "local"; parallel: number } | { kind: "slurm"; options: SlurmOptions };

/** A user's mistake found by the sweep modules (not a sweep folder, an index out of range): its line and exit code. */
function sweepUsage(e: unknown): number {
  if (!(e instanceof UsageError)) throw e;
  process.stderr.write(errorText({ kind: "usage", message: e.message }));
  return e.exitCode;
}

/** Runs a sweep command, its user's mistakes (UsageError) printed as such. */
function sweepUsageOr(command: () => number): number {
  try {
    return command();
  } catch (e) {
    return sweepUsage(e);
  }
}

/**
 * `lm sweep`: plans a new sweep (in the worker: the experiment's code runs there) and creates its
 * folder, or takes the folder of one to resume; prints the folder on stdout; runs the points not
 * done. Exit code: 0 every point finished (or diverged), 1 one failed, 130 stopped before the end.
 */
async function sweepCommand(source: SweepSource, launcher: SweepLauncherChoice, backend: TaskBackend): Promise<number> {
  let dir: string;
  if (source.kind === "new") {
    const request: SweepPlanRequest = { file: source.file };
    if (source.system !== undefined) request.system = source.system;
    if (source.steps !== undefined) request.steps = source.steps;
    const { result, interrupted } = await runJob({ kind: "sweepPlan", request }, printer());
    if (interrupted) return 130;
    if (result.kind === "sweepPlanFailed") {
      process.stderr.write(errorText(result.error));
      return result.exitCode;
    }
    if (result.kind !== "sweepPlan") return 1;
    const created = createSweepFolder({
      runsRoot: source.runsRoot ?? "runs",
      experiment: result.experiment,
      system: result.system,
      plan: result.plan,
      launcher:
        launcher.kind === "slurm"
          ? { kind: "slurm", jobIds: [], options: slurmOptionsRecord(launcher.options) }
          : { kind: "local", parallel: launcher.parallel },
      ...(source.steps === undefined ? {} : { steps: source.steps }),
    });
    dir = created.dir;
  } else {
    dir = resolve(source.dir);
    try {
      loadSweep(dir);
      const held = launcher.kind === "local" ? localResumeProblem(dir, slurmContext(__filename)) : undefined;
      if (held !== undefined) throw new UsageError(held, 1);
    } catch (e) {
      return sweepUsage(e);
    }
  }
  if (launcher.kind === "slurm") {
    const { options } = launcher;
    return sweepUsageOr(() => submitCommand(dir, options, slurmContext(__filename, taskArgsOf(backend))));
  }
  process.stdout.write(`${dir}\n`);
  const todo = pointsToRun(dir);
  const total = loadSweep(dir).points.length;
  process.stderr.write(
    `sweep of ${total} point${total === 1 ? "" : "s"} → ${dir}\n${todo.length === total ? "" : `${total - todo.length} already done; `}running ${todo.length}, at most ${launcher.parallel} at once\n`,
  );
  const handle = runLocalSweep(dir, todo, {
    parallel: launcher.parallel,
    cli: __filename,
    backend,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      if (signal === "SIGINT")
        process.stderr.write("\nstopping the sweep (Ctrl-C again to end the running points at once)…\n");
      handle.stop();
    } else handle.kill();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let outcome: Awaited<typeof handle.done>;
  try {
    outcome = await handle.done;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  const counts = reconcile(dir).points.reduce<Record<string, number>>((c, p) => {
    c[p.status] = (c[p.status] ?? 0) + 1;
    return c;
  }, {});
  process.stderr.write(
    `sweep: ${Object.entries(counts)
      .map(([k, n]) => `${n} ${k}`)
      .join(", ")}${outcome.stopped ? ` (stopped: lm sweep --resume ${dir} runs the rest)` : ""}\n`,
  );
  if ((counts["failed"] ?? 0) > 0) return 1;
  return outcome.stopped || total !== (counts["finished"] ?? 0) + (counts["diverged"] ?? 0) ? 130 : 0;
}

/** `lm sweep-task SWEEP_DIR INDEX`: trains one point (or finds it done); its status in sweep.json follows. */
async function sweepTaskCommand(dir: string, index: number, backend: TaskBackend): Promise<number> {
  let task: ReturnType<typeof prepareSweepTask>;
  try {
    task = prepareSweepTask(dir, index, backend);
  } catch (e) {
    return sweepUsage(e);
  }
  if (task.kind === "done") {
    process.stderr.write(`sweep point ${index} already ${task.status} at step ${task.step}: nothing to do\n`);
    process.stdout.write(`${task.runDir}\n`);
    return 0;
  }
  try {
    return await trainCommand(task.request);
  } finally {
    finishSweepTask(dir, index);
  }
}

/** `lm sweep-status SWEEP_DIR [--json]`. */
function sweepStatusCommand(dir: string, json: boolean): number {
  let status: ReturnType<typeof withSlurmStatus>;
  try {
    // A Slurm sweep's statuses come from squeue and the tasks' logs too (sweep/slurmCli.ts).
    status = withSlurmStatus(sweepStatus(resolve(dir)), slurmContext(__filename));
  } catch (e) {
    return sweepUsage(e);
  }
  process.stdout.write(
    json ? `${JSON.stringify(status, null, 2)}\n` : formatSweepStatus(status) + slurmStatusLines(status),
  );
  return 0;
}

/** `lm lmc RUN_A RUN_B`: the interpolation in the job worker (it runs run A's experiment code). */
async function lmcCommand(
  runA: string,
  runB: string | undefined,
  values: ReturnType<typeof parseCommandLine>["values"],
): Promise<number> {
  if (runB === undefined) return usageError("lmc: missing RUN_B", true);
  const request: LmcRequest = { runA, runB };
  for (const [option, key, min] of [
    ["steps-a", "stepA", 0],
    ["steps-b", "stepB", 0],
    ["points", "points", 2],
  ] as const) {
    const text = values[option];
    if (text === undefined) continue;
    const n = wholeNumber(option, text, min);
    if (typeof n === "string") return usageError(n);
    request[key] = n;
  }
  if (values.out) request.out = values.out;
  if (values.backend) request.backend = values.backend;
  if (values["allow-changed"]) request.allowChanged = true;
  const print = printer();
  const { result } = await runJob({ kind: "lmc", request }, print);
  if (result.kind !== "lmc") return 1;
  if (!result.outcome.ok) {
    process.stderr.write(errorText(result.outcome.error));
    return 1;
  }
  const { path, record } = result.outcome.lmc;
  process.stderr.write(lmcSummary(record));
  process.stdout.write(`${path}\n`);
  return 0;
}

/** A comma-separated list of whole numbers ≥ 0, or a usage message naming the option. */
function wholeNumbers(option: string, text: string): number[] | string {
  const items = text.split(",").map((t) => wholeNumber(option, t.trim(), 0));
  const bad = items.find((x) => typeof x === "string");
  return typeof bad === "string" ? bad : (items as number[]);
}

/** `lm instability RUN --at …`: branches and interpolations as child `lm` processes, one after another. */
async function instabilityCommand(
  runDir: string,
  values: ReturnType<typeof parseCommandLine>["values"],
): Promise<number> {
  if (values.at === undefined)
    return usageError("instability: missing --at K1,K2,… (the parent's checkpoints to branch at)");
  const at = wholeNumbers("at", values.at);
  if (typeof at === "string") return usageError(at);
  const seeds = wholeNumbers("data-seeds", values["data-seeds"] ?? "1,2");
  if (typeof seeds === "string") return usageError(seeds);
  if (seeds.length !== 2 || seeds[0] === seeds[1])
    return usageError(`--data-seeds must be two different seeds, got "${values["data-seeds"]}"`);
  const request: InstabilityRequest = {
    runDir,
    at: [...new Set(at)].sort((a, b) => a - b),
    dataSeeds: [seeds[0]!, seeds[1]!],
  };
  if (values.out) request.out = values.out;
  if (values.backend) request.backend = values.backend;
  if (values.points !== undefined) {
    const n = wholeNumber("points", values.points, 2);
    if (typeof n === "string") return usageError(n);
    request.points = n;
  }
  try {
    const { path, record } = await runInstability(request, childLm(__filename), (line) =>
      process.stderr.write(`${line}\n`),
    );
    process.stderr.write(instabilityTable(record));
    process.stdout.write(`${dirname(path)}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(errorText({ kind: "usage", message: e.message }));
    return 1;
  }
}

/**
 * Runs a job in the worker with signals wired: the first SIGINT or SIGTERM asks for a graceful
 * stop, a second one terminates the worker (`interrupted`: exit code 130).
 */
async function runJob(
  job: Job,
  emit: (e: TrainerEvent) => void,
  stopNote?: string,
): Promise<{ result: JobResult; interrupted: boolean }> {
  const handle: JobHandle = startJob(job, { emit, output: (_stream, text) => process.stderr.write(text) });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      if (stopNote && signal === "SIGINT") process.stderr.write(`\n${stopNote}\n`);
      handle.stop();
    } else handle.kill();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const result = await handle.done;
    return { result, interrupted: signals > 1 };
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

if (require.main === module) {
  // Exit once the work is done and stdout is flushed, whatever the experiment left scheduled.
  const exit = (code: number) => process.stdout.write("", () => process.exit(code));
  main(process.argv.slice(2)).then(exit, (e: unknown) => {
    process.stderr.write(
      errorText({ kind: "internal", message: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
    );
    exit(1);
  });
}
