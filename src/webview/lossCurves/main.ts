// Loss-curves webview: any logged scalars of one or several runs on shared axes (train/test loss
// on the left and accuracy on the right by default; the picker chooses), with debiased EMA
// smoothing over faint raw points, log axes, step, wall-time or any monotone logged value as x,
// wheel zoom and drag pan, a crosshair with values, PNG/CSV export, and live appends.
// This module wires the app: host messages in, test hooks, then `ready`. The parts: app.ts
// (runtime and shared data), chart.ts, crosshair.ts, pointer.ts, legend.ts, toolbar.ts,
// picker.ts (metrics and x), series.ts (the data), csv.ts.

import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-checkbox/index.js";
import "@vscode-elements/elements/dist/vscode-radio/index.js";
import "@vscode-elements/elements/dist/vscode-radio-group/index.js";
import { applyChartFont } from "../common/chartTheme";
import { runColor } from "../common/theme";
import { choices, pointer, rt, runs, xOptions } from "./app";
import { applyScales, chart, draws, pushAppended, rebuildDatasets, recolor, scheduleUpdate, type Pt } from "./chart";
import { hideTooltip } from "./crosshair";
import { renderLegend } from "./legend";
import { renderPicker } from "./picker";
import { RunData } from "./series";
import { applyState, syncControls } from "./toolbar";

rt.onTheme((theme) => {
  applyChartFont(theme, 1);
  applyScales();
  recolor();
  renderLegend();
  chart.update("none");
});

rt.listen((msg) => {
  switch (msg.type) {
    case "init": {
      rt.restoreState(msg.state);
      runs.clear();
      for (const r of msg.runs) runs.set(r.runId, RunData.from(r, rt.state.smoothing));
      // A saved x these runs do not log (or no longer log monotonically): back to steps.
      if (!xOptions().includes(rt.state.xAxis)) {
        rt.state.xAxis = "step";
        rt.state.zoom = null;
      }
      performance.mark("lossCurves:init:ingested");
      pointer.hover = null;
      hideTooltip();
      applyState();
      performance.mark("lossCurves:init:drawn");
      rt.saveState();
      return;
    }
    case "append": {
      const run = runs.get(msg.runId);
      if (!run) return;
      const chosen = JSON.stringify(choices());
      run.append(msg.points);
      if (msg.badLines !== undefined && msg.badLines !== run.badLines) {
        run.badLines = msg.badLines;
        renderLegend();
      }
      // The default choice follows the keys: a metric that first appears now (acc/val after the
      // first evaluation) gets its curves; otherwise the new points are pushed onto the drawn ones.
      if (JSON.stringify(choices()) !== chosen) {
        applyScales();
        rebuildDatasets();
        chart.update("none");
      } else scheduleUpdate(pushAppended(run));
      renderPicker();
      return;
    }
    case "runStatus": {
      const run = runs.get(msg.runId);
      if (run) {
        run.status = msg.status;
        renderLegend();
      }
      return;
    }
  }
});

rt.testHooks({
  pointCount: (id: string) => runs.get(id)?.rows ?? 0,
  metricLength: (id: string, m: string) => runs.get(id)?.series(m)?.length ?? 0,
  datasetLengths: () => chart.data.datasets.map((d) => ({ label: d.label ?? "", length: d.data.length })),
  datasetXRange: (label: string) => {
    const d = chart.data.datasets.find((x) => x.label === label)?.data;
    const first: Pt | undefined = d?.[0];
    const last: Pt | undefined = d?.at(-1);
    return first && last ? [first.x, last.x] : null;
  },
  scaleType: (id: string) => chart.scales[id]?.type,
  scaleMax: (id: string) => chart.scales[id]?.max,
  smoothed: (id: string, m: string) => Array.from(runs.get(id)?.series(m)?.smooth.view() ?? []),
  raw: (id: string, m: string) => Array.from(runs.get(id)?.series(m)?.raw.view() ?? []),
  drawCount: () => draws.count,
  lastDrawAt: () => draws.lastAt,
  nextDraw: () => new Promise<number>((resolve) => draws.waiters.push(resolve)),
  choices: () => choices(),
  xOptions: () => xOptions(),
  scaleTitle: (id: string) => {
    const t = chart.options.scales?.[id]?.title;
    return t && "text" in t ? t.text : undefined;
  },
  scaleMin: (id: string) => chart.scales[id]?.min,
  colorOf: (id: string) => {
    const run = runs.get(id);
    return run ? runColor(rt.theme, run.colorIndex) : "";
  },
});

syncControls();
renderLegend();
rt.ready();
