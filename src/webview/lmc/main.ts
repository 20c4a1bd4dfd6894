// Linear-mode-connectivity webview (Frankle et al. 2020). The table of interpolations (label,
// file, train and test barrier of the measure shown), then the charts: train and test error (or
// loss) against α, one line per interpolation with its chord f(0) + α(f(1) − f(0)) dashed in the
// same colour, so the barrier is the gap between them; and, for an instability analysis, the
// train and test barrier against the branch step k on a log(1 + k) axis (k = 0 included).

import "@vscode-elements/elements/dist/vscode-button/index.js";
import { Chart, LinearScale, LineController, LineElement, PointElement } from "chart.js";
import type { ChartDataset, Scale } from "chart.js";
import type { OwnMessage } from "../../shared/panels/common";
import {
  chord,
  DEFAULT_LMC_STATE,
  type InstabilityView,
  isLmcHostMessage,
  isLmcState,
  type LmcCurve,
  type LmcHostMessage,
  type LmcMeasure,
  type LmcQuantity,
  type LmcState,
  quantitiesOf,
} from "../../shared/panels/lmc";
import { axisColors, formatNumber, type ScaleOptions } from "../common/chartAxes";
import { applyChartFont, backgroundPlugin } from "../common/chartTheme";
import { csvCell, csvNumber } from "../common/csv";
import { byId, el } from "../common/dom";
import { stackCanvasesPng } from "../common/exportImage";
import { PanelRuntime, safeName } from "../common/runtime";
import { runColor, withAlpha } from "../common/theme";

Chart.register(LineController, LineElement, PointElement, LinearScale);

const rt = new PanelRuntime<LmcState, OwnMessage<LmcHostMessage>>({
  name: "lmc",
  defaultState: DEFAULT_LMC_STATE,
  isState: isLmcState,
  isHostMessage: isLmcHostMessage,
});

type Pt = { x: number; y: number };

let curves: LmcCurve[] = [];
let instability: InstabilityView | null = null;
let notes: string[] = [];
const chartsBox = byId<HTMLDivElement>("charts");
const measureSelect = byId<HTMLSelectElement>("measure");
const charts = new Map<string, Chart<"line", Pt[]>>();

applyChartFont(rt.theme, 2);
const background = backgroundPlugin(() => rt.theme);

/** The measure drawn: the one chosen, unless nothing has it (no accuracy in a regression task). */
function measureShown(): LmcMeasure {
  if (rt.state.measure === "loss") return "loss";
  const hasError =
    curves.some((c) => c.values.train_error !== undefined) ||
    (instability?.points.some((p) => p.barrier.train_error !== undefined) ?? false);
  return hasError || (curves.length === 0 && instability === null) ? "error" : "loss";
}

const NAMES: Record<LmcQuantity, string> = {
  train_loss: "train loss",
  train_error: "train error",
  test_loss: "test loss",
  test_error: "test error",
};

/** A number for the table: 3 significant digits, exponent form when small. */
function fmt(v: number | undefined): string {
  if (v === undefined) return "—";
  if (v === 0) return "0";
  return Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toPrecision(3);
}

function scale(title: string, extra: Partial<ScaleOptions> = {}): ScaleOptions {
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

function points(xs: readonly number[], ys: readonly (number | null)[]): Pt[] {
  const out: Pt[] = [];
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i];
    if (typeof y === "number" && Number.isFinite(y)) out.push({ x: xs[i]!, y });
  }
  return out;
}

function chartCell(key: string, title: string): HTMLCanvasElement {
  const cell = el("section", "lr-cell");
  cell.dataset["chart"] = key;
  cell.append(el("h4", "chart-title", title));
  const box = el("div", "chart-box");
  const canvas = el("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", title);
  box.append(canvas);
  cell.append(box);
  chartsBox.append(cell);
  return canvas;
}

function lineChart(
  key: string,
  title: string,
  datasets: ChartDataset<"line", Pt[]>[],
  x: ScaleOptions,
  y: ScaleOptions,
): void {
  const canvas = chartCell(key, title);
  charts.set(
    key,
    new Chart<"line", Pt[]>(canvas, {
      type: "line",
      data: { datasets },
      options: {
        animation: false,
        parsing: false,
        responsive: true,
        maintainAspectRatio: false,
        events: [],
        elements: { line: { tension: 0 } },
        scales: { x, y },
      },
      plugins: [background],
    }),
  );
}

/** One quantity along α: each curve solid, its chord dashed, paler and wider beneath. */
function alphaChart(q: LmcQuantity): void {
  const shown = curves.filter((c) => c.values[q] !== undefined);
  if (shown.length === 0) return;
  const datasets = shown.flatMap((c): ChartDataset<"line", Pt[]>[] => {
    const values = c.values[q] ?? [];
    const color = runColor(rt.theme, c.colorIndex);
    return [
      {
        label: c.label,
        data: points(c.alpha, values),
        borderColor: color,
        backgroundColor: color,
        borderWidth: 1.8,
        pointRadius: c.alpha.length <= 41 ? 2 : 0,
        order: 0,
      },
      {
        label: `${c.label} (chord)`,
        data: points(c.alpha, chord(c.alpha, values)),
        borderColor: withAlpha(color, 0.55),
        backgroundColor: withAlpha(color, 0.55),
        borderDash: [7, 5],
        borderWidth: 2.5,
        pointRadius: 0,
        order: 1,
      },
    ];
  });
  lineChart(
    q,
    `${NAMES[q]} along the line from θ_A (α = 0) to θ_B (α = 1)`,
    datasets,
    scale("α", { min: 0, max: 1 }),
    scale(NAMES[q]),
  );
}

/** x of a branch step: log10(1 + k), so k = 0 has a place and early k are spread out. */
const kx = (k: number) => Math.log10(1 + k);

function barrierChart(view: InstabilityView, qs: [LmcQuantity, LmcQuantity]): void {
  const xs = view.points.map((p) => kx(p.k));
  const datasets = qs.flatMap((q, i): ChartDataset<"line", Pt[]>[] => {
    const data = points(
      xs,
      view.points.map((p) => p.barrier[q] ?? null),
    );
    if (data.length === 0) return [];
    const color = runColor(rt.theme, i === 0 ? 0 : 1);
    return [
      {
        label: `${NAMES[q]} barrier`,
        data,
        borderColor: color,
        backgroundColor: color,
        borderWidth: 1.8,
        pointRadius: 3,
        ...(i === 1 ? { borderDash: [4, 3] } : {}),
      },
    ];
  });
  if (datasets.length === 0) return;
  const ks = new Set(xs);
  const x = scale("branch step k (log scale of 1 + k)", {
    // Ticks at the k that were measured, labelled with k itself.
    afterBuildTicks: (s: Scale) => {
      s.ticks = [...ks].map((value) => ({ value }));
    },
    ticks: {
      ...axisColors(rt.theme).ticks,
      maxRotation: 0,
      callback: (v: number | string) => formatNumber(Math.round(10 ** Number(v) - 1)),
    },
  });
  lineChart(
    "barrier",
    `barrier height against k: train solid, test dashed (${view.parentId}: two branches at k, data seeds ${view.dataSeeds.join(" and ")})`,
    datasets,
    x,
    scale(`${measureShown()} barrier`, { beginAtZero: true }),
  );
}

function renderTable(qs: [LmcQuantity, LmcQuantity]): void {
  byId("barrierTrainHead").textContent = `${NAMES[qs[0]]} barrier`;
  byId("barrierTestHead").textContent = `${NAMES[qs[1]]} barrier`;
  byId<HTMLTableSectionElement>("rows").replaceChildren(
    ...curves.map((c) => {
      const tr = el("tr");
      tr.dataset["id"] = c.id;
      const label = el("td");
      const swatch = el("span", "swatch");
      swatch.style.background = runColor(rt.theme, c.colorIndex);
      label.append(swatch, document.createTextNode(` ${c.label}`));
      tr.append(
        label,
        el("td", "", c.source),
        el("td", "num", fmt(c.barrier[qs[0]])),
        el("td", "num", fmt(c.barrier[qs[1]])),
      );
      return tr;
    }),
  );
  byId("table").hidden = curves.length === 0;
}

function render(): void {
  const measure = measureShown();
  measureSelect.value = rt.state.measure;
  const qs = quantitiesOf(measure);
  byId("empty").hidden = curves.length > 0 || instability !== null || notes.length > 0;
  byId("notes").replaceChildren(...notes.map((n) => el("li", "", n)));
  const inst = byId("instabilityNote");
  inst.hidden = instability === null;
  inst.textContent =
    instability === null
      ? ""
      : `Instability analysis of ${instability.parentId} (${instability.source}): ${instability.points.length} values of k.`;
  for (const c of charts.values()) c.destroy();
  charts.clear();
  chartsBox.replaceChildren();
  renderTable(qs);
  for (const q of qs) alphaChart(q);
  if (instability !== null && instability.points.length > 0) barrierChart(instability, qs);
}

measureSelect.addEventListener("change", () => {
  rt.state.measure = measureSelect.value === "loss" ? "loss" : "error";
  render();
  rt.saveState();
});

function buildCsv(): string {
  const qs = ["train_loss", "train_error", "test_loss", "test_error"] as const;
  const lines = [`file,label,k,alpha,${qs.join(",")}`];
  for (const c of curves)
    for (const [i, a] of c.alpha.entries())
      lines.push(
        [csvCell(c.source), csvCell(c.label), c.k ?? "", a, ...qs.map((q) => csvNumber(c.values[q]?.[i] ?? null))].join(
          ",",
        ),
      );
  return `${lines.join("\n")}\n`;
}

const exportBase = () => `${safeName(instability?.parentId ?? curves[0]?.label ?? "run")}-lmc`;
byId("exportCsv").addEventListener("click", () => rt.exportCsv(buildCsv(), `${exportBase()}.csv`));
byId("exportPng").addEventListener("click", () =>
  rt.exportPng(
    stackCanvasesPng(
      [...charts.values()].map((c) => c.canvas),
      rt.theme.background,
    ),
    `${exportBase()}.png`,
  ),
);

rt.onTheme(() => {
  applyChartFont(rt.theme, 2);
  render();
});

rt.listen((msg) => {
  rt.restoreState(msg.state);
  curves = msg.curves;
  instability = msg.instability;
  notes = msg.notes;
  rt.saveState();
  render();
});

rt.testHooks({
  /** The measure drawn (the chosen one, or loss when there is no error). */
  measure: () => measureShown(),
  /** The charts: per key, their lines (label, dashed or not, points) and the x ticks' labels. */
  charts: () =>
    [...charts].map(([key, c]) => ({
      key,
      xTicks: (c.scales["x"]?.ticks ?? []).map((t) => String(t.label ?? "")),
      lines: c.data.datasets.map((d) => ({
        label: d.label ?? "",
        dashed: Array.isArray(d.borderDash) && d.borderDash.length > 0,
        points: structuredClone(d.data),
      })),
    })),
});

render();
rt.ready();
