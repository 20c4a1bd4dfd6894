// Edge-of-stability arithmetic (docs/analyses.md, "Sharpness and the edge of stability"): the
// stability threshold of each optimizer, and the phases of a sharpness curve — progressive
// sharpening, the edge of stability, catapults — by rules stated exactly here and in the docs.
// Plain arrays in, plain records out, so the panel and the tests share one definition.

/** The optimizer as far as its stability threshold is concerned. */
export type StabilityOptimizer =
  | { kind: "gd"; lr: number }
  | { kind: "momentum"; lr: number; momentum: number; nesterov: boolean }
  | { kind: "adam"; lr: number; beta1: number };

/**
 * The sharpness at which the optimizer's update stops being stable on a quadratic:
 * GD 2/η (Cohen et al. 2021); heavy-ball momentum β (2 + 2β)/η, Nesterov (2 + 2β)/((1 + 2β)η)
 * (Cohen et al. 2021, appendix); Adam (2 + 2β₁)/((1 − β₁)η) for the preconditioned sharpness
 * λ_max(P⁻¹H) (Cohen et al. 2022): 38/η at β₁ = 0.9. NaN when η is not a positive number.
 */
export function stabilityThreshold(o: StabilityOptimizer): number {
  if (!(o.lr > 0) || !Number.isFinite(o.lr)) return Number.NaN;
  switch (o.kind) {
    case "gd":
      return 2 / o.lr;
    case "momentum":
      return o.nesterov ? (2 + 2 * o.momentum) / ((1 + 2 * o.momentum) * o.lr) : (2 + 2 * o.momentum) / o.lr;
    case "adam":
      return (2 + 2 * o.beta1) / ((1 - o.beta1) * o.lr);
  }
}

/** One analysed checkpoint: the sharpness that the threshold applies to, and the threshold. */
export interface SharpnessPoint {
  step: number;
  sharpness: number;
  threshold: number;
}

export interface EosRules {
  /** A checkpoint is at the edge once sharpness ≥ fraction · threshold (default 0.9). */
  fraction: number;
  /** Consecutive checkpoints that must agree to enter or leave the edge (default 2). */
  hold: number;
  /** Least relative rise of a progressive-sharpening interval (default 0.1: +10%). */
  minRise: number;
  /** A loss spike: the loss exceeds (1 + spike) × its running minimum (default 0.5). */
  spike: number;
  /** A catapult's sharpness drop: the first checkpoint after the spike is ≤ (1 − drop) × the last before (default 0.2). */
  drop: number;
}

export const DEFAULT_EOS_RULES: EosRules = { fraction: 0.9, hold: 2, minRise: 0.1, spike: 0.5, drop: 0.2 };

export interface StepInterval {
  start: number;
  /** Inclusive. */
  end: number;
}

export interface Catapult {
  /** First logged step above the spike level. */
  spikeStep: number;
  /** Step of the peak loss in the spike, and that loss. */
  peakStep: number;
  peakLoss: number;
  /** The loss's running minimum before the spike. */
  lossBefore: number;
  /** Sharpness at the last checkpoint at or before the spike, and at the first after its peak. */
  sharpnessBefore: number;
  sharpnessAfter: number;
  /** The checkpoint where the lower sharpness was measured. */
  dropStep: number;
}

export interface EosPhases {
  /** Intervals of progressive sharpening (outside the edge of stability). */
  sharpening: StepInterval[];
  /** Intervals at the edge of stability. */
  edge: StepInterval[];
  catapults: Catapult[];
  /** Sharpness / threshold at the last checkpoint with a finite ratio (NaN without one). */
  lastRatio: number;
}

const ratioOf = (p: SharpnessPoint) => p.sharpness / p.threshold;

/**
 * Edge-of-stability intervals: it starts at the first checkpoint of `hold` consecutive checkpoints
 * with ratio ≥ fraction, and ends at the checkpoint before the first of `hold` consecutive ones
 * below (a run that ends at the edge ends its interval at its last checkpoint). A shorter tail
 * counts when it reaches the end of the series. Points without a finite ratio are skipped.
 */
function edgeIntervals(points: readonly SharpnessPoint[], r: EosRules): StepInterval[] {
  const pts = points.filter((p) => Number.isFinite(ratioOf(p)));
  const at = pts.map((p) => ratioOf(p) >= r.fraction);
  const run = (i: number, value: boolean) => {
    for (let j = i; j < Math.min(pts.length, i + r.hold); j++) if (at[j] !== value) return false;
    return true;
  };
  const out: StepInterval[] = [];
  let start: number | undefined;
  for (let i = 0; i < pts.length; i++) {
    if (start === undefined && at[i] && run(i, true)) start = i;
    else if (start !== undefined && !at[i] && run(i, false)) {
      out.push({ start: pts[start]!.step, end: pts[i - 1]!.step });
      start = undefined;
    }
  }
  if (start !== undefined) out.push({ start: pts[start]!.step, end: pts[pts.length - 1]!.step });
  return out;
}

/** Maximal runs of strictly rising sharpness outside the edge whose total rise is ≥ minRise. */
function sharpeningIntervals(points: readonly SharpnessPoint[], edge: StepInterval[], r: EosRules): StepInterval[] {
  const inEdge = (s: number) => edge.some((e) => s >= e.start && s <= e.end);
  const pts = points.filter((p) => Number.isFinite(p.sharpness));
  const out: StepInterval[] = [];
  let i = 0;
  while (i < pts.length) {
    let j = i;
    while (j + 1 < pts.length && pts[j + 1]!.sharpness > pts[j]!.sharpness && !inEdge(pts[j + 1]!.step)) j++;
    const a = pts[i]!;
    const b = pts[j]!;
    if (j > i && !inEdge(a.step) && b.sharpness >= (1 + r.minRise) * a.sharpness && a.sharpness > 0)
      out.push({ start: a.step, end: b.step });
    i = j + 1;
  }
  return out;
}

/**
 * Catapults (Lewkowycz et al. 2020): a loss spike — the logged loss rises above (1 + spike) × its
 * running minimum, and the spike lasts while it stays above — followed by a sharpness drop: the
 * first checkpoint after the spike's peak has sharpness ≤ (1 − drop) × the last checkpoint at or
 * before the spike's start.
 */
function catapults(
  points: readonly SharpnessPoint[],
  loss: readonly { step: number; value: number }[],
  r: EosRules,
): Catapult[] {
  const pts = points.filter((p) => Number.isFinite(p.sharpness));
  const out: Catapult[] = [];
  let runMin = Infinity;
  let i = 0;
  while (i < loss.length) {
    const l = loss[i]!;
    if (!Number.isFinite(l.value)) {
      i++;
      continue;
    }
    if (Number.isFinite(runMin) && l.value > (1 + r.spike) * runMin) {
      const before = runMin;
      let peak = l;
      let j = i;
      while (j + 1 < loss.length && loss[j + 1]!.value > (1 + r.spike) * before) {
        j++;
        if (loss[j]!.value > peak.value) peak = loss[j]!;
      }
      const prior = [...pts].reverse().find((p) => p.step <= l.step);
      const after = pts.find((p) => p.step > peak.step);
      if (prior && after && after.sharpness <= (1 - r.drop) * prior.sharpness)
        out.push({
          spikeStep: l.step,
          peakStep: peak.step,
          peakLoss: peak.value,
          lossBefore: before,
          sharpnessBefore: prior.sharpness,
          sharpnessAfter: after.sharpness,
          dropStep: after.step,
        });
      i = j + 1;
      continue;
    }
    runMin = Math.min(runMin, l.value);
    i++;
  }
  return out;
}

/** The phases of a sharpness curve (ascending steps) and the logged training loss (ascending steps). */
export function eosPhases(
  points: readonly SharpnessPoint[],
  loss: readonly { step: number; value: number }[],
  rules: Partial<EosRules> = {},
): EosPhases {
  const r = { ...DEFAULT_EOS_RULES, ...rules };
  const edge = edgeIntervals(points, r);
  const finite = points.filter((p) => Number.isFinite(ratioOf(p)));
  return {
    sharpening: sharpeningIntervals(points, edge, r),
    edge,
    catapults: catapults(points, loss, r),
    lastRatio: finite.length ? ratioOf(finite[finite.length - 1]!) : Number.NaN,
  };
}

/** How many combined standard errors a change must exceed to be a stage boundary (≈ 95%, two-sided). */
export const BOUNDARY_Z = 2;

/**
 * Stage boundaries of a curve measured at a few checkpoints (the LLC): the midpoints of the
 * `count` intervals where |Δy/Δstep| is largest, and a local maximum of it (a change that is
 * faster than on both neighbouring intervals), in step order. With standard errors, an interval
 * whose change |Δy| is within BOUNDARY_Z·√(se₁² + se₂²) (the two estimates independent) is noise,
 * not a boundary; an unknown error (null) does not rule one out.
 */
export function fastestChanges(
  steps: readonly number[],
  values: readonly number[],
  count = 3,
  stdErr?: readonly (number | null)[],
): { step: number; rate: number }[] {
  const rates: { step: number; rate: number; significant: boolean }[] = [];
  for (let i = 0; i + 1 < steps.length; i++) {
    const dy = values[i + 1]! - values[i]!;
    const dx = steps[i + 1]! - steps[i]!;
    const [a, b] = [stdErr?.[i], stdErr?.[i + 1]];
    const noise = typeof a === "number" && typeof b === "number" ? BOUNDARY_Z * Math.hypot(a, b) : 0;
    rates.push({
      step: (steps[i]! + steps[i + 1]!) / 2,
      rate: dx > 0 && Number.isFinite(dy) ? dy / dx : Number.NaN,
      significant: !(Math.abs(dy) <= noise),
    });
  }
  const peaks = rates.filter((r, i) => {
    const a = Math.abs(r.rate);
    if (!Number.isFinite(a) || a === 0 || !r.significant) return false;
    const left = i > 0 ? Math.abs(rates[i - 1]!.rate) : -Infinity;
    const right = i + 1 < rates.length ? Math.abs(rates[i + 1]!.rate) : -Infinity;
    return !(a < left) && !(a < right);
  });
  return peaks
    .sort((a, b) => Math.abs(b.rate) - Math.abs(a.rate))
    .slice(0, count)
    .sort((a, b) => a.step - b.step)
    .map(({ step, rate }) => ({ step, rate }));
}
