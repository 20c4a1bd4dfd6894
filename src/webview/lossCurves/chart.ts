// The loss-curves chart: chart.js with our scales, one smoothed dataset per run and metric (with
// its raw points behind while smoothing is on), min/max decimation of the visible range, and
// appends pushed onto the drawn data without a rebuild.
//
// Drawing stays cheap however long the run: each curve is min/max-decimated to about four points
// per pixel column of the *visible* range (extremes survive), re-decimated on zoom and resize.
// Appended points are pushed onto the drawn data as they are (exact) and the chart is updated
// without a rebuild; only when the pushed tail grows past a few screens' worth is it re-decimated.

import { Chart, LineController, LineElement, LinearScale, LogarithmicScale, PointElement } from "chart.js";
import type { ChartDataset, ChartOptions, Plugin } from "chart.js";
import { decimateMinMax } from "../../shared/decimate";
import { axisColors, dropOutsideTicks, formatNumber, tickLabel } from "../common/chartAxes";
import { applyChartFont, backgroundPlugin } from "../common/chartTheme";
import { byId } from "../common/dom";
import { runColor, withAlpha } from "../common/theme";
import { isAccuracyLike, isLossLike } from "../../shared/metricKeys";
import type { PlotChoice } from "../../shared/panels/lossCurves";
import { choices, rt, runs } from "./app";
import { crosshairPlugin } from "./crosshair";
import { lowerBound, upperBound, type RunData } from "./series";

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale);

export type Pt = { x: number; y: number };
type LineDs = ChartDataset<"line", Pt[]>;
type ScaleOpts = NonNullable<NonNullable<ChartOptions<"line">["scales"]>[string]>;

/** One drawn curve: a metric of a run, smoothed, with its raw points behind when smoothing is on. */
export interface Plotted {
  run: RunData;
  metric: string;
  axis: "y" | "yAcc";
  smooth: LineDs;
  raw: LineDs | null;
  /** Points of the metric series already in the datasets (the next append starts here). */
  drawnUpTo: number;
  /** Dataset length right after the last decimation; the tail beyond it came from appends. */
  decimatedLen: number;
}

/** The curves drawn now (rebuilt on init and on toggles). */
export const plotted: Plotted[] = [];

export const canvas = byId<HTMLCanvasElement>("chart");

// ---- draw accounting (test hooks and benchmarks wait for draws) ------------------------------

export const draws = { count: 0, lastAt: 0, waiters: [] as ((t: number) => void)[] };

const timingPlugin: Plugin<"line"> = {
  id: "lmTiming",
  afterDraw() {
    draws.count++;
    draws.lastAt = performance.now();
    for (const w of draws.waiters.splice(0)) w(draws.lastAt);
  },
};

// ---- scales ----------------------------------------------------------------------------------

export function formatSeconds(v: number): string {
  if (Math.abs(v) < 120) return `${formatNumber(v)} s`;
  if (Math.abs(v) < 7200) return `${formatNumber(v / 60)} min`;
  return `${formatNumber(v / 3600)} h`;
}

/** The x axis's title: step, wall time, or the metric key used as x (as text: chart.js draws it on the canvas). */
export function xTitle(x: string): string {
  return x === "step" ? "step" : x === "time" ? "wall time" : x;
}

/** A y axis's title: "loss" / "accuracy" when all its metrics are such, the key when one, else "value". */
function yTitle(keys: readonly string[], fallback: string): string {
  if (keys.length === 0) return fallback;
  if (keys.every(isLossLike)) return "loss";
  if (keys.every(isAccuracyLike)) return "accuracy";
  return keys.length === 1 ? (keys[0] as string) : "value";
}

const keysOn = (axis: PlotChoice["axis"]): string[] =>
  choices()
    .filter((c) => c.axis === axis)
    .map((c) => c.key);

/** The right axis's title (also the label of its checkbox). */
export const rightTitle = (): string => yTitle(keysOn("right"), "accuracy");

function xScaleOptions(): ScaleOpts {
  const c = axisColors(rt.theme);
  const state = rt.state;
  return {
    type: state.logX ? "logarithmic" : "linear",
    bounds: "data", // the curves reach the plot edges
    afterBuildTicks: dropOutsideTicks,
    ...(state.zoom ? { min: state.zoom.xMin, max: state.zoom.xMax } : {}),
    title: { display: true, text: xTitle(state.xAxis), ...c.title },
    ticks: {
      ...c.ticks,
      maxRotation: 0,
      autoSkip: !state.logX, // log axes: logTick picks the labels
      autoSkipPadding: 12,
      callback: tickLabel(state.logX, state.xAxis === "time" ? formatSeconds : formatNumber),
    },
    grid: c.grid,
    border: c.border,
  } as ScaleOpts;
}

function yScaleOptions(): ScaleOpts {
  const c = axisColors(rt.theme);
  return {
    type: rt.state.logY ? "logarithmic" : "linear",
    position: "left",
    afterBuildTicks: dropOutsideTicks,
    title: { display: true, text: yTitle(keysOn("left"), "loss"), ...c.title },
    ticks: { ...c.ticks, autoSkip: !rt.state.logY, callback: tickLabel(rt.state.logY) },
    grid: c.grid,
    border: c.border,
  } as ScaleOpts;
}

function accScaleOptions(): ScaleOpts {
  const c = axisColors(rt.theme);
  const keys = keysOn("right");
  // Accuracies keep their 0–1 frame (curves comparable across runs); anything else (lr) fits its data.
  const unit = keys.every(isAccuracyLike);
  return {
    type: "linear",
    position: "right",
    display: rt.state.showAccuracy,
    ...(unit ? { min: 0, max: 1 } : {}),
    afterBuildTicks: dropOutsideTicks,
    title: { display: true, text: rightTitle(), ...c.title },
    ticks: c.ticks,
    grid: { drawOnChartArea: false },
    border: c.border,
  } as ScaleOpts;
}

applyChartFont(rt.theme, 1);

// Declared before the chart: its resize callback may schedule an update.
let frame = 0;
let frameRedecimate = false;

export const chart = new Chart<"line", Pt[]>(canvas, {
  type: "line",
  data: { datasets: [] },
  options: {
    animation: false,
    parsing: false,
    normalized: true,
    responsive: true,
    maintainAspectRatio: false,
    events: [], // pointer handling is ours (zoom, pan, crosshair)
    spanGaps: true,
    elements: {
      point: { radius: 0, hoverRadius: 0, hitRadius: 0 },
      line: { tension: 0, borderCapStyle: "round", borderJoinStyle: "round" },
    },
    layout: { padding: { top: 8, right: 8 } },
    scales: { x: xScaleOptions(), y: yScaleOptions() },
    onResize: () => scheduleUpdate(true),
  },
  plugins: [backgroundPlugin(() => rt.theme), crosshairPlugin(() => plotted), timingPlugin],
});

export function applyScales(): void {
  const scales = chart.options.scales ?? {};
  scales["x"] = xScaleOptions();
  scales["y"] = yScaleOptions();
  // The accuracy axis exists only while shown (a hidden scale still leaves its border line).
  if (rt.state.showAccuracy) scales["yAcc"] = accScaleOptions();
  else delete scales["yAcc"];
  chart.options.scales = scales;
}

// ---- datasets --------------------------------------------------------------------------------

/**
 * Line styles by the metric's place in the choice (colour is the run's): the default choice of the
 * four classic keys gets train_loss solid, test_loss dashed, train_acc dotted, test_acc dash-dot
 * as before; further metrics the next styles, round again after six.
 */
export const DASHES: readonly { name: string; dash: number[] }[] = [
  { name: "solid", dash: [] },
  { name: "dashed", dash: [6, 4] },
  { name: "dotted", dash: [2, 3] },
  { name: "dash-dot", dash: [8, 3, 2, 3] },
  { name: "long dash", dash: [12, 4] },
  { name: "dash-dot-dot", dash: [8, 3, 2, 3, 2, 3] },
];

export const dashOf = (index: number): { name: string; dash: number[] } =>
  DASHES[index % DASHES.length] as { name: string; dash: number[] };

function makeDataset(run: RunData, metric: string, axis: "y" | "yAcc", raw: boolean, styleIndex: number): LineDs {
  const color = runColor(rt.theme, run.colorIndex);
  const acc = axis === "yAcc";
  return {
    label: `${run.label} ${metric}${raw ? " (raw)" : ""}`,
    data: [],
    yAxisID: axis,
    borderColor: raw ? withAlpha(color, 0.22) : color,
    borderWidth: raw ? 1 : acc ? 1.25 : 1.75,
    borderDash: raw ? [] : dashOf(styleIndex).dash,
    pointRadius: 0,
    fill: false,
    order: raw ? 1 : 0, // higher order is drawn first: raw points stay behind
  };
}

/** Rebuilds the list of curves (after init or a toggle), then their data. */
export function rebuildDatasets(): void {
  const state = rt.state;
  // The right axis's metrics are drawn while it is shown (the "accuracy" checkbox, as before).
  const metrics = choices()
    .map((c, styleIndex) => ({
      metric: c.key,
      axis: c.axis === "left" ? ("y" as const) : ("yAcc" as const),
      styleIndex,
    }))
    .filter((m) => m.axis === "y" || state.showAccuracy);
  plotted.length = 0;
  for (const run of runs.values()) {
    if (state.hiddenRuns.includes(run.runId)) continue;
    for (const { metric, axis, styleIndex } of metrics) {
      plotted.push({
        run,
        metric,
        axis,
        smooth: makeDataset(run, metric, axis, false, styleIndex),
        raw: state.smoothing > 0 ? makeDataset(run, metric, axis, true, styleIndex) : null,
        drawnUpTo: 0,
        decimatedLen: 0,
      });
    }
  }
  chart.data.datasets = plotted.flatMap((p) => (p.raw ? [p.smooth, p.raw] : [p.smooth]));
  refreshData();
}

/** Re-colours the curves after a theme change. */
export function recolor(): void {
  for (const p of plotted) {
    const color = runColor(rt.theme, p.run.colorIndex);
    p.smooth.borderColor = color;
    if (p.raw) p.raw.borderColor = withAlpha(color, 0.22);
  }
}

function buckets(): number {
  const w = chart.chartArea ? chart.chartArea.right - chart.chartArea.left : canvas.clientWidth;
  return Math.max(64, Math.round(w > 0 ? w : 800));
}

function toPoints(d: { xs: Float64Array; ys: Float64Array }, logX: boolean): Pt[] {
  const { xs, ys } = d;
  const out: Pt[] = new Array<Pt>(xs.length);
  for (let i = 0; i < xs.length; i++)
    out[i] = { x: logX ? 10 ** (xs[i] as number) : (xs[i] as number), y: ys[i] as number };
  return out;
}

/** Re-decimates every curve over the visible x range. */
export function refreshData(): void {
  const state = rt.state;
  const nb = buckets();
  for (const p of plotted) {
    const s = p.run.series(p.metric);
    if (!s || s.length === 0) {
      p.smooth.data = [];
      if (p.raw) p.raw.data = [];
      p.drawnUpTo = 0;
      p.decimatedLen = 0;
      continue;
    }
    const xs = p.run.xs(s, state.xAxis).view();
    let i0 = 0;
    let i1 = xs.length;
    if (state.zoom) {
      // One point beyond each edge, so the lines run to the border of the plot.
      i0 = Math.max(0, lowerBound(xs, state.zoom.xMin) - 1);
      i1 = Math.min(xs.length, upperBound(xs, state.zoom.xMax) + 1);
    }
    if (state.logX) while (i0 < i1 && (xs[i0] as number) <= 0) i0++;
    // Points before a metric x axis's first value (−∞, see RunData.xs) have no x.
    while (i0 < i1 && (xs[i0] as number) === Number.NEGATIVE_INFINITY) i0++;
    let bx = xs.subarray(i0, i1);
    if (state.logX) bx = bx.map(Math.log10); // equal buckets on screen
    p.smooth.data = toPoints(decimateMinMax(bx, s.smooth.view(i0, i1), nb), state.logX);
    if (p.raw) p.raw.data = toPoints(decimateMinMax(bx, s.raw.view(i0, i1), nb), state.logX);
    p.drawnUpTo = s.length;
    p.decimatedLen = p.smooth.data.length;
  }
}

/** Pushes the points a run gained onto its curves; true if a curve's tail grew enough to re-decimate. */
export function pushAppended(run: RunData): boolean {
  let redecimate = false;
  const limit = 4 * buckets();
  for (const p of plotted) {
    if (p.run !== run) continue;
    const s = run.series(p.metric);
    if (!s || p.drawnUpTo >= s.length) continue;
    const xs = run.xs(s, rt.state.xAxis);
    for (let i = p.drawnUpTo; i < s.length; i++) {
      const x = xs.get(i);
      if ((rt.state.logX && x <= 0) || !Number.isFinite(x)) continue;
      p.smooth.data.push({ x, y: s.smooth.get(i) });
      p.raw?.data.push({ x, y: s.raw.get(i) });
    }
    p.drawnUpTo = s.length;
    if (p.smooth.data.length - p.decimatedLen > limit) redecimate = true;
  }
  return redecimate;
}

/** Coalesces updates into one per animation frame; `redecimate` re-decimates the visible range first. */
export function scheduleUpdate(redecimate: boolean): void {
  frameRedecimate ||= redecimate;
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    if (frameRedecimate) refreshData();
    frameRedecimate = false;
    chart.update("none");
  });
}
