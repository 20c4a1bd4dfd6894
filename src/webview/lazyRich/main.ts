// Lazy-vs-rich webview. Per run: the regime badge and its reason, then one chart per measure over
// checkpoints (relative weight change and parameter norm per layer, kernel distance, centred
// kernel–target alignment, linear CKA per layer); a measure the run lacks shows why instead of a
// chart. α sweep: final relative weight change and kernel distance against α on log-log axes with
// the lazy-limit reference c/α (Chizat et al. 2019: the change from initialization shrinks as 1/α).

import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-checkbox/index.js";
import "@vscode-elements/elements/dist/vscode-radio/index.js";
import "@vscode-elements/elements/dist/vscode-radio-group/index.js";
import {
  Chart,
  LineController,
  LineElement,
  LinearScale,
  LogarithmicScale,
  PointElement,
  ScatterController,
} from "chart.js";
import type { ChartDataset, Plugin } from "chart.js";
import type { OwnMessage } from "../../shared/panels/common";
import {
  DEFAULT_LAZY_RICH_STATE,
  isLazyRichHostMessage,
  isLazyRichState,
  LAZY_RICH_METRICS,
  type AlphaSweep,
  type LayerSeries,
  type LazyRichHostMessage,
  type LazyRichMetric,
  type LazyRichRun,
  type LazyRichState,
} from "../../shared/panels/lazyRich";
import { axisColors, dropOutsideTicks, tickLabel, type ScaleOptions } from "../common/chartAxes";
import { csvCell, csvNumber } from "../common/csv";
import { byId, el, type Checkbox } from "../common/dom";
import { stackCanvasesPng } from "../common/exportImage";
import { applyChartFont, backgroundPlugin } from "../common/chartTheme";
import { PanelRuntime, safeName } from "../common/runtime";
import { runColor, withAlpha } from "../common/theme";
import { inverseAlphaFit } from "./sweep";

Chart.register(LineController, ScatterController, LineElement, PointElement, LinearScale, LogarithmicScale);

const rt = new PanelRuntime<LazyRichState, OwnMessage<LazyRichHostMessage>>({
  name: "lazyRich",
  defaultState: DEFAULT_LAZY_RICH_STATE,
  isState: isLazyRichState,
  isHostMessage: isLazyRichHostMessage,
});

type Pt = { x: number; y: number };
type LineDs = ChartDataset<"line", Pt[]>;

const TITLES: Record<LazyRichMetric, string> = {
  relativeWeightChange: "relative weight change ‖W(t) − W(0)‖ / ‖W(0)‖",
  paramNorm: "parameter norm ‖W(t)‖",
  kernelDistance: "kernel distance from init (1 − cos(K_t, K_0))",
  kernelAlignment: "centred kernel–target alignment",
  cka: "linear CKA to init, per layer",
};

// ---- state -----------------------------------------------------------------------------------

const runs = new Map<string, LazyRichRun>();
let sweeps: AlphaSweep[] = [];

const viewGroup = byId<HTMLElement>("view");
const runSelect = byId<HTMLSelectElement>("run");
const sweepSelect = byId<HTMLSelectElement>("sweep");
const logYBox = byId<Checkbox>("logY");
const runView = byId<HTMLDivElement>("runView");
const sweepView = byId<HTMLDivElement>("sweepView");
const sweepNote = byId<HTMLParagraphElement>("sweepNote");
const regimeBox = byId<HTMLDivElement>("regime");

function currentRun(): LazyRichRun | undefined {
  return (rt.state.runId !== null ? runs.get(rt.state.runId) : undefined) ?? runs.values().next().value;
}

function currentSweep(): AlphaSweep | undefined {
  return sweeps.find((s) => s.system === rt.state.sweep) ?? sweeps[0];
}

applyChartFont(rt.theme, 2);

const background = backgroundPlugin(() => rt.theme);

function scale(log: boolean, title: string): ScaleOptions {
  const c = axisColors(rt.theme);
  return {
    type: log ? "logarithmic" : "linear",
    afterBuildTicks: dropOutsideTicks,
    title: { display: true, text: title, ...c.title },
    ticks: { ...c.ticks, maxRotation: 0, autoSkip: !log, autoSkipPadding: 10, callback: tickLabel(log) },
    grid: c.grid,
    border: c.border,
  } as ScaleOptions;
}

// ---- run view --------------------------------------------------------------------------------

const runCharts = new Map<LazyRichMetric, Chart<"line", Pt[]>>();

/** The series of one measure as named lines: per layer, or one line for the run-wide measures. */
function seriesOf(run: LazyRichRun, m: LazyRichMetric): LayerSeries[] | undefined {
  switch (m) {
    case "relativeWeightChange":
    case "paramNorm":
    case "cka":
      return run[m];
    case "kernelDistance":
    case "kernelAlignment": {
      const v = run[m];
      return v ? [{ layer: m === "kernelDistance" ? "kernel distance" : "alignment", values: v }] : undefined;
    }
  }
}

function toPoints(steps: readonly number[], values: readonly (number | null)[], log: boolean): Pt[] {
  const out: Pt[] = [];
  for (let i = 0; i < steps.length; i++) {
    const y = values[i];
    if (typeof y === "number" && Number.isFinite(y) && (!log || y > 0)) out.push({ x: steps[i]!, y });
  }
  return out;
}

function renderRun(): void {
  for (const c of runCharts.values()) c.destroy();
  runCharts.clear();
  runView.replaceChildren();
  const run = currentRun();
  regimeBox.replaceChildren();
  if (!run) return;
  regimeBox.append(el("span", "", "regime"));
  if (run.regime) {
    regimeBox.append(
      el("span", `badge badge-${run.regime.badge}`, run.regime.badge),
      el("span", "note regime-reason", run.regime.reason),
    );
  } else
    regimeBox.append(
      el("span", "badge", "not classified"),
      el("span", "note regime-reason", "no regime verdict for this run yet"),
    );
  for (const m of LAZY_RICH_METRICS) {
    const series = seriesOf(run, m);
    const cell = el("section", "lr-cell");
    cell.dataset["metric"] = m;
    cell.append(el("h4", "chart-title", TITLES[m]));
    if (!series || series.length === 0) {
      cell.classList.add("missing");
      const reason = run.missing.find((x) => x.metric === m)?.reason ?? "not computed for this run";
      cell.append(el("p", "note missing-reason", `Not available: ${reason}`));
      runView.append(cell);
      continue;
    }
    const box = el("div", "chart-box");
    const canvas = el("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", TITLES[m]);
    box.append(canvas);
    cell.append(box);
    runView.append(cell);
    const log = rt.state.logY && m !== "kernelAlignment" && m !== "cka";
    const datasets: LineDs[] = series.map((s, k) => {
      const color = runColor(rt.theme, k);
      return {
        label: s.layer,
        data: toPoints(run.steps, s.values, log),
        borderColor: color,
        backgroundColor: color,
        borderWidth: 1.5,
        pointRadius: run.steps.length <= 40 ? 2 : 0,
      };
    });
    const chart = new Chart<"line", Pt[]>(canvas, {
      type: "line",
      data: { datasets },
      options: {
        animation: false,
        parsing: false,
        responsive: true,
        maintainAspectRatio: false,
        events: [],
        elements: { line: { tension: 0 } },
        scales: {
          x: scale(false, "checkpoint step"),
          y: scale(log, m === "cka" || m === "kernelAlignment" ? "similarity" : "value"),
        },
      },
      plugins: [background, layerLabels],
    });
    runCharts.set(m, chart);
  }
}

/** Layer names at the right end of their lines (a legend that needs no lookup). */
const layerLabels: Plugin<"line"> = {
  id: "lmLayerLabels",
  afterDatasetsDraw(c) {
    if (c.data.datasets.length < 2) return;
    const ctx = c.ctx;
    ctx.save();
    ctx.font = `${Math.max(9, rt.theme.fontSize - 3)}px ${rt.theme.fontFamily}`;
    ctx.textAlign = "right";
    ctx.textBaseline = "bottom";
    for (const ds of c.data.datasets) {
      const last = (ds.data as Pt[]).at(-1);
      if (!last) continue;
      const x = c.scales["x"]!.getPixelForValue(last.x);
      const y = c.scales["y"]!.getPixelForValue(last.y);
      ctx.fillStyle = String(ds.borderColor);
      ctx.fillText(ds.label ?? "", x - 2, y - 2);
    }
    ctx.restore();
  },
};

// ---- sweep view ------------------------------------------------------------------------------

let sweepChart: Chart<"scatter", Pt[]> | null = null;

function renderSweep(): void {
  sweepChart?.destroy();
  sweepChart = null;
  const sweep = currentSweep();
  const pts = (key: "relativeWeightChange" | "kernelDistance"): Pt[] =>
    (sweep?.points ?? []).flatMap((p) => {
      const y = p[key];
      return typeof y === "number" && y > 0 && p.alpha > 0 ? [{ x: p.alpha, y }] : [];
    });
  const rwc = pts("relativeWeightChange").sort((a, b) => a.x - b.x);
  const kd = pts("kernelDistance").sort((a, b) => a.x - b.x);
  const alphas = new Set([...rwc, ...kd].map((p) => p.x));
  if (!sweep || alphas.size < 2) {
    sweepNote.hidden = false;
    sweepNote.textContent =
      "An α sweep needs at least two runs of one system that differ only in α, with a final relative weight change or kernel distance.";
    return;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const a of alphas) {
    lo = Math.min(lo, a);
    hi = Math.max(hi, a);
  }
  const blue = runColor(rt.theme, 0);
  const orange = runColor(rt.theme, 4);
  const reference = (p: Pt[], color: string, name: string): ChartDataset<"scatter", Pt[]>[] => {
    const c = inverseAlphaFit(p);
    // A two-point scatter series joined by its line: the reference is drawn like a line series.
    return c === null
      ? []
      : [
          {
            label: `${name} ∝ 1/α`,
            data: [
              { x: lo, y: c / lo },
              { x: hi, y: c / hi },
            ],
            borderColor: withAlpha(color, 0.6),
            borderDash: [6, 4],
            borderWidth: 1,
            pointRadius: 0,
            showLine: true,
          },
        ];
  };
  const datasets: ChartDataset<"scatter", Pt[]>[] = [
    {
      label: "final relative weight change",
      data: rwc,
      borderColor: blue,
      backgroundColor: blue,
      pointRadius: 4,
      pointStyle: "circle",
      showLine: true,
      borderWidth: 1.5,
    },
    {
      label: "final kernel distance",
      data: kd,
      borderColor: orange,
      backgroundColor: orange,
      pointRadius: 4,
      pointStyle: "rect",
      showLine: true,
      borderWidth: 1.5,
    },
    ...reference(rwc, blue, "relative weight change"),
    ...reference(kd, orange, "kernel distance"),
  ];
  sweepChart = new Chart<"scatter", Pt[]>(byId<HTMLCanvasElement>("sweepChart"), {
    type: "scatter",
    data: { datasets },
    options: {
      animation: false,
      parsing: false,
      responsive: true,
      maintainAspectRatio: false,
      events: [],
      scales: { x: scale(true, "α (output scale)"), y: scale(true, "final value") },
    },
    plugins: [background],
  });
  sweepNote.hidden = false;
  sweepNote.textContent = `${sweep.system}: ● final relative weight change · ■ final kernel distance · dashed: c/α through the points (the lazy limit)`;
}

// ---- view switching --------------------------------------------------------------------------

type Radio = HTMLElement & { checked: boolean; value: string; disabled: boolean };

function syncControls(): void {
  const hasSweep = sweeps.length > 0;
  if (!hasSweep) rt.state.view = "run";
  for (const r of viewGroup.querySelectorAll<Radio>("vscode-radio")) {
    r.checked = r.value === rt.state.view;
    if (r.value === "sweep") r.disabled = !hasSweep;
  }
  runSelect.replaceChildren(
    ...[...runs.values()].map((r) => Object.assign(el("option", "", r.label), { value: r.runId })),
  );
  runSelect.value = currentRun()?.runId ?? "";
  sweepSelect.replaceChildren(...sweeps.map((s) => Object.assign(el("option", "", s.system), { value: s.system })));
  sweepSelect.value = currentSweep()?.system ?? "";
  logYBox.checked = rt.state.logY;
  byId("runPick").hidden = rt.state.view !== "run";
  byId("sweepPick").hidden = rt.state.view !== "sweep";
  logYBox.hidden = rt.state.view !== "run";
}

function render(): void {
  syncControls();
  byId("empty").hidden = runs.size > 0;
  runView.hidden = rt.state.view !== "run";
  regimeBox.hidden = rt.state.view !== "run";
  sweepView.hidden = rt.state.view !== "sweep";
  sweepNote.hidden = true;
  if (rt.state.view === "run") renderRun();
  else renderSweep();
}

viewGroup.addEventListener("change", () => {
  const checked = [...viewGroup.querySelectorAll<Radio>("vscode-radio")].find((r) => r.checked);
  const next = checked?.value === "sweep" ? "sweep" : "run";
  if (next === rt.state.view) return;
  rt.state.view = next;
  render();
  rt.saveState();
});
runSelect.addEventListener("change", () => {
  rt.state.runId = runSelect.value;
  render();
  rt.saveState();
});
sweepSelect.addEventListener("change", () => {
  rt.state.sweep = sweepSelect.value;
  render();
  rt.saveState();
});
logYBox.addEventListener("change", () => {
  rt.state.logY = logYBox.checked;
  render();
  rt.saveState();
});

// ---- export ----------------------------------------------------------------------------------

function buildCsv(): string {
  if (rt.state.view === "sweep") {
    const lines = ["system,run_id,alpha,final_relative_weight_change,final_kernel_distance"];
    for (const s of sweeps)
      for (const p of s.points)
        lines.push(
          `${csvCell(s.system)},${csvCell(p.runId)},${p.alpha},${csvNumber(p.relativeWeightChange)},${csvNumber(p.kernelDistance)}`,
        );
    return `${lines.join("\n")}\n`;
  }
  const lines = ["run_id,label,metric,layer,step,value"];
  for (const run of runs.values()) {
    for (const m of LAZY_RICH_METRICS) {
      for (const s of seriesOf(run, m) ?? []) {
        const layer = m === "kernelDistance" || m === "kernelAlignment" ? "" : csvCell(s.layer);
        s.values.forEach((v, i) => {
          if (typeof v === "number")
            lines.push(`${csvCell(run.runId)},${csvCell(run.label)},${m},${layer},${run.steps[i]},${csvNumber(v)}`);
        });
      }
    }
  }
  return `${lines.join("\n")}\n`;
}

function exportBase(): string {
  return rt.state.view === "sweep"
    ? `${safeName(currentSweep()?.system ?? "sweep")}-alpha-sweep`
    : `${safeName(currentRun()?.runId ?? "run")}-lazy-rich`;
}

byId("exportCsv").addEventListener("click", () => rt.exportCsv(buildCsv(), `${exportBase()}.csv`));
byId("exportPng").addEventListener("click", () => {
  const canvases =
    rt.state.view === "sweep" ? (sweepChart ? [sweepChart.canvas] : []) : [...runCharts.values()].map((c) => c.canvas);
  rt.exportPng(stackCanvasesPng(canvases, rt.theme.background), `${exportBase()}.png`);
});

// ---- theme and messages ----------------------------------------------------------------------

rt.onTheme(() => {
  applyChartFont(rt.theme, 2);
  render();
});

rt.listen((msg) => {
  if (msg.type === "init") {
    rt.restoreState(msg.state);
    runs.clear();
    for (const r of msg.runs) runs.set(r.runId, r);
    sweeps = msg.sweeps;
    rt.saveState();
  } else {
    runs.set(msg.run.runId, msg.run);
    if (msg.sweeps) sweeps = msg.sweeps;
  }
  render();
});

// ---- test hooks ------------------------------------------------------------------------------

rt.testHooks({
  /** Charted measures of the shown run: their lines (label, points) and y scale type. */
  charts: () =>
    [...runCharts].map(([metric, c]) => ({
      metric,
      yType: c.scales["y"]?.type ?? "",
      lines: c.data.datasets.map((d) => ({ label: d.label ?? "", points: structuredClone(d.data) })),
    })),
  sweep: () => sweepChart?.data.datasets.map((d) => ({ label: d.label ?? "", points: structuredClone(d.data) })) ?? [],
  sweepScales: () => (sweepChart ? [sweepChart.scales["x"]?.type ?? "", sweepChart.scales["y"]?.type ?? ""] : null),
});

render();
rt.ready();
