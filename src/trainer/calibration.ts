// `lm calibrate` (docs/interventions.md, "Calibration"): M branches of a run at checkpoint K, each
// without a random fraction F of the (TracIn-scored) training examples, run as a sweep (the sweep
// folder's points are the subsets, so local and Slurm launchers run them unchanged). The score is
// computed by analyzer/calibrate.ts.
import { resolve } from "node:path";
import { Rng } from "../sdk/rng";
import type { SweepPlan } from "../sdk/sweep";
import { readAnalysis } from "../shared/analysisFormat";
import type { CalibrationRecord } from "../shared/interventionFormat";
import type { SweepIntervention } from "../shared/sweepFormat";
import { UsageError } from "./errors";
import { RunFolder } from "./runFolder";

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
