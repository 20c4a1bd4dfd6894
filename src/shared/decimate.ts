// Min/max decimation of a curve for drawing: shared by the extension host and the webview, so no
// Node or DOM imports. A chart has a few thousand pixels across; a run may log millions of points.
// Plain striding would drop the spike that matters (a loss blow-up, a grokking cliff), so each
// x-bucket keeps its first, lowest, highest and last points: the drawn envelope is exact.

export interface Decimated {
  xs: Float64Array;
  ys: Float64Array;
}

/**
 * Splits [min x, max x] into `buckets` equal ranges and keeps, per bucket, the first, min, max and
 * last points, in their original order, each point at most once: at most 4·buckets points, and
 * the global extremes, the first and the last point always survive. A NaN y (a gap in the curve:
 * a non-finite value) is kept once per bucket, at its first occurrence, so the gap stays visible;
 * a bucket whose NaN is none of its first/last points then gives 5 points (so ≤ 5·buckets with NaNs).
 * NaN xs are dropped. Expects xs in non-decreasing order (steps); with unsorted xs each bucket
 * still keeps its own extremes but the output follows input order. O(n) time, O(buckets) memory
 * besides the output. With n ≤ 4·buckets the input is returned as copies.
 */
export function decimateMinMax(xs: Float64Array, ys: Float64Array, buckets: number): Decimated {
  const keep = decimateMinMaxIndices(xs, ys, buckets);
  const ox = new Float64Array(keep.length);
  const oy = new Float64Array(keep.length);
  for (let k = 0; k < keep.length; k++) {
    const i = keep[k] as number;
    ox[k] = xs[i] as number;
    oy[k] = ys[i] as number;
  }
  return { xs: ox, ys: oy };
}

/**
 * The indices `decimateMinMax` keeps, in increasing order: for callers that keep more than x and
 * y per point (the TensorBoard reader keeps each point's wall time too).
 */
export function decimateMinMaxIndices(xs: ArrayLike<number>, ys: ArrayLike<number>, buckets: number): number[] {
  const n = Math.min(xs.length, ys.length);
  const nb = Math.max(1, Math.floor(buckets));
  if (n <= 4 * nb) {
    // Nothing to gain; still drop NaN xs for a consistent contract.
    const out: number[] = [];
    for (let i = 0; i < n; i++) if (!Number.isNaN(xs[i] as number)) out.push(i);
    return out;
  }

  let xMin = Infinity;
  let xMax = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = xs[i] as number;
    if (x < xMin) xMin = x;
    if (x > xMax) xMax = x;
  }
  if (!(xMax >= xMin)) return []; // all x NaN
  const span = xMax - xMin;
  const scale = span > 0 ? nb / span : 0;
  const bucketOf = (x: number): number => {
    const b = Math.floor((x - xMin) * scale);
    return b >= nb ? nb - 1 : b; // x = xMax lands in the last bucket
  };

  // Per bucket: indices of first, last, min, max and first NaN (-1 = none).
  const first = new Int32Array(nb).fill(-1);
  const last = new Int32Array(nb).fill(-1);
  const lo = new Int32Array(nb).fill(-1);
  const hi = new Int32Array(nb).fill(-1);
  const nan = new Int32Array(nb).fill(-1);
  const loY = new Float64Array(nb).fill(Infinity);
  const hiY = new Float64Array(nb).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    const x = xs[i] as number;
    if (Number.isNaN(x)) continue;
    const b = bucketOf(x);
    if (first[b] === -1) first[b] = i;
    last[b] = i;
    const y = ys[i] as number;
    if (Number.isNaN(y)) {
      if (nan[b] === -1) nan[b] = i;
      continue;
    }
    // Strict comparisons: the first of equal extremes is kept.
    if (y < (loY[b] as number)) {
      loY[b] = y;
      lo[b] = i;
    }
    if (y > (hiY[b] as number)) {
      hiY[b] = y;
      hi[b] = i;
    }
  }

  // Up to five indices per bucket (first, last, lo, hi, nan — nan may coincide with first/last,
  // so at most four distinct values unless the NaN is strictly inside); emit sorted and unique.
  const out: number[] = [];
  const picks = [0, 0, 0, 0, 0];
  for (let b = 0; b < nb; b++) {
    if (first[b] === -1) continue;
    picks[0] = first[b] as number;
    picks[1] = lo[b] as number;
    picks[2] = hi[b] as number;
    picks[3] = nan[b] as number;
    picks[4] = last[b] as number;
    picks.sort((a, c) => a - c);
    let prev = -1;
    for (const p of picks) {
      if (p === -1 || p === prev) continue;
      out.push(p);
      prev = p;
    }
  }
  // Buckets are visited in x order, which is index order for sorted xs.
  return out;
}
