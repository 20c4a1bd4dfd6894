// `lm calibrate` (docs/interventions.md, "Calibration"): M branches of a run at checkpoint K, each
// without a random fraction F of the (TracIn-scored) training examples, run as a sweep (the sweep
// folder's points are the subsets, so local and Slurm launchers run them unchanged), then the
// linear datamodeling score (Park et al. 2023): Spearman's ρ between the predicted and the actual
// change of the query loss at the end, over the subsets.
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import { mkdirSync } from "node:fs";
import { spearman } from "../measures/rankCorrelation";
import { Rng } from "../sdk/rng";
import { writeFileAtomicSync } from "../shared/atomicFile";
import { readAnalysis } from "../shared/analysisFormat";
import { CALIBRATION_DIR, CALIBRATION_FORMAT, type CalibrationRecord } from "../shared/interventionFormat";
import type { SweepIntervention } from "../shared/sweepFormat";
import type { SweepPlan } from "../sdk/sweep";
import { type Emit, UsageError } from "./errors";
import { reportIntervention } from "./interventionReport";
import { RunFolder } from "./runFolder";
import { loadSweep, runState } from "./sweep/folder";

export interface CalibrationRequest {
  runDir: string;
  step: number;
  fraction: number;
  subsets: number;
  seed: number;
}

/** The subsets (rows of the TracIn-scored examples) and the sweep plan whose points they are; refusals named. */
export function planCalibration(req: CalibrationRequest): {
  intervention: SweepIntervention;
  plan: SweepPlan;
  experiment: string;
  system: string;
} {
  const dir = resolve(req.runDir);
  const folder = new RunFolder(dir);
  const manifest = folder.readManifest();
  if (manifest.experiment === undefined)
    throw new UsageError(
      `${dir} records no experiment file (run.json has no "experiment"), so it cannot be branched`,
      1,
    );
  const steps = folder.checkpointSteps();
  if (!steps.includes(req.step))
    throw new UsageError(
      `${dir} has no checkpoint of step ${req.step}; its checkpoints: ${steps.join(", ") || "none"}`,
      1,
    );
  if (!(req.fraction > 0 && req.fraction < 1))
    throw new UsageError(`--fraction must be in (0, 1), got ${req.fraction}`);
  if (!(Number.isInteger(req.subsets) && req.subsets >= 3))
    throw new UsageError(
      `--subsets must be an integer ≥ 3 (a rank correlation of fewer says nothing), got ${req.subsets}`,
    );
  const tracin = readAnalysis(dir, "tracin");
  const rows = tracin?.header.examples?.map((e) => e.index);
  if (tracin === undefined || rows === undefined || rows.length === 0)
    throw new UsageError(
      `${dir} has no TracIn scores (analyses/tracin.jsonl): calibration compares them with retraining; run lm analyze ${dir} --only tracin --run-experiment`,
      1,
    );
  const size = Math.max(1, Math.round(req.fraction * rows.length));
  const subsets = Array.from({ length: req.subsets }, (_, i) =>
    Array.from(new Rng(req.seed, "calibration", i).permutation(rows.length).subarray(0, size), (p) => rows[p]!).sort(
      (a, b) => a - b,
    ),
  );
  return {
    intervention: { parent: dir, step: req.step, fraction: req.fraction, seed: req.seed, subsets },
    plan: {
      mode: "list",
      fields: ["intervention.subset"],
      seeds: [manifest.seed],
      points: subsets.map((_, index) => ({ index, values: { "intervention.subset": index }, seed: manifest.seed })),
    },
    experiment: manifest.experiment.path,
    system: manifest.system,
  };
}

export interface CalibrationReportRequest {
  sweepDir: string;
  backend?: string;
}

export interface CalibrationOutcome {
  path: string;
  record: CalibrationRecord;
  /** Points whose branch has not finished (left out). */
  unfinished: number;
}

/** Each finished subset's intervention report, then the score over them, written to the parent's calibration/ folder. */
export async function reportCalibration(req: CalibrationReportRequest, emit: Emit): Promise<CalibrationOutcome> {
  const sweepDir = resolve(req.sweepDir);
  const manifest = loadSweep(sweepDir);
  const iv = manifest.intervention;
  if (iv === undefined)
    throw new UsageError(`${sweepDir} is a sweep, not a calibration (its sweep.json has no "intervention")`, 1);
  const subsets: CalibrationRecord["subsets"] = [];
  let unfinished = 0;
  let query = "";
  for (const point of manifest.points) {
    const state = runState(sweepDir, point);
    if (state.kind !== "run" || state.status !== "finished") {
      unfinished++;
      continue;
    }
    const runDir = join(sweepDir, point.run);
    const { record } = await reportIntervention(
      { branchDir: runDir, ...(req.backend ? { backend: req.backend } : {}) },
      emit,
    );
    query = record.query;
    subsets.push({
      index: point.index,
      run: relativeOrAbsolute(iv.parent, runDir),
      size: record.change.examples.length,
      actual: record.actual.at(-1)!,
      tracin: record.tracin?.change.at(-1) ?? null,
      bif: record.bif?.change.at(-1) ?? null,
    });
  }
  const score = (pick: (s: CalibrationRecord["subsets"][number]) => number | null): number | null => {
    const pairs = subsets.filter((s) => pick(s) !== null);
    if (pairs.length < subsets.length) return null;
    return (
      spearman(
        pairs.map((s) => pick(s)!),
        pairs.map((s) => s.actual),
      ) ?? null
    );
  };
  const record: CalibrationRecord = {
    format: CALIBRATION_FORMAT,
    formatVersion: 1,
    step: iv.step,
    fraction: iv.fraction,
    seed: iv.seed,
    sweep: relativeOrAbsolute(iv.parent, sweepDir),
    query,
    subsets,
    lds: { tracin: score((s) => s.tracin), bif: score((s) => s.bif) },
    createdAt: new Date().toISOString(),
  };
  const dir = join(iv.parent, CALIBRATION_DIR);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${basename(sweepDir)}.json`);
  writeFileAtomicSync(path, `${JSON.stringify(record, null, 2)}\n`);
  return { path, record, unfinished };
}

function relativeOrAbsolute(from: string, to: string): string {
  const rel = relative(from, to);
  return rel !== "" && !isAbsolute(rel) ? rel : to;
}

/** "LDS (TracIn) 0.97 over 20 subsets of 10% removed at step 400" and friends. */
export function calibrationWords(record: CalibrationRecord, unfinished: number): string[] {
  const n = record.subsets.length;
  const f = (x: number | null) => (x === null ? "n/a" : x.toFixed(3));
  const lines = [
    `linear datamodeling score (Spearman ρ of predicted against actual change of the query loss, ${n} subsets of ${(record.fraction * 100).toFixed(3).replace(/\.?0+$/, "")}% removed from step ${record.step}): TracIn ${f(record.lds.tracin)}${record.subsets.some((s) => s.bif !== null) ? `, BIF ${f(record.lds.bif)}` : ""}`,
  ];
  if (unfinished > 0) lines.push(`${unfinished} subset${unfinished === 1 ? "" : "s"} not finished: left out`);
  return lines;
}
