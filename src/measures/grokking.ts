// The grokking detector: from logged curves alone (metrics.jsonl records), when did the model
// memorize the training set (t_mem), when did it generalize (t_gen), how long after, was test
// accuracy still at chance when it memorized, and which early-warning signals moved first
// (docs/analyses.md, "Grokking detector"). Pure and fast: it runs on every metrics batch in the extension host.
//
// Conventions. An *evaluation* of a metric is a record where it is a finite number; null, missing
// and non-finite values are not evaluations (they neither extend nor break a run). Records are
// taken in the order given, which docs/run-format.md guarantees is step order.

import { type MetricsRecord, type Series, seriesOf, smoothSeries } from "./smoothing";
import { minOf } from "./extent";

/** Metric names the detector reads (docs/run-format.md's standard names). */
export const GROKKING_METRICS = {
  trainAcc: "train_acc",
  testAcc: "test_acc",
  testLoss: "test_loss",
  paramNorm: "param_norm",
} as const;

export interface GrokkingSettings {
  /**
   * Train accuracy that counts as memorized. 0.99: the training set is fitted but for ≤ 1% of
   * examples; Power et al. 2022 plot train accuracy saturating at 100%, and a stricter 1.0 would
   * never fire on runs with a few mislabeled or hard examples.
   */
  trainThreshold: number;
  /**
   * Test accuracy that counts as generalized. 0.95 rather than Power et al.'s 99%: on algorithmic
   * tasks the climb from 95% to 99% takes a small fraction of the delay (so t_gen barely moves), while
   * runs that plateau at 96–98% (weight decay too weak, noisy test split, Omnigrok-style tasks) would
   * never count at 99%. Set 0.99 to reproduce Power et al.'s "steps to 99% validation accuracy".
   */
  testThreshold: number;
  /** Consecutive evaluations a threshold must hold; t_mem / t_gen is the first step of the first such run. */
  hold: number;
  /** Chance accuracy (1 / classes), when the caller knows it; enables the "at chance at t_mem" check. */
  chanceAccuracy: number | undefined;
  /** Test-set size, when known: the chance band is then z binomial standard deviations. */
  testSetSize: number | undefined;
  /** Width of the chance band in binomial standard deviations: 3 (a run truly at chance leaves it 0.3% of the time). */
  chanceZ: number;
  /**
   * t_gen / t_mem at or above which generalization counts as delayed, i.e. grokked. 2: generalization
   * took at least as long again as memorization. Power et al. report ratios of 10–1000 and Nanda
   * et al.'s run (memorized ≈ 1.4k, generalized ≈ 9k epochs) about 6; ordinary training, where test
   * accuracy follows train accuracy, gives ratios near 1.
   */
  minGrokRatio: number;
  /** β of the zero-lag debiased EMA applied before looking for turning points (per typical evaluation). */
  smoothing: number;
  /** Relative rise/fall (of the smoothed series) that counts as a real turn rather than noise: 0.02. */
  minRelativeChange: number;
  /** Metrics in the records to run the jump detector on, e.g. "kta" or "fourier_gini". */
  jumpMetrics: readonly string[];
}

export const DEFAULT_GROKKING_SETTINGS: Readonly<GrokkingSettings> = Object.freeze({
  trainThreshold: 0.99,
  testThreshold: 0.95,
  hold: 3,
  chanceAccuracy: undefined,
  testSetSize: undefined,
  chanceZ: 3,
  minGrokRatio: 2,
  smoothing: 0.8,
  minRelativeChange: 0.02,
  jumpMetrics: [],
});

export function resolveGrokkingSettings(settings: Partial<GrokkingSettings> = {}): GrokkingSettings {
  const s: GrokkingSettings = { ...DEFAULT_GROKKING_SETTINGS };
  for (const [key, value] of Object.entries(settings))
    if (value !== undefined) (s as unknown as Record<string, unknown>)[key] = value;
  if (!Number.isInteger(s.hold) || s.hold < 1) throw new RangeError(`hold must be a positive integer, got ${s.hold}`);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Held threshold runs, incrementally: the one piece of logic both the report and the live detector use.

/** Progress towards "value ≥ threshold for `hold` consecutive evaluations". */
export interface HeldRunState {
  /** Step of the first evaluation of the current run above threshold. */
  readonly runStart: number | undefined;
  readonly runLength: number;
  /** Set once a run has lasted `hold` evaluations: its first step. Never changes afterwards. */
  readonly heldFrom: number | undefined;
}

export const EMPTY_HELD_RUN: HeldRunState = Object.freeze({ runStart: undefined, runLength: 0, heldFrom: undefined });

export function advanceHeldRun(
  state: HeldRunState,
  step: number,
  value: number,
  threshold: number,
  hold: number,
): HeldRunState {
  if (state.heldFrom !== undefined) return state;
  if (!(value >= threshold)) return EMPTY_HELD_RUN;
  const runStart = state.runLength === 0 ? step : state.runStart;
  const runLength = state.runLength + 1;
  return { runStart, runLength, heldFrom: runLength >= hold ? runStart : undefined };
}

// ---------------------------------------------------------------------------------------------
// Live use: a reducer over batches of records.

export interface GrokkingDetectorState {
  readonly train: HeldRunState;
  readonly test: HeldRunState;
}

export const INITIAL_DETECTOR_STATE: GrokkingDetectorState = Object.freeze({
  train: EMPTY_HELD_RUN,
  test: EMPTY_HELD_RUN,
});

/** Something a batch of records established. `step` is t_mem / t_gen (the first step of the held run), not the step that completed it. */
export type GrokkingEvent =
  | { kind: "memorized"; step: number }
  | { kind: "generalized"; step: number; tMem: number | undefined; delay: number | undefined };

/**
 * Feeds a batch of new records to the detector: O(batch). Call it with each batch as it arrives
 * (records after the previous batch, in step order); the events say what this batch established.
 */
export function advanceGrokkingDetector(
  state: GrokkingDetectorState,
  records: readonly MetricsRecord[],
  settings: Partial<GrokkingSettings> = {},
): { state: GrokkingDetectorState; events: GrokkingEvent[] } {
  const s = resolveGrokkingSettings(settings);
  const events: GrokkingEvent[] = [];
  let { train, test } = state;
  for (const r of records) {
    const tr = finite(r[GROKKING_METRICS.trainAcc]);
    if (tr !== undefined) {
      const before = train.heldFrom;
      train = advanceHeldRun(train, r.step, tr, s.trainThreshold, s.hold);
      if (before === undefined && train.heldFrom !== undefined)
        events.push({ kind: "memorized", step: train.heldFrom });
    }
    const te = finite(r[GROKKING_METRICS.testAcc]);
    if (te !== undefined) {
      const before = test.heldFrom;
      test = advanceHeldRun(test, r.step, te, s.testThreshold, s.hold);
      if (before === undefined && test.heldFrom !== undefined) {
        const tMem = train.heldFrom;
        events.push({
          kind: "generalized",
          step: test.heldFrom,
          tMem,
          delay: tMem === undefined ? undefined : test.heldFrom - tMem,
        });
      }
    }
  }
  return { state: { train, test }, events };
}

// ---------------------------------------------------------------------------------------------
// The report on a whole run (finished or not).

export type GrokkingVerdict =
  /** Memorized, then generalized with t_gen / t_mem ≥ minGrokRatio. */
  | { kind: "grokked"; tMem: number; tGen: number; delay: number; ratio: number }
  /** Memorized, not (yet) generalized. */
  | { kind: "memorized"; tMem: number; stepsSinceMemorization: number }
  /** Generalized no later than minGrokRatio × t_mem (test accuracy kept up with train accuracy). */
  | { kind: "generalized-without-delay"; tMem: number; tGen: number; ratio: number | undefined }
  /** Train accuracy never held the threshold (tGen is set in the odd case that test accuracy did). */
  | { kind: "not-memorized"; tGen: number | undefined };

export type PhaseKind = "pre-memorization" | "circuit-formation" | "generalized";

/**
 * A stretch of training to shade: [startStep, endStep), the last one closed at the last logged
 * step. "circuit-formation" is the plateau between memorization and generalization (Nanda et al.'s
 * circuit formation; their cleanup is where the generalized phase begins).
 */
export interface PhaseInterval {
  kind: PhaseKind;
  startStep: number;
  endStep: number;
}

/** An early-warning signal: the step it fired at, the metric's value there, and t_gen − step (positive: it came first). */
export interface Indicator {
  name: string;
  step: number;
  value: number;
  leadTime: number | undefined;
}

/** A series the caller computed elsewhere (e.g. kernel–target alignment per checkpoint) for the jump detector. */
export interface NamedSeries extends Series {
  name: string;
  /** "up" (default): look for the steepest rise; "down": the steepest fall (e.g. restricted loss). */
  direction?: "up" | "down";
}

export interface GrokkingReport {
  settings: GrokkingSettings;
  firstStep: number | undefined;
  lastStep: number | undefined;
  tMem: number | undefined;
  tGen: number | undefined;
  /** t_gen − t_mem. */
  delay: number | undefined;
  /** t_gen / t_mem; Infinity when t_mem = 0 < t_gen; undefined when either is missing or both are 0. */
  ratio: number | undefined;
  /** Test accuracy at t_mem: the last test evaluation at or before t_mem (else the first after). */
  testAccAtMem: number | undefined;
  /** Whether testAccAtMem is within the chance band; undefined without a chance accuracy. */
  testAccAtChance: boolean | undefined;
  /** Half-width of the chance band, and whether it came from the test-set size or an assumed size. */
  chanceBand: { tolerance: number; basis: "binomial" | "assumed-test-size" } | undefined;
  verdict: GrokkingVerdict;
  phases: PhaseInterval[];
  indicators: {
    weightNormPeak: Indicator | undefined;
    testLossTurnaround: Indicator | undefined;
    /** One entry per jump series (settings.jumpMetrics, then extra series), undefined where no jump was found. */
    jumps: Array<{ name: string; indicator: Indicator | undefined }>;
  };
}

/** Analyses a run's records. `extraSeries` adds jump-detector inputs computed outside metrics.jsonl. */
export function analyzeGrokking(
  records: readonly MetricsRecord[],
  settings: Partial<GrokkingSettings> = {},
  extraSeries: readonly NamedSeries[] = [],
): GrokkingReport {
  const s = resolveGrokkingSettings(settings);
  const { state } = advanceGrokkingDetector(INITIAL_DETECTOR_STATE, records, s);
  const tMem = state.train.heldFrom;
  const tGen = state.test.heldFrom;
  let firstStep: number | undefined;
  let lastStep: number | undefined;
  for (const r of records) {
    firstStep = firstStep === undefined ? r.step : Math.min(firstStep, r.step);
    lastStep = lastStep === undefined ? r.step : Math.max(lastStep, r.step);
  }
  const delay = tMem !== undefined && tGen !== undefined ? tGen - tMem : undefined;
  const ratio = tMem !== undefined && tGen !== undefined ? growthRatio(tMem, tGen) : undefined;

  const testAcc = seriesOf(records, GROKKING_METRICS.testAcc);
  const testAccAtMem = tMem === undefined ? undefined : valueAtOrBefore(testAcc, tMem);
  const chanceBand =
    s.chanceAccuracy === undefined ? undefined : chanceTolerance(s.chanceAccuracy, s.testSetSize, s.chanceZ);
  const testAccAtChance =
    chanceBand === undefined || testAccAtMem === undefined || s.chanceAccuracy === undefined
      ? undefined
      : Math.abs(testAccAtMem - s.chanceAccuracy) <= chanceBand.tolerance;

  const verdict = verdictOf(tMem, tGen, ratio, lastStep, s);
  const phases = firstStep === undefined || lastStep === undefined ? [] : phasesOf(firstStep, lastStep, tMem, tGen);

  const lead = (step: number): number | undefined => (tGen === undefined ? undefined : tGen - step);
  const jumpInputs: NamedSeries[] = [
    ...s.jumpMetrics.map((name) => ({ name, ...seriesOf(records, name) })),
    ...extraSeries,
  ];
  return {
    settings: s,
    firstStep,
    lastStep,
    tMem,
    tGen,
    delay,
    ratio,
    testAccAtMem,
    testAccAtChance,
    chanceBand,
    verdict,
    phases,
    indicators: {
      weightNormPeak: weightNormPeak(seriesOf(records, GROKKING_METRICS.paramNorm), tGen, s, lead),
      testLossTurnaround: testLossTurnaround(seriesOf(records, GROKKING_METRICS.testLoss), tMem, tGen, s, lead),
      jumps: jumpInputs.map((series) => {
        // An early warning is a change after memorization (everything moves while the training set
        // is fitted) and no later than generalization: the jump is looked for in (t_mem, t_gen].
        const inWindow = series.steps.map(
          (step) => (tMem === undefined || step > tMem) && (tGen === undefined || step <= tGen),
        );
        const steps = series.steps.filter((_, i) => inWindow[i]);
        const values = series.values.filter((_, i) => inWindow[i]);
        const jump = detectJump(steps, values, s.smoothing, series.direction ?? "up");
        return {
          name: series.name,
          indicator: jump && { name: series.name, step: jump.step, value: jump.value, leadTime: lead(jump.step) },
        };
      }),
    },
  };
}

/**
 * Half-width of the band around chance accuracy c that still counts as "at chance": z·√(c(1−c)/n),
 * the binomial standard deviation of the accuracy of a chance-level model on n test examples. Without
 * n, assumes 100 examples per class (n = 100/c) and says so in `basis`.
 */
export function chanceTolerance(
  chance: number,
  testSetSize: number | undefined,
  z: number = DEFAULT_GROKKING_SETTINGS.chanceZ,
): { tolerance: number; basis: "binomial" | "assumed-test-size" } {
  if (!(chance > 0 && chance < 1)) throw new RangeError(`chance accuracy must be in (0, 1), got ${chance}`);
  const basis = testSetSize !== undefined && testSetSize > 0 ? "binomial" : "assumed-test-size";
  const n = basis === "binomial" ? testSetSize! : 100 / chance;
  return { tolerance: z * Math.sqrt((chance * (1 - chance)) / n), basis };
}

/** The step of the largest smoothed rate of change in the chosen direction, or undefined if the series never moves that way. */
export function detectJump(
  steps: readonly number[],
  values: readonly number[],
  smoothing: number = DEFAULT_GROKKING_SETTINGS.smoothing,
  direction: "up" | "down" = "up",
): { step: number; value: number; rate: number } | undefined {
  if (steps.length !== values.length)
    throw new RangeError(`detectJump: ${steps.length} steps, ${values.length} values`);
  if (values.length < 3) return undefined;
  const smooth = smoothSeries(steps, values, smoothing);
  const sign = direction === "up" ? 1 : -1;
  let best = -1;
  let bestRate = 0;
  for (let i = 0; i + 1 < values.length; i++) {
    const dt = steps[i + 1]! - steps[i]!;
    if (dt <= 0) continue;
    const rate = (sign * (smooth[i + 1]! - smooth[i]!)) / dt;
    if (rate > bestRate) {
      bestRate = rate;
      best = i;
    }
  }
  // Reported at the later evaluation of the steepest interval: the first point at which the jump can be seen.
  return best < 0 ? undefined : { step: steps[best + 1]!, value: values[best + 1]!, rate: sign * bestRate };
}

// --- internals ---

function growthRatio(tMem: number, tGen: number): number | undefined {
  if (tMem === 0) return tGen === 0 ? undefined : tGen > 0 ? Infinity : undefined;
  return tGen / tMem;
}

function verdictOf(
  tMem: number | undefined,
  tGen: number | undefined,
  ratio: number | undefined,
  lastStep: number | undefined,
  s: GrokkingSettings,
): GrokkingVerdict {
  if (tMem === undefined) return { kind: "not-memorized", tGen };
  if (tGen === undefined) return { kind: "memorized", tMem, stepsSinceMemorization: (lastStep ?? tMem) - tMem };
  if (tGen > tMem && ratio !== undefined && ratio >= s.minGrokRatio)
    return { kind: "grokked", tMem, tGen, delay: tGen - tMem, ratio };
  return { kind: "generalized-without-delay", tMem, tGen, ratio };
}

function phasesOf(first: number, last: number, tMem: number | undefined, tGen: number | undefined): PhaseInterval[] {
  const phases: PhaseInterval[] = [];
  const push = (kind: PhaseKind, startStep: number, endStep: number): void => {
    if (endStep > startStep || (endStep === startStep && startStep === last)) phases.push({ kind, startStep, endStep });
  };
  if (tGen !== undefined && (tMem === undefined || tGen <= tMem)) {
    push("pre-memorization", first, tGen);
    push("generalized", tGen, last);
  } else if (tMem !== undefined) {
    const end = tGen ?? last;
    push("pre-memorization", first, tMem);
    push("circuit-formation", tMem, end);
    if (tGen !== undefined) push("generalized", tGen, last);
  } else {
    push("pre-memorization", first, last);
  }
  return phases;
}

function valueAtOrBefore(series: Series, step: number): number | undefined {
  let found: number | undefined;
  for (let i = 0; i < series.steps.length; i++) {
    if (series.steps[i]! <= step) found = series.values[i]!;
    else return found ?? series.values[i]!;
  }
  return found;
}

/**
 * The parameter norm's peak before t_gen (all of the run while t_gen is unknown): the argmax of the
 * smoothed norm, accepted only as a real turn — an interior maximum (it rose to it) followed by a
 * fall of at least minRelativeChange before the window ends. A norm that only falls (large
 * initialization under weight decay) or is still rising has no peak.
 */
function weightNormPeak(
  series: Series,
  tGen: number | undefined,
  s: GrokkingSettings,
  lead: (step: number) => number | undefined,
): Indicator | undefined {
  if (series.steps.length < 3) return undefined;
  // Smooth the whole curve, then look inside the window: smoothing only the window would bend its edges.
  const smooth = smoothSeries(series.steps, series.values, s.smoothing);
  let end = series.steps.length;
  if (tGen !== undefined) while (end > 0 && series.steps[end - 1]! > tGen) end--;
  if (end < 3) return undefined;
  let m = 0;
  for (let i = 1; i < end; i++) if (smooth[i]! > smooth[m]!) m = i;
  if (m === 0 || m === end - 1) return undefined;
  const peak = smooth[m]!;
  const lowBefore = minOf(smooth, 0, m);
  const lowAfter = minOf(smooth, m + 1, end);
  const needed = s.minRelativeChange * Math.abs(peak);
  if (peak - lowBefore < needed || peak - lowAfter < needed) return undefined;
  const at = rawPeakNear(series.values, m, 0, end - 1, s.smoothing);
  const step = series.steps[at]!;
  return { name: GROKKING_METRICS.paramNorm, step, value: series.values[at]!, leadTime: lead(step) };
}

/**
 * The raw maximum within one smoothing width of the smoothed maximum `m`, inside [lo, hi]. The
 * smoothing finds the turn robustly but moves an asymmetric peak (fast rise, slow fall) towards its
 * slow side; the raw curve near it says where the peak was.
 */
function rawPeakNear(values: readonly number[], m: number, lo: number, hi: number, beta: number): number {
  const width = Math.max(1, Math.ceil(2 / Math.max(1e-9, 1 - beta)));
  let best = m;
  for (let i = Math.max(lo, m - width); i <= Math.min(hi, m + width); i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * Where test loss, having risen after memorization, starts its sustained fall: the argmax of the
 * smoothed test loss over [t_mem, t_gen] (to the last evaluation while t_gen is unknown), accepted
 * when the loss rose to it from its value at t_mem and has fallen since, each by at least
 * minRelativeChange (relative to the peak). Undefined before memorization.
 */
function testLossTurnaround(
  series: Series,
  tMem: number | undefined,
  tGen: number | undefined,
  s: GrokkingSettings,
  lead: (step: number) => number | undefined,
): Indicator | undefined {
  if (tMem === undefined || series.steps.length < 3) return undefined;
  // Smooth the whole curve, then look inside the window: smoothing only the window would bend its edges.
  const smooth = smoothSeries(series.steps, series.values, s.smoothing);
  const idx: number[] = [];
  series.steps.forEach((step, i) => {
    if (step >= tMem && (tGen === undefined || step <= tGen)) idx.push(i);
  });
  if (idx.length < 3) return undefined;
  let m = idx[0]!;
  for (const i of idx) if (smooth[i]! > smooth[m]!) m = i;
  const peak = smooth[m]!;
  const first = idx[0]!;
  const last = idx[idx.length - 1]!;
  if (m === first || m === last) return undefined;
  if (peak - smooth[first]! < s.minRelativeChange * Math.abs(peak)) return undefined;
  if (peak - smooth[last]! < s.minRelativeChange * Math.abs(peak)) return undefined;
  const at = rawPeakNear(series.values, m, first, last, s.smoothing);
  const step = series.steps[at]!;
  return { name: GROKKING_METRICS.testLoss, step, value: series.values[at]!, leadTime: lead(step) };
}

function finite(v: number | null | undefined): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}
