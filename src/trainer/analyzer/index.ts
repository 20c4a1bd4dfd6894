// The analyzer: reads a run folder (and its experiment file when the analysis needs the model),
// computes each due analysis per checkpoint and appends the records to analyses/<name>.jsonl.
// Incremental (steps already written are skipped), resumable (a cut line is dropped), and able to
// follow a run that is still training. Used by the sidecar (`analyze` request) and `lm analyze`.
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { AnalysesInput, AnalysesSpec, AnalysisName, SystemSpec } from "../../sdk/spec";
import { validateAnalyses } from "../../sdk/validate";
import type { AnalysisRecords } from "../../shared/analysisFormat";
import { readMetrics } from "../../shared/metricsReader";
import type { RunManifest } from "../../shared/runFormat";
import { defaultCandidates, parseBackendRequest, selectBackend } from "../backend";
import { loadExperiment } from "../loadExperiment";
import { type CheckpointData, restoreParams, RunFolder } from "../runFolder";
import { SystemInstance } from "../system";
import { findSystem, validatedSpec } from "../systems";
import { ConfigError, type Emit } from "../errors";
import { createTensorAnalyses, type TensorAnalysis } from "./tensorAnalyses";
import { weightsRecord } from "./weights";
import { AnalysisWriter, dueSteps } from "./writer";

export interface AnalyzeRequest {
  runDir: string;
  /** The experiment file; defaults to the one recorded in run.json. */
  file?: string;
  /** Laid over the experiment file's `analyses` settings. */
  overrides?: AnalysesInput;
  /** Run only these analyses (default: all that are switched on). */
  only?: AnalysisName[];
  /** Keep analysing new checkpoints while the run's status is "running". */
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

/** The analyses that need the model (and so the experiment file's code), not just checkpoints. */
const MODEL_ANALYSES = ["kernel", "fourier", "tracin", "bif"] as const;

/** The system spec of a run, from its experiment file, or why it is not available. */
async function systemOf(manifest: RunManifest, file: string | undefined, overrides: AnalysesInput | undefined): Promise<{ spec: SystemSpec; file: string } | { reason: string }> {
  const path = file ?? (manifest.experiment as RunManifest["experiment"] | undefined)?.path;
  if (!path) return { reason: "run.json names no experiment file" };
  if (!existsSync(path)) return { reason: `the experiment file ${path} does not exist here` };
  const experiment = await loadExperiment(path);
  const found = findSystem(experiment, manifest.system);
  if (!found) return { reason: `${path} no longer exports the system "${manifest.system}"` };
  return { spec: validatedSpec(found, { analyses: overrides }), file: experiment.file };
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

export async function analyzeRun(req: AnalyzeRequest, emit: Emit, shouldStop: () => boolean): Promise<AnalyzeOutcome> {
  const runDir = resolve(req.runDir);
  const folder = new RunFolder(runDir);
  let manifest = folder.readManifest();
  const wanted = (name: AnalysisName) => req.only === undefined || req.only.includes(name);

  // --- settings, and the model when the experiment file is at hand
  // Loading the experiment file runs its code: only when an analysis that needs the model is wanted.
  const modelWanted = MODEL_ANALYSES.some(wanted);
  const found = modelWanted ? await systemOf(manifest, req.file, req.overrides) : { reason: "only the weight-space analysis was asked for" };
  const settings = "spec" in found ? found.spec.analyses : settingsOnly(req.overrides);
  if ("reason" in found) {
    const skipped = MODEL_ANALYSES.filter((n) => wanted(n) && settings[n].every > 0);
    if (skipped.length) emit({ type: "log", level: "warn", message: `${skipped.join(", ")} skipped: they need the model, and ${found.reason}. The weight-space analysis needs only checkpoints.` });
  }

  let system: SystemInstance | undefined;
  let tensorAnalyses: TensorAnalysis<AnalysisName>[] = [];
  let records = 0;
  try {
    if ("spec" in found && MODEL_ANALYSES.some((n) => wanted(n) && settings[n].every > 0)) {
      const backend = await selectBackend(parseBackendRequest(req.backend), defaultCandidates(found.file));
      emit({ type: "log", level: "info", message: `analyzer backend: ${backend.name} (${backend.reason})` });
      system = new SystemInstance(found.spec, dirname(found.file));
    }

    const steps0 = folder.checkpointSteps();
    if (steps0.length === 0 && !req.follow) return { status: "finished", records: 0, message: `${runDir} has no checkpoints yet` };

    // The reference (the first checkpoint: checkpoints are only ever added after it) is read once
    // and kept; the one being analysed is read once for all its analyses.
    let referenceStep: number | undefined;
    let reference: CheckpointData | undefined;
    let current: CheckpointData | undefined;
    const checkpoint = (step: number): CheckpointData => {
      if (step === referenceStep) return (reference ??= folder.readCheckpoint(step));
      if (current?.step !== step) current = folder.readCheckpoint(step);
      return current;
    };
    const restore = (step: number) => {
      if (!system) throw new Error("no model to restore into");
      restoreParams(system.model.params, checkpoint(step).params, folder.checkpointPath(step));
    };

    const weights = wanted("weights") && settings.weights.every > 0 ? new AnalysisWriter(runDir, "weights", { settings: { ...settings.weights } }) : undefined;
    const writers = new Map<AnalysisName, AnalysisWriter<AnalysisName>>();
    const report = (w: AnalysisWriter<AnalysisName>) => {
      if (w.opened.kind === "archived") emit({ type: "log", level: "info", message: `${w.name}: ${w.opened.reason}; the earlier file is kept as ${w.opened.archivedTo}` });
    };
    if (weights) {
      writers.set("weights", weights as AnalysisWriter<AnalysisName>);
      report(weights as AnalysisWriter<AnalysisName>);
    }

    // Learning rates from metrics.jsonl, re-read only when a step is missing (a live run grew).
    let lrs = new Map<number, number>();
    const lrAt = (step: number): number => {
      if (!lrs.has(step)) lrs = learningRates(folder);
      return lrs.get(step) ?? Number.NaN;
    };
    for (;;) {
      const steps = folder.checkpointSteps();
      const ended = manifest.status !== "running";
      // While a run trains its latest checkpoint is not yet its last: cadence alone decides.
      const due = (every: number) => dueSteps(steps, every, ended || !req.follow);

      referenceStep ??= steps[0];
      if (system && tensorAnalyses.length === 0 && referenceStep !== undefined) {
        tensorAnalyses = createTensorAnalyses({ system, settings, wanted, referenceStep, restore, lr: lrAt, emit });
        for (const a of tensorAnalyses) {
          const w = new AnalysisWriter(runDir, a.name, { settings: a.settings, ...a.header });
          writers.set(a.name, w);
          report(w);
        }
      }

      const work = new Map<number, AnalysisName[]>();
      for (const [name, w] of writers) for (const s of due(settings[name].every)) if (!w.has(s)) work.set(s, [...(work.get(s) ?? []), name]);

      if (work.size === 0) {
        if (!req.follow || ended) return { status: "finished", records };
        if (shouldStop()) return { status: "stopped", records };
        await new Promise((r) => setTimeout(r, req.pollMs ?? 1000));
        manifest = folder.readManifest();
        continue;
      }

      for (const step of [...work.keys()].sort((a, b) => a - b)) {
        const names = work.get(step)!;
        let restored = false;
        for (const name of names) {
          const t0 = performance.now();
          let record: AnalysisRecords[AnalysisName];
          if (name === "weights") record = weightsRecord(step, checkpoint(step).params, checkpoint(referenceStep!).params);
          else {
            if (!restored) restore(step);
            restored = true;
            record = await tensorAnalyses.find((a) => a.name === name)!.compute(step);
          }
          writers.get(name)!.append(record);
          records++;
          emit({ type: "analysis", analysis: name, step, seconds: Math.round(performance.now() - t0) / 1000 });
        }
        // Let a stop request through between checkpoints.
        await new Promise<void>((r) => setImmediate(r));
        if (shouldStop()) return { status: "stopped", records };
      }
      manifest = folder.readManifest();
    }
  } finally {
    for (const a of tensorAnalyses) a.dispose();
    system?.dispose();
  }
}
