// What the CLI and the sidecar share: listing the systems of a file, and running one train or
// resume request end to end, with every failure turned into a protocol `error` event.
import { resolve } from "node:path";
import { describeSystem, validateSystem } from "../sdk/validate";
import type { Location, SystemSummary, TrainerEvent } from "../shared/trainerProtocol";
import { BACKEND_REQUESTS, BackendError, defaultCandidates, selectBackend, type BackendRequest } from "./backend";
import { ExperimentError, loadExperiment, locationInStack, type LoadedExperiment } from "./loadExperiment";
import { newRunId, RunFolder } from "./runFolder";
import { analyzeRun, type AnalyzeOutcome, type AnalyzeRequest } from "./analyzer/index";
import { ConfigError, train, type Emit, type TrainOutcome } from "./train";
import { UsageError } from "./errors";
import { RunLockedError } from "../shared/runLock";

export type RunRequest =
  | { kind: "train"; file: string; system?: string; runsRoot?: string; runDir?: string; backend?: string; steps?: number }
  | { kind: "resume"; runDir: string; backend?: string };

export async function listSystems(file: string): Promise<{ file: string; systems: SystemSummary[] }> {
  const experiment = await loadExperiment(file);
  return { file: experiment.file, systems: summarize(experiment) };
}

export function summarize(experiment: LoadedExperiment): SystemSummary[] {
  return experiment.systems.map(({ name, system }) => {
    const location = system.definedAt;
    const result = validateSystem(system.input);
    const base = location ? { name, location } : { name };
    if (result.ok) return { ...base, description: describeSystem(result.spec), problems: [] };
    return { ...base, description: "invalid config", problems: result.problems.map((p) => (location && !p.location ? { ...p, location } : p)) };
  });
}

/** Turns any failure into an `error` event: kind, message, and the user-code location when known. */
export function errorEvent(e: unknown, experimentFile?: string): Extract<TrainerEvent, { type: "error" }> {
  if (e instanceof ConfigError) {
    return { type: "error", kind: "config", message: e.message, problems: e.problems, ...(e.location ? { location: e.location } : {}) };
  }
  if (e instanceof ExperimentError) return { type: "error", kind: e.kind, message: e.message, ...(e.location ? { location: e.location } : {}) };
  if (e instanceof BackendError) return { type: "error", kind: "backend", message: e.message };
  if (e instanceof UsageError || e instanceof RunLockedError) return { type: "error", kind: "usage", message: e.message };
  const err = e instanceof Error ? (e as NodeJS.ErrnoException) : new Error(String(e));
  if (typeof (err as NodeJS.ErrnoException).code === "string" && /^E[A-Z]+$/.test((err as NodeJS.ErrnoException).code!)) {
    return { type: "error", kind: "io", message: err.message };
  }
  // Thrown from user code (a custom task or model) while training: point at it.
  const location: Location | undefined = experimentFile ? locationInStack(err.stack, experimentFile) : undefined;
  if (location) return { type: "error", kind: "runtime", message: `${location.file}:${location.line}:${location.column}: ${err.message}`, location };
  return { type: "error", kind: "internal", message: err.stack ?? err.message };
}

function backendRequest(value: string | undefined): BackendRequest {
  const v = (value ?? "auto") as BackendRequest;
  if (!BACKEND_REQUESTS.includes(v)) throw new BackendError(`unknown backend "${value}" (expected one of ${BACKEND_REQUESTS.join(", ")})`);
  return v;
}

/**
 * Runs a request to completion. Emits `started`, progress, metrics, checkpoints, then `finished`
 * (also after an error, with status "failed"). Never throws.
 */
export async function runRequest(request: RunRequest, emit: Emit, shouldStop: () => boolean): Promise<TrainOutcome> {
  let experimentFile: string | undefined;
  let runDir: string | undefined;
  try {
    let system: string;
    if (request.kind === "resume") {
      runDir = resolve(request.runDir);
      const manifest = new RunFolder(runDir).readManifest();
      experimentFile = manifest.experiment.path;
      system = manifest.system;
    } else {
      experimentFile = resolve(request.file);
    }
    const experiment = await loadExperiment(experimentFile);
    if (request.kind === "train") {
      const names = experiment.systems.map((s) => s.name);
      if (request.system) system = request.system;
      else if (names.length === 1) system = names[0]!;
      else throw new Error(names.length ? `${experiment.file} has several model systems (${names.join(", ")}): choose one with --system` : `${experiment.file} exports no model system`);
      runDir = resolve(request.runDir ?? resolve(request.runsRoot ?? "runs", newRunId(system)));
    }
    const backend = await selectBackend(backendRequest(request.backend), defaultCandidates(experimentFile));
    emit({ type: "log", level: "info", message: `backend: ${backend.name} (${backend.reason})` });
    const outcome = await train({
      experiment,
      system: system!,
      runDir: runDir!,
      backend,
      emit,
      shouldStop,
      resume: request.kind === "resume",
      ...(request.kind === "train" && request.steps !== undefined ? { steps: request.steps } : {}),
    });
    emit({ type: "finished", status: outcome.status, step: outcome.step, runDir: runDir!, ...(outcome.message ? { message: outcome.message } : {}) });
    return outcome;
  } catch (e) {
    const event = errorEvent(e, experimentFile);
    emit(event);
    emit({ type: "finished", status: "failed", step: 0, ...(runDir ? { runDir } : {}), message: event.message });
    return { status: "failed", step: 0, message: event.message };
  }
}

/** Runs the analyzer on a run folder; ends with `analyzerFinished` (after an `error` if it failed). Never throws. */
export async function analyzeRequest(request: AnalyzeRequest, emit: Emit, shouldStop: () => boolean): Promise<AnalyzeOutcome> {
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
    emit({ type: "analyzerFinished", status: outcome.status, runDir, records: outcome.records, ...(outcome.message ? { message: outcome.message } : {}) });
    return outcome;
  } catch (e) {
    const event = errorEvent(e, experimentFile);
    emit(event);
    emit({ type: "analyzerFinished", status: "failed", runDir, records: written, message: event.message });
    return { status: "failed", records: written, message: event.message };
  }
}
