// The sweep folder's manifest, `sweep.json` (docs/sweeps.md): which model system, which fields were
// swept over which values and seeds, and for each point its run folder and the status the launcher
// last saw. Written by the trainer (`lm sweep`), read by the extension and the sweep panel. A run's
// own run.json stays the truth for how its training ended; `status` here adds what only the
// launcher knows (pending, queued on Slurm, cancelled).
import { isObject } from "./guards";

export const SWEEP_FORMAT = "learning-mechanics/sweep";
export const SWEEP_FORMAT_VERSION = 1;
export const SWEEP_MANIFEST = "sweep.json";
/** The Slurm batch script and the tasks' logs, inside the sweep folder. */
export const SWEEP_SLURM_DIR = "slurm";
/** More points than this is refused with its size (a typo in a grid, not an experiment). */
export const MAX_SWEEP_POINTS = 10_000;

/** A value a swept field takes: what a system's config holds at a leaf. */
export type SweepValue = number | string | boolean;

/**
 * A point's status as the launcher last saw it. "pending": not started or not submitted;
 * "queued": submitted to Slurm, not yet running; the others as in run.json, plus "cancelled"
 * (scancel, or a local Stop before the point started).
 */
export type SweepPointStatus =
  | "pending"
  | "queued"
  | "running"
  | "finished"
  | "stopped"
  | "failed"
  | "diverged"
  | "cancelled";
export const SWEEP_POINT_STATUSES: readonly SweepPointStatus[] = [
  "pending",
  "queued",
  "running",
  "finished",
  "stopped",
  "failed",
  "diverged",
  "cancelled",
];

export interface SweepPoint {
  /** 0-based, dense; the Slurm array index. */
  index: number;
  /** The swept fields' values at this point, by dotted path ("model.hidden[0]"). */
  values: Record<string, SweepValue>;
  /** The training seed of this point (the system's `seed` field). */
  seed: number;
  /** The point's run folder, relative to the sweep folder (a plain name: "0007"). */
  run: string;
  status: SweepPointStatus;
  /** Slurm only: the job id of the array task that last ran or holds this point ("1234_7"). */
  slurmJob?: string;
}

export type SweepLauncher =
  | { kind: "local"; parallel: number }
  | {
      kind: "slurm";
      /** Every array job submitted for this sweep, oldest first (a resubmission adds one). */
      jobIds: string[];
      /** The sbatch options used (partition, time, gpus, …), as given. */
      options: Record<string, string>;
    };

export interface SweepManifest {
  format: typeof SWEEP_FORMAT;
  version: number;
  /** The experiment file, absolute (as in run.json). */
  experiment: string;
  system: string;
  createdAt: string;
  /** The swept fields (dotted paths) in declaration order; may be empty (a sweep over seeds only). */
  fields: string[];
  /** "grid": every combination of the fields' values; "list": the points as listed. */
  mode: "grid" | "list";
  seeds: number[];
  points: SweepPoint[];
  launcher: SweepLauncher;
  /** `lm sweep --steps N`: every point trains for N steps (a swept `steps` wins at its points). */
  steps?: number;
  /**
   * A calibration sweep (`lm calibrate`, docs/interventions.md): every point is a branch of
   * `parent` (absolute) at `step` without the training rows `subsets[index]`, not a run of the system.
   */
  intervention?: SweepIntervention;
  /**
   * An iterative-magnitude-pruning folder (`lm imp`, docs/lottery-tickets.md): its points are the
   * rounds' tickets and controls, their values the coordinates the panel plots (not config
   * fields), trained by `lm imp-task`, not `lm sweep-task`.
   */
  imp?: SweepImp;
}

/** sweep.json `intervention`: what each point of a calibration sweep removes. */
export interface SweepIntervention {
  parent: string;
  step: number;
  fraction: number;
  seed: number;
  subsets: number[][];
}

/** The settings of an IMP folder (`lm imp`): what every round did. */
export interface SweepImp {
  rounds: number;
  /** The fraction of the remaining prunable weights pruned in each round, in (0, 1). */
  fraction: number;
  scope: "global" | "layer";
  /** The step the surviving weights are rewound to (0: the initialization). */
  rewind: number;
  controls: Array<"reinit" | "random">;
}

/** The run folder name of point `index` (zero-padded so names sort as indices do). */
export function sweepRunName(index: number): string {
  return String(index).padStart(4, "0");
}

const isSweepValue = (x: unknown): x is SweepValue =>
  (typeof x === "number" && Number.isFinite(x)) || typeof x === "string" || typeof x === "boolean";

/** What is wrong with a parsed sweep.json, field by field; empty when it is valid. */
export function sweepManifestProblems(value: unknown): string[] {
  if (!isObject(value)) return ["sweep.json is not a JSON object"];
  const problems: string[] = [];
  if (value.format !== SWEEP_FORMAT) problems.push(`format: expected "${SWEEP_FORMAT}"`);
  if (value.version !== SWEEP_FORMAT_VERSION)
    problems.push(`version: expected ${SWEEP_FORMAT_VERSION}, got ${JSON.stringify(value.version)}`);
  for (const key of ["experiment", "system", "createdAt"] as const)
    if (typeof value[key] !== "string") problems.push(`${key}: expected a string`);
  if (value.mode !== "grid" && value.mode !== "list") problems.push(`mode: expected "grid" or "list"`);
  if ("intervention" in value) {
    const iv = value.intervention;
    if (
      !isObject(iv) ||
      typeof iv.parent !== "string" ||
      !Number.isInteger(iv.step) ||
      !Array.isArray(iv.subsets) ||
      !iv.subsets.every((s) => Array.isArray(s) && s.every((r) => Number.isInteger(r) && (r as number) >= 0))
    )
      problems.push("intervention: expected { parent, step, fraction, seed, subsets: [[rows…]…] }");
  }
  const fields = value.fields;
  if (!Array.isArray(fields) || !fields.every((f) => typeof f === "string"))
    problems.push("fields: expected an array of dotted paths");
  if (!Array.isArray(value.seeds) || !value.seeds.every((s) => Number.isInteger(s)))
    problems.push("seeds: expected an array of integers");
  if (value.steps !== undefined && !(Number.isInteger(value.steps) && (value.steps as number) >= 1))
    problems.push("steps: expected a positive integer");
  const points = value.points;
  if (!Array.isArray(points)) problems.push("points: expected an array");
  else if (points.length > MAX_SWEEP_POINTS) problems.push(`points: ${points.length} > ${MAX_SWEEP_POINTS}`);
  else
    points.forEach((p: unknown, i) => {
      const where = `points[${i}]`;
      if (!isObject(p)) {
        problems.push(`${where}: expected an object`);
        return;
      }
      if (p.index !== i) problems.push(`${where}.index: expected ${i}`);
      if (!Number.isInteger(p.seed)) problems.push(`${where}.seed: expected an integer`);
      if (typeof p.run !== "string" || !/^[A-Za-z0-9._-]+$/.test(p.run) || p.run === "." || p.run === "..")
        problems.push(`${where}.run: expected a plain folder name`);
      if (!SWEEP_POINT_STATUSES.includes(p.status as SweepPointStatus))
        problems.push(`${where}.status: expected one of ${SWEEP_POINT_STATUSES.join(", ")}`);
      if (p.slurmJob !== undefined && typeof p.slurmJob !== "string")
        problems.push(`${where}.slurmJob: expected a string`);
      if (!isObject(p.values)) problems.push(`${where}.values: expected an object`);
      else
        for (const [k, v] of Object.entries(p.values))
          if (!isSweepValue(v)) problems.push(`${where}.values["${k}"]: expected a number, string or boolean`);
    });
  const imp = value.imp;
  if (
    imp !== undefined &&
    !(
      isObject(imp) &&
      Number.isInteger(imp.rounds) &&
      typeof imp.fraction === "number" &&
      (imp.scope === "global" || imp.scope === "layer") &&
      Number.isInteger(imp.rewind) &&
      Array.isArray(imp.controls) &&
      imp.controls.every((c) => c === "reinit" || c === "random")
    )
  )
    problems.push("imp: expected { rounds, fraction, scope, rewind, controls }");
  const l = value.launcher;
  if (!isObject(l)) problems.push("launcher: expected an object");
  else if (l.kind === "local") {
    if (!Number.isInteger(l.parallel) || (l.parallel as number) < 1)
      problems.push("launcher.parallel: expected an integer ≥ 1");
  } else if (l.kind === "slurm") {
    if (!Array.isArray(l.jobIds) || !l.jobIds.every((j) => typeof j === "string"))
      problems.push("launcher.jobIds: expected an array of strings");
    if (!isObject(l.options) || !Object.values(l.options).every((o) => typeof o === "string"))
      problems.push("launcher.options: expected an object of strings");
  } else problems.push(`launcher.kind: expected "local" or "slurm"`);
  return problems;
}

export type SweepManifestParse = { ok: true; manifest: SweepManifest } | { ok: false; problems: string[] };

export function parseSweepManifest(text: string): SweepManifestParse {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, problems: [`not JSON: ${(e as Error).message}`] };
  }
  const problems = sweepManifestProblems(value);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, manifest: value as SweepManifest };
}
