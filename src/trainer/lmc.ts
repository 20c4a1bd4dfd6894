// `lm lmc`: linear mode connectivity between two checkpoints (docs/branching.md). Builds run A's
// model system (its experiment file, its config), then evaluates train/test loss and error at
// θ(α) = (1 − α)θ_A + αθ_B on a grid of α with the trainer's own evaluation, and writes the
// curve and the barrier heights to run A's lmc/ folder (src/shared/lmcFormat.ts).
import { mkdirSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { barrierHeight, interpolateWeights, lmcAlphas } from "../measures/lmc";
import { writeFileAtomicSync } from "../shared/atomicFile";
import { LMC_FORMAT, type LmcEnd, type LmcPoint, type LmcQuantity, type LmcRecord, lmcPath } from "../shared/lmcFormat";
import type { RunManifest } from "../shared/runFormat";
import { defaultCandidates, parseBackendRequest, selectBackend } from "./backend";
import { type Emit, SystemError, UsageError } from "./errors";
import { loadExperiment } from "./loadExperiment";
import { RunFolder } from "./runFolder";
import { SystemInstance } from "./system";
import { chooseSystem, systemConfigError, validatedSpec } from "./systems";
import { evaluateSplit } from "./train";

export interface LmcRequest {
  runA: string;
  runB: string;
  /** Checkpoint steps; default: each run's last. */
  stepA?: number;
  stepB?: number;
  /** Grid size on [0, 1], ends included; default 11. */
  points?: number;
  /** Write here instead of run A's lmc/ folder. */
  out?: string;
  backend?: string;
  /** Evaluate even though run A's experiment file changed since it ran. */
  allowChanged?: boolean;
}

export interface LmcOutcome {
  path: string;
  record: LmcRecord;
}

export const DEFAULT_LMC_POINTS = 11;

/** The checkpoint of `step` (or the last), refused with the steps there are when absent. */
function checkpointStep(folder: RunFolder, step: number | undefined, option: string): number {
  const steps = folder.checkpointSteps();
  const chosen = step ?? steps.at(-1);
  if (chosen === undefined) throw new UsageError(`${folder.dir} has no checkpoint`, 1);
  if (!steps.includes(chosen)) {
    const list =
      steps.length <= 12 ? steps.join(", ") : `${steps.slice(0, 6).join(", ")}, …, ${steps.slice(-4).join(", ")}`;
    throw new UsageError(`${option}: ${folder.dir} has no checkpoint of step ${chosen}; its checkpoints: ${list}`, 1);
  }
  return chosen;
}

function end(fromDir: string, runDir: string, m: RunManifest, step: number): LmcEnd {
  const rel = relative(fromDir, runDir);
  return { run: rel === "" ? "." : isAbsolute(rel) ? runDir : rel, runId: m.id, step };
}

export async function runLmc(req: LmcRequest, emit: Emit): Promise<LmcOutcome> {
  const dirA = resolve(req.runA);
  const dirB = resolve(req.runB);
  const folderA = new RunFolder(dirA);
  const folderB = new RunFolder(dirB);
  const a = folderA.readManifest();
  const b = folderB.readManifest();
  const stepA = checkpointStep(folderA, req.stepA, "--steps-a");
  const stepB = checkpointStep(folderB, req.stepB, "--steps-b");
  const alphas = lmcAlphas(req.points ?? DEFAULT_LMC_POINTS);
  if (a.experiment === undefined)
    throw new UsageError(`${dirA} records no experiment file (run.json has no "experiment"): lmc needs its model`, 1);
  const backendWanted = parseBackendRequest(req.backend);
  const experiment = await loadExperiment(a.experiment.path);
  if (!req.allowChanged && experiment.sha256 !== a.experiment.sha256)
    throw new UsageError(
      `${experiment.file} changed since ${dirA} was trained: its data or model may differ. Pass --allow-changed to evaluate anyway.`,
      1,
    );
  const found = chooseSystem(experiment, a.system);
  const spec = validatedSpec(found, { steps: a.totalSteps, trainedGelu: a });
  const backend = await selectBackend(backendWanted, defaultCandidates(experiment.file));
  emit({ type: "log", level: "info", message: `lmc backend: ${backend.name} (${backend.reason})` });
  let system: SystemInstance;
  try {
    system = new SystemInstance(spec, dirname(experiment.file));
  } catch (e) {
    throw e instanceof SystemError ? systemConfigError(found, e) : e;
  }
  try {
    const thetaA = folderA.readCheckpoint(stepA).params;
    const thetaB = folderB.readCheckpoint(stepB).params;
    const pairs = system.model.params.map((p) => {
      const va = thetaA.get(p.name);
      const vb = thetaB.get(p.name);
      const shape = p.variable.shape.join(",");
      for (const [v, dir, step] of [
        [va, dirA, stepA],
        [vb, dirB, stepB],
      ] as const) {
        if (!v) throw new UsageError(`${dir}'s checkpoint of step ${step} has no parameter "${p.name}"`, 1);
        if (v.shape.join(",") !== shape)
          throw new UsageError(`${dir}'s "${p.name}" has shape [${v.shape}], the model of ${dirA} has [${shape}]`, 1);
      }
      return { variable: p.variable, a: va!.values, b: vb!.values };
    });
    const points: LmcPoint[] = [];
    for (const alpha of alphas) {
      for (const { variable, a: wa, b: wb } of pairs)
        variable.assign(tf.tensor(interpolateWeights(wa, wb, alpha), variable.shape, "float32"));
      const tr = evaluateSplit(system, system.train);
      const point: LmcPoint = { alpha, train_loss: tr.loss };
      if (system.classes) point.train_error = 1 - tr.acc;
      if (system.test.n > 0) {
        const te = evaluateSplit(system, system.test);
        point.test_loss = te.loss;
        if (system.classes) point.test_error = 1 - te.acc;
      }
      points.push(point);
    }
    const barrier: LmcRecord["barrier"] = {};
    for (const q of [
      "train_loss",
      "train_error",
      "test_loss",
      "test_error",
    ] as const satisfies readonly LmcQuantity[]) {
      const h = barrierHeight(
        alphas,
        points.map((p) => p[q]),
      );
      if (h !== undefined) barrier[q] = h;
    }
    const path = resolve(req.out ?? lmcPath(dirA, stepA, b.id, stepB));
    const record: LmcRecord = {
      format: LMC_FORMAT,
      formatVersion: 1,
      a: end(dirname(path), dirA, a, stepA),
      b: end(dirname(path), dirB, b, stepB),
      points,
      barrier,
      backend: backend.name,
      createdAt: new Date().toISOString(),
    };
    mkdirSync(dirname(path), { recursive: true });
    writeFileAtomicSync(path, `${JSON.stringify(record, null, 2)}\n`);
    return { path, record };
  } finally {
    system.dispose();
  }
}
