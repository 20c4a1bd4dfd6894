// Headless CLI on the same code as the sidecar:
//   lm train FILE [--system NAME] [--out DIR] [--run-dir DIR] [--backend auto|torch|gpu|native|wasm|cpu] [--device D] [--python PATH] [--threads N] [--steps N]
//   lm resume RUN_DIR [--backend B] [--device D] [--python PATH] [--threads N]
//   lm branch RUN_DIR --step K [--data-seed S] [--steps N] [--out DIR | --run-dir DIR] [--allow-changed] [--backend B]
//   lm lmc RUN_A RUN_B [--steps-a K] [--steps-b K] [--points N] [--out FILE] [--allow-changed] [--backend B]
//   lm instability RUN_DIR --at K1,K2,… [--data-seeds S1,S2] [--points N] [--out DIR] [--backend B]
//   lm intervene RUN_DIR --step K (--remove IDX,… | --upweight IDX,… --weight W | --move IDX,… --from S | --before S) [--top-proponents N …]
//   lm calibrate RUN_DIR --step K --fraction F --subsets M [--parallel N | --slurm …]   (docs/interventions.md)
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
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { ANALYSIS_NAMES, type AnalysesInput, type AnalysisName } from "../sdk/spec";
import { FileRefusedError } from "../shared/safeRead";
import type { AnalyzeRequest } from "./analyzer/index";
import { instabilityCommand, lmcCommand } from "./commands/branching";
import { calibrateCommand } from "./commands/calibrate";
import { interveneCommand } from "./commands/intervene";
import { impCommand, impTaskCommand } from "./commands/imp";
import { COMMANDS, isCommand, misplacedOption, parseCommandLine, targetName, USAGE } from "./commands/commandLine";
import { printer, runJob, usageError, userMistake, userMistakeOr, wholeNumber } from "./commands/output";
import { type SweepSource, sweepCommand, sweepStatusCommand, sweepTaskCommand } from "./commands/sweep";
import { trainCommand } from "./commands/train";
import type { RunRequest } from "./session";
import { errorText } from "./progress";
import { analyzeSummary } from "./summary";
import { VERSION } from "./version";
import { defaultParallel } from "./sweep/local";
import { cancelCommand, SLURM_FLAGS, slurmContext, slurmPreflight } from "./sweep/slurmCli";
import type { SlurmOptions } from "./sweep/slurmScript";

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
  if (!isCommand(command)) return usageError(`unknown command "${command}" (expected ${COMMANDS.join(", ")})`, true);
  if (!target) return usageError(`${command}: missing ${targetName(command, values.resume === true)}`, true);
  const misplaced = misplacedOption(command, values);
  if (misplaced !== undefined) return usageError(misplaced);
  if (command === "sweep-status") return sweepStatusCommand(target, values.json === true, __filename);
  if (command === "sweep-cancel") return userMistakeOr(() => cancelCommand(resolve(target), slurmContext(__filename)));
  // --slurm and sbatch's options (sweep and calibrate): checked (sbatch on PATH) before anything is created.
  let slurm: SlurmOptions | undefined;
  const slurmFlag = (["slurm", ...SLURM_FLAGS] as const).find((f) => values[f] !== undefined);
  if (slurmFlag !== undefined) {
    try {
      slurm = slurmPreflight(values);
    } catch (e) {
      return userMistake(e);
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
  if (command === "instability") return instabilityCommand(target, __filename, values);
  if (command === "intervene") return interveneCommand(target, values);

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
  if (command === "sweep" || command === "calibrate") {
    const parallel = values.parallel === undefined ? defaultParallel(availableParallelism()) : Number(values.parallel);
    if (!(Number.isInteger(parallel) && parallel >= 1))
      return usageError(`--parallel must be a positive integer, got "${values.parallel}"`);
    if (command === "calibrate")
      return calibrateCommand(
        target,
        values,
        slurm ? { kind: "slurm", options: slurm } : { kind: "local", parallel },
        choice,
        __filename,
      );
    if (values.resume) {
      const extra = (["system", "out", "steps", "run-dir"] as const).find((f) => values[f] !== undefined);
      if (extra) return usageError(`--${extra} does not apply to --resume: the sweep folder records the sweep`);
      return sweepCommand(
        { kind: "resume", dir: target },
        slurm ? { kind: "slurm", options: slurm } : { kind: "local", parallel },
        choice,
        __filename,
      );
    }
    const source: SweepSource = { kind: "new", file: target };
    if (values.system) source.system = values.system;
    if (values.out) source.runsRoot = values.out;
    if (steps !== undefined) source.steps = steps;
    return sweepCommand(
      source,
      slurm ? { kind: "slurm", options: slurm } : { kind: "local", parallel },
      choice,
      __filename,
    );
  }
  if (command === "imp") return impCommand(target, values, __filename);
  if (command === "imp-task") {
    const index = Number(positionals[2]);
    if (positionals[2] === undefined || !/^\d+$/.test(positionals[2]) || !Number.isSafeInteger(index))
      return usageError(
        `imp-task: INDEX must be a run's index (0, 1, …), got ${JSON.stringify(positionals[2] ?? "")}`,
        true,
      );
    return impTaskCommand(target, index, choice);
  }
  if (command === "sweep-task") {
    const index = Number(positionals[2]);
    if (positionals[2] === undefined || !/^\d+$/.test(positionals[2]) || !Number.isSafeInteger(index))
      return usageError(
        `sweep-task: INDEX must be a point's index (0, 1, …), got ${JSON.stringify(positionals[2] ?? "")}`,
        true,
      );
    return sweepTaskCommand(target, index, choice);
  }
  let request: RunRequest;
  if (command === "train") {
    request = { kind: "train", file: target, ...choice };
    if (values.system) request.system = values.system;
    if (values.out) request.runsRoot = values.out;
    if (values["run-dir"]) request.runDir = values["run-dir"];
    if (steps !== undefined) request.steps = steps;
    if (values.mask !== undefined) request.mask = values.mask;
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
    if (values.mask !== undefined) request.mask = values.mask;
  } else {
    return usageError(`unknown command "${command}"`, true);
  }
  return trainCommand(request);
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
