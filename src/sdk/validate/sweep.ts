// The `sweep` field of a model system (docs/sweeps.md): its shape (grid, points or seeds alone),
// every path against the resolved config (an unknown one named with a suggestion), every value a
// scalar, the size at most MAX_SWEEP_POINTS, and then each point checked as a system of its own.
import { MAX_SWEEP_POINTS } from "../../shared/sweepFormat";
import { setOwn } from "../builders";
import type { SweepScalar, SweepSpec, SystemSpec } from "../spec";
import {
  applySweepPoint,
  describeSweepValues,
  expandSweep,
  formatCount,
  formatSweepPath,
  isSweepScalar,
  lookupPath,
  parseSweepPath,
  type SweepPlan,
  sweepCombinations,
  sweepSeeds,
} from "../sweep";
import { type Fields, isInt, isObject, MAX_SEED, type Problems, quote } from "./rules";
import { suggest } from "./suggest";

/** How many failing points are named one by one; the rest are counted. */
const NAMED_BAD_POINTS = 3;

const KEYS = ["grid", "points", "seeds"];

/** `sweep.grid["model.hidden[0]"]`: where a path's problems are reported. */
function at(where: string, path: string): string {
  return `${where}[${quote(path)}]`;
}

/**
 * Checks a path against the resolved config: it must parse, exist, and name a scalar that may be
 * swept. Reports at `where` and returns false when it does not.
 */
function checkPath(path: string, where: string, spec: SystemSpec | undefined, problems: Problems): boolean {
  const parsed = parseSweepPath(path);
  if (!parsed.ok) {
    problems.add(where, `path ${quote(path)} ${parsed.problem}`);
    return false;
  }
  const steps = parsed.steps;
  if (steps.length === 1 && steps[0] === "seed") {
    problems.add(where, "sweep the seed with `seeds` (a count or a list), not as a path: e.g. { ..., seeds: 3 }");
    return false;
  }
  if (steps.at(-1) === "kind") {
    problems.add(
      where,
      `${quote(path)}: a part's kind cannot be swept (its fields differ); declare one system per kind`,
    );
    return false;
  }
  // The rest of the system is invalid: its problems are reported already, the path cannot be checked.
  if (spec === undefined) return true;
  const found = lookupPath(spec, steps);
  if (!found.ok) {
    let hint = "";
    const step = steps[found.depth];
    if (typeof step === "string" && isObject(found.container)) {
      const close = suggest(step, Object.keys(found.container));
      if (close !== undefined)
        hint = ` (did you mean ${quote(formatSweepPath([...steps.slice(0, found.depth), close, ...steps.slice(found.depth + 1)]))}?)`;
    }
    problems.add(where, `unknown path ${quote(path)}: ${found.problem}${hint}`);
    return false;
  }
  if (!isSweepScalar(found.value)) {
    const what = Array.isArray(found.value)
      ? "an array"
      : typeof found.value === "function"
        ? "a function"
        : "an object";
    const example = Array.isArray(found.value) ? `; sweep one element, e.g. ${quote(`${path}[0]`)}` : "";
    problems.add(where, `${quote(path)} is ${what}, not a number, string or boolean${example}`);
    return false;
  }
  return true;
}

function valueProblem(v: unknown): string | undefined {
  if (isSweepScalar(v)) return undefined;
  if (typeof v === "number") return `${v} is not a finite number`;
  if (Array.isArray(v)) return "is an array: a swept value must be a number, string or boolean";
  return `is ${v === null ? "null" : typeof v === "object" ? "an object" : `a ${typeof v}`}: a swept value must be a number, string or boolean`;
}

function checkGrid(
  grid: unknown,
  spec: SystemSpec | undefined,
  problems: Problems,
): Record<string, SweepScalar[]> | undefined {
  if (!isObject(grid)) {
    problems.add(
      "sweep.grid",
      'must be an object of dotted paths and value lists, e.g. { "model.hidden[0]": [8, 16] }',
    );
    return undefined;
  }
  const paths = Object.keys(grid);
  if (paths.length === 0) {
    problems.add("sweep.grid", "is empty: name at least one field and its values (for seeds alone, give only `seeds`)");
    return undefined;
  }
  let ok = true;
  const out: Record<string, SweepScalar[]> = {};
  for (const path of paths) {
    const where = at("sweep.grid", path);
    if (!checkPath(path, where, spec, problems)) ok = false;
    const values = grid[path];
    if (!Array.isArray(values)) {
      problems.add(where, "must be an array of the values the field takes, e.g. [8, 16, 32]");
      ok = false;
      continue;
    }
    if (values.length === 0) {
      problems.add(where, "is an empty list of values: a grid with it has no points");
      ok = false;
      continue;
    }
    const seen: SweepScalar[] = [];
    values.forEach((v: unknown, i) => {
      const bad = valueProblem(v);
      if (bad !== undefined) {
        problems.add(`${where}[${i}]`, bad);
        ok = false;
      } else if (isSweepScalar(v)) {
        if (seen.includes(v)) {
          problems.add(`${where}[${i}]`, `${JSON.stringify(v)} is listed twice (each value is one point)`);
          ok = false;
        }
        seen.push(v);
      }
    });
    setOwn(out, path, seen);
  }
  return ok ? out : undefined;
}

function checkPoints(
  points: unknown,
  spec: SystemSpec | undefined,
  problems: Problems,
): Record<string, SweepScalar>[] | undefined {
  if (!Array.isArray(points)) {
    problems.add(
      "sweep.points",
      'must be an array of points, e.g. [{ "model.hidden[0]": 8 }, { "model.hidden[0]": 16 }]',
    );
    return undefined;
  }
  if (points.length === 0) {
    problems.add("sweep.points", "is empty: list at least one point");
    return undefined;
  }
  let ok = true;
  const checkedPaths = new Map<string, boolean>();
  const out: Record<string, SweepScalar>[] = [];
  points.forEach((p: unknown, i) => {
    const where = `sweep.points[${i}]`;
    if (!isObject(p)) {
      problems.add(where, 'must be an object of dotted paths and values, e.g. { "model.hidden[0]": 8 }');
      ok = false;
      return;
    }
    const point: Record<string, SweepScalar> = {};
    for (const path of Object.keys(p)) {
      // Each distinct path is checked (and reported) once, at its first point.
      let pathOk = checkedPaths.get(path);
      if (pathOk === undefined) {
        pathOk = checkPath(path, at(where, path), spec, problems);
        checkedPaths.set(path, pathOk);
      }
      if (!pathOk) ok = false;
      const v = p[path];
      const bad = valueProblem(v);
      if (bad !== undefined) {
        problems.add(at(where, path), bad);
        ok = false;
      } else if (isSweepScalar(v)) setOwn(point, path, v);
    }
    out.push(point);
  });
  return ok ? out : undefined;
}

function checkSeeds(seeds: unknown, problems: Problems): number | number[] | undefined | false {
  if (seeds === undefined) return undefined;
  if (typeof seeds === "number") {
    if (isInt(seeds) && seeds >= 1 && seeds <= MAX_SWEEP_POINTS) return seeds;
    problems.add(
      "sweep.seeds",
      `must be a count of seeds (an integer from 1 to ${formatCount(MAX_SWEEP_POINTS)}) or a list of seeds`,
    );
    return false;
  }
  if (!Array.isArray(seeds) || seeds.length === 0) {
    problems.add("sweep.seeds", "must be a count of seeds (e.g. 3: seeds 0, 1, 2) or a non-empty list of seeds");
    return false;
  }
  let ok = true;
  const list: number[] = [];
  seeds.forEach((s: unknown, i) => {
    if (!isInt(s) || s < 0 || s > MAX_SEED) {
      problems.add(`sweep.seeds[${i}]`, `must be an integer in [0, ${MAX_SEED}]`);
      ok = false;
    } else if (list.includes(s)) {
      problems.add(`sweep.seeds[${i}]`, `seed ${s} is listed twice`);
      ok = false;
    } else list.push(s);
  });
  return ok ? list : false;
}

/** "the grid has 100,000 points (10 × 10 × 1,000)" and the like; undefined when within the limit. */
function sizeProblem(sweep: SweepSpec): string | undefined {
  const seeds = sweep.seeds === undefined ? 1 : typeof sweep.seeds === "number" ? sweep.seeds : sweep.seeds.length;
  const seedFactor = seeds > 1 ? [`${formatCount(seeds)} seeds`] : [];
  let combos = 1;
  let factors: string[] = [];
  let what = "sweep";
  if ("grid" in sweep) {
    const lengths = Object.values(sweep.grid).map((v) => v.length);
    for (const n of lengths) combos *= n;
    factors = lengths.map(formatCount);
    what = "grid";
  } else if ("points" in sweep) {
    combos = sweep.points.length;
    factors = [`${formatCount(combos)} points`];
    what = "list";
  }
  const runs = combos * seeds;
  if (runs <= MAX_SWEEP_POINTS) return undefined;
  const noun = seeds > 1 || what === "sweep" ? "runs" : "points";
  const subject = seeds > 1 || what === "sweep" ? "the sweep" : `the ${what}`;
  return `${subject} has ${formatCount(runs)} ${noun} (${[...factors, ...seedFactor].join(" × ")}); at most ${formatCount(MAX_SWEEP_POINTS)}`;
}

/** The problems of one point's system (validateSystem's, passed in: system.ts imports this module). */
export type PointValidator = (input: Record<string, unknown>) => readonly { path: string; message: string }[];

/**
 * Checks `sweep` (the field as written) against the resolved system `spec` (undefined when the
 * rest of the system is invalid: then only its shape is checked). Returns the expanded plan when
 * everything is valid, each point included; undefined when there is no sweep or a problem.
 */
export function checkSweep(
  value: unknown,
  spec: SystemSpec | undefined,
  problems: Problems,
  validatePoint: PointValidator,
): SweepPlan | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) {
    problems.add(
      "sweep",
      'must be an object: { grid: { "path": [values] } }, { points: [{ "path": value }] } or { seeds: n }',
    );
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (KEYS.includes(key)) continue;
    const hint = suggest(key, KEYS);
    problems.add(
      `sweep.${key}`,
      `unknown field${hint === undefined ? "" : ` (did you mean ${quote(hint)}?)`} (a sweep has grid or points, and seeds)`,
    );
  }
  const before = problems.list.length;
  const given: Fields = value;
  const hasGrid = given["grid"] !== undefined;
  const hasPoints = given["points"] !== undefined;
  if (hasGrid && hasPoints)
    problems.add("sweep", "has both grid and points: give one (a grid of combinations, or a list of points)");
  if (!hasGrid && !hasPoints && given["seeds"] === undefined)
    problems.add(
      "sweep",
      'names nothing to sweep: give grid, points or seeds, e.g. { grid: { "model.hidden[0]": [8, 16] } }',
    );
  const seeds = checkSeeds(given["seeds"], problems);
  const grid = hasGrid && !hasPoints ? checkGrid(given["grid"], spec, problems) : undefined;
  const points = hasPoints && !hasGrid ? checkPoints(given["points"], spec, problems) : undefined;
  if (problems.list.length > before || seeds === false || spec === undefined) return undefined;
  const seedPart = seeds === undefined ? {} : { seeds };
  const sweep: SweepSpec = grid ? { grid, ...seedPart } : points ? { points, ...seedPart } : { seeds: seeds ?? 1 };
  const tooBig = sizeProblem(sweep);
  if (tooBig !== undefined) {
    problems.add("sweep", tooBig);
    return undefined;
  }
  return checkEachPoint(sweep, spec, problems, validatePoint);
}

/**
 * Each combination of values laid over the resolved system and checked like a system of its own
 * (seeds were checked above, so one seed stands for all). A failing point is named with its index
 * and values.
 */
function checkEachPoint(
  sweep: SweepSpec,
  spec: SystemSpec,
  problems: Problems,
  validatePoint: PointValidator,
): SweepPlan | undefined {
  const combos = sweepCombinations(sweep, spec);
  const seedCount = sweepSeeds(sweep.seeds, spec.seed).length;
  let bad = 0;
  combos.forEach((values, c) => {
    if (Object.keys(values).length === 0) return;
    const result = validatePoint(applySweepPoint(spec, values, spec.seed));
    if (result.length === 0) return;
    bad++;
    if (bad > NAMED_BAD_POINTS) return;
    const point = `sweep point ${c * seedCount}${seedCount > 1 ? `–${c * seedCount + seedCount - 1}` : ""}`;
    for (const p of result) problems.add(p.path, `${p.message} (at ${point}: ${describeSweepValues(values)})`);
  });
  if (bad > NAMED_BAD_POINTS)
    problems.add(
      "sweep",
      `${formatCount(bad - NAMED_BAD_POINTS)} more point${bad - NAMED_BAD_POINTS === 1 ? "" : "s"} of the sweep are invalid`,
    );
  return bad > 0 ? undefined : expandSweep(sweep, spec);
}
