// Linear mode connectivity (Frankle et al. 2020, "Linear mode connectivity and the lottery ticket
// hypothesis"): a quantity f evaluated along θ(α) = (1 − α)θ_A + αθ_B and its barrier height,
// the largest rise above the straight line between the endpoints' values.

/** `points` values of α evenly spaced on [0, 1], both ends included (points ≥ 2). */
export function lmcAlphas(points: number): number[] {
  if (!Number.isInteger(points) || points < 2) throw new RangeError(`points must be an integer ≥ 2, got ${points}`);
  return Array.from({ length: points }, (_, i) => (i === points - 1 ? 1 : i / (points - 1)));
}

/**
 * θ(α) as float32, computed as θ_A + α(θ_B − θ_A) in double precision: exactly θ_A at α = 0, and
 * exactly θ_A for every α when θ_B = θ_A (the self-interpolation is flat by construction, not by luck).
 */
export function interpolateWeights(a: Float32Array, b: Float32Array, alpha: number): Float32Array {
  if (a.length !== b.length) throw new RangeError(`cannot interpolate ${a.length} values with ${b.length}`);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + alpha * (b[i]! - a[i]!);
  return out;
}

/**
 * The barrier height: max over the grid of f(α) − ((1 − α)f(0) + αf(1)), with alphas[0] = 0 and
 * the last = 1. The line is computed as f(0) + α(f(1) − f(0)), so equal endpoints give it exactly.
 * Never below 0 (the endpoints lie on the line); 0 for a function convex along the path.
 * Undefined when a value is missing or not finite.
 */
export function barrierHeight(
  alphas: readonly number[],
  values: ReadonlyArray<number | undefined>,
): number | undefined {
  if (alphas.length !== values.length || alphas.length < 2) return undefined;
  if (alphas[0] !== 0 || alphas.at(-1) !== 1) return undefined;
  const f0 = values[0];
  const f1 = values.at(-1);
  if (f0 === undefined || f1 === undefined || !Number.isFinite(f0) || !Number.isFinite(f1)) return undefined;
  let max = 0;
  for (let i = 0; i < alphas.length; i++) {
    const v = values[i];
    if (v === undefined || !Number.isFinite(v)) return undefined;
    const rise = v - (f0 + alphas[i]! * (f1 - f0));
    if (rise > max) max = rise;
  }
  return max;
}
