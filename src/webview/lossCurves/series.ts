// The panel's data: every point of every run, in growable typed arrays, with the smoothed curve
// kept alongside and extended point by point as the run appends. No DOM, no chart.js.

import { MonotoneTracker } from "../../shared/metricKeys";
import type { RunSeries, SeriesPoints } from "../../shared/panels/lossCurves";
import type { RunStatus } from "../../shared/runFormat";

/** A Float64Array that grows by doubling; `view()` is the filled part (no copy). */
export class Growable {
  private buf: Float64Array;
  length = 0;
  constructor(capacity = 64) {
    this.buf = new Float64Array(Math.max(1, capacity));
  }
  push(v: number): void {
    if (this.length === this.buf.length) this.grow(this.length + 1);
    this.buf[this.length++] = v;
  }
  /** Makes room for `extra` more values at once (one copy instead of repeated doubling). */
  reserve(extra: number): void {
    if (this.length + extra > this.buf.length) this.grow(this.length + extra);
  }
  private grow(min: number): void {
    const next = new Float64Array(Math.max(min, this.buf.length * 2));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  get(i: number): number {
    return this.buf[i] as number;
  }
  set(i: number, v: number): void {
    this.buf[i] = v;
  }
  view(from = 0, to = this.length): Float64Array {
    return this.buf.subarray(from, to);
  }
}

/**
 * One metric of one run: only its finite points (a metric missing from a line, or null in the
 * file, leaves no point), with x both as step and as wall time, the line (row) each point came
 * from (for any other x: RunData.xs), and the smoothed values.
 *
 * Smoothing is TensorBoard's debiased exponential moving average: ema_t = w·ema_{t−1} + (1−w)·y_t
 * with ema_0 = 0, shown as ema_t / (1 − w^t); the division removes the pull towards 0 of the
 * early points, so the curve starts at the first value instead of near zero.
 */
export class MetricSeries {
  readonly step = new Growable();
  readonly time = new Growable();
  readonly row = new Growable();
  readonly raw = new Growable();
  readonly smooth = new Growable();
  /** x values of the points under a metric x axis (`epoch`), by x key, extended as points arrive. */
  readonly xByKey = new Map<string, Growable>();
  private ema = 0;
  private wPow = 1;
  constructor(private weight: number) {}

  get length(): number {
    return this.raw.length;
  }

  reserve(extra: number): void {
    for (const g of [this.step, this.time, this.row, this.raw, this.smooth]) g.reserve(extra);
  }

  push(step: number, time: number, y: number, row = this.length): void {
    this.step.push(step);
    this.time.push(time);
    this.row.push(row);
    this.raw.push(y);
    this.smooth.push(this.next(y));
  }

  private next(y: number): number {
    const w = this.weight;
    this.ema = w * this.ema + (1 - w) * y;
    this.wPow *= w;
    return w === 0 ? y : this.ema / (1 - this.wPow);
  }

  /** Recomputes the smoothed curve with another weight (O(n)). */
  setWeight(w: number): void {
    this.weight = w;
    this.ema = 0;
    this.wPow = 1;
    for (let i = 0; i < this.raw.length; i++) this.smooth.set(i, this.next(this.raw.get(i)));
  }
}

export class RunData {
  /** The series built so far (see `series`), by key. */
  private readonly built = new Map<string, MetricSeries>();
  /** Lines received (rows of the columnar arrays), whatever metrics they carry. */
  rows = 0;
  /** All lines as received, for the CSV export. */
  readonly rowStep = new Growable();
  readonly rowTime = new Growable();
  readonly rowValues = new Map<string, Growable>();
  /** Lines of the run's metrics.jsonl that could not be read (the legend says so). */
  badLines = 0;
  /** Per key, whether its values so far could serve as x (src/shared/metricKeys.ts). */
  readonly monotone = new Map<string, MonotoneTracker>();
  /** Per x key: its value at every row, carried forward over the rows without one. */
  private readonly xFilled = new Map<string, Growable>();

  constructor(
    readonly runId: string,
    readonly label: string,
    readonly colorIndex: number,
    public status: RunStatus | undefined,
    private smoothing: number,
  ) {}

  static from(r: RunSeries, smoothing: number): RunData {
    const d = new RunData(r.runId, r.label, r.colorIndex, r.status, smoothing);
    d.badLines = r.badLines ?? 0;
    d.append(r.points);
    return d;
  }

  /** Adds lines; returns, per metric, how many points that metric gained. */
  append(p: SeriesPoints): Map<string, number> {
    const gained = new Map<string, number>();
    const n = p.step.length;
    const start = this.rows;
    this.rowStep.reserve(n);
    this.rowTime.reserve(n);
    for (let i = 0; i < n; i++) {
      this.rowStep.push(p.step[i] as number);
      this.rowTime.push(p.time[i] as number);
    }
    for (const [name, col] of Object.entries(p.values)) {
      let rowCol = this.rowValues.get(name);
      if (!rowCol) {
        rowCol = new Growable();
        for (let i = 0; i < start; i++) rowCol.push(NaN); // a metric that first appears late
        this.rowValues.set(name, rowCol);
      }
      rowCol.reserve(n);
      // Only a series already built (a metric drawn before) is extended; the others are built from
      // the rows if and when they are drawn.
      const series = this.built.get(name);
      if (series) {
        let finiteCount = 0;
        for (let i = 0; i < n; i++) if (typeof col[i] === "number" && Number.isFinite(col[i])) finiteCount++;
        series.reserve(finiteCount);
      }
      let tracker = this.monotone.get(name);
      if (!tracker) {
        tracker = new MonotoneTracker();
        this.monotone.set(name, tracker);
      }
      let count = 0;
      for (let i = 0; i < n; i++) {
        const v = col[i];
        const finite = typeof v === "number" && Number.isFinite(v);
        rowCol.push(finite ? v : NaN);
        if (!finite) continue;
        tracker.observe(v);
        series?.push(p.step[i] as number, p.time[i] as number, v, start + i);
        count++;
      }
      gained.set(name, count);
    }
    this.rows += n;
    for (const col of this.rowValues.values()) while (col.length < this.rows) col.push(NaN); // metric absent from these lines
    return gained;
  }

  /**
   * A metric's points (undefined while it has no finite value). Built from the rows on first use
   * and then extended by `append`: a run may log dozens of scalars, and only the drawn ones pay for
   * the copies a curve needs (step, time, row, raw, smoothed), 40 bytes a point; the rows hold
   * 8 bytes a line per key.
   */
  series(name: string): MetricSeries | undefined {
    const have = this.built.get(name);
    if (have) return have;
    const col = this.rowValues.get(name);
    if (!col) return undefined;
    let count = 0;
    for (let i = 0; i < this.rows; i++) if (Number.isFinite(col.get(i))) count++;
    if (count === 0) return undefined;
    const s = new MetricSeries(this.smoothing);
    s.reserve(count);
    for (let i = 0; i < this.rows; i++) {
      const v = col.get(i);
      if (Number.isFinite(v)) s.push(this.rowStep.get(i), this.rowTime.get(i), v, i);
    }
    this.built.set(name, s);
    return s;
  }

  /**
   * x of a metric's points: its step or wall time, or the value of another key (`epoch`,
   * `tokens`) on the point's line. A line without that key takes the key's last value before it
   * (a loss logged between two `epoch` lines belongs to the earlier epoch); points before the
   * key's first value get −∞, which sorts first and is never drawn, so the array stays sorted
   * for binary search when the key is monotone. Extended, not rebuilt, as lines arrive.
   */
  xs(s: MetricSeries, key: string): Growable {
    if (key === "step") return s.step;
    if (key === "time") return s.time;
    const filled = this.filledColumn(key);
    let out = s.xByKey.get(key);
    if (!out) {
      out = new Growable(s.length);
      s.xByKey.set(key, out);
    }
    out.reserve(s.length - out.length);
    for (let i = out.length; i < s.length; i++) out.push(filled.get(s.row.get(i)));
    return out;
  }

  private filledColumn(key: string): Growable {
    let g = this.xFilled.get(key);
    if (!g) {
      g = new Growable(this.rows);
      this.xFilled.set(key, g);
    }
    const col = this.rowValues.get(key);
    let last = g.length > 0 ? g.get(g.length - 1) : Number.NEGATIVE_INFINITY;
    g.reserve(this.rows - g.length);
    for (let i = g.length; i < this.rows; i++) {
      const v = col ? col.get(i) : Number.NaN;
      if (Number.isFinite(v)) last = v;
      g.push(last);
    }
    return g;
  }

  setSmoothing(w: number): void {
    if (w === this.smoothing) return;
    this.smoothing = w;
    for (const s of this.built.values()) s.setWeight(w);
  }
}

/** Index of the first element ≥ x in a sorted array (n if none). */
export function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first element > x in a sorted array (n if none). */
export function upperBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the element nearest to x in a sorted, non-empty array. */
export function nearestIndex(a: Float64Array, x: number): number {
  const i = lowerBound(a, x);
  if (i <= 0) return 0;
  if (i >= a.length) return a.length - 1;
  return x - (a[i - 1] as number) <= (a[i] as number) - x ? i - 1 : i;
}
