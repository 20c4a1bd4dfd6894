// The α sweep's reference line (Chizat, Oyallon & Bach 2019), free of Node and the DOM: the
// sweep panel's page draws it and unit tests check it. With the output scaled by α and the loss
// by 1/α², the change from initialization falls like 1/α in the lazy regime, so a sweep's final
// relative weight change against α lies along c/α at large α and bends away from it where
// training turns rich. The kernel distance, 1 − cos(K_t, K_0), is second order in the kernel's
// change, so its lazy limit is c/α² (docs/analyses.md measures both).

/** The swept field of an α sweep: the model's output scale. */
export const ALPHA_FIELD = "model.alpha";

/**
 * The sweep panel's quantities (src/shared/sweepView.ts keys) that get a c/α^p line against α,
 * with the power p of their lazy limit.
 */
export const INVERSE_ALPHA_POWERS: Readonly<Record<string, number>> = {
  "analysis:rwc": 1,
  "analysis:kernelDistance": 2,
};

/** The power p of the c/α^p line the sweep panel fits to this choice of axes; null: none. */
export function inverseAlphaPower(x: string, y: string): number | null {
  return x === ALPHA_FIELD && Object.hasOwn(INVERSE_ALPHA_POWERS, y) ? INVERSE_ALPHA_POWERS[y]! : null;
}

/** "c/α", "c/α²": the reference line's name. */
export function inverseAlphaName(power: number): string {
  return power === 1 ? "c/α" : power === 2 ? "c/α²" : `c/α^${power}`;
}

/**
 * How far a local log-log slope may be from −p (per unit of p) and still count as following
 * 1/α^p. Wide enough for a finite network's lazy tail (its slope is −p only in the limit),
 * narrow enough that a rich point (whose change stays O(1): slope near 0) does not.
 */
export const LAZY_SLOPE_TOLERANCE = 0.2;

export interface Pt {
  x: number;
  y: number;
}

export interface InverseAlphaFit {
  /** The power p of the line y = c/α^p. */
  power: number;
  /**
   * y = c/α^p: the least-squares c of log y = log c − p·log α (the slope held at −p), which is
   * the geometric mean of y·α^p, over the points with α ≥ `lazyFrom` (where the theory holds:
   * rich points would pull the line off the lazy ones), or over all when there is no such
   * stretch. The dashed line.
   */
  c: number;
  /** The points c was fitted on. */
  cOver: number;
  /**
   * The slope of a free least-squares line log y = a + b·log α through the same points: −p when
   * they follow 1/α^p; shallower when rich points (small α) are among them. Null with fewer than
   * two distinct α.
   */
  slope: number | null;
  /** Points with logarithms (α > 0 and y > 0), which the free slope is fitted on. */
  n: number;
  /**
   * The least α from which, going up, every step between neighbouring α has a log-log slope
   * within p·LAZY_SLOPE_TOLERANCE of −p (several points at one α: their geometric mean): where
   * the sweep follows 1/α^p. Null when even the two largest α do not.
   */
  lazyFrom: number | null;
}

/**
 * The c/α^p line (p = 1 unless said) through the points where they follow it, with the free
 * slope of all of them; null when no point has logs.
 */
export function inverseAlphaFit(points: readonly Pt[], power = 1): InverseAlphaFit | null {
  const ok = points.filter((p) => p.x > 0 && p.y > 0 && Number.isFinite(p.x) && Number.isFinite(p.y));
  if (ok.length === 0) return null;
  const lx = ok.map((p) => Math.log(p.x));
  const ly = ok.map((p) => Math.log(p.y));
  const n = ok.length;
  const from = lazyFrom(ok, power);
  const onLine = from === null ? ok : ok.filter((p) => p.x >= from);
  const c = Math.exp(onLine.reduce((s, p) => s + Math.log(p.y) + power * Math.log(p.x), 0) / onLine.length);
  const mx = lx.reduce((s, v) => s + v, 0) / n;
  const my = ly.reduce((s, v) => s + v, 0) / n;
  const sxx = lx.reduce((s, v) => s + (v - mx) ** 2, 0);
  const sxy = lx.reduce((s, v, i) => s + (v - mx) * (ly[i]! - my), 0);
  // Distinct α only: sxx is zero exactly when every point has one α.
  const slope = sxx > 0 ? sxy / sxx : null;
  return { power, c, cOver: onLine.length, slope, n, lazyFrom: from };
}

function lazyFrom(points: readonly Pt[], power: number): number | null {
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
    if (Math.abs(slope + power) > power * LAZY_SLOPE_TOLERANCE) break;
    from = lo.x;
  }
  return from;
}
