// Lazy-vs-rich webview. Per run: the regime badge and its reason, then one chart per measure over
// checkpoints (relative weight change and parameter norm per layer, kernel distance, centred
// kernel–target alignment, linear CKA per layer); a measure the run lacks shows why instead of a
// chart. The α sweeps the runs belong to (declared, or implicit: runs differing only in α) are
// links: the sweep panel shows them, with the lazy-limit reference c/α (docs/sweeps.md).

import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-checkbox/index.js";
import { Chart, LineController, LineElement, LinearScale, LogarithmicScale, PointElement } from "chart.js";
import type { ChartDataset, Plugin } from "chart.js";
import type { OwnMessage, OpenSweepMessage } from "../../shared/panels/common";
import {
  DEFAULT_LAZY_RICH_STATE,
  isLazyRichHostMessage,
  isLazyRichState,
  LAZY_RICH_METRICS,
  type AlphaSweepLink,
  type LayerSeries,
  type LazyRichHostMessage,
  type LazyRichMetric,
  type LazyRichRun,
  type LazyRichState,
} from "../../shared/panels/lazyRich";
import { type ScaleOptions, themedScale } from "../common/chartAxes";
import { csvCell, csvNumber } from "../common/csv";
import { byId, el, type Checkbox } from "../common/dom";
import { stackCanvasesPng } from "../common/exportImage";
import { applyChartFont, backgroundPlugin } from "../common/chartTheme";
import { PanelRuntime, safeName } from "../common/runtime";
import { runColor } from "../common/theme";

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale);

const rt = new PanelRuntime<LazyRichState, OwnMessage<LazyRichHostMessage>, OpenSweepMessage>({
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
let sweeps: AlphaSweepLink[] = [];

const runSelect = byId<HTMLSelectElement>("run");
const logYBox = byId<Checkbox>("logY");
const runView = byId<HTMLDivElement>("runView");
const sweepsBox = byId<HTMLDivElement>("sweeps");
const regimeBox = byId<HTMLDivElement>("regime");

function currentRun(): LazyRichRun | undefined {
  return (rt.state.runId !== null ? runs.get(rt.state.runId) : undefined) ?? runs.values().next().value;
}

applyChartFont(rt.theme, 2);

const background = backgroundPlugin(() => rt.theme);

function scale(log: boolean, title: string): ScaleOptions {
  return themedScale(rt.theme, log, title);
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

// ---- α sweeps ----------------------------------------------------------------------------------

/** "α sweep: teacher-student (4 runs, α 0.1–100, differing only in α) ↗": links that open the sweep panel. */
function renderSweeps(): void {
  sweepsBox.replaceChildren();
  sweepsBox.hidden = sweeps.length === 0;
  if (sweeps.length === 0) return;
  sweepsBox.append(el("span", "", "α sweep: "));
  sweeps.forEach((s, i) => {
    if (i > 0) sweepsBox.append(document.createTextNode(" · "));
    const range = s.alphas.length > 0 ? `, α ${s.alphas[0]}–${s.alphas.at(-1)}` : "";
    const how = s.kind === "implicit" ? ", differing only in α" : "";
    const link = el("a", "sweep-link", `${s.name} (${s.runs} runs${range}${how}) ↗`);
    link.href = "#";
    link.dataset["sweep"] = s.id;
    link.title = "Open in the sweep panel: final relative weight change against α with the c/α line";
    link.addEventListener("click", (e) => {
      e.preventDefault();
      rt.post({ type: "openSweep", id: s.id });
    });
    sweepsBox.append(link);
  });
}

function syncControls(): void {
  runSelect.replaceChildren(
    ...[...runs.values()].map((r) => Object.assign(el("option", "", r.label), { value: r.runId })),
  );
  runSelect.value = currentRun()?.runId ?? "";
  logYBox.checked = rt.state.logY;
}

function render(): void {
  syncControls();
  byId("empty").hidden = runs.size > 0;
  renderSweeps();
  renderRun();
}

runSelect.addEventListener("change", () => {
  rt.state.runId = runSelect.value;
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
  return `${safeName(currentRun()?.runId ?? "run")}-lazy-rich`;
}

byId("exportCsv").addEventListener("click", () => rt.exportCsv(buildCsv(), `${exportBase()}.csv`));
byId("exportPng").addEventListener("click", () => {
  const canvases = [...runCharts.values()].map((c) => c.canvas);
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
});

render();
rt.ready();
