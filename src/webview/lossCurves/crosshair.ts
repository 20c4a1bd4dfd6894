// The crosshair: a dashed vertical line at the pointer with a dot on each curve, and a tooltip
// listing, per curve, the point nearest to the pointer from the full data (not the decimated).

import type { Chart, Plugin } from "chart.js";
import { formatNumber } from "../common/chartAxes";
import { byId, el } from "../common/dom";
import { runColor, withAlpha } from "../common/theme";
import { pointer, rt } from "./app";
import type { Plotted } from "./chart";
import { nearestIndex } from "./series";

const tooltip = byId<HTMLDivElement>("tooltip");

interface HoverPoint {
  p: Plotted;
  x: number;
  smooth: number;
  raw: number;
}

/** For each curve, its point nearest to the crosshair. */
function hoverPoints(c: Pick<Chart, "scales">, plotted: readonly Plotted[]): HoverPoint[] {
  const scale = c.scales["x"];
  const hover = pointer.hover;
  if (!hover || !scale) return [];
  const xv = scale.getValueForPixel(hover.px);
  if (xv === undefined || !Number.isFinite(xv)) return [];
  const out: HoverPoint[] = [];
  for (const p of plotted) {
    const s = p.run.series(p.metric);
    if (!s || s.length === 0) continue;
    const xs = p.run.xs(s, rt.state.xAxis);
    // A run that ended before the crosshair (or starts after it) has no value there.
    const slack = 0.01 * Math.abs(scale.max - scale.min);
    if (xv > xs.get(xs.length - 1) + slack || xv < xs.get(0) - slack) continue;
    const i = nearestIndex(xs.view(), xv);
    const x = xs.get(i);
    if (x < scale.min || x > scale.max) continue;
    out.push({ p, x, smooth: s.smooth.get(i), raw: s.raw.get(i) });
  }
  return out;
}

export function crosshairPlugin(plotted: () => readonly Plotted[]): Plugin<"line"> {
  return {
    id: "lmCrosshair",
    afterDatasetsDraw(c) {
      const hover = pointer.hover;
      if (!hover) return;
      const theme = rt.theme;
      const area = c.chartArea;
      const ctx = c.ctx;
      ctx.save();
      ctx.strokeStyle = withAlpha(theme.foreground, 0.5);
      ctx.lineWidth = 1;
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      ctx.moveTo(Math.round(hover.px) + 0.5, area.top);
      ctx.lineTo(Math.round(hover.px) + 0.5, area.bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      for (const h of hoverPoints(c, plotted())) {
        const scale = c.scales[h.p.axis];
        if (!scale) continue;
        const px = c.scales["x"]?.getPixelForValue(h.x) ?? 0;
        const py = scale.getPixelForValue(h.smooth);
        if (py < area.top || py > area.bottom) continue;
        ctx.fillStyle = runColor(theme, h.p.run.colorIndex);
        ctx.strokeStyle = theme.background;
        ctx.beginPath();
        ctx.arc(px, py, 3.5, 0, Math.PI * 2);
        ctx.fill();
        ctx.stroke();
      }
      ctx.restore();
    },
  };
}

export function formatX(v: number, seconds: (v: number) => string): string {
  const x = rt.state.xAxis;
  return x === "step" ? `step ${Math.round(v)}` : x === "time" ? seconds(v) : `${x} ${formatNumber(v)}`;
}

function formatAt(v: number, seconds: (v: number) => string): string {
  const x = rt.state.xAxis;
  return x === "step" ? `@${v}` : x === "time" ? `@${seconds(v)}` : `@${formatNumber(v)}`;
}

export function renderTooltip(
  c: Pick<Chart, "scales">,
  plotted: readonly Plotted[],
  clientX: number,
  clientY: number,
  seconds: (v: number) => string,
): void {
  const points = hoverPoints(c, plotted);
  const xv = c.scales["x"]?.getValueForPixel(pointer.hover?.px ?? 0);
  if (points.length === 0 || xv === undefined) {
    tooltip.hidden = true;
    return;
  }
  const state = rt.state;
  const head = el("div", "tt-head", formatX(xv, seconds));
  const rows = points.map((h) => {
    const row = el("div", "tt-row");
    const sw = el("span", "swatch");
    sw.style.backgroundColor = runColor(rt.theme, h.p.run.colorIndex);
    const name = el("span", "tt-name", `${h.p.run.label} · ${h.p.metric}`);
    const val = el(
      "span",
      "tt-value",
      state.smoothing > 0 ? `${formatNumber(h.smooth)} (raw ${formatNumber(h.raw)})` : formatNumber(h.raw),
    );
    const at = el("span", "tt-at", formatAt(h.x, seconds));
    row.append(sw, name, val, at);
    return row;
  });
  tooltip.replaceChildren(head, ...rows);
  tooltip.hidden = false;
  const wrap = tooltip.parentElement?.getBoundingClientRect();
  if (!wrap) return;
  const x = clientX - wrap.left;
  const y = clientY - wrap.top;
  const w = tooltip.offsetWidth;
  const h = tooltip.offsetHeight;
  tooltip.style.left = `${x + 14 + w > wrap.width ? Math.max(0, x - 14 - w) : x + 14}px`;
  tooltip.style.top = `${Math.max(0, Math.min(y + 14, wrap.height - h))}px`;
}

export function hideTooltip(): void {
  tooltip.hidden = true;
}
