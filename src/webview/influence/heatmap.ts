// The influence heatmap's arithmetic, free of the DOM so unit tests check it directly: the robust
// colour limit, the diverging colour table, per-row totals and sign flips, row orders, and the
// rendering of the visible rows into a 32-bit pixel buffer (an ImageData's memory).
//
// Why not chart.js: 10,000 examples × 200 checkpoints is 2M cells. Written straight into one
// Uint32Array (one store per pixel through a colour table) the whole view renders in a few ms.
// When there are more rows than pixel rows ("fit"), the rows sharing a pixel row show the value
// of largest magnitude, so a single strongly influential example is never averaged away (the
// same reason the curves use min/max decimation).

export type Rgb = readonly [number, number, number];

/** Packs a colour for a little-endian Uint32 view of RGBA bytes (every browser we run in). */
export function packRgba([r, g, b]: Rgb, a = 255): number {
  return ((a << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

export const LUT_SIZE = 511; // odd: the middle entry is exactly zero

/** Colours from −limit (index 0) through zero (the middle) to +limit, linear in sRGB. */
export function divergingLut(negative: Rgb, zero: Rgb, positive: Rgb): Uint32Array {
  const lut = new Uint32Array(LUT_SIZE);
  const mid = (LUT_SIZE - 1) / 2;
  for (let i = 0; i < LUT_SIZE; i++) {
    const u = (i - mid) / mid; // −1 … 1
    const to = u < 0 ? negative : positive;
    const f = Math.abs(u);
    lut[i] = packRgba([0, 1, 2].map((c) => Math.round(zero[c]! + (to[c]! - zero[c]!) * f)) as unknown as Rgb);
  }
  return lut;
}

/** Index into the colour table of value v under a symmetric limit; NaN → −1. */
export function lutIndex(v: number, limit: number): number {
  if (Number.isNaN(v)) return -1;
  const mid = (LUT_SIZE - 1) / 2;
  const u = v / limit;
  return Math.round(mid + mid * Math.min(1, Math.max(-1, u)));
}

/** The k-th smallest of a (reordered in place), 0-based; average O(n). */
function select(a: Float32Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >> 1;
    // Median of three as the pivot: sorted or constant inputs stay linear.
    const x = a[lo]!,
      y = a[mid]!,
      z = a[hi]!;
    const pivot = x < y ? (y < z ? y : Math.max(x, z)) : x < z ? x : Math.max(y, z);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

/**
 * The colour limit: the q-quantile of |v| over the finite values (default the 99th percentile),
 * so a few outliers do not wash every other cell out to neutral; the scale is symmetric, ±limit.
 * Falls back to max |v| when the quantile is 0, and to 1 when everything is 0 or missing.
 */
export function robustLimit(values: ArrayLike<number>, q = 0.99): number {
  const abs = new Float32Array(values.length);
  let m = 0;
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const v = Math.abs(values[i]!);
    if (Number.isFinite(v)) {
      abs[m++] = v;
      if (v > max) max = v;
    }
  }
  if (m === 0 || max === 0) return 1;
  const finite = abs.subarray(0, m);
  const lim = select(finite, Math.min(m - 1, Math.floor(q * (m - 1))));
  return lim > 0 ? lim : max;
}

/** Row-major values as Float32 with NaN for missing: one layout for everything downstream. */
export function toFloat32(values: Float32Array | Float64Array | readonly (number | null)[]): Float32Array {
  if (values instanceof Float32Array) return values;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = typeof v === "number" ? v : NaN;
  }
  return out;
}

export interface RowStats {
  /** Sum over checkpoints (TracInCP for TracIn), NaN cells skipped. */
  total: Float64Array;
  /** How many times the sign changes along checkpoints, ignoring |v| ≤ tolerance. */
  flips: Int32Array;
}

/**
 * Per-row totals and sign changes. Values within ±tolerance count as no sign (noise around zero
 * would otherwise flag nearly every row), so a flip means the influence went clearly one way and
 * then clearly the other.
 */
export function rowStats(values: Float32Array, n: number, t: number, tolerance: number): RowStats {
  const total = new Float64Array(n);
  const flips = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    let sign = 0;
    let f = 0;
    const base = i * t;
    for (let j = 0; j < t; j++) {
      const v = values[base + j]!;
      if (Number.isNaN(v)) continue;
      s += v;
      const sg = v > tolerance ? 1 : v < -tolerance ? -1 : 0;
      if (sg !== 0) {
        if (sign !== 0 && sg !== sign) f++;
        sign = sg;
      }
    }
    total[i] = s;
    flips[i] = f;
  }
  return { total, flips };
}

export type RowSort = "index" | "total" | "absTotal" | "signFlip";

export interface RowOrder {
  /** order[k] = the data row drawn k-th. */
  order: Int32Array;
  /** Drawn positions where a new label group starts (the first is 0); empty when not grouped. */
  groupStarts: number[];
  /** The label of each group, aligned with groupStarts. */
  groupLabels: string[];
}

/**
 * The drawn order of rows. "index": as given; "total": most positive first; "absTotal": largest
 * magnitude first; "signFlip": rows that change sign first (most flips first), then by magnitude.
 * Grouped by label, groups follow the labels' natural order (numbers numerically) and the sort
 * applies within each group. Ties keep the given order (a stable sort).
 */
export function rowOrder(stats: RowStats, labels: readonly string[], sort: RowSort, groupByLabel: boolean): RowOrder {
  const n = stats.total.length;
  const idx = Array.from({ length: n }, (_, i) => i);
  const { total, flips } = stats;
  const byKey: Record<RowSort, (a: number, b: number) => number> = {
    index: (a, b) => a - b,
    total: (a, b) => total[b]! - total[a]! || a - b,
    absTotal: (a, b) => Math.abs(total[b]!) - Math.abs(total[a]!) || a - b,
    signFlip: (a, b) => flips[b]! - flips[a]! || Math.abs(total[b]!) - Math.abs(total[a]!) || a - b,
  };
  const cmp = byKey[sort];
  const collator = new Intl.Collator(undefined, { numeric: true });
  if (groupByLabel) idx.sort((a, b) => collator.compare(labels[a] ?? "", labels[b] ?? "") || cmp(a, b));
  else idx.sort(cmp);
  const order = Int32Array.from(idx);
  const groupStarts: number[] = [];
  const groupLabels: string[] = [];
  if (groupByLabel) {
    for (let k = 0; k < n; k++) {
      const l = labels[order[k]!] ?? "";
      if (k === 0 || l !== groupLabels[groupLabels.length - 1]) {
        groupStarts.push(k);
        groupLabels.push(l);
      }
    }
  }
  return { order, groupStarts, groupLabels };
}

/** Which drawn rows a pixel row shows. `rowPx` 0 = fit all `n` rows into `height` pixels. */
export function rowsAtPixel(y: number, n: number, height: number, rowPx: number, firstRow: number): [number, number] {
  if (rowPx > 0) {
    const r = firstRow + Math.floor(y / rowPx);
    return r < n ? [r, r + 1] : [n, n];
  }
  if (n === 0 || height === 0) return [0, 0];
  const a = Math.floor((y * n) / height);
  const b = Math.max(a + 1, Math.floor(((y + 1) * n) / height));
  return [Math.min(a, n), Math.min(b, n)];
}

export interface RenderInput {
  values: Float32Array;
  n: number;
  t: number;
  order: Int32Array;
  flips: Int32Array;
  limit: number;
  lut: Uint32Array;
  nanColor: number;
  backgroundColor: number;
  flipColor: number;
  /** 0 = fit; otherwise CSS pixels per row with `firstRow` at the top. */
  rowPx: number;
  firstRow: number;
}

export interface Layout {
  width: number;
  height: number;
  /** Cell area within the buffer. */
  plot: { x: number; y: number; w: number; h: number };
  /** Sign-flip marker column within the buffer. */
  marker: { x: number; w: number };
}

/**
 * Paints the cells and the sign-flip marker column into `out` (width × height pixels, row-major),
 * the rest with the background. With several rows per pixel row, which row a cell shows is
 * decided per cell (largest magnitude), so hit testing goes through `pickCell`.
 */
export function renderHeatmap(out: Uint32Array, layout: Layout, input: RenderInput): void {
  const { width, plot, marker } = layout;
  const { values, n, t, order, flips, limit, lut, nanColor, backgroundColor, flipColor, rowPx, firstRow } = input;
  out.fill(backgroundColor);
  if (n === 0 || t === 0 || plot.w <= 0 || plot.h <= 0) return;
  // Checkpoints of each pixel column [colFrom[x], colFrom[x + 1]) (at least one), and the colour of
  // each checkpoint of the current pixel row. More checkpoints than pixels: the extreme again.
  const colFrom = columnStarts(t, plot.w);
  const wide = t > plot.w;
  const rowColors = new Uint32Array(t);
  const best = new Float32Array(t);
  const mid = (LUT_SIZE - 1) / 2;
  const scale = mid / limit;
  for (let y = 0; y < plot.h; y++) {
    const [a, b] = rowsAtPixel(y, n, plot.h, rowPx, firstRow);
    if (a >= b) continue;
    let flipped = false;
    if (b - a === 1) {
      const base = order[a]! * t;
      for (let j = 0; j < t; j++) best[j] = values[base + j]!;
      flipped = flips[order[a]!]! > 0;
    } else {
      best.fill(NaN);
      for (let r = a; r < b; r++) {
        const row = order[r]!;
        if (flips[row]! > 0) flipped = true;
        const base = row * t;
        for (let j = 0; j < t; j++) {
          const v = values[base + j]!;
          const cur = best[j]!;
          // Largest magnitude wins; NaN never replaces a number.
          if (Number.isNaN(cur) || (!Number.isNaN(v) && Math.abs(v) > Math.abs(cur))) best[j] = v;
        }
      }
    }
    if (wide) {
      // Fold each pixel column's checkpoints into its first one.
      for (let x = 0; x < plot.w; x++) {
        const j0 = colFrom[x]!;
        for (let j = j0 + 1; j < colFrom[x + 1]!; j++) {
          const v = best[j]!;
          const cur = best[j0]!;
          if (Number.isNaN(cur) || (!Number.isNaN(v) && Math.abs(v) > Math.abs(cur))) best[j0] = v;
        }
      }
    }
    for (let j = 0; j < t; j++) {
      const v = best[j]!;
      if (Number.isNaN(v)) rowColors[j] = nanColor;
      else {
        let k = Math.round(mid + v * scale);
        if (k < 0) k = 0;
        else if (k > LUT_SIZE - 1) k = LUT_SIZE - 1;
        rowColors[j] = lut[k]!;
      }
    }
    const line = (plot.y + y) * width + plot.x;
    for (let x = 0; x < plot.w; x++) out[line + x] = rowColors[colFrom[x]!]!;
    if (flipped) out.fill(flipColor, (plot.y + y) * width + marker.x, (plot.y + y) * width + marker.x + marker.w);
  }
}

/**
 * First checkpoint of each pixel column, plus t at the end: pixel x shows checkpoints
 * [starts[x], starts[x + 1]). With fewer checkpoints than pixels, neighbouring pixels share one.
 */
export function columnStarts(t: number, width: number): Int32Array {
  const starts = new Int32Array(width + 1);
  for (let x = 0; x < width; x++) starts[x] = Math.min(t - 1, Math.floor((x * t) / width));
  starts[width] = t;
  return starts;
}

/** The data row and checkpoint shown at plot pixel (x, y), or null outside the cells. */
export function pickCell(
  x: number,
  y: number,
  layout: Layout,
  input: Pick<RenderInput, "values" | "n" | "t" | "order" | "rowPx" | "firstRow">,
): { row: number; col: number } | null {
  const { plot } = layout;
  const px = x - plot.x;
  const py = y - plot.y;
  if (px < 0 || py < 0 || px >= plot.w || py >= plot.h || input.t === 0) return null;
  const c0 = Math.min(input.t - 1, Math.floor((Math.floor(px) * input.t) / plot.w));
  const c1 =
    input.t > plot.w
      ? Math.max(c0 + 1, Math.min(input.t, Math.floor(((Math.floor(px) + 1) * input.t) / plot.w)))
      : c0 + 1;
  const [a, b] = rowsAtPixel(Math.floor(py), input.n, plot.h, input.rowPx, input.firstRow);
  if (a >= b) return null;
  // The cell whose value the pixel shows: largest magnitude over the rows and checkpoints it covers.
  let row = input.order[a]!;
  let col = c0;
  let bestAbs = -1;
  for (let r = a; r < b; r++) {
    for (let j = c0; j < c1; j++) {
      const v = Math.abs(input.values[input.order[r]! * input.t + j]!);
      if (v > bestAbs) {
        bestAbs = v;
        row = input.order[r]!;
        col = j;
      }
    }
  }
  return { row, col };
}

/**
 * The rows with the k highest ("proponents": training on them lowered the query loss) or lowest
 * ("opponents") finite scores in column `col`, best first; ties by row. What "Remove and
 * retrain…" removes when no single example is meant.
 */
export function topRowsAt(
  values: Float32Array,
  n: number,
  t: number,
  col: number,
  k: number,
  which: "proponents" | "opponents",
): number[] {
  const rows: number[] = [];
  for (let i = 0; i < n; i++) if (Number.isFinite(values[i * t + col]!)) rows.push(i);
  const sign = which === "proponents" ? -1 : 1;
  rows.sort((a, b) => sign * (values[a * t + col]! - values[b * t + col]!) || a - b);
  return rows.slice(0, k);
}
