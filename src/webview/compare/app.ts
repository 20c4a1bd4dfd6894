// The intervention panels' runtime and the chart helpers the two views share (a branch against its
// parent: branch.ts; a calibration: calibration.ts).

import {
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  ScatterController,
} from "chart.js";
import type { ChartDataset } from "chart.js";
import type { OwnMessage } from "../../shared/panels/common";
import {
  type CompareHostMessage,
  type CompareState,
  DEFAULT_COMPARE_STATE,
  isCompareHostMessage,
  isCompareState,
} from "../../shared/panels/compare";
import { axisColors, type ScaleOptions, themedScale } from "../common/chartAxes";
import { backgroundPlugin } from "../common/chartTheme";
import { byId, el } from "../common/dom";
import { PanelRuntime } from "../common/runtime";

Chart.register(LineController, ScatterController, LineElement, PointElement, LinearScale, LogarithmicScale, Legend);

export const rt = new PanelRuntime<CompareState, OwnMessage<CompareHostMessage>>({
  name: "compare",
  defaultState: DEFAULT_COMPARE_STATE,
  isState: isCompareState,
  isHostMessage: isCompareHostMessage,
});

export type Pt = { x: number; y: number };

export const chartsBox = byId<HTMLDivElement>("charts");
export const charts = new Map<string, Chart<"line" | "scatter", Pt[]>>();
const background = backgroundPlugin(() => rt.theme);

/** Points where both coordinates are finite numbers (a null is a gap, never a zero); positive only on a log axis. */
export function points(xs: readonly number[], ys: readonly (number | null)[], log = false): Pt[] {
  const out: Pt[] = [];
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i];
    if (typeof y === "number" && Number.isFinite(y) && (!log || y > 0)) out.push({ x: xs[i]!, y });
  }
  return out;
}

/** A linear axis in the theme's colours, or the shared log axis. */
export function scale(title: string, log = false, extra: Partial<ScaleOptions> = {}): ScaleOptions {
  if (log) return { ...themedScale(rt.theme, true, title), ...extra } as ScaleOptions;
  const c = axisColors(rt.theme);
  return {
    type: "linear",
    title: { display: true, text: title, ...c.title },
    ticks: { ...c.ticks, maxRotation: 0, autoSkipPadding: 10 },
    grid: c.grid,
    border: c.border,
    ...extra,
  } as ScaleOptions;
}

/** A titled cell in the grid with its canvas (the title as text: it may name a run). */
function chartCell(key: string, title: string, wide: boolean): HTMLCanvasElement {
  const cell = el("section", wide ? "lr-cell wide" : "lr-cell");
  cell.dataset["chart"] = key;
  cell.append(el("h4", "chart-title", title));
  const box = el("div", "chart-box");
  const canvas = el("canvas");
  canvas.id = `chart-${key}`;
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", title);
  box.append(canvas);
  cell.append(box);
  chartsBox.append(cell);
  return canvas;
}

export function addChart(
  key: string,
  title: string,
  type: "line" | "scatter",
  datasets: ChartDataset<"line" | "scatter", Pt[]>[],
  x: ScaleOptions,
  y: ScaleOptions,
  wide = false,
): void {
  const canvas = chartCell(key, title, wide);
  charts.set(
    key,
    new Chart<"line" | "scatter", Pt[]>(canvas, {
      type,
      data: { datasets },
      options: {
        animation: false,
        parsing: false,
        responsive: true,
        maintainAspectRatio: false,
        events: [],
        elements: { line: { tension: 0 } },
        plugins: { legend: { display: datasets.length > 1, labels: { color: rt.theme.foreground, boxHeight: 2 } } },
        scales: { x, y },
      },
      plugins: [background],
    }),
  );
}

export function clearCharts(): void {
  for (const c of charts.values()) c.destroy();
  charts.clear();
  chartsBox.replaceChildren();
}

/** A number for tables and words: 4 significant digits, exponent form when small. */
export function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  if (v === 0) return "0";
  return Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toPrecision(4);
}
