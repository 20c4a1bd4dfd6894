// In-context learning webview (Garg et al. 2022). Per run: the test loss at each context position
// k for up to six checkpoints from early to late (one hue, pale → dark) with least squares and the
// Bayes-optimal ridge dashed; and the loss at the first, middle and last position against the
// training step, each with its ridge value dashed. Everything from a file is shown as text.

import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-checkbox/index.js";
import { Chart, Legend, LineController, LineElement, LinearScale, LogarithmicScale, PointElement } from "chart.js";
import type { ChartDataset } from "chart.js";
import type { OwnMessage } from "../../shared/panels/common";
import {
  DEFAULT_ICL_STATE,
  followedPositions,
  type IclHostMessage,
  type IclRun,
  type IclState,
  isIclHostMessage,
  isIclState,
  selectedCheckpoints,
} from "../../shared/panels/icl";
import { type ScaleOptions, themedScale } from "../common/chartAxes";
import { applyChartFont, backgroundPlugin } from "../common/chartTheme";
import { csvCell, csvNumber } from "../common/csv";
import { byId, type Checkbox, el } from "../common/dom";
import { stackCanvasesPng } from "../common/exportImage";
import { followRuns, PanelRuntime, safeName } from "../common/runtime";
import { runColor, withAlpha } from "../common/theme";

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Legend);

const rt = new PanelRuntime<IclState, OwnMessage<IclHostMessage>>({
  name: "icl",
  defaultState: DEFAULT_ICL_STATE,
  isState: isIclState,
  isHostMessage: isIclHostMessage,
});

type Pt = { x: number; y: number };

const runs = new Map<string, IclRun>();
const runSelect = byId<HTMLSelectElement>("run");
const logYBox = byId<Checkbox>("logY");
const charts: { positions?: Chart<"line", Pt[]>; steps?: Chart<"line", Pt[]> } = {};
const GREY = "#9d9d9d";

applyChartFont(rt.theme, 2);
const background = backgroundPlugin(() => rt.theme);

function currentRun(): IclRun | undefined {
  return (rt.state.runId !== null ? runs.get(rt.state.runId) : undefined) ?? runs.values().next().value;
}

function scale(log: boolean, title: string): ScaleOptions {
  return themedScale(rt.theme, log, title);
}

function points(xs: readonly number[], ys: readonly (number | null)[], log: boolean): Pt[] {
  const out: Pt[] = [];
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i];
    if (typeof y === "number" && Number.isFinite(y) && (!log || y > 0)) out.push({ x: xs[i]!, y });
  }
  return out;
}

function line(label: string, data: Pt[], color: string, dashed: boolean): ChartDataset<"line", Pt[]> {
  return {
    label,
    data,
    borderColor: color,
    backgroundColor: color,
    borderWidth: dashed ? 2 : 1.8,
    pointRadius: dashed ? 0 : 2,
    ...(dashed ? { borderDash: [7, 5] } : {}),
  };
}

function chart(id: string, datasets: ChartDataset<"line", Pt[]>[], x: string, log: boolean): Chart<"line", Pt[]> {
  return new Chart<"line", Pt[]>(byId<HTMLCanvasElement>(id), {
    type: "line",
    data: { datasets },
    options: {
      animation: false,
      parsing: false,
      responsive: true,
      maintainAspectRatio: false,
      events: [],
      elements: { line: { tension: 0 } },
      scales: { x: scale(false, x), y: scale(log, "mean squared error") },
      // Which line is which (checkpoint steps, positions, the baselines): labels are numbers and fixed words.
      plugins: {
        legend: {
          position: "bottom",
          labels: { color: rt.theme.foreground, boxWidth: 18, boxHeight: 2, padding: 8 },
        },
      },
    },
    plugins: [background],
  });
}

function render(): void {
  runSelect.replaceChildren(
    ...[...runs.values()].map((r) => Object.assign(el("option", "", r.label), { value: r.runId })),
  );
  const run = currentRun();
  runSelect.value = run?.runId ?? "";
  logYBox.checked = rt.state.logY;
  byId("empty").hidden = runs.size > 0;
  charts.positions?.destroy();
  charts.steps?.destroy();
  delete charts.positions;
  delete charts.steps;
  byId("notes").replaceChildren(...(run?.notes ?? []).map((n) => el("li", "", n)));
  byId("charts").hidden = !run || run.steps.length === 0;
  byId("summary").textContent = run ? summary(run) : "";
  if (!run || run.steps.length === 0) return;
  const log = rt.state.logY;
  const ks = Array.from({ length: run.points }, (_, i) => i + 1);
  const hue = runColor(rt.theme, run.colorIndex);
  const picked = selectedCheckpoints(run.steps.length);
  const byPosition: ChartDataset<"line", Pt[]>[] = picked.map((i, j) => {
    // Early → late: the run's colour from pale to full.
    const alpha = picked.length === 1 ? 1 : 0.25 + (0.75 * j) / (picked.length - 1);
    return line(`step ${run.steps[i]}`, points(ks, run.loss[i]!, log), withAlpha(hue, alpha), false);
  });
  if (run.leastSquares) byPosition.push(line("least squares", points(ks, run.leastSquares, log), GREY, true));
  if (run.ridge) byPosition.push(line("ridge", points(ks, run.ridge, log), rt.theme.foreground, true));
  charts.positions = chart("positionsChart", byPosition, "context position k", log);

  const bySteps: ChartDataset<"line", Pt[]>[] = [];
  for (const [j, k] of followedPositions(run.points).entries()) {
    const color = runColor(rt.theme, j);
    bySteps.push(
      line(
        `k = ${k}`,
        points(
          run.steps,
          run.loss.map((l) => l[k - 1] ?? null),
          log,
        ),
        color,
        false,
      ),
    );
    const r = run.ridge?.[k - 1];
    if (r !== undefined && run.steps.length > 0)
      bySteps.push(
        line(`ridge k = ${k}`, points([run.steps[0]!, run.steps.at(-1)!], [r, r], log), withAlpha(color, 0.6), true),
      );
  }
  charts.steps = chart("stepsChart", bySteps, "checkpoint step", log);
}

/** "last checkpoint (step N): loss at k = points X; ridge Y; least squares Z; σ² W". */
function summary(run: IclRun): string {
  const last = run.loss.at(-1);
  if (!last) return "";
  const k = run.points;
  const f = (v: number | null | undefined) => (typeof v === "number" ? v.toPrecision(3) : "—");
  const parts = [`step ${run.steps.at(-1)}: loss at k = ${k} ${f(last[k - 1])}`];
  if (run.ridge) parts.push(`ridge ${f(run.ridge[k - 1])} (λ = ${f(run.ridgeLambda)})`);
  if (run.leastSquares) parts.push(`least squares ${f(run.leastSquares[k - 1])}`);
  if (run.noiseVariance !== null) parts.push(`noise floor σ² = ${f(run.noiseVariance)}`);
  return parts.join(" · ");
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
  const lines = ["run_id,label,series,step,position,loss"];
  for (const run of runs.values()) {
    const id = `${csvCell(run.runId)},${csvCell(run.label)}`;
    for (const [i, step] of run.steps.entries())
      for (let k = 1; k <= run.points; k++)
        lines.push(`${id},model,${step},${k},${csvNumber(run.loss[i]![k - 1] ?? null)}`);
    for (const [name, b] of [
      ["leastSquares", run.leastSquares],
      ["ridge", run.ridge],
    ] as const)
      if (b) for (let k = 1; k <= run.points; k++) lines.push(`${id},${name},,${k},${csvNumber(b[k - 1] ?? null)}`);
  }
  return `${lines.join("\n")}\n`;
}

const exportBase = () => `${safeName(currentRun()?.runId ?? "run")}-icl`;
byId("exportCsv").addEventListener("click", () => rt.exportCsv(buildCsv(), `${exportBase()}.csv`));
byId("exportPng").addEventListener("click", () =>
  rt.exportPng(
    stackCanvasesPng(
      [charts.positions, charts.steps].flatMap((c) => (c ? [c.canvas] : [])),
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
  /** The two charts of the shown run: their lines (label, dashed or not, points) and y scale. */
  charts: () =>
    Object.entries(charts).map(([name, c]) => ({
      name,
      yType: c.scales["y"]?.type ?? "",
      legend: (c.legend?.legendItems ?? []).map((i) => i.text),
      lines: c.data.datasets.map((d) => ({
        label: d.label ?? "",
        dashed: Array.isArray(d.borderDash) && d.borderDash.length > 0,
        color: typeof d.borderColor === "string" ? d.borderColor : "",
        points: structuredClone(d.data),
      })),
    })),
});

render();
rt.ready();
