// What the CLI and the sidecar share: listing the systems of a file, and running one train or
// resume request end to end, with every failure turned into a protocol `error` event.
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type SweepPlan, sweepSize } from "../sdk/sweep";
import { describeSystem, validateSystem } from "../sdk/validate";
import type { InterventionChange } from "../shared/interventionFormat";
import type { RunSweepPoint } from "../shared/runFormat";
import { RunLockedError } from "../shared/runLock";
import { FileRefusedError } from "../shared/safeRead";
import { SafetensorsError } from "../shared/safetensors";
import type { Location, SystemSummary, TrainerEvent } from "../shared/trainerProtocol";
import { analyzeRun, type AnalyzeOutcome, type AnalyzeRequest } from "./analyzer/index";
import { BackendError, defaultCandidates, parseBackendRequest } from "./backend";
import { ConfigError, type Emit, SystemError, UsageError } from "./errors";
import { ExperimentError, loadExperiment, locationInStack, type LoadedExperiment } from "./loadExperiment";
import { newRunId, RunFolder } from "./runFolder";
import { chooseSystem, validatedSystem } from "./systems";
import { TorchUnsupportedError } from "./torch/exchange";
import { WorkerRunError } from "./torch/relay";
import { type BranchStart, train, TrainingFailure, type TrainOutcome } from "./train";
import { chooseTrainingBackend, parseDevice } from "./trainingBackend";

export type ErrorEvent = Extract<TrainerEvent, { type: "error" }>;

/** `python`, `device` and `threads` matter to the torch backend only (and to `auto`, which may choose it). */
interface BackendChoice {
  backend?: string;
  python?: string;
  device?: string;
  threads?: number;
}

export type RunRequest =
  | ({
      kind: "train";
      file: string;
      system?: string;
      runsRoot?: string;
      runDir?: string;
      steps?: number;
      /** One point of the system's sweep (`lm sweep-task`): its values and seed, recorded in run.json. */
      sweepPoint?: RunSweepPoint;
      /** A mask file (masks.ts): the run's weights outside the mask are zero and stay zero. */
      mask?: string;
    } & BackendChoice)
  | ({ kind: "resume"; runDir: string } & BackendChoice)
  | ({
      /** `lm branch`: a new run from checkpoint `step` of the run in `parentDir` (docs/branching.md). */
      kind: "branch";
      parentDir: string;
      step: number;
      dataSeed?: number;
      steps?: number;
      /** Where the branch's folder goes: `runDir` itself, or a new folder in `runsRoot` (default: beside the parent). */
      runsRoot?: string;
      runDir?: string;
      allowChanged?: boolean;
      /** `lm intervene`: what happens to which examples in the branch (docs/interventions.md). */
      intervention?: InterventionChange;
      /** A mask file for the branch (default: the parent's mask, if it has one). */
      mask?: string;
    } & BackendChoice);

export async function listSystems(file: string): Promise<{ file: string; systems: SystemSummary[] }> {
  const experiment = await loadExperiment(file);
  return { file: experiment.file, systems: summarize(experiment) };
}

export function summarize(experiment: LoadedExperiment): SystemSummary[] {
  return experiment.systems.map(({ name, system }) => {
    const location = system.definedAt;
    const result = validateSystem(system.input);
    const base = location ? { name, location } : { name };
    if (result.ok) {
      const sweep =
        system.input.sweep === undefined || result.sweep === undefined ? {} : { sweep: sweepSize(system.input.sweep) };
      const { seed, steps, checkpointEvery } = result.spec;
      return {
        ...base,
        description: describeSystem(result.spec),
        problems: [],
        ...sweep,
        training: { seed, steps, checkpointEvery },
      };
    }
    return {
      ...base,
      description: "invalid config",
      problems: result.problems.map((p) => (location && !p.location ? { ...p, location } : p)),
    };
  });
}

/** What `lm sweep FILE` needs before it creates the sweep folder: the system's sweep, expanded and checked. */
export interface SweepPlanRequest {
  file: string;
  system?: string;
  /** Overrides the system's `steps` (a swept `steps` still wins at its points). */
  steps?: number;
}

export type SweepPlanResult =
  | { kind: "sweepPlan"; experiment: string; system: string; plan: SweepPlan }
  | { kind: "sweepPlanFailed"; error: ErrorEvent; exitCode: 1 | 2 };

/** Loads the experiment and expands the chosen system's sweep; every failure is an error event. Never throws. */
export async function planSweep(request: SweepPlanRequest): Promise<SweepPlanResult> {
  const file = resolve(request.file);
  try {
    const experiment = await loadExperiment(file);
    const found = chooseSystem(experiment, request.system);
    // Every problem, each point's included, named at the modelSystem(...) call.
    const result = validatedSystem(found, { steps: request.steps });
    if (result.sweep === undefined)
      throw new UsageError(
        `model system "${found.name}" declares no sweep: add sweep: { grid: { "path": [values] } } to its modelSystem({...}) (docs/sweeps.md), or train it with lm train`,
        1,
      );
    return { kind: "sweepPlan", experiment: experiment.file, system: found.name, plan: result.sweep };
  } catch (e) {
    return { kind: "sweepPlanFailed", error: errorEvent(e, file), exitCode: exitCodeOf(e) };
  }
}

/** The CLI's exit code for a failure: 2 for a command line that is incomplete or malformed, 1 otherwise. */
export function exitCodeOf(e: unknown): 1 | 2 {
  return e instanceof UsageError ? e.exitCode : 1;
}

/** Turns any failure into an `error` event: kind, message, and the user-code location when known. */
export function errorEvent(e: unknown, experimentFile?: string): ErrorEvent {
  if (e instanceof TrainingFailure) {
    const event = errorEvent(e.original, experimentFile);
    // The failure's own message adds what the original cannot know (the step reached, the intact checkpoints).
    return event.kind === "io" ? { ...event, message: e.message } : event;
  }
  if (e instanceof ConfigError) {
    return {
      type: "error",
      kind: "config",
      message: e.message,
      problems: e.problems,
      ...(e.location ? { location: e.location } : {}),
    };
  }
  if (e instanceof SystemError)
    return { type: "error", kind: "config", message: e.message, problems: [{ path: e.path, message: e.message }] };
  if (e instanceof UsageError || e instanceof RunLockedError)
    return { type: "error", kind: "usage", message: e.message };
  if (e instanceof ExperimentError)
    return { type: "error", kind: e.kind, message: e.message, ...(e.location ? { location: e.location } : {}) };
  if (e instanceof BackendError || e instanceof TorchUnsupportedError)
    return { type: "error", kind: "backend", message: e.message };
  if (e instanceof WorkerRunError)
    return {
      type: "error",
      kind: e.kind === "io" ? "io" : e.kind === "device" ? "backend" : "internal",
      message: e.message,
    };
  // A file of the run folder that cannot be used (a truncated checkpoint, a FIFO): named, no stack.
  if (e instanceof FileRefusedError || e instanceof SafetensorsError)
    return { type: "error", kind: "io", message: e.message };
  const err = e instanceof Error ? e : new Error(String(e));
  if ("code" in err && typeof err.code === "string" && /^E[A-Z]+$/.test(err.code))
    return { type: "error", kind: "io", message: err.message };
  // Thrown from user code (a custom task or model) while training: point at it.
  // The cause's stack too: a wrapper such as "custom task …: generate threw" keeps the user's frame there.
  const cause: unknown = err.cause;
  const location: Location | undefined = experimentFile
    ? (locationInStack(err.stack, experimentFile) ??
      (cause instanceof Error ? locationInStack(cause.stack, experimentFile) : undefined))
    : undefined;
  if (location)
    return {
      type: "error",
      kind: "runtime",
      message: `${location.file}:${location.line}:${location.column}: ${err.message}`,
      location,
    };
  return { type: "error", kind: "internal", message: err.stack ?? err.message };
}

/** What a train or resume request came to, with the CLI's exit code (README, "The command line"). */
export interface RunOutcome extends TrainOutcome {
  exitCode: 0 | 1 | 2 | 3;
}

function outcomeExitCode(status: TrainOutcome["status"]): RunOutcome["exitCode"] {
  return status === "failed" ? 1 : status === "diverged" ? 3 : 0;
}

/**
 * Runs a request to completion. Emits `started`, progress, metrics, checkpoints, then `finished`
 * (also after an error, with status "failed" and the step reached). Never throws.
 */
export async function runRequest(request: RunRequest, emitEvent: Emit, shouldStop: () => boolean): Promise<RunOutcome> {
  let experimentFile: string | undefined;
  let runDir: string | undefined;
  // Whether the run started: a failure before names no run folder (not even a resume's, which may not be a run).
  let started = false;
  const emit: Emit = (e) => {
    if (e.type === "started") started = true;
    emitEvent(e);
  };
  try {
    let system: string | undefined;
    let branch: BranchStart | undefined;
    if (request.kind === "branch") {
      const parentDir = resolve(request.parentDir);
      const parent = new RunFolder(parentDir).readManifest();
      if (parent.experiment === undefined)
        throw new UsageError(
          `${parentDir} records no experiment file (run.json has no "experiment"), so it cannot be branched`,
          1,
        );
      experimentFile = parent.experiment.path;
      system = parent.system;
      branch = {
        parentDir,
        parent,
        step: request.step,
        ...(request.dataSeed !== undefined ? { dataSeed: request.dataSeed } : {}),
        ...(request.allowChanged ? { allowChanged: true } : {}),
        ...(request.intervention ? { intervention: request.intervention } : {}),
      };
    } else if (request.kind === "resume") {
      runDir = resolve(request.runDir);
      const manifest = new RunFolder(runDir).readManifest();
      if (manifest.experiment === undefined)
        throw new UsageError(
          `${runDir} records no experiment file (run.json has no "experiment"), so it cannot be resumed`,
          1,
        );
      experimentFile = manifest.experiment.path;
      system = manifest.system;
    } else {
      experimentFile = resolve(request.file);
    }
    // Checked before the experiment's code runs: a typo in the backend's name is a usage error.
    const backendWanted = parseBackendRequest(request.backend);
    const device = parseDevice(request.device);
    if (request.threads !== undefined && !(Number.isInteger(request.threads) && request.threads >= 1)) {
      throw new UsageError(`threads must be a positive integer, got ${JSON.stringify(request.threads)}`);
    }
    const experiment = await loadExperiment(experimentFile);
    const found = chooseSystem(experiment, request.kind === "train" ? request.system : system);
    system = found.name;
    if (request.kind === "train")
      runDir = resolve(request.runDir ?? resolve(request.runsRoot ?? "runs", newRunId(system)));
    if (request.kind === "branch" && branch)
      runDir = resolve(request.runDir ?? resolve(request.runsRoot ?? dirname(branch.parentDir), newRunId(system)));
    if (runDir === undefined) throw new Error("no run folder was chosen");
    // Chosen before anything is written: a missing Python, PyTorch or device leaves no run folder.
    const chosen = await chooseTrainingBackend(backendWanted, {
      python: request.python,
      device,
      system: { name: found.name, model: found.system.input.model },
      candidates: defaultCandidates(experimentFile),
    });
    const backend = chosen.info;
    const where = backend.device ? ` on ${backend.device}` : "";
    emit({ type: "log", level: "info", message: `backend: ${backend.name}${where} (${backend.reason})` });
    const outcome = await train({
      experiment,
      system,
      runDir,
      backend,
      ...(chosen.kind === "torch"
        ? { torch: { ...chosen.torch, ...(request.threads !== undefined ? { threads: request.threads } : {}) } }
        : {}),
      emit,
      shouldStop,
      resume: request.kind === "resume",
      ...(request.kind !== "resume" && request.steps !== undefined ? { steps: request.steps } : {}),
      ...(request.kind === "train" && request.sweepPoint !== undefined ? { sweepPoint: request.sweepPoint } : {}),
      ...(branch ? { branch } : {}),
      ...(request.kind !== "resume" && request.mask !== undefined ? { mask: resolve(request.mask) } : {}),
    });
    emit({
      type: "finished",
      status: outcome.status,
      step: outcome.step,
      runDir,
      ...(outcome.message ? { message: outcome.message } : {}),
    });
    return { ...outcome, exitCode: outcomeExitCode(outcome.status) };
  } catch (e) {
    const event = errorEvent(e, experimentFile);
    const step = e instanceof TrainingFailure ? e.step : 0;
    emit(event);
    // The run folder is named only if the run started in it (a config refused before training creates none).
    const folder = started && runDir !== undefined && existsSync(runDir) ? { runDir } : {};
    emit({ type: "finished", status: "failed", step, ...folder, message: event.message });
    return { status: "failed", step, message: event.message, exitCode: exitCodeOf(e) };
  }
}

/** Runs the analyzer on a run folder; ends with `analyzerFinished` (after an `error` if it failed). Never throws. */
export async function analyzeRequest(
  request: AnalyzeRequest,
  emit: Emit,
  shouldStop: () => boolean,
): Promise<AnalyzeOutcome> {
  const runDir = resolve(request.runDir);
  let experimentFile = request.file;
  if (experimentFile === undefined && request.runExperiment) {
    try {
      experimentFile = new RunFolder(runDir).readManifest().experiment?.path;
    } catch {
      // not a run folder: analyzeRun says so
    }
  }
  // Counted here too, so a failure still reports the records written before it.
  let written = 0;
  const counted: Emit = (e) => {
    if (e.type === "analysis") written++;
    emit(e);
  };
  try {
    const outcome = await analyzeRun(request, counted, shouldStop);
    emit({
      type: "analyzerFinished",
      status: outcome.status,
      runDir,
      records: outcome.records,
      ...(outcome.message ? { message: outcome.message } : {}),
    });
    return outcome;
  } catch (e) {
    const event = errorEvent(e, experimentFile);
    emit(event);
    emit({ type: "analyzerFinished", status: "failed", runDir, records: written, message: event.message });
    return { status: "failed", records: written, message: event.message };
  }
}
