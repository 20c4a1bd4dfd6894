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

// ----------------------------------------------------------------------------- instability.json

export const INSTABILITY_FORMAT = "learning-mechanics/instability";
export const INSTABILITY_FILE = "instability.json";

/** instability.json (`lm instability`): the barrier of each k, with the branches and the lmc file it came from. */
export interface InstabilityRecord {
  format: typeof INSTABILITY_FORMAT;
  formatVersion: 1;
  /** The parent run's folder, relative to this file's folder. */
  parent: string;
  parentId: string;
  dataSeeds: [number, number];
  points: Array<{ k: number; branches: [string, string]; lmc: string; barrier: LmcRecord["barrier"] }>;
}

/** Where `lm instability RUN` puts its folder by default: beside the run. */
export function defaultInstabilityDir(runDir: string): string {
  return `${runDir.replace(/[\\/]+$/, "")}-instability`;
}

// ----------------------------------------------------------------------------- reading (untrusted files)

/**
 * Readers' bounds. An lmc file of the default 11 points is ~2 KB; 8 MB leaves room for grids of
 * tens of thousands of α. More files than MAX_LMC_FILES in one lmc/ folder are not read (named).
 */
export const LMC_FILE_BYTES = 8 << 20;
export const MAX_LMC_FILES = 200;
export const MAX_LMC_POINTS = 100_000;

export const LMC_QUANTITIES: readonly LmcQuantity[] = ["train_loss", "train_error", "test_loss", "test_error"];

/**
 * A point as read from a file: a quantity that was not finite when written (a diverging
 * interpolation) is JSON `null`, kept as a gap rather than refused.
 */
export type LmcReadPoint = { alpha: number } & { [Q in LmcQuantity]?: number | null };

export type LmcReadRecord = Omit<LmcRecord, "points"> & { points: LmcReadPoint[] };

export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string[] };

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

const isStep = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x) && x >= 0;

function jsonOf(text: string): Parsed<unknown> {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, problems: [`not JSON: ${e instanceof Error ? e.message : String(e)}`] };
  }
}

function barrierProblems(x: unknown, where: string): string[] {
  if (!isPlainObject(x)) return [`${where}: expected an object`];
  const out: string[] = [];
  for (const [k, v] of Object.entries(x)) {
    if (!(LMC_QUANTITIES as readonly string[]).includes(k)) out.push(`${where}: unknown quantity ${JSON.stringify(k)}`);
    else if (typeof v !== "number" || !Number.isFinite(v)) out.push(`${where}.${k}: expected a finite number`);
  }
  return out;
}

/** The problems of an lmc file's value (docs/analysis-format.md, "Linear mode connectivity"), field by field. */
export function lmcRecordProblems(v: unknown): string[] {
  if (!isPlainObject(v)) return ["expected a JSON object"];
  const problems: string[] = [];
  if (v["format"] !== LMC_FORMAT) problems.push(`format: expected "${LMC_FORMAT}"`);
  if (v["formatVersion"] !== 1) problems.push(`formatVersion: expected 1, got ${JSON.stringify(v["formatVersion"])}`);
  for (const side of ["a", "b"] as const) {
    const e = v[side];
    if (!isPlainObject(e)) problems.push(`${side}: expected { run, runId, step }`);
    else {
      if (typeof e["run"] !== "string") problems.push(`${side}.run: expected a string`);
      if (typeof e["runId"] !== "string") problems.push(`${side}.runId: expected a string`);
      if (!isStep(e["step"])) problems.push(`${side}.step: expected a whole number`);
    }
  }
  const points = v["points"];
  if (!Array.isArray(points) || points.length < 2) problems.push("points: expected an array of at least 2 points");
  else if (points.length > MAX_LMC_POINTS) problems.push(`points: ${points.length} > ${MAX_LMC_POINTS}`);
  else {
    let previous = -1;
    for (let i = 0; i < points.length && problems.length < 8; i++) {
      const p: unknown = points[i];
      if (!isPlainObject(p)) {
        problems.push(`points[${i}]: expected an object`);
        continue;
      }
      const alpha = p["alpha"];
      if (typeof alpha !== "number" || !(alpha >= 0 && alpha <= 1) || alpha <= previous)
        problems.push(`points[${i}].alpha: expected a number in [0, 1] above the previous one`);
      else previous = alpha;
      for (const q of LMC_QUANTITIES) {
        const x = p[q];
        if (x !== undefined && x !== null && (typeof x !== "number" || !Number.isFinite(x)))
          problems.push(`points[${i}].${q}: expected a number or null`);
      }
      if (p["train_loss"] === undefined) problems.push(`points[${i}].train_loss: missing`);
    }
    const first = points[0] as unknown;
    const last = points.at(-1) as unknown;
    if (isPlainObject(first) && first["alpha"] !== 0) problems.push("points[0].alpha: expected 0");
    if (isPlainObject(last) && last["alpha"] !== 1) problems.push(`points[${points.length - 1}].alpha: expected 1`);
  }
  problems.push(...barrierProblems(v["barrier"], "barrier"));
  if (typeof v["backend"] !== "string") problems.push("backend: expected a string");
  if (typeof v["createdAt"] !== "string") problems.push("createdAt: expected a string");
  return problems;
}

export function parseLmcRecord(text: string): Parsed<LmcReadRecord> {
  const json = jsonOf(text);
  if (!json.ok) return json;
  const problems = lmcRecordProblems(json.value);
  // The checks above are exactly LmcReadRecord's fields.
  return problems.length === 0 ? { ok: true, value: json.value as LmcReadRecord } : { ok: false, problems };
}

export function instabilityRecordProblems(v: unknown): string[] {
  if (!isPlainObject(v)) return ["expected a JSON object"];
  const problems: string[] = [];
  if (v["format"] !== INSTABILITY_FORMAT) problems.push(`format: expected "${INSTABILITY_FORMAT}"`);
  if (v["formatVersion"] !== 1) problems.push(`formatVersion: expected 1, got ${JSON.stringify(v["formatVersion"])}`);
  if (typeof v["parent"] !== "string") problems.push("parent: expected a string");
  if (typeof v["parentId"] !== "string") problems.push("parentId: expected a string");
  const seeds = v["dataSeeds"];
  if (!Array.isArray(seeds) || seeds.length !== 2 || !seeds.every((s) => Number.isInteger(s)))
    problems.push("dataSeeds: expected two integers");
  const points = v["points"];
  if (!Array.isArray(points) || points.length > MAX_LMC_FILES)
    problems.push(`points: expected an array of at most ${MAX_LMC_FILES}`);
  else
    for (let i = 0; i < points.length && problems.length < 8; i++) {
      const p: unknown = points[i];
      if (!isPlainObject(p)) {
        problems.push(`points[${i}]: expected an object`);
        continue;
      }
      if (!isStep(p["k"])) problems.push(`points[${i}].k: expected a whole number`);
      const b = p["branches"];
      if (!Array.isArray(b) || b.length !== 2 || !b.every((x) => typeof x === "string"))
        problems.push(`points[${i}].branches: expected two folder names`);
      if (typeof p["lmc"] !== "string") problems.push(`points[${i}].lmc: expected a file name`);
      problems.push(...barrierProblems(p["barrier"], `points[${i}].barrier`));
    }
  return problems;
}

export function parseInstabilityRecord(text: string): Parsed<InstabilityRecord> {
  const json = jsonOf(text);
  if (!json.ok) return json;
  const problems = instabilityRecordProblems(json.value);
  return problems.length === 0 ? { ok: true, value: json.value as InstabilityRecord } : { ok: false, problems };
}
