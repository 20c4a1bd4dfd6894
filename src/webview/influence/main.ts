// Influence panel: training examples × checkpoints heatmap (TracIn or BIF), diverging colours
// centred at zero with a robust symmetric limit, rows sorted or grouped, a marker column for rows
// whose influence changes sign, a side view of the clicked example with its curve, the BIF's SGLD
// chains with the host's mixing warning, CSV/PNG export, and a form to rerun the analyses.
// This module wires the app: host messages in, test hooks, then `ready`. The parts: app.ts
// (runtime and shared data), draw.ts, side.ts, interaction.ts, actions.ts (exports, rerun form,
// remove and retrain), heatmap.ts and picks.ts (the arithmetic).

import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-checkbox/index.js";
import "@vscode-elements/elements/dist/vscode-radio/index.js";
import "@vscode-elements/elements/dist/vscode-radio-group/index.js";
import type { InfluenceState } from "../../shared/panels/influence";
import { byId } from "../common/dom";
import { fillForm } from "./actions";
import { current, ingest, makeColors, reorder, rt, view } from "./app";
import { canvas, draw, drawLegend, heatScroll, resizeCanvas } from "./draw";
import { rowsAtPixel } from "./heatmap";
import { applyAll, syncControls } from "./interaction";
import { renderSide } from "./side";

rt.onTheme(() => {
  view.colors = makeColors();
  drawLegend();
  draw();
  renderSide();
});

let lastInitMs = 0;

rt.listen((msg) => {
  const t0 = performance.now();
  rt.restoreState(msg.state);
  ingest(msg.run);
  performance.mark("influence:ingested");
  byId("runLabel").textContent = msg.run.label;
  // textContent: the line comes from a file in the run folder, never markup.
  byId("calibration").textContent = msg.run.calibration ?? "";
  fillForm(msg.run.settings);
  view.firstRow = 0;
  heatScroll.scrollTop = 0;
  applyAll();
  performance.mark("influence:drawn");
  lastInitMs = performance.now() - t0;
  rt.saveState();
});

/** Centre of a cell in CSS pixels relative to the canvas (fixed-height rows or fit). */
function cellCenter(example: number, step: number): { x: number; y: number } | null {
  const d = current();
  const { rows, run, layout } = view;
  if (!d || !rows || !run || !layout) return null;
  const row = run.examples.findIndex((e) => e.index === example);
  const col = d.steps.indexOf(step);
  if (row < 0 || col < 0) return null;
  const pos = rows.order.indexOf(row);
  const dpr = canvas.width / canvas.getBoundingClientRect().width;
  const { plot } = layout;
  let y: number;
  if (rt.state.rowPx > 0) y = plot.y + (pos - view.firstRow + 0.5) * rt.state.rowPx * dpr;
  else {
    // The band of pixel rows that show this row (several rows per pixel, or several pixels per row).
    let lo = Math.min(plot.h - 1, Math.floor((pos * plot.h) / d.n));
    while (lo > 0 && rowsAtPixel(lo - 1, d.n, plot.h, 0, 0)[1] > pos) lo--;
    while (lo < plot.h - 1 && rowsAtPixel(lo, d.n, plot.h, 0, 0)[1] <= pos) lo++;
    let hi = lo;
    while (hi < plot.h - 1 && rowsAtPixel(hi + 1, d.n, plot.h, 0, 0)[0] <= pos) hi++;
    y = plot.y + (lo + hi) / 2 + 0.5;
  }
  return { x: (plot.x + ((col + 0.5) * plot.w) / d.t) / dpr, y: y / dpr };
}

rt.testHooks({
  renders: () => view.renders,
  /** ms of the last heatmap render (cells, markers, labels) and of the last init (ingest + render). */
  lastRenderMs: () => view.lastRenderMs,
  lastInitMs: () => lastInitMs,
  limit: () => current()?.limit ?? NaN,
  /** Example indices in drawn order. */
  order: () => {
    const { rows, run } = view;
    return rows && run ? Array.from(rows.order, (i) => run.examples[i]!.index) : [];
  },
  flips: () => Array.from(current()?.stats.flips ?? []),
  /** Example indices of the rows selected by hand, ascending. */
  picked: () => [...view.picked].sort((a, b) => a - b),
  cellCenter,
  /** Re-render as it is; returns its ms. */
  render: () => {
    draw();
    return view.lastRenderMs;
  },
  /** Sort rows another way and re-render; returns ms of both. */
  resort: (sort: InfluenceState["sort"]) => {
    const t0 = performance.now();
    rt.state.sort = sort;
    reorder();
    draw();
    return performance.now() - t0;
  },
});

syncControls();
resizeCanvas();
drawLegend();
draw();
rt.ready();
