// The heatmap and its colour legend: rows × checkpoints drawn into ImageData (heatmap.ts does the
// arithmetic), axis labels, group separators, the selected rows' bars, the selected cell's outline;
// redraws coalesced per frame.

import { formatNumber } from "../common/chartAxes";
import { byId } from "../common/dom";
import { withAlpha } from "../common/theme";
import { current, rt, view, type MethodData } from "./app";
import { renderHeatmap } from "./heatmap";

export const heatScroll = byId<HTMLDivElement>("heatScroll");
const heatSpacer = byId<HTMLDivElement>("heatSpacer");
export const canvas = byId<HTMLCanvasElement>("heatmap");
const legendBar = byId<HTMLCanvasElement>("legendBar");
const emptyNote = byId<HTMLParagraphElement>("empty");

export const MARGIN = { left: 64, right: 4, top: 4, bottom: 22, marker: 6, gap: 4 };
/** The selected-rows bar in the gutter: from `x` CSS pixels left of the cells, `w` wide (the labels end at 6). */
export const PICK_MARK = { x: 5, w: 4 };

export function resizeCanvas(): void {
  const dpr = window.devicePixelRatio || 1;
  const cssW = Math.max(100, heatScroll.clientWidth);
  const cssH = Math.max(100, heatScroll.clientHeight);
  canvas.style.width = `${cssW}px`;
  canvas.style.height = `${cssH}px`;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  const d = current();
  const plotCssH = cssH - MARGIN.top - MARGIN.bottom;
  // Fixed row heights scroll: the spacer makes the container as tall as all rows.
  const contentH = d && rt.state.rowPx > 0 ? d.n * rt.state.rowPx : plotCssH;
  heatSpacer.style.height = `${Math.max(0, contentH - plotCssH)}px`;
  const w = canvas.width;
  const s = (v: number): number => Math.round(v * dpr);
  const markerW = s(MARGIN.marker);
  const plotW = w - s(MARGIN.left) - s(MARGIN.right) - markerW - s(MARGIN.gap);
  view.layout = {
    width: w,
    height: canvas.height,
    plot: {
      x: s(MARGIN.left),
      y: s(MARGIN.top),
      w: Math.max(0, plotW),
      h: Math.max(0, canvas.height - s(MARGIN.top) - s(MARGIN.bottom)),
    },
    marker: { x: w - s(MARGIN.right) - markerW, w: markerW },
  };
}

export function draw(): void {
  const ctx = canvas.getContext("2d");
  const d = current();
  emptyNote.hidden = d !== undefined;
  // textContent: the reason is the host's text, built from file names (never HTML).
  emptyNote.textContent = view.run?.unavailable ?? "Waiting for influence data…";
  if (!ctx || !view.layout) return;
  if (!d || !view.rows) {
    ctx.fillStyle = rt.theme.background;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    return;
  }
  const t0 = performance.now();
  const dpr = window.devicePixelRatio || 1;
  const image = ctx.createImageData(view.layout.width, view.layout.height);
  const input = {
    values: d.values,
    n: d.n,
    t: d.t,
    order: view.rows.order,
    flips: d.stats.flips,
    limit: d.limit,
    lut: view.colors.lut,
    nanColor: view.colors.nan,
    backgroundColor: view.colors.background,
    flipColor: view.colors.flip,
    rowPx: rt.state.rowPx * dpr,
    firstRow: view.firstRow,
  };
  renderHeatmap(new Uint32Array(image.data.buffer), view.layout, input);
  ctx.putImageData(image, 0, 0);
  drawAnnotations(ctx, d, dpr);
  view.lastRenderMs = performance.now() - t0;
  view.renders++;
}

/** Axis labels, group separators and labels, the selected rows' bars, and the selected cell's outline. */
function drawAnnotations(ctx: CanvasRenderingContext2D, d: MethodData, dpr: number): void {
  if (!view.layout || !view.rows) return;
  const { plot } = view.layout;
  ctx.save();
  ctx.font = `${Math.round(Math.max(10, rt.theme.fontSize - 2) * dpr)}px ${rt.theme.fontFamily}`;
  ctx.fillStyle = withAlpha(rt.theme.foreground, 0.85);
  ctx.textBaseline = "top";
  ctx.textAlign = "center";
  // Every stride-th checkpoint, at most one label per ~70 px.
  const stride = Math.max(1, Math.ceil(d.t / Math.max(1, Math.floor(plot.w / (70 * dpr)))));
  for (let j = 0; j < d.t; j += stride) {
    const x = plot.x + ((j + 0.5) * plot.w) / d.t;
    ctx.fillText(formatNumber(d.steps[j]!), x, plot.y + plot.h + 4 * dpr);
  }
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  const yOfRow = (r: number): number =>
    plot.y + (rt.state.rowPx > 0 ? (r - view.firstRow) * rt.state.rowPx * dpr : (r * plot.h) / d.n);
  if (rt.state.groupByLabel) {
    ctx.strokeStyle = withAlpha(rt.theme.foreground, 0.6);
    ctx.lineWidth = Math.max(1, dpr);
    view.rows.groupStarts.forEach((start, g) => {
      const end = view.rows!.groupStarts[g + 1] ?? d.n;
      const y0 = yOfRow(start);
      const y1 = yOfRow(end);
      if (y1 < plot.y || y0 > plot.y + plot.h) return;
      if (start > 0 && y0 >= plot.y) {
        ctx.beginPath();
        ctx.moveTo(plot.x - 4 * dpr, Math.round(y0) + 0.5);
        ctx.lineTo(plot.x + plot.w, Math.round(y0) + 0.5);
        ctx.stroke();
      }
      const cy = (Math.max(y0, plot.y) + Math.min(y1, plot.y + plot.h)) / 2;
      if (Math.min(y1, plot.y + plot.h) - Math.max(y0, plot.y) >= 10 * dpr)
        ctx.fillText(clip(view.rows!.groupLabels[g]!, 9), plot.x - 6 * dpr, cy);
    });
  } else {
    ctx.fillText(`${d.n} ex.`, plot.x - 6 * dpr, plot.y + plot.h / 2);
  }
  if (view.picked.size > 0) {
    // Selected rows: a bar in the gutter just left of the cells (rows sharing a pixel row share it).
    ctx.fillStyle = rt.theme.foreground;
    const h = Math.max(dpr, rt.state.rowPx > 0 ? rt.state.rowPx * dpr : plot.h / d.n);
    for (let k = 0; k < d.n; k++) {
      if (!view.picked.has(view.run!.examples[view.rows.order[k]!]!.index)) continue;
      const y = yOfRow(k);
      if (y + h < plot.y || y > plot.y + plot.h) continue;
      ctx.fillRect(plot.x - PICK_MARK.x * dpr, y, PICK_MARK.w * dpr, h);
    }
  }
  const sel = selectedCell(d);
  if (sel) {
    const pos = view.rows.order.indexOf(sel.row);
    const y0 = yOfRow(pos);
    const h = Math.max(3 * dpr, rt.state.rowPx > 0 ? rt.state.rowPx * dpr : plot.h / d.n);
    const x0 = plot.x + (sel.col * plot.w) / d.t;
    const w = Math.max(3 * dpr, plot.w / d.t);
    if (y0 + h >= plot.y && y0 <= plot.y + plot.h) {
      ctx.strokeStyle = rt.theme.foreground;
      ctx.lineWidth = Math.max(1, dpr);
      ctx.strokeRect(Math.round(x0) - 0.5, Math.round(y0) - 0.5, Math.round(w) + 1, Math.round(h) + 1);
    }
  }
  ctx.restore();
}

/** Text from a file, shortened for a gutter (the full text is in the side view and tooltips). */
function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function selectedCell(d: MethodData): { row: number; col: number } | null {
  if (!rt.state.selected || !view.run) return null;
  const row = view.run.examples.findIndex((e) => e.index === rt.state.selected!.example);
  const col = d.steps.indexOf(rt.state.selected.step);
  return row >= 0 && col >= 0 ? { row, col } : null;
}

export function drawLegend(): void {
  const d = current();
  const ctx = legendBar.getContext("2d");
  if (!ctx) return;
  const w = legendBar.width;
  const h = legendBar.height;
  const image = ctx.createImageData(w, h);
  const px = new Uint32Array(image.data.buffer);
  for (let x = 0; x < w; x++) {
    const c = view.colors.lut[Math.round((x / (w - 1)) * (view.colors.lut.length - 1))]!;
    for (let y = 0; y < h; y++) px[y * w + x] = c;
  }
  ctx.putImageData(image, 0, 0);
  byId("legendMin").textContent = d ? `−${formatNumber(d.limit)}` : "";
  byId("legendMax").textContent = d ? `+${formatNumber(d.limit)}` : "";
  byId("legendNote").textContent = d
    ? `0 at the centre; limit = 99th percentile of |influence|, beyond it clipped`
    : "";
  byId("query").textContent = d ? `influence on: ${d.query}` : "";
}

let frame = 0;
export function scheduleDraw(): void {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    draw();
  });
}
