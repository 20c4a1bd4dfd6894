// Predicted against actual for an intervention branch (docs/interventions.md): the query's loss on
// the parent's and the branch's checkpoints (the actual change, branch − parent), and the changes
// the parent's TracIn and BIF scores predict (interventionPrediction.ts). Written to the branch's
// intervention.json. Runs the experiment's code (the model), so it runs in the job worker.
import { dirname, isAbsolute, relative, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import type { QuerySpec } from "../../sdk/spec";
import { writeFileAtomicSync } from "../../shared/atomicFile";
import { type AnalysisFile, readAnalysis } from "../../shared/analysisFormat";
import {
  INTERVENTION_FILE,
  INTERVENTION_FORMAT,
  type InterventionChange,
  type InterventionRecord,
} from "../../shared/interventionFormat";
import type { RunManifest } from "../../shared/runFormat";
import { queryIndices } from "./examples";
import { defaultCandidates, parseBackendRequest, selectBackend } from "../backend";
import { BatchSchedule } from "../batches";
import { type Emit, SystemError, UsageError } from "../errors";
import { bifPrediction, tracinPrediction } from "../interventionPrediction";
import { loadExperiment } from "../loadExperiment";
import { RunFolder, restoreParams } from "../runFolder";
import { type SplitTensors, SystemInstance } from "../system";
import { chooseSystem, systemConfigError, validatedSpec } from "../systems";
import { evaluateSplit, interventionOf } from "../train";

export interface InterventionReportRequest {
  branchDir: string;
  backend?: string;
}

export interface InterventionReportOutcome {
  path: string;
  record: InterventionRecord;
}

/** The branch's manifest, its intervention and its parent's folder; a run that is no intervention branch is refused. */
export function interventionBranch(branchDir: string): {
  manifest: RunManifest;
  change: InterventionChange;
  parentDir: string;
  parent: RunManifest;
} {
  const manifest = new RunFolder(branchDir).readManifest();
  const change = interventionOf(manifest);
  if (!manifest.branchOf || !change)
    throw new UsageError(
      `${branchDir} is not an intervention branch (its run.json has no branchOf.change of kind "intervention")`,
      1,
    );
  const parentDir = resolve(branchDir, manifest.branchOf.run);
  return { manifest, change, parentDir, parent: new RunFolder(parentDir).readManifest() };
}

function readOptional<N extends "tracin" | "bif">(runDir: string, name: N): AnalysisFile<N> | undefined {
  const file = readAnalysis(runDir, name);
  return file && file.records.length > 0 ? file : undefined;
}

export async function reportIntervention(
  req: InterventionReportRequest,
  emit: Emit,
): Promise<InterventionReportOutcome> {
  const branchDir = resolve(req.branchDir);
  const { manifest, change, parentDir } = interventionBranch(branchDir);
  const branchStep = manifest.branchOf!.step;
  if (manifest.experiment === undefined) throw new UsageError(`${branchDir} records no experiment file`, 1);
  const experiment = await loadExperiment(manifest.experiment.path);
  const found = chooseSystem(experiment, manifest.system);
  const spec = validatedSpec(found, { steps: manifest.totalSteps, trainedGelu: manifest, point: manifest.sweep });
  // The report evaluates with tfjs: a torch request (the branch trained there) leaves it the best tfjs backend, as in analyzer/index.ts.
  const requested = parseBackendRequest(req.backend);
  const backend = await selectBackend(requested === "torch" ? "auto" : requested, defaultCandidates(experiment.file));
  emit({ type: "log", level: "info", message: `intervention report backend: ${backend.name}` });
  const tracin = readOptional(parentDir, "tracin");
  const bif = readOptional(parentDir, "bif");
  // The query is TracIn's, as the parent's analysis ran it (its header has any override).
  const query = (tracin?.header.settings["query"] as QuerySpec | undefined) ?? spec.analyses.tracin.query;
  let system: SystemInstance;
  try {
    system = new SystemInstance(spec, dirname(experiment.file));
  } catch (e) {
    throw e instanceof SystemError ? systemConfigError(found, e) : e;
  }
  try {
    const q = queryIndices(query, system.data);
    const parentFolder = new RunFolder(parentDir);
    const branchFolder = new RunFolder(branchDir);
    const parentSteps = new Set(parentFolder.checkpointSteps());
    const steps = branchFolder.checkpointSteps().filter((s) => s >= branchStep && parentSteps.has(s));
    if (steps.length === 0)
      throw new UsageError(`${branchDir} and its parent share no checkpoint from step ${branchStep} on`, 1);
    const split: SplitTensors = tf.tidy(() => {
      const s = system[q.split];
      const idx = tf.tensor1d(q.indices, "int32");
      return {
        n: q.indices.length,
        x: tf.gather(s.x, idx),
        y: tf.gather(s.y, idx),
        ...(s.f0 ? { f0: tf.gather(s.f0, idx) } : {}),
      };
    });
    const queryLoss = (folder: RunFolder, step: number): number => {
      restoreParams(system.model.params, folder.readCheckpoint(step).params, folder.checkpointPath(step));
      return evaluateSplit(system, split).loss;
    };
    const parentQueryLoss = steps.map((s) => queryLoss(parentFolder, s));
    const branchQueryLoss = steps.map((s) => queryLoss(branchFolder, s));
    for (const t of [split.x, split.y, split.f0]) t?.dispose();
    const notes: string[] = [];
    const record: InterventionRecord = {
      format: INTERVENTION_FORMAT,
      formatVersion: 1,
      parent: relativeOrAbsolute(branchDir, parentDir),
      step: branchStep,
      change,
      query: q.description,
      steps,
      parentQueryLoss,
      branchQueryLoss,
      actual: steps.map((_, i) => branchQueryLoss[i]! - parentQueryLoss[i]!),
      notes,
      createdAt: new Date().toISOString(),
    };
    const n = system.train.n;
    const full = spec.batchSize === "full" || spec.batchSize >= n;
    const schedule = full ? undefined : new BatchSchedule(n, spec.batchSize as number, change.dataSeed ?? spec.seed);
    if (tracin === undefined)
      notes.push(
        "no TracIn prediction: the parent has no analyses/tracin.jsonl (lm analyze PARENT --only tracin --run-experiment)",
      );
    else {
      const p = tracinPrediction({
        records: tracin.records,
        rows: (tracin.header.examples ?? []).map((e) => e.index),
        chosen: change.examples,
        action: change.action,
        branchStep,
        steps,
        batch: (t) => schedule?.indices(t),
        batchSize: full ? n : (spec.batchSize as number),
        lossScale: system.lossScale,
      });
      if (p.ok) record.tracin = p.prediction;
      else notes.push(`no TracIn prediction: ${p.why}`);
      if (spec.optimizer.kind !== "sgd" || spec.optimizer.momentum > 0)
        notes.push(
          `TracIn's prediction is first order for plain SGD; this run uses ${spec.optimizer.kind}${spec.optimizer.kind === "sgd" ? " with momentum" : ""}`,
        );
    }
    if (bif !== undefined) {
      const scored = bif.header.examples?.length ?? n;
      const nBeta =
        Number(bif.header.settings["nBeta"]) > 0 ? Number(bif.header.settings["nBeta"]) : scored / Math.log(scored);
      const p = bifPrediction({
        records: bif.records,
        rows: (bif.header.examples ?? []).map((e) => e.index),
        chosen: change.examples,
        action: change.action,
        at: steps.at(-1)!,
        beta: nBeta / scored,
        steps,
      });
      if (p.ok) record.bif = p.prediction;
      else notes.push(`no BIF prediction: ${p.why}`);
    }
    const path = resolve(branchDir, INTERVENTION_FILE);
    writeFileAtomicSync(path, `${JSON.stringify(record, null, 2)}\n`);
    return { path, record };
  } finally {
    system.dispose();
  }
}

function relativeOrAbsolute(from: string, to: string): string {
  const rel = relative(from, to);
  return rel !== "" && !isAbsolute(rel) ? rel : to;
}
