// Smoothing and series extraction for logged curves. Curves arrive as metrics records whose values
// may be null or missing (evaluation metrics are logged every `evalEvery` steps only), at an
// uneven cadence (a resumed run, a changed evalEvery, a hand-written producer).

/**
 * One logged evaluation: its step and named scalars. The shape of a metrics.jsonl record
 * (docs/run-format.md), declared here so the measures depend on nothing outside this folder.
 */
export interface MetricsRecord {
  readonly step: number;
  readonly [name: string]: number | null | undefined;
}

/** The finite values of one metric with their steps, in record order. */
export interface Series {
  readonly steps: readonly number[];
  readonly values: readonly number[];
}

/** The finite values of `name` across `records` (null, missing and non-finite entries skipped). */
export function seriesOf(records: readonly MetricsRecord[], name: string): Series {
  const steps: number[] = [];
  const values: number[] = [];
  for (const r of records) {
    const v = r[name];
    if (typeof v === "number" && Number.isFinite(v)) {
      steps.push(r.step);
      values.push(v);
    }
  }
  return { steps, values };
}

/**
 * Debiased exponential moving average that knows the cadence: between evaluations Δ steps apart the
 * old average decays by β^(Δ/g), g the median gap, so β is "per typical evaluation" and a burst of
 * dense evaluations does not wash out a sparse stretch. Debiased as in Adam: the average is divided
 * by its total weight 1 − Π decay, so the start is not pulled towards 0.
 */
export function debiasedEma(steps: readonly number[], values: readonly number[], beta: number): Float64Array {
  if (!(beta >= 0 && beta < 1)) throw new RangeError(`EMA β must be in [0, 1), got ${beta}`);
  const n = values.length;
  const out = new Float64Array(n);
  const gap = medianGap(steps);
  let avg = 0;
  let weight = 0;
  for (let i = 0; i < n; i++) {
    const decay = i === 0 ? beta : beta ** (Math.abs(steps[i]! - steps[i - 1]!) / gap);
    avg = decay * avg + (1 - decay) * values[i]!;
    weight = decay * weight + (1 - decay);
    out[i] = weight > 0 ? avg / weight : values[i]!;
  }
  return out;
}

/**
 * Zero-lag smoothing: the mean of the debiased EMA run forwards and backwards. A one-sided EMA
 * delays every feature by about β/(1 − β) evaluations, which would shift a detected turning point
 * late and understate lead times; the two-sided average is symmetric, so features stay in place.
 * β = 0 returns the values unchanged.
 */
export function smoothSeries(steps: readonly number[], values: readonly number[], beta: number): Float64Array {
  const forward = debiasedEma(steps, values, beta);
  const backward = debiasedEma([...steps].reverse(), [...values].reverse(), beta).reverse();
  return forward.map((f, i) => (f + backward[i]!) / 2);
}

function medianGap(steps: readonly number[]): number {
  const gaps: number[] = [];
  for (let i = 1; i < steps.length; i++) {
    const g = Math.abs(steps[i]! - steps[i - 1]!);
    if (g > 0) gaps.push(g);
  }
  if (gaps.length === 0) return 1;
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)]!;
}
