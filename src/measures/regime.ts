// The lazy / transitioning / rich badge (docs/analyses.md, "Kernel"): does training move the
// model's features (rich, Chizat et al. 2019's small α; Woodworth et al. 2020's small init) or
// stay near its linearization at initialization (lazy: the NTK barely changes)?
//
// Three per-checkpoint signals against initialization, each classified lazy / between / rich by
// two thresholds, then pooled:
// - kernel distance S(K_t, K_0) of the empirical NTK on the probe set (Fort et al. 2020);
// - relative weight change RWC_l = ‖W_l(t) − W_l(0)‖_F / ‖W_l(0)‖_F, the largest over the hidden
//   layers the caller passes (a single layer whose weights moved far is enough for its features to
//   change);
// - linear CKA between a layer's representations at 0 and t, the smallest over layers (optional).
//
// The thresholds come from a measured α sweep (examples/lazy-rich.experiment.ts: single-index
// teacher, one hidden layer of 256 ReLU units, SGD lr 0.02, 2000 steps, centred output scaled by α;
// analyzer defaults, probe set of 64 training examples; docs/analyses.md has the figure):
//
//   α      RWC hidden layer   RWC readout   kernel distance   CKA hidden rep.   test loss
//   0.1    0.208              2.90          0.047             0.976             0.004  (learns the teacher's direction: rich)
//   1      0.043              1.07          0.00014           0.9997            0.044  (the kernel solution)
//   10     0.0040             0.083         < 1e-6            1.0000            0.042
//   100    0.0004             0.0083        < 1e-6            1.0000            0.043
//
// Relative change falls as 1/α once training is lazy (hidden layer ×10.5 from α = 1 to 10, ×10.1 from 10 to 100).
// The readout moves by O(1) even at α = 1, where the kernel has not moved, so the weight signal
// uses hidden layers only (callers pass those), and a representation that is the model's input
// (CKA 1 by construction) is not passed either. Each threshold sits between the lazy runs and the
// rich one with room on both sides; they are for this kind of model system, and a different
// architecture or training length may need others: the panel shows the numbers beside the badge.

/** Kernel distance at or below which the NTK counts as unchanged (lazy): α = 1 measured 0.00014. */
export const LAZY_MAX_KERNEL_DISTANCE = 0.005;
/** Kernel distance at or above which the NTK has clearly moved (rich): α = 0.1 measured 0.047. */
export const RICH_MIN_KERNEL_DISTANCE = 0.03;
/** Largest hidden-layer relative weight change at or below which weights stayed put (lazy): α = 1 measured 0.043. */
export const LAZY_MAX_RELATIVE_WEIGHT_CHANGE = 0.05;
/** Largest hidden-layer relative weight change at or above which weights moved far (rich): α = 0.1 measured 0.21. */
export const RICH_MIN_RELATIVE_WEIGHT_CHANGE = 0.15;
/** Smallest hidden-representation CKA(0, t) at or above which representations are unchanged (lazy): α = 1 measured 0.9997. */
export const LAZY_MIN_CKA = 0.999;
/** Smallest hidden-representation CKA(0, t) at or below which representations were rebuilt (rich): α = 0.1 measured 0.976. */
export const RICH_MAX_CKA = 0.99;

export type Vote = "lazy" | "between" | "rich";

export interface RegimeInputs {
  /** S(K_t, K_0), when the NTK was measured. */
  kernelDistance?: number | undefined;
  /** RWC per layer name. */
  relativeWeightChange?: Readonly<Record<string, number>> | undefined;
  /** CKA between the layer's representations at 0 and t, per layer name. */
  cka?: Readonly<Record<string, number>> | undefined;
}

export interface RegimeSignal {
  name: "kernel distance" | "relative weight change" | "CKA to initialization";
  value: number;
  /** The layer the value came from (the extreme one), for per-layer signals. */
  layer: string | undefined;
  vote: Vote;
}

export type RegimeAssessment =
  | { badge: "lazy" | "transitioning" | "rich"; reason: string; signals: RegimeSignal[] }
  | { badge: "unknown"; reason: string; signals: [] };

/**
 * The badge and the reason in words. Each available signal votes lazy (0), between (½) or rich (1);
 * the mean decides: ≤ ¼ lazy, ≥ ¾ rich, otherwise transitioning (signals in between, or disagreeing).
 * Non-finite values are ignored (a NaN kernel distance from a zero kernel says nothing).
 */
export function assessRegime(inputs: RegimeInputs): RegimeAssessment {
  const signals: RegimeSignal[] = [];
  const kd = inputs.kernelDistance;
  if (kd !== undefined && Number.isFinite(kd)) {
    signals.push({
      name: "kernel distance",
      value: kd,
      layer: undefined,
      vote: voteAscending(kd, LAZY_MAX_KERNEL_DISTANCE, RICH_MIN_KERNEL_DISTANCE),
    });
  }
  const rwc = extremeLayer(inputs.relativeWeightChange, "max");
  if (rwc) {
    signals.push({
      name: "relative weight change",
      value: rwc.value,
      layer: rwc.layer,
      vote: voteAscending(rwc.value, LAZY_MAX_RELATIVE_WEIGHT_CHANGE, RICH_MIN_RELATIVE_WEIGHT_CHANGE),
    });
  }
  const cka = extremeLayer(inputs.cka, "min");
  if (cka) {
    const vote: Vote = cka.value >= LAZY_MIN_CKA ? "lazy" : cka.value <= RICH_MAX_CKA ? "rich" : "between";
    signals.push({ name: "CKA to initialization", value: cka.value, layer: cka.layer, vote });
  }
  if (signals.length === 0)
    return { badge: "unknown", reason: "no kernel distance, weight change or CKA measured yet", signals: [] };

  const score = signals.reduce((s, x) => s + (x.vote === "lazy" ? 0 : x.vote === "rich" ? 1 : 0.5), 0) / signals.length;
  const badge = score <= 0.25 ? "lazy" : score >= 0.75 ? "rich" : "transitioning";
  const parts = signals.map(describe);
  const summary =
    badge === "lazy"
      ? "the model stays near its initialization (kernel regime)"
      : badge === "rich"
        ? "features moved away from initialization (feature learning)"
        : signals.some((s) => s.vote === "lazy") && signals.some((s) => s.vote === "rich")
          ? "the signals disagree"
          : "features are moving, but not yet far";
  return { badge, reason: `${capitalize(badge)}: ${summary} — ${parts.join("; ")}.`, signals };
}

function voteAscending(value: number, lazyMax: number, richMin: number): Vote {
  return value <= lazyMax ? "lazy" : value >= richMin ? "rich" : "between";
}

function extremeLayer(
  perLayer: Readonly<Record<string, number>> | undefined,
  which: "max" | "min",
): { layer: string; value: number } | undefined {
  let best: { layer: string; value: number } | undefined;
  for (const [layer, value] of Object.entries(perLayer ?? {})) {
    if (!Number.isFinite(value)) continue;
    if (!best || (which === "max" ? value > best.value : value < best.value)) best = { layer, value };
  }
  return best;
}

function describe(s: RegimeSignal): string {
  // CKA lives near 1: show its distance from 1 to two digits (0.9995, not "1.0").
  const v =
    s.name === "CKA to initialization" && s.value < 1
      ? s.value.toFixed(Math.floor(-Math.log10(1 - s.value)) + 1)
      : s.value.toPrecision(2);
  const where = s.layer === undefined ? "" : ` (layer ${s.layer})`;
  switch (s.name) {
    case "kernel distance": {
      const rule =
        s.vote === "lazy"
          ? `≤ ${LAZY_MAX_KERNEL_DISTANCE}`
          : s.vote === "rich"
            ? `≥ ${RICH_MIN_KERNEL_DISTANCE}`
            : `between ${LAZY_MAX_KERNEL_DISTANCE} and ${RICH_MIN_KERNEL_DISTANCE}`;
      return `NTK kernel distance ${v} ${rule} (${s.vote})`;
    }
    case "relative weight change": {
      const rule =
        s.vote === "lazy"
          ? `≤ ${LAZY_MAX_RELATIVE_WEIGHT_CHANGE}`
          : s.vote === "rich"
            ? `≥ ${RICH_MIN_RELATIVE_WEIGHT_CHANGE}`
            : `between ${LAZY_MAX_RELATIVE_WEIGHT_CHANGE} and ${RICH_MIN_RELATIVE_WEIGHT_CHANGE}`;
      return `largest relative weight change ${v}${where} ${rule} (${s.vote})`;
    }
    case "CKA to initialization": {
      const rule =
        s.vote === "lazy"
          ? `≥ ${LAZY_MIN_CKA}`
          : s.vote === "rich"
            ? `≤ ${RICH_MAX_CKA}`
            : `between ${RICH_MAX_CKA} and ${LAZY_MIN_CKA}`;
      return `lowest CKA to initialization ${v}${where} ${rule} (${s.vote})`;
    }
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
