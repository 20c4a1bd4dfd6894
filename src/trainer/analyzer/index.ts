// The analyzer: reads a run folder (and, when asked, its experiment file for the analyses that
// need the model), computes each due analysis per checkpoint and appends the records to
// analyses/<name>.jsonl. Incremental (steps already written are skipped), resumable (a cut line is
// dropped), and able to follow a run that is still training. Used by the sidecar (`analyze`
// request) and `lm analyze`. It writes only inside the run folder (runAccess.ts), holds the
// analyzer lock while it writes, and runs experiment code only when the request names the file.
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { AnalysesInput, AnalysesSpec, AnalysisName, SystemSpec } from "../../sdk/spec";
import { validateAnalyses } from "../../sdk/validate";
import { notAnExperimentReason } from "../../shared/experimentFile";
import { readMetrics } from "../../shared/metricsReader";
import type { RunManifest } from "../../shared/runFormat";
import { ANALYZER_LOCK, acquireRunLock, pidAlive } from "../../shared/runLock";
import { defaultCandidates, parseBackendRequest, selectBackend } from "../backend";
import { ConfigError, type Emit, UsageError } from "../errors";
import { loadExperiment } from "../loadExperiment";
import { restoreParams, type RunFolder } from "../runFolder";
import { SystemInstance } from "../system";
import type { Analysis, AnalysisContext, CheckpointParams, ModelContext } from "./analysis";
import { createAnalyses, MODEL_ANALYSES } from "./analyses";
import {
  CheckpointError,
  openRunForAnalysis,
  readCheckpointMetadata,
  readCheckpointParams,
  readOptimizerSlot,
} from "./runAccess";
import { findSystem, validatedSpec } from "../systems";
import { AnalysisWriter, otherProducer } from "./writer";

export interface AnalyzeRequest {
  runDir: string;
  /**
   * The experiment file to load for the analyses that need the model. Loading it runs its code,
   * so it is never implied: without `file` (or `runExperiment`) only the weight-space analysis runs.
   */
  file?: string;
  /** Load the experiment file recorded in run.json (the user asked for it: `lm analyze --run-experiment`). */
  runExperiment?: boolean;
  /** Laid over the experiment file's `analyses` settings. */
  overrides?: AnalysesInput;
  /** Run only these analyses (default: all that are switched on). */
  only?: AnalysisName[];
  /** Keep analysing new checkpoints while the run's status is "running" and its trainer is alive. */
  follow?: boolean;
  backend?: string;
  /** How often to look for new checkpoints when following (ms). */
  pollMs?: number;
}

export interface AnalyzeOutcome {
  status: "finished" | "stopped" | "failed";
  records: number;
  message?: string;
}

/** The system spec of a run, from its experiment file, or why it is not available. */
async function systemOf(
  manifest: RunManifest,
  req: AnalyzeRequest,
): Promise<{ spec: SystemSpec; file: string } | { reason: string }> {
  const recorded = (manifest.experiment as RunManifest["experiment"] | undefined)?.path;
  // A run written by a Python script records the script: it is no experiment the loader could
  // bundle (esbuild would fail on it), and loading it is never the way to its model.
  const notLoadable = (path: string | undefined) => (path === undefined ? undefined : notAnExperimentReason(path));
  if (req.file === undefined && !req.runExperiment) {
    const why = notLoadable(recorded);
    if (why) return { reason: why };
    const how = recorded
      ? `--run-experiment (the file recorded in run.json: ${recorded}) or --file FILE`
      : "--file FILE";
    return { reason: `they run the experiment file's code, which the analyzer loads only when asked: pass ${how}` };
  }
  const path = req.file ?? recorded;
  if (!path) return { reason: "run.json names no experiment file" };
  const why = notLoadable(path);
  if (why) return { reason: why };
  if (!existsSync(path)) return { reason: `the experiment file ${path} does not exist here` };
  const experiment = await loadExperiment(path);
  const found = findSystem(experiment, manifest.system);
  if (!found) return { reason: `${path} no longer exports the system "${manifest.system}"` };
  return {
    spec: validatedSpec(found, { analyses: req.overrides, trainedGelu: manifest, point: manifest.sweep }),
    file: experiment.file,
  };
}

function settingsOnly(overrides: AnalysesInput | undefined): AnalysesSpec {
  const result = validateAnalyses(overrides);
  if (!result.ok) throw new ConfigError("analyses", result.problems);
  return result.spec;
}

/** Learning rate logged at each step (metrics `lr`), for TracIn's η_t. */
function learningRates(folder: RunFolder): Map<number, number> {
  const out = new Map<number, number>();
  if (!existsSync(folder.metricsPath)) return out;
  for (const r of readMetrics(folder.metricsPath).records) {
    const lr = r["lr"];
    if (typeof lr === "number") out.set(r.step, lr);
  }
  return out;
}

/** Why a followed run will write no more checkpoints, or undefined while it still may. */
function runEnded(manifest: RunManifest): string | undefined {
  if (manifest.status !== "running") return `the run is ${manifest.status}`;
  if (manifest.pid !== undefined && !pidAlive(manifest.pid))
    return `run.json says "running" but its trainer (pid ${manifest.pid}) is no longer alive`;
  return undefined;
}

export async function analyzeRun(req: AnalyzeRequest, emit: Emit, shouldStop: () => boolean): Promise<AnalyzeOutcome> {
  const runDir = resolve(req.runDir);
  const { folder, manifest } = openRunForAnalysis(runDir);
  const wanted = (name: AnalysisName) => req.only === undefined || req.only.includes(name);
  // The analyzer computes with tfjs: a torch setting (for training) leaves it the best tfjs backend.
  const parsedBackend = parseBackendRequest(req.backend);
  const backendRequest = parsedBackend === "torch" ? "auto" : parsedBackend;

  // --- settings, and the model when the experiment file is to be loaded (that runs its code)
  const modelWanted = MODEL_ANALYSES.some(wanted);
  const found = modelWanted
    ? await systemOf(manifest, req)
    : { reason: "only the weight-space analysis was asked for" };
  const settings = "spec" in found ? found.spec.analyses : settingsOnly(req.overrides);
  if ("reason" in found) {
    // The in-context analysis applies to in-context regression runs only: not said for the others.
    const task = manifest.config["task"];
    const inContext =
      typeof task === "object" && task !== null && "kind" in task && task.kind === "inContextRegression";
    const skipped = MODEL_ANALYSES.filter((n) => wanted(n) && settings[n].every > 0 && (n !== "icl" || inContext));
    if (skipped.length)
      emit({
        type: "log",
        level: "warn",
        message: `${skipped.join(", ")} skipped: they need the model, and ${found.reason}. The weight-space and conservation analyses need only checkpoints.`,
      });
  }

  const lock = acquireRunLock(runDir, ANALYZER_LOCK, "analyze");
  if (lock.recovered)
    emit({
      type: "log",
      level: "info",
      message: `took over the analyzer lock of pid ${lock.recovered.pid}, which is no longer alive`,
    });
  let system: SystemInstance | undefined;
  let analyses: Analysis[] = [];
  try {
    if ("spec" in found && MODEL_ANALYSES.some((n) => wanted(n) && settings[n].every > 0)) {
      const backend = await selectBackend(backendRequest, defaultCandidates(found.file));
      emit({ type: "log", level: "info", message: `analyzer backend: ${backend.name} (${backend.reason})` });
      system = new SystemInstance(found.spec, dirname(found.file));
    }
    return await analysisLoop({
      req,
      folder,
      manifest,
      settings,
      wanted,
      system,
      emit,
      shouldStop,
      setAnalyses: (a) => (analyses = a),
      reread: () => folder.readManifest(),
    });
  } finally {
    for (const a of analyses) a.dispose();
    system?.dispose();
    lock.release();
  }
}

interface LoopInput {
  req: AnalyzeRequest;
  folder: RunFolder;
  manifest: RunManifest;
  settings: AnalysesSpec;
  wanted: (name: AnalysisName) => boolean;
  system: SystemInstance | undefined;
  emit: Emit;
  shouldStop: () => boolean;
  /** Hands the analyses built to the caller, which disposes of them. */
  setAnalyses: (analyses: Analysis[]) => void;
  reread: () => RunManifest;
}

/**
 * Analyses every due checkpoint, each once; when following, waits for more until the run ends.
 * A checkpoint that cannot be read (or restored) is skipped with a message naming it.
 */
async function analysisLoop(input: LoopInput): Promise<AnalyzeOutcome> {
  const { req, folder, settings, wanted, system, emit, shouldStop } = input;
  let manifest = input.manifest;
  const runDir = folder.dir;
  const files = () => new Map(folder.checkpointFiles().map((c) => [c.step, c.path]));
  let paths = files();
  if (paths.size === 0 && !req.follow)
    return { status: "finished", records: 0, message: `${runDir} has no checkpoints yet` };

  // The reference (the first readable checkpoint: checkpoints are only ever added after it) is
  // read once and kept; the one being analysed is read once for all its analyses.
  const skipped = new Map<number, string>();
  let reference: { step: number; params: CheckpointParams } | undefined;
  let current: { step: number; params: CheckpointParams } | undefined;
  const params = (step: number): CheckpointParams => {
    if (step === reference?.step) return reference.params;
    if (current?.step !== step) {
      const path = paths.get(step) ?? folder.checkpointPath(step);
      current = { step, params: readCheckpointParams(path, reference?.params) };
    }
    return current.params;
  };
  const skip = (step: number, e: CheckpointError) => {
    skipped.set(step, e.message);
    emit({ type: "log", level: "warn", message: `skipped checkpoint ${e.message}` });
  };

  /** Loads a checkpoint into the model; a checkpoint that does not fit it is a CheckpointError. */
  const restore = (step: number) => {
    if (!system) throw new Error("no model to restore into");
    const path = paths.get(step) ?? folder.checkpointPath(step);
    try {
      restoreParams(system.model.params, params(step), path);
    } catch (e) {
      if (e instanceof CheckpointError) throw e;
      throw new CheckpointError(path, (e as Error).message.replace(`${path}: `, "").replace(`${path} `, ""));
    }
  };

  // Learning rates from metrics.jsonl, re-read only when a step is missing (a live run grew).
  let lrs = new Map<number, number>();
  const lrAt = (step: number): number => {
    if (!lrs.has(step)) lrs = learningRates(folder);
    return lrs.get(step) ?? Number.NaN;
  };

  let analyses: Analysis[] | undefined;
  const writers = new Map<AnalysisName, AnalysisWriter<AnalysisName>>();
  let records = 0;
  const outcome = (status: AnalyzeOutcome["status"], message?: string): AnalyzeOutcome => {
    const note = skipped.size ? `${skipped.size} checkpoint${skipped.size > 1 ? "s" : ""} skipped` : undefined;
    const text = [message, note].filter(Boolean).join("; ");
    return { status, records, ...(text ? { message: text } : {}) };
  };

  for (;;) {
    paths = files();
    const steps = [...paths.keys()].filter((s) => !skipped.has(s));
    const ended = runEnded(manifest);

    if (!reference) {
      for (const step of steps) {
        try {
          reference = { step, params: readCheckpointParams(paths.get(step)!) };
          break;
        } catch (e) {
          if (!(e instanceof CheckpointError)) throw e;
          skip(step, e);
        }
      }
    }
    if (reference && !analyses) {
      const ref = reference;
      const ctx: AnalysisContext = {
        settings,
        referenceStep: ref.step,
        params,
        lr: lrAt,
        emit,
        manifest,
        checkpointMetadata: (step) => readCheckpointMetadata(paths.get(step) ?? folder.checkpointPath(step)),
      };
      const optimizerSlot = (step: number, slot: string) =>
        readOptimizerSlot(paths.get(step) ?? folder.checkpointPath(step), slot, ref.params);
      const model: ModelContext | undefined = system ? { ...ctx, system, restore, optimizerSlot } : undefined;
      try {
        analyses = createAnalyses(ctx, model, wanted);
      } catch (e) {
        // The reference itself does not fit the model: nothing that needs the model can run.
        if (!(e instanceof CheckpointError)) throw e;
        throw new UsageError(`cannot analyse ${runDir}: the reference checkpoint ${e.message}`);
      }
      // Files another producer wrote (run.watch on a PyTorch run) stay as they are: not ours to extend.
      analyses = analyses.filter((a) => {
        const producer = otherProducer(runDir, a.name);
        if (producer === undefined) return true;
        emit({
          type: "log",
          level: "info",
          message: `${a.name}: analyses/${a.name}.jsonl was written by ${producer}; left as it is (move it away to analyse here)`,
        });
        a.dispose();
        return false;
      });
      input.setAnalyses(analyses);
      for (const a of analyses) {
        const w = new AnalysisWriter(runDir, a.name, { settings: a.settings, ...a.header });
        writers.set(a.name, w);
        if (w.opened.kind === "archived")
          emit({
            type: "log",
            level: "info",
            message: `${w.name}: ${w.opened.reason}; the earlier file is kept as ${w.opened.archivedTo}`,
          });
      }
    }

    // While a run trains its latest checkpoint is not yet its last: cadence alone decides.
    const includeLast = ended !== undefined || !req.follow;
    const work = new Map<number, Analysis[]>();
    for (const a of analyses ?? []) {
      const w = writers.get(a.name)!;
      for (const s of a.due(steps, includeLast)) if (!w.has(s)) work.set(s, [...(work.get(s) ?? []), a]);
    }

    if (work.size === 0) {
      if (!req.follow) return outcome("finished");
      if (ended !== undefined)
        return outcome("finished", manifest.status === "running" ? `${ended}: stopped following` : undefined);
      if (shouldStop()) return outcome("stopped");
      await new Promise((r) => setTimeout(r, req.pollMs ?? 1000));
      manifest = input.reread();
      continue;
    }

    for (const step of [...work.keys()].sort((a, b) => a - b)) {
      let restored = false;
      try {
        for (const a of work.get(step)!) {
          const t0 = performance.now();
          if (a.needs === "model" && !restored) {
            restore(step);
            restored = true;
          }
          writers.get(a.name)!.append(await a.compute(step));
          records++;
          emit({ type: "analysis", analysis: a.name, step, seconds: Math.round(performance.now() - t0) / 1000 });
        }
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw e;
        skip(step, e);
      }
      // Let a stop request through between checkpoints.
      await new Promise<void>((r) => setImmediate(r));
      if (shouldStop()) return outcome("stopped");
    }
    manifest = input.reread();
  }
}
