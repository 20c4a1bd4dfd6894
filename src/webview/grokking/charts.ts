// The grokking charts: accuracy and loss of every visible run on one chart (log loss axis at the
// right), the focused run's phases shaded and every run's t_mem / t_gen marked; beneath, one small
// chart per indicator (and the logged parameter norm) on the same step axis, axes of fixed width so
// the x axes line up; curves min/max-decimated to the chart's width.

import { Chart, LineController, LineElement, LinearScale, LogarithmicScale, PointElement } from "chart.js";
import type { ChartDataset, Plugin } from "chart.js";
import { decimateMinMax } from "../../shared/decimate";
import {
  axisColors,
  dropOutsideTicks,
  formatNumber,
  tickLabel,
  type ScaleOptions,
  type Scales,
} from "../common/chartAxes";
import { applyChartFont, backgroundPlugin } from "../common/chartTheme";
import { byId, el } from "../common/dom";
import { runColor, withAlpha } from "../common/theme";
import { CURVES, focusRun, rt, visibleRuns, type RunData } from "./app";

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale);

type Pt = { x: number; y: number };
type LineDs = ChartDataset<"line", Pt[]>;
type LineChart = Chart<"line", Pt[]>;
type CurveKey = (typeof CURVES)[number] | "paramNorm";

const indicatorsBox = byId<HTMLDivElement>("indicators");

applyChartFont(rt.theme, 1);

/** [min, max] step over every visible run's curves and indicators (positive min on log x). */
function stepExtent(): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  const see = (s: number): void => {
    if (rt.state.logX && s <= 0) return;
    if (s < lo) lo = s;
    if (s > hi) hi = s;
  };
  for (const r of visibleRuns()) {
    for (const s of r.curves.step) see(s);
    for (const ind of r.indicators.values()) for (const s of ind.steps) see(s);
  }
  return hi > lo ? [lo, hi] : hi === lo && Number.isFinite(lo) ? [lo, lo + 1] : null;
}

/** The shared step axis; `title` only under the main chart. */
function xScale(title = true): ScaleOptions {
  const c = axisColors(rt.theme);
  const ext = stepExtent();
  return {
    type: rt.state.logX ? "logarithmic" : "linear",
    ...(ext ? { min: ext[0], max: ext[1] } : {}),
    afterBuildTicks: dropOutsideTicks,
    title: { display: title, text: "step", ...c.title },
    ticks: {
      ...c.ticks,
      maxRotation: 0,
      autoSkip: !rt.state.logX,
      autoSkipPadding: 12,
      callback: tickLabel(rt.state.logX),
    },
    grid: c.grid,
    border: c.border,
  } as ScaleOptions;
}

/** Phases of the focused run as bands, and every run's t_mem / t_gen as labelled lines. */
const markersPlugin: Plugin<"line"> = {
  id: "lmGrokMarkers",
  beforeDatasetsDraw(c) {
    const x = c.scales["x"];
    const focus = focusRun();
    if (!x || !focus?.report) return;
    const area = c.chartArea;
    const ctx = c.ctx;
    ctx.save();
    ctx.font = `${Math.max(10, rt.theme.fontSize - 2)}px ${rt.theme.fontFamily}`;
    ctx.textBaseline = "top";
    focus.report.phases.forEach((p, i) => {
      const x0 = Math.max(area.left, x.getPixelForValue(Math.max(p.fromStep, rt.state.logX ? x.min : -Infinity)));
      const x1 = Math.min(area.right, x.getPixelForValue(p.toStep));
      if (!(x1 > x0)) return;
      const color = rt.theme.palette[(i + 2) % rt.theme.palette.length]!;
      ctx.fillStyle = withAlpha(color, 0.1);
      ctx.fillRect(x0, area.top, x1 - x0, area.bottom - area.top);
      if (c.canvas.id === "mainChart") {
        ctx.fillStyle = withAlpha(rt.theme.foreground, 0.75);
        ctx.textAlign = "left";
        ctx.fillText(p.name, x0 + 3, area.bottom - 14, Math.max(0, x1 - x0 - 6));
      }
    });
    ctx.restore();
  },
  afterDatasetsDraw(c) {
    const x = c.scales["x"];
    if (!x) return;
    const area = c.chartArea;
    const ctx = c.ctx;
    ctx.save();
    ctx.font = `${Math.max(10, rt.theme.fontSize - 2)}px ${rt.theme.fontFamily}`;
    ctx.textBaseline = "top";
    const main = c.canvas.id === "mainChart";
    const indicatorName = c.canvas.dataset["indicator"];
    if (indicatorName !== undefined) {
      // The series' name inside its plot (a y-axis title would be cut short).
      ctx.fillStyle = rt.theme.foreground;
      ctx.textAlign = "left";
      ctx.fillText(
        indicatorName === PARAM_NORM ? "parameter norm (logged)" : indicatorName,
        area.left + 4,
        area.top + 2,
      );
    }
    visibleRuns().forEach((r, k) => {
      if (!r.report) return;
      const color = runColor(rt.theme, r.colorIndex);
      const marks: [number | undefined, string, number[]][] = [
        [r.report.tMem, "t_mem", [5, 3]],
        [r.report.tGen, "t_gen", []],
      ];
      if (!main) {
        const hit = r.report.indicators.find((h) => h.name === indicatorName);
        if (hit?.step !== undefined)
          marks.push([
            hit.step,
            hit.leadTime !== undefined ? `fires · lead ${formatNumber(hit.leadTime)}` : "fires",
            [2, 2],
          ]);
      }
      for (const [step, name, dash] of marks) {
        if (step === undefined || (rt.state.logX && step <= 0)) continue;
        const px = x.getPixelForValue(step);
        if (px < area.left - 0.5 || px > area.right + 0.5) continue;
        ctx.strokeStyle = color;
        ctx.lineWidth = 1.5;
        ctx.setLineDash(dash);
        ctx.beginPath();
        ctx.moveTo(Math.round(px) + 0.5, area.top);
        ctx.lineTo(Math.round(px) + 0.5, area.bottom);
        ctx.stroke();
        if (main || name.startsWith("fires")) {
          ctx.fillStyle = color;
          const text = main ? `${name} ${formatNumber(step)}` : name;
          const right = px + 4 + ctx.measureText(text).width > area.right;
          ctx.textAlign = right ? "right" : "left";
          ctx.fillText(
            text,
            right ? px - 4 : px + 4,
            area.top + 2 + (main ? (k * 2 + (name === "t_gen" ? 1 : 0)) * 13 : 13),
          ); // indicator charts: below their title
        }
      }
    });
    ctx.setLineDash([]);
    ctx.restore();
  },
};

const background = backgroundPlugin(() => rt.theme);

/** Draws of every chart so far (test hooks). */
export const drawn = { count: 0 };
const countPlugin: Plugin<"line"> = { id: "lmCount", afterDraw: () => void drawn.count++ };

function newChart(canvas: HTMLCanvasElement, scales: Scales): LineChart {
  return new Chart<"line", Pt[]>(canvas, {
    type: "line",
    data: { datasets: [] },
    options: {
      animation: false,
      parsing: false,
      normalized: true,
      responsive: true,
      maintainAspectRatio: false,
      events: [],
      spanGaps: true,
      elements: { point: { radius: 0 }, line: { tension: 0 } },
      layout: { padding: { top: 4, right: 8 } },
      scales,
    },
    plugins: [background, markersPlugin, countPlugin],
  });
}

function mainScales(): Scales {
  const c = axisColors(rt.theme);
  return {
    x: xScale(),
    // Fixed axis widths: the indicator charts beneath use the same, so all x axes line up.
    yAcc: {
      type: "linear",
      position: "left",
      min: 0,
      max: 1,
      afterFit: fixWidth(LEFT_AXIS),
      title: { display: true, text: "accuracy", ...c.title },
      ticks: c.ticks,
      grid: c.grid,
      border: c.border,
    } as ScaleOptions,
    yLoss: {
      type: rt.state.logLoss ? "logarithmic" : "linear",
      position: "right",
      afterBuildTicks: dropOutsideTicks,
      title: { display: true, text: "loss", ...c.title },
      ticks: { ...c.ticks, autoSkip: !rt.state.logLoss, callback: tickLabel(rt.state.logLoss) },
      grid: { drawOnChartArea: false },
      border: c.border,
      afterFit: fixWidth(RIGHT_AXIS),
    } as ScaleOptions,
  };
}

const LEFT_AXIS = 64;
const RIGHT_AXIS = 56;
function fixWidth(px: number): (s: { width: number }) => void {
  return (s) => {
    s.width = px;
  };
}

export const mainCanvas = byId<HTMLCanvasElement>("mainChart");
export const mainChart = newChart(mainCanvas, mainScales());
export const indicatorCharts = new Map<string, LineChart>();

/** Finite (x, y) points of a column pair, min/max-decimated to the chart's width. */
function points(steps: readonly number[], ys: readonly (number | null)[], positiveY: boolean, width: number): Pt[] {
  const xs: number[] = [];
  const vs: number[] = [];
  for (let i = 0; i < steps.length; i++) {
    const y = ys[i];
    const x = steps[i]!;
    if (typeof y !== "number" || !Number.isFinite(y) || (positiveY && y <= 0) || (rt.state.logX && x <= 0)) continue;
    xs.push(x);
    vs.push(y);
  }
  const d = decimateMinMax(Float64Array.from(xs), Float64Array.from(vs), Math.max(64, width));
  return Array.from(d.xs, (x, i) => ({ x, y: d.ys[i]! }));
}

function curveDataset(r: RunData, key: CurveKey, width: number): LineDs {
  const color = runColor(rt.theme, r.colorIndex);
  const acc = key === "trainAcc" || key === "testAcc";
  const test = key === "testAcc" || key === "testLoss";
  return {
    label: `${r.label} ${key}`,
    data: points(r.curves.step, r.curves[key], !acc && rt.state.logLoss, width),
    yAxisID: acc ? "yAcc" : "yLoss",
    borderColor: acc ? color : withAlpha(color, 0.55),
    borderWidth: acc ? 2 : 1,
    borderDash: test ? [6, 4] : [],
    pointRadius: 0,
  };
}

export function rebuildMain(): void {
  const width = Math.round(
    mainChart.chartArea ? mainChart.chartArea.right - mainChart.chartArea.left : mainCanvas.clientWidth || 800,
  );
  mainChart.options.scales = mainScales();
  mainChart.data.datasets = visibleRuns().flatMap((r) => CURVES.map((k) => curveDataset(r, k, width)));
  mainChart.update("none");
}

/** The logged parameter norm gets a chart of its own above the indicators (it is a curve, not an indicator). */
const PARAM_NORM = "param_norm";

function seriesOf(
  r: RunData,
  name: string,
): { steps: readonly number[]; values: readonly (number | null)[] } | undefined {
  if (name === PARAM_NORM)
    return r.curves.paramNorm.some((v) => v !== null)
      ? { steps: r.curves.step, values: r.curves.paramNorm }
      : undefined;
  return r.indicators.get(name);
}

function indicatorNames(): string[] {
  const names = new Set<string>();
  for (const r of visibleRuns()) if (seriesOf(r, PARAM_NORM)) names.add(PARAM_NORM);
  for (const r of visibleRuns()) for (const n of r.indicators.keys()) names.add(n);
  return [...names];
}

export function rebuildIndicators(): void {
  const names = indicatorNames();
  for (const [name, chart] of indicatorCharts) {
    if (names.includes(name)) continue;
    chart.destroy();
    indicatorCharts.delete(name);
  }
  // Keep DOM order = names order; create what is missing.
  const boxes: HTMLElement[] = [];
  const c = axisColors(rt.theme);
  for (const name of names) {
    let chart = indicatorCharts.get(name);
    if (!chart) {
      const box = el("div", "indicator-chart");
      const canvas = el("canvas");
      canvas.dataset["indicator"] = name;
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", name);
      box.append(canvas);
      indicatorsBox.append(box);
      chart = newChart(canvas, {});
      indicatorCharts.set(name, chart);
    }
    boxes.push(chart.canvas.parentElement as HTMLElement);
    const width = Math.round(chart.canvas.clientWidth || 800);
    chart.options.scales = {
      x: xScale(false), // "step" once, under the main chart
      y: {
        type: "linear",
        ticks: { ...c.ticks, maxTicksLimit: 4, callback: (v: number | string) => formatNumber(Number(v)) },
        grid: c.grid,
        border: c.border,
        afterFit: fixWidth(LEFT_AXIS),
      } as ScaleOptions,
    };
    // The main chart's loss axis stands at the right: leave its width free here too.
    chart.options.layout = { padding: { top: 4, right: 8 + RIGHT_AXIS } };
    chart.data.datasets = visibleRuns()
      .filter((r) => seriesOf(r, name) !== undefined)
      .map((r) => {
        const s = seriesOf(r, name)!;
        return {
          label: `${r.label} ${name}`,
          data: points(s.steps, s.values, false, width),
          borderColor: runColor(rt.theme, r.colorIndex),
          borderWidth: 1.5,
          pointRadius: 0,
        } satisfies LineDs;
      });
    chart.update("none");
  }
  indicatorsBox.replaceChildren(...boxes);
}
