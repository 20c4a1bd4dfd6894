// Grokking webview: train/test accuracy and loss of one or several runs with the detector's phases
// shaded (of the focused run) and t_mem / t_gen marked per run, the progress-measure indicators
// beneath on the same step axis (one small chart each, log x shared), and a summary card per run
// (verdict, t_mem, t_gen, ratio, lead times). Live: `grokking/update` appends lines and indicator
// points and replaces the run's report.

import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-checkbox/index.js";
import { Chart, LineController, LineElement, LinearScale, LogarithmicScale, PointElement } from "chart.js";
import type { ChartDataset, Plugin } from "chart.js";
import { decimateMinMax } from "../../shared/decimate";
import type { OwnMessage } from "../../shared/panels/common";
import {
  DEFAULT_GROKKING_STATE,
  isGrokkingHostMessage,
  isGrokkingState,
  type GrokCurves,
  type GrokIndicatorHit,
  type GrokkingHostMessage,
  type GrokkingState,
  type GrokReport,
  type GrokRun,
  type IndicatorSeries,
} from "../../shared/panels/grokking";
import { axisColors, dropOutsideTicks, formatNumber, tickLabel, type ScaleOptions, type Scales } from "../common/chartAxes";
import { csvCell, csvNumber } from "../common/csv";
import { byId, el, type Checkbox } from "../common/dom";
import { stackCanvasesPng } from "../common/exportImage";
import { applyChartFont, backgroundPlugin } from "../common/chartTheme";
import { badLinesText, exportStem, PanelRuntime } from "../common/runtime";
import { runColor, withAlpha } from "../common/theme";

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale);

const rt = new PanelRuntime<GrokkingState, OwnMessage<GrokkingHostMessage>>({
  name: "grokking",
  defaultState: DEFAULT_GROKKING_STATE,
  isState: isGrokkingState,
  isHostMessage: isGrokkingHostMessage,
});

type Pt = { x: number; y: number };
type LineDs = ChartDataset<"line", Pt[]>;
type LineChart = Chart<"line", Pt[]>;

const CURVES = ["trainAcc", "testAcc", "trainLoss", "testLoss"] as const;
type CurveKey = (typeof CURVES)[number] | "paramNorm";

/** A run as held here: columns grow with updates; indicators by name. */
interface RunData {
  runId: string;
  label: string;
  colorIndex: number;
  curves: GrokCurves;
  report: GrokReport | null;
  indicators: Map<string, IndicatorSeries>;
  /** Lines of its metrics.jsonl that could not be read (its card says so). */
  badLines: number;
}

// ---- state -----------------------------------------------------------------------------------

const runs = new Map<string, RunData>();

const logXBox = byId<Checkbox>("logX");
const logLossBox = byId<Checkbox>("logLoss");
const legend = byId<HTMLUListElement>("legend");
const cards = byId<HTMLDivElement>("cards");
const indicatorsBox = byId<HTMLDivElement>("indicators");

function visibleRuns(): RunData[] {
  return [...runs.values()].filter((r) => !rt.state.hiddenRuns.includes(r.runId));
}

function focusRun(): RunData | undefined {
  return (rt.state.focusRun !== null ? runs.get(rt.state.focusRun) : undefined) ?? visibleRuns()[0];
}

// ---- charts ----------------------------------------------------------------------------------

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
    ticks: { ...c.ticks, maxRotation: 0, autoSkip: !rt.state.logX, autoSkipPadding: 12, callback: tickLabel(rt.state.logX) },
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
      ctx.fillText(indicatorName === PARAM_NORM ? "parameter norm (logged)" : indicatorName, area.left + 4, area.top + 2);
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
        if (hit?.step !== undefined) marks.push([hit.step, hit.leadTime !== undefined ? `fires · lead ${formatNumber(hit.leadTime)}` : "fires", [2, 2]]);
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
          ctx.fillText(text, right ? px - 4 : px + 4, area.top + 2 + (main ? (k * 2 + (name === "t_gen" ? 1 : 0)) * 13 : 13)); // indicator charts: below their title
        }
      }
    });
    ctx.setLineDash([]);
    ctx.restore();
  },
};

const background = backgroundPlugin(() => rt.theme);

let draws = 0;
const countPlugin: Plugin<"line"> = { id: "lmCount", afterDraw: () => void draws++ };

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
    yAcc: { type: "linear", position: "left", min: 0, max: 1, afterFit: fixWidth(LEFT_AXIS), title: { display: true, text: "accuracy", ...c.title }, ticks: c.ticks, grid: c.grid, border: c.border } as ScaleOptions,
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

const mainCanvas = byId<HTMLCanvasElement>("mainChart");
const mainChart = newChart(mainCanvas, mainScales());
const indicatorCharts = new Map<string, LineChart>();

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

function rebuildMain(): void {
  const width = Math.round(mainChart.chartArea ? mainChart.chartArea.right - mainChart.chartArea.left : mainCanvas.clientWidth || 800);
  mainChart.options.scales = mainScales();
  mainChart.data.datasets = visibleRuns().flatMap((r) => CURVES.map((k) => curveDataset(r, k, width)));
  mainChart.update("none");
}

/** The logged parameter norm gets a chart of its own above the indicators (it is a curve, not an indicator). */
const PARAM_NORM = "param_norm";

function seriesOf(r: RunData, name: string): { steps: readonly number[]; values: readonly (number | null)[] } | undefined {
  if (name === PARAM_NORM) return r.curves.paramNorm.some((v) => v !== null) ? { steps: r.curves.step, values: r.curves.paramNorm } : undefined;
  return r.indicators.get(name);
}

function indicatorNames(): string[] {
  const names = new Set<string>();
  for (const r of visibleRuns()) if (seriesOf(r, PARAM_NORM)) names.add(PARAM_NORM);
  for (const r of visibleRuns()) for (const n of r.indicators.keys()) names.add(n);
  return [...names];
}

function rebuildIndicators(): void {
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
      y: { type: "linear", ticks: { ...c.ticks, maxTicksLimit: 4, callback: (v: number | string) => formatNumber(Number(v)) }, grid: c.grid, border: c.border, afterFit: fixWidth(LEFT_AXIS) } as ScaleOptions,
    };
    // The main chart's loss axis stands at the right: leave its width free here too.
    chart.options.layout = { padding: { top: 4, right: 8 + RIGHT_AXIS } };
    chart.data.datasets = visibleRuns()
      .filter((r) => seriesOf(r, name) !== undefined)
      .map((r) => {
        const s = seriesOf(r, name)!;
        return { label: `${r.label} ${name}`, data: points(s.steps, s.values, false, width), borderColor: runColor(rt.theme, r.colorIndex), borderWidth: 1.5, pointRadius: 0 } satisfies LineDs;
      });
    chart.update("none");
  }
  indicatorsBox.replaceChildren(...boxes);
}

function rebuildAll(): void {
  rebuildMain();
  rebuildIndicators();
  renderLegend();
  renderCards();
  byId("empty").hidden = runs.size > 0;
}

// ---- legend and cards ------------------------------------------------------------------------

function renderLegend(): void {
  legend.replaceChildren();
  const focus = focusRun();
  for (const r of runs.values()) {
    const hidden = rt.state.hiddenRuns.includes(r.runId);
    const li = el("li", `run${hidden ? " hidden" : ""}${r === focus ? " focus" : ""}`);
    li.tabIndex = 0;
    li.title = "Click: shade this run's phases · double-click: hide or show";
    const sw = el("span", "swatch");
    sw.style.backgroundColor = runColor(rt.theme, r.colorIndex);
    li.append(sw, el("span", "label", r.label));
    li.addEventListener("click", () => {
      rt.state.focusRun = r.runId;
      rebuildAll();
      rt.saveState();
    });
    li.addEventListener("dblclick", () => {
      rt.state.hiddenRuns = hidden ? rt.state.hiddenRuns.filter((id) => id !== r.runId) : [...rt.state.hiddenRuns, r.runId];
      rebuildAll();
      rt.saveState();
    });
    legend.append(li);
  }
}

const VERDICT_TEXT: Record<GrokReport["verdict"], string> = {
  grokked: "grokked",
  memorized: "memorized (no generalization yet)",
  "generalized-without-delay": "generalized without delay",
  "not-memorized": "not memorized yet",
};

function renderCards(): void {
  cards.replaceChildren();
  for (const r of visibleRuns()) {
    const card = el("section", "card");
    card.dataset["runId"] = r.runId;
    card.style.setProperty("--card-color", runColor(rt.theme, r.colorIndex));
    const h = el("h3");
    h.append(el("span", "card-label", r.label));
    const rep = r.report;
    h.append(rep ? el("span", `badge badge-${rep.verdict}`, VERDICT_TEXT[rep.verdict]) : el("span", "badge", "no report yet"));
    card.append(h);
    if (r.badLines > 0) card.append(el("p", "note bad-lines", `metrics.jsonl: ${badLinesText(r.badLines)}`));
    if (!rep) {
      cards.append(card);
      continue;
    }
    const row = (k: string, v: string, cls: string): void => {
      const dd = el("dd", cls, v);
      card.append(el("dt", "", k), dd);
    };
    const n = (v: number | undefined): string => (v === undefined ? "—" : formatNumber(v));
    row("t_mem", n(rep.tMem), "v-tmem");
    row("t_gen", n(rep.tGen), "v-tgen");
    row("delay", n(rep.delay), "v-delay");
    row("ratio t_gen / t_mem", rep.ratio === undefined ? "—" : `${formatNumber(rep.ratio)}×`, "v-ratio");
    if (rep.testAccAtMem !== undefined) row("test acc at t_mem", `${(rep.testAccAtMem * 100).toFixed(1)} %${rep.atChance ? " (chance)" : ""}`, "v-accmem");
    // An indicator can fire before there is a t_gen to lead: then say where, not "did not fire".
    const lead = (ind: GrokIndicatorHit): string => (ind.leadTime !== undefined ? `${formatNumber(ind.leadTime)} steps` : ind.step !== undefined ? `at step ${formatNumber(ind.step)} (no t_gen yet)` : "did not fire");
    for (const ind of rep.indicators) row(`lead · ${ind.name}`, lead(ind), "v-lead");
    cards.append(card);
  }
}

// ---- toolbar and export ----------------------------------------------------------------------

function syncControls(): void {
  logXBox.checked = rt.state.logX;
  logLossBox.checked = rt.state.logLoss;
}

logXBox.addEventListener("change", () => {
  rt.state.logX = logXBox.checked;
  rebuildAll();
  rt.saveState();
});
logLossBox.addEventListener("change", () => {
  rt.state.logLoss = logLossBox.checked;
  rebuildAll();
  rt.saveState();
});

function exportBase(): string {
  return exportStem([...runs.keys()], "runs");
}

/** Long format, one value per line: every curve and indicator of every run. */
function buildCsv(): string {
  const lines = ["run_id,label,series,step,value"];
  for (const r of runs.values()) {
    const prefix = `${csvCell(r.runId)},${csvCell(r.label)},`;
    for (const key of [...CURVES, "paramNorm"] as const) {
      const col = r.curves[key];
      for (let i = 0; i < col.length; i++) if (typeof col[i] === "number") lines.push(`${prefix}${key},${r.curves.step[i]},${csvNumber(col[i])}`);
    }
    for (const s of r.indicators.values()) for (let i = 0; i < s.steps.length; i++) if (typeof s.values[i] === "number") lines.push(`${prefix}${csvCell(s.name)},${s.steps[i]},${csvNumber(s.values[i])}`);
  }
  return lines.join("\n") + "\n";
}

/** The main chart and the indicator charts stacked into one picture. */
function composePng(): string {
  return stackCanvasesPng([mainCanvas, ...[...indicatorCharts.values()].map((c) => c.canvas)], rt.theme.background);
}

byId("exportCsv").addEventListener("click", () => rt.exportCsv(buildCsv(), `${exportBase()}-grokking.csv`));
byId("exportPng").addEventListener("click", () => rt.exportPng(composePng(), `${exportBase()}-grokking.png`));

// ---- theme -----------------------------------------------------------------------------------

rt.onTheme(() => {
  applyChartFont(rt.theme, 1);
  rebuildAll();
});
new ResizeObserver(() => rebuildAll()).observe(mainCanvas.parentElement as HTMLElement);

// ---- messages --------------------------------------------------------------------------------

function fromRun(r: GrokRun): RunData {
  return { runId: r.runId, label: r.label, colorIndex: r.colorIndex, curves: r.curves, report: r.report, indicators: new Map(r.indicators.map((s) => [s.name, s])), badLines: r.badLines ?? 0 };
}

/** push(...from) without the spread: a catch-up of 10⁵+ points would overflow the call stack. */
function appendAll<T>(into: T[], from: readonly T[]): void {
  for (let i = 0; i < from.length; i++) into.push(from[i]!);
}

function appendCurves(into: GrokCurves, more: GrokCurves): void {
  for (const k of ["step", ...CURVES, "paramNorm"] as const) appendAll<number | null>(into[k], more[k]);
}

rt.listen((msg) => {
  if (msg.type === "init") {
    rt.restoreState(msg.state);
    runs.clear();
    for (const r of msg.runs) runs.set(r.runId, fromRun(r));
    syncControls();
    rt.saveState();
  } else {
    const r = runs.get(msg.runId);
    if (!r) return;
    appendCurves(r.curves, msg.curves);
    for (const s of msg.indicators) {
      const cur = r.indicators.get(s.name);
      if (cur) {
        appendAll(cur.steps, s.steps);
        appendAll(cur.values, s.values);
      } else r.indicators.set(s.name, s);
    }
    r.report = msg.report;
    if (msg.badLines !== undefined) r.badLines = msg.badLines;
  }
  rebuildAll();
});

// ---- test hooks ------------------------------------------------------------------------------

rt.testHooks({
  draws: () => draws,
  /** Pixel x (CSS, relative to the canvas) of a step on the main chart. */
  xPixel: (step: number) => mainChart.scales["x"]?.getPixelForValue(step) ?? NaN,
  area: () => ({ ...mainChart.chartArea }),
  scaleType: (id: string) => mainChart.scales[id]?.type,
  indicatorCharts: () => [...indicatorCharts].map(([name, c]) => ({ name, min: c.scales["x"]?.min ?? NaN, max: c.scales["x"]?.max ?? NaN, type: c.scales["x"]?.type ?? "" })),
  mainRange: () => [mainChart.scales["x"]?.min ?? NaN, mainChart.scales["x"]?.max ?? NaN],
  pointCount: (id: string) => runs.get(id)?.curves.step.length ?? 0,
  /** Points drawn per curve of the main chart (after decimation). */
  datasetLengths: () => mainChart.data.datasets.map((d) => d.data.length),
});

syncControls();
rebuildAll();
rt.ready();
