// Sweeps, the pure part (docs/sweeps.md): dotted paths into a resolved config ("model.hidden[0]"),
// the expansion of a sweep into its points, and a point's values laid over a resolved system.
// No tensor library and no file system, so the validator, the trainer and the extension's code
// lens can all use it. The checks that name a user's mistake are in validate/sweep.ts.
//
// A path only ever walks the own properties of plain objects and the elements of arrays that the
// resolved config already has, and `__proto__`, `constructor` and `prototype` are refused when the
// path is parsed: a swept value can never reach a prototype.
import { setOwn } from "./builders";
import type { SweepScalar, SweepSeeds, SweepSpec, SystemSpec } from "./spec";

/** One step of a dotted path: a field name or an array index. */
export type PathStep = string | number;

/** Names a path may not use: they lead to prototypes, never to config fields. */
const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);

const SEGMENT = /^([A-Za-z_$][A-Za-z0-9_$]*)((?:\[\d+\])*)$/;

export type ParsedPath = { ok: true; steps: PathStep[] } | { ok: false; problem: string };

/**
 * `"model.hidden[0]"` → ["model", "hidden", 0]. Names are identifiers, indices decimal integers in
 * brackets after a name; anything else is refused with what was expected.
 */
export function parseSweepPath(path: string): ParsedPath {
  if (path === "") return { ok: false, problem: "is empty: expected a dotted path such as model.hidden[0]" };
  const steps: PathStep[] = [];
  for (const segment of path.split(".")) {
    const m = SEGMENT.exec(segment);
    const name = m?.[1];
    if (m === null || name === undefined)
      return {
        ok: false,
        problem: `is not a dotted path ("${segment}" is not a field name, optionally followed by [index]); e.g. model.hidden[0]`,
      };
    if (FORBIDDEN.has(name)) return { ok: false, problem: `names "${name}", which is not a config field` };
    steps.push(name);
    for (const index of (m[2] ?? "").matchAll(/\[(\d+)\]/g)) {
      const i = Number(index[1]);
      if (!Number.isSafeInteger(i)) return { ok: false, problem: `has an index too large: [${index[1]}]` };
      steps.push(i);
    }
  }
  return { ok: true, steps };
}

/** ["model", "hidden", 0] → "model.hidden[0]". */
export function formatSweepPath(steps: readonly PathStep[]): string {
  let out = "";
  for (const s of steps) out += typeof s === "number" ? `[${s}]` : out === "" ? s : `.${s}`;
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  // Plain objects of any realm (experiment files may be evaluated in another context).
  return proto === null || Object.getPrototypeOf(proto) === null;
}

export function isSweepScalar(v: unknown): v is SweepScalar {
  return (typeof v === "number" && Number.isFinite(v)) || typeof v === "string" || typeof v === "boolean";
}

/** Where a path leads in a config: the value, or the first step that does not exist and why. */
export type PathLookup =
  | { ok: true; value: unknown }
  | {
      ok: false;
      /** How many steps resolved before the failing one. */
      depth: number;
      /** What the path reached before it failed (an object's keys are the candidates for a typo). */
      container: unknown;
      problem: string;
    };

/** Follows `steps` through own fields of plain objects and elements of arrays; never a prototype. */
export function lookupPath(root: unknown, steps: readonly PathStep[]): PathLookup {
  let at: unknown = root;
  for (let depth = 0; depth < steps.length; depth++) {
    const step = steps[depth] as PathStep;
    const here = formatSweepPath(steps.slice(0, depth)) || "the config";
    if (typeof step === "number") {
      if (!Array.isArray(at))
        return { ok: false, depth, container: at, problem: `${here} is not an array, so [${step}] does not apply` };
      if (step >= at.length)
        return {
          ok: false,
          depth,
          container: at,
          problem: `${here} has ${at.length} element${at.length === 1 ? "" : "s"}, so [${step}] is out of range`,
        };
      at = at[step];
    } else {
      if (!isPlainObject(at) || !Object.hasOwn(at, step))
        return {
          ok: false,
          depth,
          container: at,
          problem: isPlainObject(at) ? `${here} has no field "${step}"` : `${here} has no fields`,
        };
      at = at[step];
    }
  }
  return { ok: true, value: at };
}

/** A copy of plain objects and arrays (fresh all the way down); functions and other objects are shared. */
function deepCopy(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(deepCopy);
  if (!isPlainObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) setOwn(out, k, deepCopy(x));
  return out;
}

/**
 * The system input of one point: a copy of the resolved `spec` with each path set to its value and
 * `seed` set, for `validateSystem` to check as a system of its own. Paths were checked against
 * `spec` (validate/sweep.ts); one that does not resolve throws (a bug, not a user's mistake).
 */
export function applySweepPoint(
  spec: SystemSpec,
  values: Readonly<Record<string, SweepScalar>>,
  seed: number,
): Record<string, unknown> {
  const copy = deepCopy(spec);
  if (!isPlainObject(copy)) throw new Error("internal: a resolved spec is a plain object");
  for (const [path, value] of Object.entries(values)) {
    const parsed = parseSweepPath(path);
    if (!parsed.ok) throw new Error(`internal: sweep path ${JSON.stringify(path)} ${parsed.problem}`);
    const parent = lookupPath(copy, parsed.steps.slice(0, -1));
    const last = parsed.steps.at(-1);
    if (!parent.ok || last === undefined) throw new Error(`internal: sweep path ${path} does not resolve`);
    const holder = parent.value;
    if (typeof last === "number" && Array.isArray(holder) && last < holder.length) holder[last] = value;
    else if (typeof last === "string" && isPlainObject(holder) && Object.hasOwn(holder, last))
      setOwn(holder, last, value);
    else throw new Error(`internal: sweep path ${path} does not resolve`);
  }
  rederiveDefaults(spec, copy, values);
  copy["seed"] = seed;
  return copy;
}

/**
 * Defaults that depend on another field follow a point's value of it. An MLP's `centered` defaults
 * to `alpha ≠ 1` (builders.ts), but the resolved spec holds the base's value: a sweep over
 * `model.alpha` from α = 1 would train every α uncentred (a test loss growing as α²). A resolved
 * spec no longer says which values were defaults, so `centered` is re-derived only where it still
 * equals the default for the base's α; one the base set otherwise, or the sweep sets, is kept.
 */
function rederiveDefaults(
  spec: SystemSpec,
  copy: Record<string, unknown>,
  values: Readonly<Record<string, SweepScalar>>,
): void {
  const model = copy["model"];
  if (!("model.alpha" in values) || "model.centered" in values || !isPlainObject(model)) return;
  if (spec.model.kind !== "mlp" || spec.model.centered !== (spec.model.alpha !== 1)) return;
  setOwn(model, "centered", model["alpha"] !== 1);
}

/** One run of a sweep: 0-based index, the swept fields' values, the seed. */
export interface SweepPlanPoint {
  index: number;
  values: Record<string, SweepScalar>;
  seed: number;
}

/** A sweep expanded: what sweep.json records (src/shared/sweepFormat.ts) before any run. */
export interface SweepPlan {
  mode: "grid" | "list";
  /** Dotted paths in declaration order (a list's: in order of first appearance); empty for seeds alone. */
  fields: string[];
  seeds: number[];
  /** Combination-major, seed-minor: point c·seeds.length + s is combination c with seed s. */
  points: SweepPlanPoint[];
}

/** The seeds of a sweep: a count n is 0 … n − 1; none given is the system's seed. */
export function sweepSeeds(seeds: SweepSeeds | undefined, systemSeed: number): number[] {
  if (seeds === undefined) return [systemSeed];
  if (typeof seeds === "number") return Array.from({ length: seeds }, (_, i) => i);
  return [...seeds];
}

/** The values of each combination (seeds aside), in index order. `sweep` has been checked. */
export function sweepCombinations(sweep: SweepSpec, base: SystemSpec): Record<string, SweepScalar>[] {
  if ("grid" in sweep) {
    let combos: Record<string, SweepScalar>[] = [{}];
    // The first field varies slowest: its loop is the outermost.
    for (const [path, values] of Object.entries(sweep.grid))
      combos = combos.flatMap((c) => values.map((v) => withField(c, path, v)));
    return combos;
  }
  if ("points" in sweep) {
    const fields = listFields(sweep.points);
    // A field a point leaves out keeps the system's value, recorded so every point has every field.
    return sweep.points.map((p) => {
      let out: Record<string, SweepScalar> = {};
      for (const f of fields) {
        const given = Object.hasOwn(p, f) ? p[f] : undefined;
        const value = given !== undefined ? given : baseValue(base, f);
        out = withField(out, f, value);
      }
      return out;
    });
  }
  return [{}];
}

function withField(o: Record<string, SweepScalar>, key: string, value: SweepScalar): Record<string, SweepScalar> {
  const out: Record<string, SweepScalar> = {};
  for (const [k, v] of Object.entries(o)) setOwn(out, k, v);
  setOwn(out, key, value);
  return out;
}

function baseValue(base: SystemSpec, path: string): SweepScalar {
  const parsed = parseSweepPath(path);
  const found = parsed.ok ? lookupPath(base, parsed.steps) : undefined;
  if (!found?.ok || !isSweepScalar(found.value)) throw new Error(`internal: sweep path ${path} does not resolve`);
  return found.value;
}

/** The fields of a list sweep, in order of first appearance. */
export function listFields(points: readonly Record<string, unknown>[]): string[] {
  const fields: string[] = [];
  for (const p of points) for (const k of Object.keys(p)) if (!fields.includes(k)) fields.push(k);
  return fields;
}

/** Expands a checked sweep of the resolved system `base` into its points. */
export function expandSweep(sweep: SweepSpec, base: SystemSpec): SweepPlan {
  const seeds = sweepSeeds(sweep.seeds, base.seed);
  const combos = sweepCombinations(sweep, base);
  const points: SweepPlanPoint[] = [];
  for (const values of combos) for (const seed of seeds) points.push({ index: points.length, values, seed });
  const mode = "points" in sweep ? "list" : "grid";
  const fields = "grid" in sweep ? Object.keys(sweep.grid) : "points" in sweep ? listFields(sweep.points) : [];
  return { mode, fields, seeds, points };
}

/** 12345 → "12,345". */
export function formatCount(n: number): string {
  // Not toLocaleString: its first call loads the locale data (a quarter of a second).
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * The number of runs of a sweep and how it comes about, without expanding it: "12 runs = 2 × 2 ×
 * 3 seeds", "3 runs = 3 values of task.dim", "6 runs = 2 points × 3 seeds", "3 runs = 3 seeds".
 * `sweep` has been checked.
 */
export function sweepSize(sweep: SweepSpec): { runs: number; text: string } {
  const seeds = sweep.seeds === undefined ? 1 : typeof sweep.seeds === "number" ? sweep.seeds : sweep.seeds.length;
  const factors: string[] = [];
  let combos = 1;
  if ("grid" in sweep) {
    const fields = Object.entries(sweep.grid);
    for (const [path, values] of fields) {
      combos *= values.length;
      // One field alone is named ("3 values of task.dim"); several read as a product ("2 × 2").
      factors.push(
        fields.length === 1 ? `${formatCount(values.length)} values of ${path}` : formatCount(values.length),
      );
    }
  } else if ("points" in sweep) {
    combos = sweep.points.length;
    factors.push(`${formatCount(combos)} point${combos === 1 ? "" : "s"}`);
  }
  if (seeds > 1 || factors.length === 0) factors.push(`${formatCount(seeds)} seed${seeds === 1 ? "" : "s"}`);
  const runs = combos * seeds;
  return { runs, text: `${formatCount(runs)} run${runs === 1 ? "" : "s"} = ${factors.join(" × ")}` };
}

/** "model.hidden[0] = 8, optimizer.weightDecay = 0.1": a point's values, for messages and tables. */
export function describeSweepValues(values: Readonly<Record<string, SweepScalar>>): string {
  const parts = Object.entries(values).map(([k, v]) => `${k} = ${typeof v === "string" ? JSON.stringify(v) : v}`);
  return parts.length ? parts.join(", ") : "(no fields)";
}
