// Sharpness webview. Per run, three charts on one step axis: the sharpness (top Hessian
// eigenvalue, the second faint; for Adam the preconditioned sharpness) with the stability
// threshold dashed and the edge band (fraction·threshold) dotted, progressive-sharpening and
// edge-of-stability phases shaded; the logged training loss with catapults marked; the LLC with
// its standard-error band and stage boundaries. The phase rules are src/measures/sharpness.ts's,
// applied by the host; the page only draws them.

import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-checkbox/index.js";
import { Chart, Filler, LineController, LineElement, LinearScale, LogarithmicScale, PointElement } from "chart.js";
import type { ChartDataset, Plugin } from "chart.js";
import type { OwnMessage } from "../../shared/panels/common";
import {
  DEFAULT_SHARPNESS_STATE,
  isSharpnessHostMessage,
  isSharpnessState,
  type SharpnessHostMessage,
  type SharpnessRun,
  type SharpnessState,
} from "../../shared/panels/sharpness";
import { axisColors, dropOutsideTicks, formatNumber, tickLabel, type ScaleOptions } from "../common/chartAxes";
import { applyChartFont, backgroundPlugin } from "../common/chartTheme";
import { csvCell, csvNumber } from "../common/csv";
import { byId, el, type Checkbox } from "../common/dom";
import { stackCanvasesPng } from "../common/exportImage";
import { followRuns, PanelRuntime, safeName } from "../common/runtime";
import { runColor, withAlpha } from "../common/theme";

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Filler);

const rt = new PanelRuntime<SharpnessState, OwnMessage<SharpnessHostMessage>>({
  name: "sharpness",
  defaultState: DEFAULT_SHARPNESS_STATE,
  isState: isSharpnessState,
  isHostMessage: isSharpnessHostMessage,
});

type Pt = { x: number; y: number };
type LineDs = ChartDataset<"line", Pt[]>;
type LineChart = Chart<"line", Pt[]>;

const runs = new Map<string, SharpnessRun>();
const runSelect = byId<HTMLSelectElement>("run");
const logLossBox = byId<Checkbox>("logLoss");
const summary = byId<HTMLDivElement>("summary");
const events = byId<HTMLDivElement>("events");
const charts: { sharpness?: LineChart; loss?: LineChart; llc?: LineChart } = {};

applyChartFont(rt.theme, 2);
const background = backgroundPlugin(() => rt.theme);

function currentRun(): SharpnessRun | undefined {
  return (rt.state.runId !== null ? runs.get(rt.state.runId) : undefined) ?? runs.values().next().value;
}

function points(steps: readonly number[], values: readonly (number | null)[], log = false): Pt[] {
  const out: Pt[] = [];
  steps.forEach((x, i) => {
    const y = values[i];
    if (typeof y === "number" && Number.isFinite(y) && (!log || y > 0)) out.push({ x, y });
  });
  return out;
}

/** The step range every chart shares, so their x axes line up. */
function stepRange(run: SharpnessRun): [number, number] | undefined {
  const all = [...(run.sharpness?.steps ?? []), ...run.loss.steps, ...(run.llc?.steps ?? [])];
  if (all.length === 0) return undefined;
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of all) {
    lo = Math.min(lo, s);
    hi = Math.max(hi, s);
  }
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

const AXIS_WIDTH = 64;

function scales(run: SharpnessRun, yTitle: string, logY: boolean): Record<string, ScaleOptions> {
  const c = axisColors(rt.theme);
  const range = stepRange(run);
  const fix = (s: { width: number }) => {
    s.width = AXIS_WIDTH;
  };
  return {
    x: {
      type: "linear",
      ...(range ? { min: range[0], max: range[1] } : {}),
      afterBuildTicks: dropOutsideTicks,
      title: { display: true, text: "step", ...c.title },
      ticks: { ...c.ticks, maxRotation: 0, autoSkipPadding: 12, callback: tickLabel(false) },
      grid: c.grid,
      border: c.border,
    } as ScaleOptions,
    y: {
      type: logY ? "logarithmic" : "linear",
      afterBuildTicks: dropOutsideTicks,
      afterFit: fix,
      title: { display: true, text: yTitle, ...c.title },
      ticks: { ...c.ticks, callback: tickLabel(logY) },
      grid: c.grid,
      border: c.border,
    } as ScaleOptions,
  };
}

/** Bands (phases) and vertical lines (catapults, stage boundaries) drawn under the curves. */
interface Marks {
  bands: { start: number; end: number; label: string; color: string }[];
  lines: { step: number; label: string; color: string; dash: number[] }[];
}

/** By canvas: chart.js draws once inside its constructor (no animation), before it could be keyed by the chart. */
const marksOf = new WeakMap<HTMLCanvasElement, Marks>();

const marksPlugin: Plugin<"line"> = {
  id: "lmEosMarks",
  beforeDatasetsDraw(c) {
    const m = marksOf.get(c.canvas);
    const x = c.scales["x"];
    if (!m || !x) return;
    const area = c.chartArea;
    const ctx = c.ctx;
    ctx.save();
    ctx.font = `${Math.max(10, rt.theme.fontSize - 2)}px ${rt.theme.fontFamily}`;
    ctx.textBaseline = "bottom";
    ctx.textAlign = "left";
    for (const b of m.bands) {
      const x0 = Math.max(area.left, x.getPixelForValue(b.start));
      const x1 = Math.min(area.right, x.getPixelForValue(b.end));
      if (!(x1 >= x0)) continue;
      ctx.fillStyle = withAlpha(b.color, 0.16);
      ctx.fillRect(x0, area.top, Math.max(2, x1 - x0), area.bottom - area.top);
      ctx.fillStyle = withAlpha(rt.theme.foreground, 0.8);
      ctx.fillText(b.label, x0 + 3, area.bottom - 2, Math.max(40, x1 - x0 - 6));
    }
    for (const l of m.lines) {
      const px = Math.round(x.getPixelForValue(l.step)) + 0.5;
      if (px < area.left - 0.5 || px > area.right + 0.5) continue;
      ctx.strokeStyle = l.color;
      ctx.lineWidth = 1.2;
      ctx.setLineDash(l.dash);
      ctx.beginPath();
      ctx.moveTo(px, area.top);
      ctx.lineTo(px, area.bottom);
      ctx.stroke();
      ctx.fillStyle = l.color;
      ctx.textBaseline = "top";
      ctx.fillText(l.label, px + 3, area.top + 2);
    }
    ctx.setLineDash([]);
    ctx.restore();
  },
};

function newChart(
  canvas: HTMLCanvasElement,
  datasets: LineDs[],
  s: Record<string, ScaleOptions>,
  marks: Marks,
): LineChart {
  marksOf.set(canvas, marks);
  return new Chart<"line", Pt[]>(canvas, {
    type: "line",
    data: { datasets },
    options: {
      animation: false,
      parsing: false,
      responsive: true,
      maintainAspectRatio: false,
      events: [],
      elements: { line: { tension: 0 } },
      layout: { padding: { right: 8, top: 4 } },
      plugins: {},
      scales: s,
    },
    plugins: [background, marksPlugin, legendPlugin],
  });
}

/** The datasets' labels at the top right, in their colours (a legend that needs no plugin registry). */
const legendPlugin: Plugin<"line"> = {
  id: "lmEosLegend",
  afterDatasetsDraw(c) {
    const ctx = c.ctx;
    const area = c.chartArea;
    ctx.save();
    ctx.font = `${Math.max(10, rt.theme.fontSize - 2)}px ${rt.theme.fontFamily}`;
    ctx.textAlign = "right";
    ctx.textBaseline = "top";
    let y = area.top + 2;
    for (const ds of c.data.datasets) {
      if (!ds.label || ds.label.startsWith("_")) continue;
      ctx.fillStyle = String(ds.borderColor);
      ctx.fillText(ds.label, area.right - 4, y);
      y += rt.theme.fontSize + 1;
    }
    ctx.restore();
  },
};

/** Phase bands: yellow for sharpening, purple for the edge (the run's own line is blue or red, never either). */
const PHASE_COLORS = () => ({ sharpening: rt.theme.palette[3] ?? "#cca700", edge: rt.theme.palette[5] ?? "#b180d7" });

function line(label: string, data: Pt[], color: string, extra: Partial<LineDs> = {}): LineDs {
  return {
    label,
    data,
    borderColor: color,
    backgroundColor: color,
    borderWidth: 1.5,
    pointRadius: data.length <= 60 ? 2 : 0,
    ...extra,
  };
}

function renderSharpness(run: SharpnessRun): void {
  const view = run.sharpness;
  const cell = byId("sharpnessCell");
  const note = byId<HTMLParagraphElement>("sharpnessNote");
  cell.classList.toggle("missing", !view);
  note.hidden = !!view;
  if (!view) {
    note.textContent = `Not available: ${run.missing.find((m) => m.analysis === "sharpness")?.reason ?? "not analysed"}`;
    return;
  }
  const color = runColor(rt.theme, run.colorIndex);
  const fg = rt.theme.foreground;
  const pre = view.thresholdOf === "preconditioned";
  const thresholdName = pre ? "Adam threshold (2+2β₁)/((1−β₁)η)" : "threshold 2/η";
  const datasets: LineDs[] = [];
  if (pre) datasets.push(line("λ_max(P⁻¹H), preconditioned", points(view.steps, view.preconditioned), color));
  datasets.push(
    line("λ₁ (top eigenvalue)", points(view.steps, view.top), pre ? withAlpha(fg, 0.6) : color),
    line("λ₂", points(view.steps, view.second), withAlpha(pre ? fg : color, 0.35), { borderWidth: 1 }),
    line(thresholdName, points(view.steps, view.threshold), withAlpha(fg, 0.85), {
      borderDash: [6, 4],
      pointRadius: 0,
      borderWidth: 1.5,
    }),
    line(
      `${view.rule.fraction}·threshold`,
      points(
        view.steps,
        view.threshold.map((t) => (t === null ? null : view.rule.fraction * t)),
      ),
      withAlpha(fg, 0.4),
      { borderDash: [2, 3], pointRadius: 0, borderWidth: 1 },
    ),
  );
  const colors = PHASE_COLORS();
  const marks: Marks = {
    bands: [
      ...view.sharpening.map((b) => ({ ...b, label: "progressive sharpening", color: colors.sharpening })),
      ...view.edge.map((b) => ({ ...b, label: "edge of stability", color: colors.edge })),
    ],
    lines: view.catapults.map((k) => ({ step: k.spikeStep, label: "catapult", color: colors.edge, dash: [3, 3] })),
  };
  charts.sharpness = newChart(
    byId<HTMLCanvasElement>("sharpnessChart"),
    datasets,
    scales(run, pre ? "eigenvalue of P⁻¹H" : "eigenvalue", false),
    marks,
  );
}

function renderLoss(run: SharpnessRun): void {
  const log = rt.state.logLoss;
  const data = points(run.loss.steps, run.loss.values, log);
  const marks: Marks = {
    bands: [],
    lines: (run.sharpness?.catapults ?? []).map((k) => ({
      step: k.spikeStep,
      label: "catapult",
      color: PHASE_COLORS().edge,
      dash: [3, 3],
    })),
  };
  charts.loss = newChart(
    byId<HTMLCanvasElement>("lossChart"),
    [line("train loss", data, runColor(rt.theme, run.colorIndex), { pointRadius: 0 })],
    scales(run, "loss", log),
    marks,
  );
}

function renderLlc(run: SharpnessRun): void {
  const view = run.llc;
  const cell = byId("llcCell");
  const note = byId<HTMLParagraphElement>("llcNote");
  cell.classList.toggle("missing", !view);
  note.hidden = !!view;
  if (!view) {
    note.textContent = `Not available: ${run.missing.find((m) => m.analysis === "llc")?.reason ?? "not analysed"}`;
    return;
  }
  const color = runColor(rt.theme, run.colorIndex);
  const band = (sign: number) =>
    view.values.map((v, i) => {
      const se = view.stdErr[i];
      return v === null ? null : v + sign * (typeof se === "number" ? se : 0);
    });
  const datasets: LineDs[] = [
    line("_upper", points(view.steps, band(1)), withAlpha(color, 0), { pointRadius: 0, borderWidth: 0 }),
    line("_lower", points(view.steps, band(-1)), withAlpha(color, 0), {
      pointRadius: 0,
      borderWidth: 0,
      fill: "-1",
      backgroundColor: withAlpha(color, 0.2),
    }),
    line("λ̂", points(view.steps, view.values), color),
  ];
  const marks: Marks = {
    bands: [],
    lines: view.boundaries.map((s) => ({
      step: s,
      label: `stage boundary ${formatNumber(s)}`,
      color: withAlpha(rt.theme.foreground, 0.7),
      dash: [5, 3],
    })),
  };
  charts.llc = newChart(byId<HTMLCanvasElement>("llcChart"), datasets, scales(run, "λ̂", false), marks);
}

function renderSummary(run: SharpnessRun): void {
  summary.replaceChildren();
  events.replaceChildren();
  const view = run.sharpness;
  if (view) {
    const last = view.lastRatio;
    const atEdge = view.edge.some((e) => e.end === view.steps.at(-1));
    const [cls, text] = atEdge
      ? ["badge-edge", "at the edge of stability"]
      : view.edge.length
        ? ["badge-sharpening", "left the edge of stability"]
        : ["badge-stable", "below the threshold"];
    const what = view.thresholdOf === "preconditioned" ? "preconditioned sharpness" : "sharpness";
    summary.append(
      el("span", `badge ${cls}`, text),
      el(
        "span",
        "note",
        `${what} / threshold at the last checkpoint: ${last === null ? "—" : last.toFixed(2)} · edge = ≥ ${view.rule.fraction}·threshold for ${view.rule.hold} checkpoints in a row`,
      ),
    );
    const items: string[] = [
      ...view.sharpening.map((p) => `progressive sharpening ${formatNumber(p.start)}–${formatNumber(p.end)}`),
      ...view.edge.map((p) => `edge of stability ${formatNumber(p.start)}–${formatNumber(p.end)}`),
      ...view.catapults.map(
        (k) =>
          `catapult at ${formatNumber(k.spikeStep)}: loss ${formatNumber(k.lossBefore)} → ${formatNumber(k.peakLoss)} (peak ${formatNumber(k.peakStep)}), sharpness ${formatNumber(k.sharpnessBefore)} → ${formatNumber(k.sharpnessAfter)} (step ${formatNumber(k.dropStep)})`,
      ),
    ];
    if (view.catapults.length === 0)
      items.push("no catapults (a loss spike ≥ 1.5× its running minimum followed by a ≥ 20% sharpness drop)");
    const list = el("ul", "note");
    for (const t of items) list.append(el("li", "", t));
    events.append(el("h4", "chart-title", "phases and catapults"), list);
  }
  for (const w of run.llc?.warnings ?? [])
    events.append(el("p", "warning", `LLC at step ${formatNumber(w.step)}: ${w.warning}`));
}

function render(): void {
  for (const c of Object.values(charts)) c?.destroy();
  delete charts.sharpness;
  delete charts.loss;
  delete charts.llc;
  runSelect.replaceChildren(
    ...[...runs.values()].map((r) => Object.assign(el("option", "", r.label), { value: r.runId })),
  );
  const run = currentRun();
  runSelect.value = run?.runId ?? "";
  byId("runPick").hidden = runs.size < 2;
  logLossBox.checked = rt.state.logLoss;
  byId("empty").hidden = runs.size > 0;
  byId("stack").hidden = !run;
  summary.replaceChildren();
  if (!run) return;
  renderSummary(run);
  renderSharpness(run);
  renderLoss(run);
  renderLlc(run);
}

runSelect.addEventListener("change", () => {
  rt.state.runId = runSelect.value;
  render();
  rt.saveState();
});
logLossBox.addEventListener("change", () => {
  rt.state.logLoss = logLossBox.checked;
  render();
  rt.saveState();
});

function buildCsv(): string {
  const lines = ["run_id,label,analysis,step,value,second,preconditioned,threshold,error"];
  for (const run of runs.values()) {
    const s = run.sharpness;
    const id = `${csvCell(run.runId)},${csvCell(run.label)}`;
    for (const [i, step] of (s?.steps ?? []).entries())
      lines.push(
        `${id},sharpness,${step},${csvNumber(s?.top[i])},${csvNumber(s?.second[i])},${csvNumber(s?.preconditioned[i])},${csvNumber(s?.threshold[i])},${csvNumber(s?.error[i])}`,
      );
    const l = run.llc;
    for (const [i, step] of (l?.steps ?? []).entries())
      lines.push(`${id},llc,${step},${csvNumber(l?.values[i])},,,,${csvNumber(l?.stdErr[i])}`);
  }
  return `${lines.join("\n")}\n`;
}

const exportBase = () => `${safeName(currentRun()?.runId ?? "run")}-sharpness`;
byId("exportCsv").addEventListener("click", () => rt.exportCsv(buildCsv(), `${exportBase()}.csv`));
byId("exportPng").addEventListener("click", () => {
  const canvases = Object.values(charts).flatMap((c) => (c ? [c.canvas] : []));
  rt.exportPng(stackCanvasesPng(canvases, rt.theme.background), `${exportBase()}.png`);
});

rt.onTheme(() => {
  applyChartFont(rt.theme, 2);
  render();
});

followRuns(rt, runs, render);

rt.testHooks({
  /** Each chart's lines (label, points), y scale type and the bands and vertical lines drawn. */
  charts: () =>
    Object.entries(charts).map(([name, c]) => ({
      name,
      yType: c.scales["y"]?.type ?? "",
      lines: c.data.datasets.map((d) => ({ label: d.label ?? "", points: structuredClone(d.data) })),
      marks: structuredClone(marksOf.get(c.canvas) ?? { bands: [], lines: [] }),
    })),
  summary: () => summary.textContent ?? "",
  /** CSS pixel x of `step` and y of `value` on a chart's axes. */
  pixelOf: (name: "sharpness" | "loss" | "llc", step: number, value: number) => {
    const c = charts[name];
    return c ? { x: c.scales["x"]!.getPixelForValue(step), y: c.scales["y"]!.getPixelForValue(value) } : null;
  },
  events: () => events.textContent ?? "",
});

render();
rt.ready();
