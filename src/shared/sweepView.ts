// What the sweep panel plots, as pure functions: the quantities a sweep's points have (each point's
// summary values come from src/shared/sweepSummary.ts on the host: final, least and greatest
// value of each logged scalar; t_gen, final relative weight change, kernel distance and LLC), and
// the series of one quantity against one swept field, one line per value of a second field, each
// x with the mean and spread over the runs there (seeds, and any other swept field, pooled).
// Imported by the page, so free of Node; `node --test` covers it without a DOM.
import type { SweepPointStatus, SweepValue } from "./sweepFormat";

/** A quantity's key: "final:test_loss", "min:test_loss", "max:test_acc", or "analysis:<name>". */
export type QuantityKey = string;

/** The analysis values a point can have, by the name in their key. */
export const ANALYSIS_QUANTITIES = {
  tGen: "t_gen (grokking analysis)",
  rwc: "final relative weight change",
  kernelDistance: "final kernel distance",
  llc: "final LLC",
} as const;
export type AnalysisQuantity = keyof typeof ANALYSIS_QUANTITIES;

/** One point of a sweep as the panel sees it: where it is in the grid, how it ended, what it measured. */
export interface SweepPanelPoint {
  index: number;
  /** The point's run folder (absolute): what a click opens. */
  runId: string;
  /** The swept fields' values here, by dotted path. */
  values: Record<string, SweepValue>;
  seed: number;
  status: SweepPointStatus;
  /** Summary values by quantity key (absent: not measured, or the run has not got there). */
  y: Record<QuantityKey, number>;
}

/** The accuracies a point's summary gives the first step of reaching (`reach:test_acc:0.95`). */
export const REACH_TARGETS = [0.9, 0.95, 0.99] as const;

/** The key of "the first logged step at which `metric` ≥ `target`". */
export function reachKey(metric: string, target: number): QuantityKey {
  return `reach:${metric}:${target}`;
}

/** "final test_loss", "min test_loss", "steps to test_acc ≥ 0.95", "t_gen (grokking analysis)"; an unknown key as is. */
export function quantityLabel(key: QuantityKey): string {
  const colon = key.indexOf(":");
  const kind = key.slice(0, colon);
  const name = key.slice(colon + 1);
  if (kind === "reach" && name.includes(":"))
    return `steps to ${name.slice(0, name.lastIndexOf(":"))} ≥ ${name.slice(name.lastIndexOf(":") + 1)}`;
  if (kind === "analysis")
    return Object.hasOwn(ANALYSIS_QUANTITIES, name) ? ANALYSIS_QUANTITIES[name as AnalysisQuantity] : name;
  if (kind === "final" || kind === "min" || kind === "max") return `${kind} ${name}`;
  return key;
}

export const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Every quantity some point has, logged scalars (final, min, max) first by name, analyses last. */
export function quantitiesOf(points: readonly SweepPanelPoint[]): QuantityKey[] {
  const keys = new Set<QuantityKey>();
  for (const p of points) for (const k of Object.keys(p.y)) keys.add(k);
  const kindOrder = ["final", "min", "max", "analysis"];
  const rank = (k: string) => {
    const i = kindOrder.indexOf(k.slice(0, k.indexOf(":")));
    return i < 0 ? kindOrder.length : i;
  };
  return [...keys].sort((a, b) => {
    const na = a.slice(a.indexOf(":") + 1);
    const nb = b.slice(b.indexOf(":") + 1);
    const byKindGroup = (rank(a) === 3 ? 1 : 0) - (rank(b) === 3 ? 1 : 0);
    if (byKindGroup !== 0) return byKindGroup;
    if (na !== nb) return na < nb ? -1 : 1;
    return rank(a) - rank(b);
  });
}

/** The quantity shown when the user has not chosen: final test loss, else final train loss, else the first. */
export function defaultQuantity(keys: readonly QuantityKey[]): QuantityKey | null {
  for (const k of ["final:test_loss", "final:train_loss"]) if (keys.includes(k)) return k;
  return keys[0] ?? null;
}

export type SpreadKind = "minmax" | "std";

export interface SeriesPoint {
  x: SweepValue;
  /** Mean over the runs here that have the quantity. */
  mean: number;
  /** The band drawn: min–max of those runs, or mean ± one (population) standard deviation. */
  lo: number;
  hi: number;
  std: number;
  /** The runs averaged, with their values (what a click on the point offers). */
  runs: { runId: string; y: number; seed: number }[];
}

export interface Series {
  /** The second field's value this line holds (null: no second field). */
  group: SweepValue | null;
  points: SeriesPoint[];
}

export interface SweepSeries {
  /** Numeric x (every value a number) or categories in first-seen order. */
  xKind: "number" | "category";
  /** The x values of the categories (every x for a numeric axis too), in axis order. */
  xValues: SweepValue[];
  series: Series[];
  /** Points without the quantity (not finished, failed, or not measured). */
  missing: number;
}

export interface SeriesChoice {
  y: QuantityKey;
  x: string;
  /** The field whose values get one line each; null for one line. */
  group: string | null;
  spread: SpreadKind;
}

/**
 * A point's value of a field, own properties only: field names come from sweep.json, and one
 * named "constructor" or "toString" must not find Object's.
 */
export function fieldValue(values: Record<string, SweepValue>, field: string): SweepValue | undefined {
  return Object.hasOwn(values, field) ? values[field] : undefined;
}

function sameValue(a: SweepValue, b: SweepValue): boolean {
  return a === b;
}

/** Mean, spread and the runs of one quantity against field `x`, one series per value of `group`. */
export function sweepSeries(points: readonly SweepPanelPoint[], choice: SeriesChoice): SweepSeries {
  const xs: SweepValue[] = [];
  const groups: (SweepValue | null)[] = [];
  for (const p of points) {
    const x = fieldValue(p.values, choice.x);
    if (x !== undefined && !xs.some((v) => sameValue(v, x))) xs.push(x);
    const g = choice.group === null ? null : (fieldValue(p.values, choice.group) ?? null);
    if (!groups.some((v) => v === g)) groups.push(g);
  }
  const numeric = xs.length > 0 && xs.every((v) => typeof v === "number");
  if (numeric) xs.sort((a, b) => (a as number) - (b as number));
  if (choice.group !== null) groups.sort(compareValues);
  let missing = 0;
  const cells = new Map<string, SeriesPoint["runs"]>();
  const cellKey = (g: SweepValue | null, x: SweepValue) => JSON.stringify([g, x]);
  for (const p of points) {
    const x = fieldValue(p.values, choice.x);
    const y = Object.hasOwn(p.y, choice.y) ? p.y[choice.y] : undefined;
    if (x === undefined || !finite(y)) {
      missing++;
      continue;
    }
    const g = choice.group === null ? null : (fieldValue(p.values, choice.group) ?? null);
    const key = cellKey(g, x);
    const list = cells.get(key) ?? [];
    list.push({ runId: p.runId, y, seed: p.seed });
    cells.set(key, list);
  }
  const series: Series[] = groups.map((g) => ({
    group: g,
    points: xs.flatMap((x) => {
      const runs = cells.get(cellKey(g, x));
      return runs ? [summarize(x, runs, choice.spread)] : [];
    }),
  }));
  return {
    xKind: numeric ? "number" : "category",
    xValues: xs,
    series: series.filter((s) => s.points.length > 0),
    missing,
  };
}

function summarize(x: SweepValue, runs: SeriesPoint["runs"], spread: SpreadKind): SeriesPoint {
  const n = runs.length;
  const mean = runs.reduce((s, r) => s + r.y, 0) / n;
  const std = Math.sqrt(runs.reduce((s, r) => s + (r.y - mean) ** 2, 0) / n);
  const lo = spread === "std" ? mean - std : Math.min(...runs.map((r) => r.y));
  const hi = spread === "std" ? mean + std : Math.max(...runs.map((r) => r.y));
  return { x, mean, lo, hi, std, runs };
}

/** Numbers before strings before booleans; each kind in its natural order. */
export function compareValues(a: SweepValue | null, b: SweepValue | null): number {
  const rank = (v: SweepValue | null) => (v === null ? 3 : typeof v === "number" ? 0 : typeof v === "string" ? 1 : 2);
  if (rank(a) !== rank(b)) return rank(a) - rank(b);
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/** A value as shown on an axis or legend: numbers as JSON, strings as they are. */
export function valueText(v: SweepValue | null): string {
  return v === null ? "—" : typeof v === "string" ? v : String(v);
}

/** A point's label in the Runs view: "weightDecay=0.1, hidden[0]=8 · seed 2" (the fields' last segments). */
export function pointLabel(fields: readonly string[], values: Record<string, SweepValue>, seed: number): string {
  const parts = fields.map((f) => `${f.split(".").at(-1) ?? f}=${valueText(fieldValue(values, f) ?? null)}`);
  return [...(parts.length ? [parts.join(", ")] : []), `seed ${seed}`].join(" · ");
}
