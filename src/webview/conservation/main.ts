// Conservation-laws webview (Kunin et al. 2021). Per run: the law the prediction uses, a table of
// the symmetries found (kind, layer, number of conserved quantities, the largest relative drift
// over the run, the drift predicted at the last checkpoint, how exact the prediction is), the
// notes on what was not detected, then one chart per kind of symmetry: each layer's relative drift
// ‖Q(t) − Q(0)‖ / ‖Q(0)‖ as a solid line and the predicted drift dashed in the same colour.

import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-checkbox/index.js";
import { Chart, LineController, LineElement, LinearScale, LogarithmicScale, PointElement } from "chart.js";
import type { ChartDataset } from "chart.js";
import type { OwnMessage } from "../../shared/panels/common";
import {
  type ConservationHostMessage,
  type ConservationRun,
  type ConservationState,
  DEFAULT_CONSERVATION_STATE,
  isConservationHostMessage,
  isConservationState,
  maxDrift,
  SYMMETRY_KINDS,
  type SymmetryKindName,
} from "../../shared/panels/conservation";
import { type ScaleOptions, themedScale } from "../common/chartAxes";
import { applyChartFont, backgroundPlugin } from "../common/chartTheme";
import { csvCell, csvNumber } from "../common/csv";
import { byId, type Checkbox, el } from "../common/dom";
import { stackCanvasesPng } from "../common/exportImage";
import { followRuns, PanelRuntime, safeName } from "../common/runtime";
import { runColor, withAlpha } from "../common/theme";

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale);

const rt = new PanelRuntime<ConservationState, OwnMessage<ConservationHostMessage>>({
  name: "conservation",
  defaultState: DEFAULT_CONSERVATION_STATE,
  isState: isConservationState,
  isHostMessage: isConservationHostMessage,
});

type Pt = { x: number; y: number };

const TITLES: Record<SymmetryKindName, string> = {
  rescale: "rescale: ‖w_in‖² − k‖w_out‖² per hidden unit, relative drift",
  translation: "translation: Σ over classes of the readout, relative drift",
  scale: "scale: ‖W‖² before a normalization, relative drift",
};

const runs = new Map<string, ConservationRun>();
const runSelect = byId<HTMLSelectElement>("run");
const logYBox = byId<Checkbox>("logY");
const chartsBox = byId<HTMLDivElement>("charts");
const charts = new Map<SymmetryKindName, Chart<"line", Pt[]>>();

applyChartFont(rt.theme, 2);
const background = backgroundPlugin(() => rt.theme);

function currentRun(): ConservationRun | undefined {
  return (rt.state.runId !== null ? runs.get(rt.state.runId) : undefined) ?? runs.values().next().value;
}

function scale(log: boolean, title: string): ScaleOptions {
  return themedScale(rt.theme, log, title);
}

function toPoints(steps: readonly number[], values: readonly (number | null)[], log: boolean): Pt[] {
  const out: Pt[] = [];
  for (let i = 0; i < steps.length; i++) {
    const y = values[i];
    if (typeof y === "number" && Number.isFinite(y) && (!log || y > 0)) out.push({ x: steps[i]!, y });
  }
  return out;
}

/** A number for the table: 3 significant digits, exponent form when small. */
function fmt(v: number | null): string {
  if (v === null) return "—";
  if (v === 0) return "0";
  return Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toPrecision(3);
}

function renderTable(run: ConservationRun): void {
  const rows = byId<HTMLTableSectionElement>("rows");
  rows.replaceChildren(
    ...run.symmetries.map((s, k) => {
      const tr = el("tr");
      tr.dataset["kind"] = s.kind;
      const cells = [s.kind, s.layer, String(s.count), fmt(maxDrift(s)), fmt(s.predicted.at(-1) ?? null), s.quality];
      const tds = cells.map((c) => el("td", "", c));
      // The layer in its lines' colour: the table is the charts' legend.
      tds[1]!.style.color = runColor(rt.theme, k);
      tr.append(...tds);
      return tr;
    }),
  );
  byId("table").hidden = run.symmetries.length === 0;
  byId("law").textContent = run.law;
  byId("notes").replaceChildren(...run.notes.map((n) => el("li", "", n)));
}

function renderCharts(run: ConservationRun): void {
  for (const kind of SYMMETRY_KINDS) {
    const series = run.symmetries.map((s, k) => ({ s, k })).filter(({ s }) => s.kind === kind);
    if (series.length === 0) continue;
    const cell = el("section", "lr-cell");
    cell.dataset["kind"] = kind;
    cell.append(el("h4", "chart-title", TITLES[kind]));
    const box = el("div", "chart-box");
    const canvas = el("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", TITLES[kind]);
    box.append(canvas);
    cell.append(box);
    chartsBox.append(cell);
    const log = rt.state.logY;
    const datasets: ChartDataset<"line", Pt[]>[] = series.flatMap(({ s, k }) => {
      const color = runColor(rt.theme, k);
      const measured: ChartDataset<"line", Pt[]> = {
        label: s.layer,
        data: toPoints(run.steps, s.drift, log),
        borderColor: color,
        backgroundColor: color,
        borderWidth: 1.5,
        pointRadius: run.steps.length <= 40 ? 2 : 0,
        order: 0,
      };
      const predicted = toPoints(run.steps, s.predicted, log);
      return predicted.length === 0
        ? [measured]
        : [
            measured,
            {
              // Wider, paler and drawn first (higher `order`): where the measurement follows the
              // prediction, the solid line runs inside the dashed one and both stay visible.
              label: `${s.layer} (predicted)`,
              data: predicted,
              borderColor: withAlpha(color, 0.55),
              backgroundColor: withAlpha(color, 0.55),
              borderDash: [8, 5],
              borderWidth: 3.5,
              pointRadius: 0,
              order: 1,
            },
          ];
    });
    charts.set(
      kind,
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
          scales: { x: scale(false, "checkpoint step"), y: scale(log, "‖Q(t) − Q(0)‖ / ‖Q(0)‖") },
        },
        plugins: [background],
      }),
    );
  }
}

function render(): void {
  runSelect.replaceChildren(
    ...[...runs.values()].map((r) => Object.assign(el("option", "", r.label), { value: r.runId })),
  );
  const run = currentRun();
  runSelect.value = run?.runId ?? "";
  logYBox.checked = rt.state.logY;
  byId("empty").hidden = runs.size > 0;
  for (const c of charts.values()) c.destroy();
  charts.clear();
  chartsBox.replaceChildren();
  if (!run) {
    byId("table").hidden = true;
    byId("law").textContent = "";
    byId("notes").replaceChildren();
    return;
  }
  renderTable(run);
  renderCharts(run);
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

function buildCsv(): string {
  const lines = ["run_id,label,kind,layer,count,step,drift,predicted"];
  for (const run of runs.values())
    for (const s of run.symmetries)
      for (const [i, step] of run.steps.entries()) {
        const cells = [csvCell(run.runId), csvCell(run.label), s.kind, csvCell(s.layer), s.count, step];
        lines.push([...cells, csvNumber(s.drift[i] ?? null), csvNumber(s.predicted[i] ?? null)].join(","));
      }
  return `${lines.join("\n")}\n`;
}

const exportBase = () => `${safeName(currentRun()?.runId ?? "run")}-conservation`;
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

followRuns(rt, runs, render);

rt.testHooks({
  /** The charts of the shown run: per kind, their lines (label, dashed or not, points). */
  charts: () =>
    [...charts].map(([kind, c]) => ({
      kind,
      yType: c.scales["y"]?.type ?? "",
      lines: c.data.datasets.map((d) => ({
        label: d.label ?? "",
        dashed: Array.isArray(d.borderDash) && d.borderDash.length > 0,
        points: structuredClone(d.data),
      })),
    })),
});

render();
rt.ready();
