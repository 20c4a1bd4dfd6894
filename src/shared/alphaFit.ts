// The α sweep's reference line (Chizat, Oyallon & Bach 2019), free of Node and the DOM: the
// sweep panel's page draws it and unit tests check it. With the output scaled by α and the loss
// by 1/α², the change from initialization falls like 1/α in the lazy regime, so a sweep's final
// relative weight change (and kernel distance) against α lies along c/α at large α and bends away
// from it where training turns rich.

/** The swept field of an α sweep: the model's output scale. */
export const ALPHA_FIELD = "model.alpha";

/** The sweep panel's quantities (src/shared/sweepView.ts keys) that get the c/α line against α. */
export const INVERSE_ALPHA_QUANTITIES: readonly string[] = ["analysis:rwc", "analysis:kernelDistance"];

/** Whether the sweep panel fits c/α to this choice of axes. */
export function fitsInverseAlpha(x: string, y: string): boolean {
  return x === ALPHA_FIELD && INVERSE_ALPHA_QUANTITIES.includes(y);
}

/**
 * How far a local log-log slope may be from −1 and still count as following 1/α. Wide enough for
 * a finite network's lazy tail (its slope is −1 only in the limit), narrow enough that a rich
 * point (whose change stays O(1): slope near 0) does not.
 */
export const LAZY_SLOPE_TOLERANCE = 0.2;

export interface Pt {
  x: number;
  y: number;
}

export interface InverseAlphaFit {
  /**
   * y = c/α: the least-squares c of log y = log c − log α over the points (the slope held at
   * −1), which is the geometric mean of y·α. The dashed line.
   */
  c: number;
  /**
   * The slope of a free least-squares line log y = a + b·log α through the same points: −1 when
   * they follow 1/α; shallower when rich points (small α) are among them. Null with fewer than
   * two distinct α.
   */
  slope: number | null;
  /** Points fitted (α > 0 and y > 0: the others have no logarithm). */
  n: number;
  /**
   * The least α from which, going up, every step between neighbouring α has a log-log slope
   * within LAZY_SLOPE_TOLERANCE of −1 (several points at one α: their geometric mean): where the
   * sweep follows 1/α. Null when even the two largest α do not.
   */
  lazyFrom: number | null;
}

/** The c/α line through the points with its free slope and where the points follow it; null when no point has logs. */
export function inverseAlphaFit(points: readonly Pt[]): InverseAlphaFit | null {
  const ok = points.filter((p) => p.x > 0 && p.y > 0 && Number.isFinite(p.x) && Number.isFinite(p.y));
  if (ok.length === 0) return null;
  const lx = ok.map((p) => Math.log(p.x));
  const ly = ok.map((p) => Math.log(p.y));
  const n = ok.length;
  const c = Math.exp(ly.reduce((s, v, i) => s + v + lx[i]!, 0) / n);
  const mx = lx.reduce((s, v) => s + v, 0) / n;
  const my = ly.reduce((s, v) => s + v, 0) / n;
  const sxx = lx.reduce((s, v) => s + (v - mx) ** 2, 0);
  const sxy = lx.reduce((s, v, i) => s + (v - mx) * (ly[i]! - my), 0);
  // Distinct α only: sxx is zero exactly when every point has one α.
  const slope = sxx > 0 ? sxy / sxx : null;
  return { c, slope, n, lazyFrom: lazyFrom(ok) };
}

function lazyFrom(points: readonly Pt[]): number | null {
  const byAlpha = new Map<number, number[]>();
  for (const p of points) byAlpha.set(p.x, [...(byAlpha.get(p.x) ?? []), Math.log(p.y)]);
  const levels = [...byAlpha]
    .map(([x, logs]) => ({ x, ly: logs.reduce((s, v) => s + v, 0) / logs.length }))
    .sort((a, b) => a.x - b.x);
  let from: number | null = null;
  for (let i = levels.length - 1; i > 0; i--) {
    const hi = levels[i]!;
    const lo = levels[i - 1]!;
    const slope = (hi.ly - lo.ly) / (Math.log(hi.x) - Math.log(lo.x));
    if (Math.abs(slope + 1) > LAZY_SLOPE_TOLERANCE) break;
    from = lo.x;
  }
  return from;
}
