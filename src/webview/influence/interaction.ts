// Interaction with the heatmap and the toolbar: click or arrow keys select a cell (the side view
// follows), Ctrl/Cmd-click, Shift-click and Space select rows for "Remove and retrain…" (Escape
// clears them), hover titles, scrolling fixed-height rows, method tabs, sort, grouping, row height.

import { exampleName, type InfluenceMethod, type InfluenceState } from "../../shared/panels/influence";
import { formatNumber } from "../common/chartAxes";
import { byId, type Checkbox } from "../common/dom";
import { current, reorder, rt, view } from "./app";
import { canvas, draw, drawLegend, heatScroll, MARGIN, resizeCanvas, scheduleDraw, selectedCell } from "./draw";
import { syncInterveneOptions } from "./actions";
import { pickCell } from "./heatmap";
import { pickRange, togglePick } from "./picks";
import { renderSide } from "./side";

const methodGroup = byId<HTMLElement>("method");
const sortSelect = byId<HTMLSelectElement>("sort");
const groupBox = byId<Checkbox>("groupByLabel");
const rowPxSelect = byId<HTMLSelectElement>("rowPx");

function cellAt(e: MouseEvent): { row: number; col: number } | null {
  const d = current();
  if (!d || !view.rows || !view.layout) return null;
  const rect = canvas.getBoundingClientRect();
  const dpr = canvas.width / rect.width;
  return pickCell((e.clientX - rect.left) * dpr, (e.clientY - rect.top) * dpr, view.layout, {
    values: d.values,
    n: d.n,
    t: d.t,
    order: view.rows.order,
    rowPx: rt.state.rowPx * (window.devicePixelRatio || 1),
    firstRow: view.firstRow,
  });
}

/** Example indices in drawn order (what a Shift-click range runs over). */
function drawnExamples(): number[] {
  const { rows, run } = view;
  return rows && run ? Array.from(rows.order, (i) => run.examples[i]!.index) : [];
}

canvas.addEventListener("click", (e) => {
  const cell = cellAt(e);
  const d = current();
  if (!cell || !d || !view.run) return;
  const example = view.run.examples[cell.row]!.index;
  if (e.shiftKey)
    view.picked = pickRange(view.picked, drawnExamples(), view.anchor ?? rt.state.selected?.example, example);
  else {
    if (e.ctrlKey || e.metaKey) view.picked = togglePick(view.picked, example);
    view.anchor = example;
  }
  rt.state.selected = { example, step: d.steps[cell.col]! };
  renderSide();
  syncInterveneOptions();
  scheduleDraw();
  rt.saveState();
});

canvas.addEventListener("mousemove", (e) => {
  const cell = cellAt(e);
  const d = current();
  if (!cell || !d || !view.run) {
    canvas.title = "";
    return;
  }
  const ex = view.run.examples[cell.row]!;
  const v = d.values[cell.row * d.t + cell.col]!;
  canvas.title = `${exampleName(ex)} · label ${ex.label} · step ${d.steps[cell.col]} · ${Number.isNaN(v) ? "—" : formatNumber(v)}`;
});

/** Arrow keys move the selected cell through the drawn rows and checkpoints; Space and Escape select rows. */
canvas.addEventListener("keydown", (e) => {
  const d = current();
  if (!d || !view.run || !view.rows || d.n === 0) return;
  const moves: Record<string, [number, number]> = {
    ArrowUp: [-1, 0],
    ArrowDown: [1, 0],
    ArrowLeft: [0, -1],
    ArrowRight: [0, 1],
  };
  if (e.key === " " || e.key === "Escape") {
    // Space: the focused (selected) row in or out of the selection; Escape: none selected.
    const example = rt.state.selected?.example;
    if (e.key === " " ? example === undefined : view.picked.size === 0) return;
    e.preventDefault();
    if (example !== undefined && e.key === " ") {
      view.picked = togglePick(view.picked, example);
      view.anchor = example;
    } else view.picked = new Set();
    syncInterveneOptions();
    scheduleDraw();
    return;
  }
  const move = moves[e.key];
  if (!move) return;
  e.preventDefault();
  const sel = selectedCell(d);
  const pos = sel ? view.rows.order.indexOf(sel.row) : 0;
  const nextPos = sel ? Math.max(0, Math.min(d.n - 1, pos + move[0])) : 0;
  const nextCol = sel ? Math.max(0, Math.min(d.t - 1, sel.col + move[1])) : 0;
  rt.state.selected = { example: view.run.examples[view.rows.order[nextPos]!]!.index, step: d.steps[nextCol]! };
  if (rt.state.rowPx > 0) {
    // Keep the selected row in view.
    const top = nextPos * rt.state.rowPx;
    const visible = heatScroll.clientHeight - MARGIN.top - MARGIN.bottom;
    if (top < heatScroll.scrollTop) heatScroll.scrollTop = top;
    else if (top + rt.state.rowPx > heatScroll.scrollTop + visible)
      heatScroll.scrollTop = top + rt.state.rowPx - visible;
  }
  renderSide();
  syncInterveneOptions();
  scheduleDraw();
  rt.saveState();
});

heatScroll.addEventListener("scroll", () => {
  if (rt.state.rowPx > 0) view.firstRow = Math.floor(heatScroll.scrollTop / rt.state.rowPx);
  scheduleDraw();
});

type Radio = HTMLElement & { checked: boolean; value: string };

methodGroup.addEventListener("change", () => {
  const checked = [...methodGroup.querySelectorAll<Radio>("vscode-radio")].find((r) => r.checked);
  const next: InfluenceMethod = checked?.value === "bif" ? "bif" : "tracin";
  if (next === rt.state.method || !view.methods.has(next)) return;
  rt.state.method = next;
  applyAll();
  rt.saveState();
});

sortSelect.addEventListener("change", () => {
  rt.state.sort = sortSelect.value as InfluenceState["sort"];
  reorder();
  draw();
  rt.saveState();
});

groupBox.addEventListener("change", () => {
  rt.state.groupByLabel = groupBox.checked;
  reorder();
  draw();
  rt.saveState();
});

rowPxSelect.addEventListener("change", () => {
  rt.state.rowPx = Number(rowPxSelect.value);
  view.firstRow = 0;
  heatScroll.scrollTop = 0;
  resizeCanvas();
  draw();
  rt.saveState();
});

new ResizeObserver(() => {
  resizeCanvas();
  draw();
}).observe(heatScroll);

export function syncControls(): void {
  for (const r of methodGroup.querySelectorAll<Radio>("vscode-radio")) {
    r.checked = r.value === rt.state.method;
    r.hidden = !view.methods.has(r.value as InfluenceMethod);
  }
  methodGroup.hidden = view.methods.size < 2; // tabs only when both methods exist
  sortSelect.value = rt.state.sort;
  groupBox.checked = rt.state.groupByLabel;
  rowPxSelect.value = String(rt.state.rowPx);
  if (rowPxSelect.value === "") rowPxSelect.value = "0";
}

export function applyAll(): void {
  syncControls();
  reorder();
  resizeCanvas();
  drawLegend();
  draw();
  renderSide();
  syncInterveneOptions();
}
