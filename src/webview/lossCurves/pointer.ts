// The chart under the pointer: wheel zoom and drag pan of the x range (kept in the view state),
// double-click to reset, and the crosshair with its tooltip while hovering.

import { pointer, rt } from "./app";
import { applyScales, canvas, chart, formatSeconds, plotted, scheduleUpdate } from "./chart";
import { hideTooltip, renderTooltip } from "./crosshair";
import { lowerBound } from "./series";

let drag: { pointerId: number; startPx: number; a: number; b: number } | null = null;

const fwd = (v: number): number => (rt.state.logX ? Math.log10(v) : v);
const inv = (v: number): number => (rt.state.logX ? 10 ** v : v);

/** The x extent of all drawn data, in transformed units (log10 with log x). */
function dataExtent(): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of plotted) {
    const s = p.run.series(p.metric);
    if (!s || s.length === 0) continue;
    const xs = p.run.xs(s, rt.state.xAxis).view();
    // The first drawable x: > 0 on a log axis; finite otherwise (a metric x axis starts at −∞).
    const first = xs[lowerBound(xs, rt.state.logX ? Number.MIN_VALUE : -Number.MAX_VALUE)] ?? NaN;
    const last = xs[xs.length - 1] as number;
    if (first < lo) lo = first;
    if (last > hi) hi = last;
  }
  if (!(hi > lo)) return null;
  return [fwd(lo), fwd(hi)];
}

/** Sets the visible x range from transformed bounds, clamped to the data; null shows everything. */
export function setZoomT(a: number | null, b: number | null): void {
  const ext = dataExtent();
  let zoom: typeof rt.state.zoom = null;
  if (a !== null && b !== null && ext) {
    const [e0, e1] = ext;
    let w = b - a;
    w = Math.max(w, (e1 - e0) * 1e-6);
    if (w < e1 - e0) {
      if (a < e0) a = e0;
      if (a + w > e1) a = e1 - w;
      zoom = { xMin: inv(a), xMax: inv(a + w) };
    }
  }
  rt.state.zoom = zoom;
  applyScales();
  scheduleUpdate(true);
  rt.saveState();
}

function pointerInArea(e: MouseEvent): { px: number; py: number } | null {
  const rect = canvas.getBoundingClientRect();
  const px = e.clientX - rect.left;
  const py = e.clientY - rect.top;
  const area = chart.chartArea;
  if (!area || px < area.left || px > area.right || py < area.top || py > area.bottom) return null;
  return { px, py };
}

function currentT(): [number, number] | null {
  const scale = chart.scales["x"];
  if (!scale) return null;
  return [fwd(scale.min), fwd(scale.max)];
}

export function clearHover(): void {
  pointer.hover = null;
  hideTooltip();
  chart.draw();
}

canvas.addEventListener(
  "wheel",
  (e) => {
    const at = pointerInArea(e);
    const cur = currentT();
    const scale = chart.scales["x"];
    if (!at || !cur || !scale) return;
    e.preventDefault();
    const c = fwd(scale.getValueForPixel(at.px) ?? 0);
    const f = Math.exp(e.deltaY * 0.0015);
    setZoomT(c - (c - cur[0]) * f, c + (cur[1] - c) * f);
  },
  { passive: false },
);

canvas.addEventListener("pointerdown", (e) => {
  const at = pointerInArea(e);
  const cur = currentT();
  if (!at || !cur || e.button !== 0 || !rt.state.zoom) return;
  drag = { pointerId: e.pointerId, startPx: at.px, a: cur[0], b: cur[1] };
  canvas.setPointerCapture(e.pointerId);
  canvas.classList.add("panning");
});

canvas.addEventListener("pointermove", (e) => {
  if (drag && e.pointerId === drag.pointerId) {
    const rect = canvas.getBoundingClientRect();
    const area = chart.chartArea;
    const dx = e.clientX - rect.left - drag.startPx;
    const shift = (-dx / (area.right - area.left)) * (drag.b - drag.a);
    setZoomT(drag.a + shift, drag.b + shift);
    return;
  }
  const at = pointerInArea(e);
  if (!at) {
    if (pointer.hover) clearHover();
    return;
  }
  pointer.hover = { px: at.px };
  renderTooltip(chart, plotted, e.clientX, e.clientY, formatSeconds);
  chart.draw();
});

function endDrag(e: PointerEvent): void {
  if (!drag || e.pointerId !== drag.pointerId) return;
  drag = null;
  canvas.classList.remove("panning");
}
canvas.addEventListener("pointerup", endDrag);
canvas.addEventListener("pointercancel", endDrag);
canvas.addEventListener("pointerleave", () => clearHover());
canvas.addEventListener("dblclick", () => setZoomT(null, null));
