// The lmc folder of a run: linear mode connectivity between this run and another (`lm lmc`),
// documented in docs/analysis-format.md ("Linear mode connectivity"). Not in analyses/: those files
// hold one record per checkpoint of one run and are re-run incrementally; an interpolation belongs
// to a pair of checkpoints, is computed once, and is replaced when computed again.
//
//   lmc/<stepA>--<runB id>--<stepB>.json   one comparison: θ_A at stepA of this run, θ_B of run B
import { join } from "node:path";

export const LMC_DIR = "lmc";
export const LMC_FORMAT = "learning-mechanics/lmc";

/** One end of the interpolation: a run's checkpoint. */
export interface LmcEnd {
  /** The run's folder: relative to the folder holding the lmc file's run when they share a tree, else absolute. */
  run: string;
  runId: string;
  step: number;
}

/** Train/test loss and error (1 − accuracy; classification only) at one α. */
export interface LmcPoint {
  alpha: number;
  train_loss: number;
  train_error?: number;
  test_loss?: number;
  test_error?: number;
}

export type LmcQuantity = "train_loss" | "train_error" | "test_loss" | "test_error";

export interface LmcRecord {
  format: typeof LMC_FORMAT;
  formatVersion: 1;
  a: LmcEnd;
  b: LmcEnd;
  points: LmcPoint[];
  /** max over α of f(α) − ((1 − α)f(0) + αf(1)), per quantity present (Frankle et al. 2020). */
  barrier: Partial<Record<LmcQuantity, number>>;
  /** What evaluated it (the tfjs backend's name) and when. */
  backend: string;
  createdAt: string;
}

/** The file name of a comparison in run A's lmc/ folder; the run id is made safe as a name. */
export function lmcFileName(stepA: number, runIdB: string, stepB: number): string {
  return `${stepA}--${runIdB.replace(/[^A-Za-z0-9_.-]/g, "_")}--${stepB}.json`;
}

export function lmcPath(runDirA: string, stepA: number, runIdB: string, stepB: number): string {
  return join(runDirA, LMC_DIR, lmcFileName(stepA, runIdB, stepB));
}
