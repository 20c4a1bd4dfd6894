// Grokking webview: train/test accuracy and loss of one or several runs with the detector's phases
// shaded (of the focused run) and t_mem / t_gen marked per run, the progress-measure indicators
// beneath on the same step axis (one small chart each, log x shared), and a summary card per run
// (verdict, t_mem, t_gen, ratio, lead times). Live: `update` appends lines and indicator points and
// replaces the run's report. This module wires the app: toolbar, exports, host messages, test
// hooks, then `ready`. The parts: app.ts (runtime, runs), charts.ts, cards.ts (legend and cards).

import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-checkbox/index.js";
import type { GrokCurves, GrokRun } from "../../shared/panels/grokking";
import { applyChartFont } from "../common/chartTheme";
import { csvCell, csvNumber } from "../common/csv";
import { byId, type Checkbox } from "../common/dom";
import { stackCanvasesPng } from "../common/exportImage";
import { exportStem } from "../common/runtime";
import { CURVES, rt, runs, type RunData } from "./app";
import { renderCards, renderLegend } from "./cards";
import { drawn, indicatorCharts, mainCanvas, mainChart, rebuildIndicators, rebuildMain } from "./charts";

const logXBox = byId<Checkbox>("logX");
const logLossBox = byId<Checkbox>("logLoss");

function rebuildAll(): void {
  rebuildMain();
  rebuildIndicators();
  renderLegend(rebuildAll);
  renderCards();
  byId("empty").hidden = runs.size > 0;
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
      for (let i = 0; i < col.length; i++)
        if (typeof col[i] === "number") lines.push(`${prefix}${key},${r.curves.step[i]},${csvNumber(col[i])}`);
    }
    for (const s of r.indicators.values())
      for (let i = 0; i < s.steps.length; i++)
        if (typeof s.values[i] === "number")
          lines.push(`${prefix}${csvCell(s.name)},${s.steps[i]},${csvNumber(s.values[i])}`);
  }
  return `${lines.join("\n")}\n`;
}

/** The main chart and the indicator charts stacked into one picture. */
function composePng(): string {
  return stackCanvasesPng([mainCanvas, ...[...indicatorCharts.values()].map((c) => c.canvas)], rt.theme.background);
}

byId("exportCsv").addEventListener("click", () => rt.exportCsv(buildCsv(), `${exportBase()}-grokking.csv`));
byId("exportPng").addEventListener("click", () => rt.exportPng(composePng(), `${exportBase()}-grokking.png`));

// ---- theme -----------------------------------------------------------------------------------

rt.onTheme((theme) => {
  applyChartFont(theme, 1);
  rebuildAll();
});
new ResizeObserver(() => rebuildAll()).observe(mainCanvas.parentElement as HTMLElement);

// ---- messages --------------------------------------------------------------------------------

function fromRun(r: GrokRun): RunData {
  return {
    runId: r.runId,
    label: r.label,
    colorIndex: r.colorIndex,
    curves: r.curves,
    report: r.report,
    indicators: new Map(r.indicators.map((s) => [s.name, s])),
    badLines: r.badLines ?? 0,
  };
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
  draws: () => drawn.count,
  /** Pixel x (CSS, relative to the canvas) of a step on the main chart. */
  xPixel: (step: number) => mainChart.scales["x"]?.getPixelForValue(step) ?? NaN,
  area: () => ({ ...mainChart.chartArea }),
  scaleType: (id: string) => mainChart.scales[id]?.type,
  indicatorCharts: () =>
    [...indicatorCharts].map(([name, c]) => ({
      name,
      min: c.scales["x"]?.min ?? NaN,
      max: c.scales["x"]?.max ?? NaN,
      type: c.scales["x"]?.type ?? "",
    })),
  mainRange: () => [mainChart.scales["x"]?.min ?? NaN, mainChart.scales["x"]?.max ?? NaN],
  pointCount: (id: string) => runs.get(id)?.curves.step.length ?? 0,
  /** Points drawn per curve of the main chart (after decimation). */
  datasetLengths: () => mainChart.data.datasets.map((d) => d.data.length),
});

syncControls();
rebuildAll();
rt.ready();
