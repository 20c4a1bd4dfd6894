// The sweep panel: one quantity (a final, least or greatest logged scalar, or an analysis value)
// against one swept field, one line per value of a second field, the mean over the runs at each x
// (seeds, and any other swept field, pooled) with a shaded band for their spread (min–max or
// ± one standard deviation, as chosen; the legend says which), each run as a faint dot. A click on
// a dot or a mean opens that run. Points arrive whole at `init` and one by one as runs finish.
// The series are computed by src/shared/sweepView.ts. An α sweep (x = model.alpha, declared or
// implicit) with the final relative weight change or kernel distance on y gets the lazy-limit
// reference per line, dashed, fitted by src/shared/alphaFit.ts (c/α for the weight change, c/α²
// for the kernel distance, Chizat et al. 2019), its constant and the free slope in the legend and
// the readout below the chart.

import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-checkbox/index.js";
import { Chart, LinearScale, LineElement, LogarithmicScale, PointElement, ScatterController } from "chart.js";
import type { ChartDataset, Plugin } from "chart.js";
import type { OwnMessage } from "../../shared/panels/common";
import { type InverseAlphaFit, inverseAlphaFit, inverseAlphaName, inverseAlphaPower } from "../../shared/alphaFit";
import {
  DEFAULT_SWEEP_STATE,
  defaultSweepState,
  isSweepHostMessage,
  isSweepState,
  type SweepHostMessage,
  type SweepInfo,
  type SweepState,
  type SweepWebviewMessage,
} from "../../shared/panels/sweep";
import type { SweepValue } from "../../shared/sweepFormat";
import {
  defaultQuantity,
  quantitiesOf,
  quantityLabel,
  type Series,
  type SweepPanelPoint,
  type SweepSeries,
  sweepSeries,
  fieldValue,
  valueText,
} from "../../shared/sweepView";
import { axisColors, dropOutsideTicks, formatNumber, type ScaleOptions, tickLabel } from "../common/chartAxes";
import { applyChartFont, backgroundPlugin } from "../common/chartTheme";
import { csvCell, csvNumber } from "../common/csv";
import { byId, type Checkbox, el } from "../common/dom";
import { stackCanvasesPng } from "../common/exportImage";
import { PanelRuntime, safeName } from "../common/runtime";
import { runColor, withAlpha } from "../common/theme";

Chart.register(ScatterController, LineElement, PointElement, LinearScale, LogarithmicScale);

type OpenRun = Extract<SweepWebviewMessage, { type: "openRun" }>;
const rt = new PanelRuntime<SweepState, OwnMessage<SweepHostMessage>, OpenRun>({
  name: "sweep",
  defaultState: DEFAULT_SWEEP_STATE,
  isState: isSweepState,
  isHostMessage: isSweepHostMessage,
});

/** A drawn point: x on the axis (a category's position for non-numeric x), and the run it opens (null: a reference line's end). */
type Pt = { x: number; y: number; runId: string | null };

let sweep: SweepInfo | null = null;
const points = new Map<number, SweepPanelPoint>();
let chart: Chart<"scatter", Pt[]> | null = null;
let drawn: {
  series: SweepSeries;
  y: string;
  x: string;
  group: string | null;
  logX: boolean;
  logY: boolean;
  /** The c/α^p fit of each line (α sweeps only; empty otherwise). */
  fits: { group: SweepValue | null; fit: InverseAlphaFit }[];
} | null = null;
/** No view state yet (none saved by the page, none sent by the host): the first init picks the sweep's defaults. */
let fresh = JSON.stringify(rt.state) === JSON.stringify(DEFAULT_SWEEP_STATE);

const ySelect = byId<HTMLSelectElement>("y");
const xSelect = byId<HTMLSelectElement>("x");
const groupSelect = byId<HTMLSelectElement>("group");
const spreadSelect = byId<HTMLSelectElement>("spread");
const logXBox = byId<Checkbox>("logX");
const logYBox = byId<Checkbox>("logY");
const summary = byId<HTMLDivElement>("summary");
const note = byId<HTMLParagraphElement>("note");
const legend = byId<HTMLDivElement>("legend");
const fitNote = byId<HTMLParagraphElement>("fit");

applyChartFont(rt.theme, 2);
const background = backgroundPlugin(() => rt.theme);

// ---- the choice ------------------------------------------------------------------------------

function allPoints(): SweepPanelPoint[] {
  return [...points.values()].sort((a, b) => a.index - b.index);
}

/** The state's choices resolved against what the sweep has (a saved choice may name a field no longer there). */
function choice(): { y: string | null; x: string | null; group: string | null } {
  const fields = sweep?.fields ?? [];
  const keys = quantitiesOf(allPoints());
  const y = rt.state.y !== null && keys.includes(rt.state.y) ? rt.state.y : defaultQuantity(keys);
  const x = rt.state.x !== null && fields.includes(rt.state.x) ? rt.state.x : (fields[0] ?? null);
  const others = fields.filter((f) => f !== x);
  const group =
    rt.state.group === "" ? null : rt.state.group !== null && others.includes(rt.state.group) ? rt.state.group : null;
  return { y, x, group: rt.state.group === null ? (others[0] ?? null) : group };
}

function options(select: HTMLSelectElement, items: { value: string; text: string }[], value: string): void {
  select.replaceChildren(...items.map((i) => Object.assign(el("option", "", i.text), { value: i.value })));
  select.value = value;
}

function syncControls(c: ReturnType<typeof choice>): void {
  const fields = sweep?.fields ?? [];
  options(
    ySelect,
    quantitiesOf(allPoints()).map((k) => ({ value: k, text: quantityLabel(k) })),
    c.y ?? "",
  );
  options(
    xSelect,
    fields.map((f) => ({ value: f, text: f })),
    c.x ?? "",
  );
  options(
    groupSelect,
    [{ value: "", text: "none" }, ...fields.filter((f) => f !== c.x).map((f) => ({ value: f, text: f }))],
    c.group ?? "",
  );
  spreadSelect.value = rt.state.spread;
  logXBox.checked = rt.state.logX;
  logYBox.checked = rt.state.logY;
}

// ---- drawing ---------------------------------------------------------------------------------

function scale(log: boolean, title: string, categories: SweepValue[] | null): ScaleOptions {
  const c = axisColors(rt.theme);
  const ticks = categories
    ? {
        stepSize: 1,
        callback: (v: number | string) => {
          const i = Number(v);
          return Number.isInteger(i) && categories[i] !== undefined ? valueText(categories[i]) : "";
        },
      }
    : { callback: tickLabel(log) };
  return {
    type: log ? "logarithmic" : "linear",
    afterBuildTicks: dropOutsideTicks,
    ...(categories ? { min: -0.5, max: categories.length - 0.5 } : {}),
    title: { display: true, text: title, ...c.title },
    ticks: { ...c.ticks, maxRotation: 0, autoSkip: !log, autoSkipPadding: 10, ...ticks },
    grid: c.grid,
    border: c.border,
  } as ScaleOptions;
}

/** The spread bands, drawn under the lines: a polygon from lo to hi along each series, and a whisker at each x. */
const bands: Plugin<"scatter"> = {
  id: "lmSweepBands",
  beforeDatasetsDraw(c) {
    if (!drawn) return;
    const xs = c.scales["x"]!;
    const ys = c.scales["y"]!;
    const ctx = c.ctx;
    ctx.save();
    drawn.series.series.forEach((s, k) => {
      const color = runColor(rt.theme, k);
      const pts = s.points.flatMap((p) => {
        const x = axisX(p.x);
        const ok = (v: number) => !drawn?.logY || v > 0;
        return x !== null && ok(p.lo) && ok(p.hi)
          ? [{ x: xs.getPixelForValue(x), lo: ys.getPixelForValue(p.lo), hi: ys.getPixelForValue(p.hi) }]
          : [];
      });
      if (pts.length === 0) return;
      ctx.fillStyle = withAlpha(color, 0.18);
      ctx.strokeStyle = withAlpha(color, 0.55);
      ctx.lineWidth = 1;
      if (pts.length > 1) {
        ctx.beginPath();
        ctx.moveTo(pts[0]!.x, pts[0]!.hi);
        for (const p of pts.slice(1)) ctx.lineTo(p.x, p.hi);
        for (let i = pts.length - 1; i >= 0; i--) ctx.lineTo(pts[i]!.x, pts[i]!.lo);
        ctx.closePath();
        ctx.fill();
      }
      for (const p of pts) {
        ctx.beginPath();
        ctx.moveTo(p.x, p.lo);
        ctx.lineTo(p.x, p.hi);
        ctx.moveTo(p.x - 4, p.lo);
        ctx.lineTo(p.x + 4, p.lo);
        ctx.moveTo(p.x - 4, p.hi);
        ctx.lineTo(p.x + 4, p.hi);
        ctx.stroke();
      }
    });
    ctx.restore();
  },
};

/** Where a value sits on the x axis: itself when numeric (null if log and ≤ 0), else its category's index. */
function axisX(v: SweepValue): number | null {
  if (!drawn) return null;
  if (drawn.series.xKind === "category") return drawn.series.xValues.indexOf(v);
  return typeof v === "number" && (!drawn.logX || v > 0) ? v : null;
}

function render(): void {
  chart?.destroy();
  chart = null;
  drawn = null;
  legend.replaceChildren();
  fitNote.replaceChildren();
  fitNote.hidden = true;
  const c = choice();
  syncControls(c);
  byId("empty").hidden = sweep !== null;
  renderSummary();
  if (!sweep) return;
  if (c.y === null || c.x === null) {
    note.textContent =
      c.x === null
        ? "This sweep has no swept field (seeds only): nothing to plot against."
        : "No point has a value yet: the chart fills in as runs log and finish.";
    return;
  }
  const series = sweepSeries(allPoints(), { y: c.y, x: c.x, group: c.group, spread: rt.state.spread });
  const numeric = series.xKind === "number";
  const logX = rt.state.logX && numeric;
  drawn = { series, y: c.y, x: c.x, group: c.group, logX, logY: rt.state.logY, fits: [] };
  const okY = (v: number) => !rt.state.logY || v > 0;
  const datasets: ChartDataset<"scatter", Pt[]>[] = [];
  const power = numeric ? inverseAlphaPower(c.x, c.y) : null;
  series.series.forEach((s, k) => {
    const color = runColor(rt.theme, k);
    const name = c.group === null ? "mean" : `${c.group} = ${valueText(s.group)}`;
    const mean: Pt[] = [];
    const runs: Pt[] = [];
    for (const p of s.points) {
      const x = axisX(p.x);
      if (x === null) continue;
      if (okY(p.mean)) mean.push({ x, y: p.mean, runId: p.runs[0]!.runId });
      for (const r of p.runs) if (okY(r.y)) runs.push({ x, y: r.y, runId: r.runId });
    }
    const swatch = el("span", "swatch");
    swatch.style.backgroundColor = color;
    legend.append(el("span", "legend-item"));
    legend.lastElementChild?.append(swatch, document.createTextNode(name));
    datasets.push(
      {
        label: name,
        data: mean,
        borderColor: color,
        backgroundColor: color,
        pointRadius: 4,
        pointHoverRadius: 6,
        showLine: true,
        borderWidth: 1.5,
      },
      {
        label: `${name} · runs`,
        data: runs,
        borderColor: withAlpha(color, 0.7),
        backgroundColor: withAlpha(color, 0.35),
        pointRadius: 2.5,
        pointHoverRadius: 4,
        showLine: false,
      },
    );
    if (power !== null) datasets.push(...inverseAlphaLine(s, name, color, power));
  });
  renderFits(c.y);
  chart = new Chart<"scatter", Pt[]>(byId<HTMLCanvasElement>("sweepChart"), {
    type: "scatter",
    data: { datasets },
    options: {
      animation: false,
      parsing: false,
      responsive: true,
      maintainAspectRatio: false,
      events: ["click"],
      onClick: (e, _els, ch) => {
        if (!e.native) return;
        const hit = ch.getElementsAtEventForMode(e.native, "nearest", { intersect: true }, false)[0];
        if (!hit) return;
        const p = datasets[hit.datasetIndex]?.data[hit.index];
        if (p?.runId) rt.post({ type: "openRun", runId: p.runId });
      },
      scales: {
        x: scale(logX, c.x, numeric ? null : series.xValues),
        y: scale(rt.state.logY, quantityLabel(c.y), null),
      },
    },
    plugins: [background, bands],
  });
  const spread = rt.state.spread === "std" ? "± 1 standard deviation" : "min–max";
  const pooled = (sweep.fields ?? []).filter((f) => f !== c.x && f !== c.group);
  const parts = [
    `Lines: mean over ${pooled.length ? `seeds and ${pooled.join(", ")}` : "seeds"}; band and whiskers: ${spread}; dots: single runs (click one to open its run).`,
  ];
  if (series.missing > 0) parts.push(`${series.missing} of ${points.size} points have no ${quantityLabel(c.y)} yet.`);
  if (rt.state.logX && !numeric) parts.push(`log x is off: ${c.x} has non-numeric values.`);
  note.textContent = parts.join(" ");
}

/**
 * The dashed c/α^p line of one series, fitted to its single runs (every seed, not the means),
 * from its least to its greatest α; its legend entry names c and the free slope. Empty when no
 * run has a positive value.
 */
function inverseAlphaLine(s: Series, name: string, color: string, power: number): ChartDataset<"scatter", Pt[]>[] {
  if (!drawn) return [];
  const runs = s.points.flatMap((p) =>
    typeof p.x === "number" ? p.runs.map((r) => ({ x: p.x as number, y: r.y })) : [],
  );
  const fit = inverseAlphaFit(runs, power);
  const xs = runs.filter((r) => r.x > 0).map((r) => r.x);
  if (fit === null || xs.length === 0) return [];
  drawn.fits.push({ group: s.group, fit });
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const label = `${name} · ${inverseAlphaName(power)} fit: c = ${formatNumber(fit.c)}, slope ${slopeText(fit.slope)}`;
  const swatch = el("span", "swatch swatch-dashed");
  swatch.style.borderColor = color;
  legend.append(el("span", "legend-item"));
  legend.lastElementChild?.append(swatch, document.createTextNode(label));
  return [
    {
      label,
      data: [
        { x: lo, y: fit.c / lo ** power, runId: null },
        { x: hi, y: fit.c / hi ** power, runId: null },
      ],
      borderColor: withAlpha(color, 0.75),
      borderDash: [6, 4],
      borderWidth: 1.5,
      pointRadius: 0,
      pointHitRadius: 0,
      showLine: true,
    },
  ];
}

/** The free slope as read: "−1.00"; "—" with one α. */
function slopeText(slope: number | null): string {
  return slope === null ? "—" : slope.toFixed(2).replace("-", "−");
}

/** Under the chart: what the dashed line is, and per line its c, free slope and where the points follow 1/α^p. */
function renderFits(y: string): void {
  const first = drawn?.fits[0]?.fit;
  if (!drawn || !first) return;
  const p = first.power;
  const line = inverseAlphaName(p);
  const inv = line.slice(2); // "α", "α²"
  const term = p === 1 ? "log α" : `${p}·log α`;
  const why =
    p === 1
      ? "the change from initialization falls as 1/α"
      : "1 − cos is second order in the kernel's change, which falls as 1/α";
  fitNote.hidden = false;
  fitNote.append(
    el(
      "span",
      "",
      `Dashed: y = ${line}, c by least squares of log ${quantityLabel(y)} = log c − ${term} over the runs where the points follow 1/${inv} (all runs if none do): the lazy limit, Chizat et al. 2019 (${why}). The slope is that of a free log-log fit over all runs (−${p} when lazy).`,
    ),
  );
  for (const { group, fit } of drawn.fits) {
    const where =
      fit.lazyFrom === null
        ? `the points do not follow 1/${inv} even at the largest α; c over all ${fit.cOver} runs`
        : `the points follow 1/${inv} for α ≥ ${formatNumber(fit.lazyFrom)}; c over those ${fit.cOver} runs`;
    const who = drawn.group === null ? "" : `${drawn.group} = ${valueText(group)}: `;
    fitNote.append(
      el(
        "span",
        "fit-line",
        ` ${who}c = ${formatNumber(fit.c)}, slope ${slopeText(fit.slope)} over ${fit.n} runs; ${where}.`,
      ),
    );
  }
}

function renderSummary(): void {
  summary.replaceChildren();
  if (!sweep) return;
  const all = allPoints();
  const finished = all.filter((p) => p.status === "finished").length;
  const failed = all.filter((p) => p.status === "failed" || p.status === "diverged").length;
  // An implicit sweep has no launcher: it is runs found to differ only in α.
  const origin = sweep.implicit ? "implicit: runs that differ only in model.alpha (no sweep.json)" : sweep.launcher;
  summary.append(
    el("span", "sweep-title", `${sweep.system} ${sweep.implicit ? "α sweep" : "sweep"}`),
    el("span", "note", ` · ${finished}/${all.length} finished${failed ? ` · ${failed} failed` : ""} · ${origin}`),
  );
}

// ---- controls --------------------------------------------------------------------------------

function onChange(target: HTMLElement, apply: () => void): void {
  target.addEventListener("change", () => {
    apply();
    render();
    rt.saveState();
  });
}
onChange(ySelect, () => (rt.state.y = ySelect.value || null));
onChange(xSelect, () => {
  rt.state.x = xSelect.value || null;
  if (rt.state.group === rt.state.x) rt.state.group = null;
});
onChange(groupSelect, () => (rt.state.group = groupSelect.value));
onChange(spreadSelect, () => (rt.state.spread = spreadSelect.value === "std" ? "std" : "minmax"));
onChange(logXBox, () => (rt.state.logX = logXBox.checked));
onChange(logYBox, () => (rt.state.logY = logYBox.checked));

// ---- export ----------------------------------------------------------------------------------

function buildCsv(): string {
  const fields = sweep?.fields ?? [];
  const keys = quantitiesOf(allPoints());
  const lines = [["index", "run", "status", "seed", ...fields, ...keys].map(csvCell).join(",")];
  for (const p of allPoints())
    lines.push(
      [
        String(p.index),
        csvCell(p.runId),
        p.status,
        String(p.seed),
        ...fields.map((f) => {
          const v = fieldValue(p.values, f);
          return v === undefined ? "" : typeof v === "number" ? csvNumber(v) : csvCell(String(v));
        }),
        ...keys.map((k) => csvNumber(p.y[k])),
      ].join(","),
    );
  return `${lines.join("\n")}\n`;
}

const stem = () => `${safeName(sweep?.system ?? "sweep", "sweep")}-sweep`;
byId("exportCsv").addEventListener("click", () => rt.exportCsv(buildCsv(), `${stem()}.csv`));
byId("exportPng").addEventListener("click", () =>
  rt.exportPng(stackCanvasesPng(chart ? [chart.canvas] : [], rt.theme.background), `${stem()}.png`),
);

// ---- theme and messages ----------------------------------------------------------------------

rt.onTheme(() => {
  applyChartFont(rt.theme, 2);
  render();
});

/** Redraws at most once per frame: a burst of `point` messages (many runs finishing) costs one draw. */
let pending = false;
function scheduleRender(): void {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    render();
  });
}

rt.listen((msg) => {
  if (msg.type === "init") {
    rt.restoreState(msg.state ?? (fresh ? defaultSweepState(msg.sweep.fields) : undefined));
    fresh = false;
    sweep = msg.sweep;
    points.clear();
    for (const p of msg.points) points.set(p.index, p);
    rt.saveState();
    render();
    performance.mark("sweep:drawn");
    return;
  }
  points.set(msg.point.index, msg.point);
  scheduleRender();
});

// ---- test hooks ------------------------------------------------------------------------------

rt.testHooks({
  /** The drawn datasets: label and points. */
  datasets: () => chart?.data.datasets.map((d) => ({ label: d.label ?? "", points: structuredClone(d.data) })) ?? [],
  /** The c/α fits drawn (α sweeps), per line. */
  fits: () => (drawn ? structuredClone(drawn.fits) : []),
  /** The series as computed (mean, lo, hi per x). */
  series: () => (drawn ? structuredClone(drawn.series) : null),
  scales: () => (chart ? [chart.scales["x"]?.type ?? "", chart.scales["y"]?.type ?? ""] : null),
  /** Page coordinates of a drawn point, for a real click. */
  pixelOf: (datasetIndex: number, index: number) => {
    if (!chart) return null;
    const p = chart.data.datasets[datasetIndex]?.data[index];
    if (!p) return null;
    const r = chart.canvas.getBoundingClientRect();
    return {
      x: r.left + chart.scales["x"]!.getPixelForValue(p.x),
      y: r.top + chart.scales["y"]!.getPixelForValue(p.y),
    };
  },
  /** The y of the spread band's pixel row at a point, for checking it is drawn. */
  bandPixels: (seriesIndex: number, pointIndex: number) => {
    if (!chart || !drawn) return null;
    const p = drawn.series.series[seriesIndex]?.points[pointIndex];
    if (!p) return null;
    const x = axisX(p.x);
    if (x === null) return null;
    const r = chart.canvas.getBoundingClientRect();
    return {
      x: r.left + chart.scales["x"]!.getPixelForValue(x),
      lo: r.top + chart.scales["y"]!.getPixelForValue(p.lo),
      hi: r.top + chart.scales["y"]!.getPixelForValue(p.hi),
    };
  },
  formatNumber,
});

render();
rt.ready();
