// The score of `lm calibrate` (docs/interventions.md, "Calibration"): each finished subset's
// intervention report, then the linear datamodeling score (Park et al. 2023), Spearman's ρ between
// the predicted and the actual change of the query loss at the end, over the subsets.
// The subsets themselves are planned in ../calibration.ts.
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import { mkdirSync } from "node:fs";
import { spearman } from "../../measures/rankCorrelation";
import { writeFileAtomicSync } from "../../shared/atomicFile";
import { CALIBRATION_DIR, CALIBRATION_FORMAT, type CalibrationRecord } from "../../shared/interventionFormat";
import { type Emit, UsageError } from "../errors";
import { reportIntervention } from "./interventionReport";
import { loadSweep, runState } from "../sweep/folder";

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
