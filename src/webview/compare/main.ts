// The intervention panels' webview (docs/interventions.md, "Intervene and check"): one app for a
// branch against its parent (branch.ts) and for a calibration (calibration.ts). The verdict and
// notes come as text (from files: escaped by textContent), the charts are drawn here. Parts:
// app.ts (runtime, chart helpers), branch.ts, calibration.ts; this file: the header, the toolbar,
// exports, test hooks, and `ready` last.

import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-checkbox/index.js";
import type { CompareView } from "../../shared/panels/compare";
import { applyChartFont } from "../common/chartTheme";
import { csvCell, csvNumber } from "../common/csv";
import { byId, type Checkbox, el } from "../common/dom";
import { stackCanvasesPng } from "../common/exportImage";
import { safeName } from "../common/runtime";
import { charts, clearCharts, rt } from "./app";
import { CURVE_NAMES, renderBranch } from "./branch";
import { ldsSentences, renderCalibration } from "./calibration";

let view: CompareView | null = null;
let notes: string[] = [];
const logLossBox = byId<Checkbox>("logLoss");

applyChartFont(rt.theme, 2);

function render(): void {
  logLossBox.checked = rt.state.logLoss;
  logLossBox.hidden = view?.kind !== "branch";
  byId("empty").hidden = view !== null || notes.length > 0;
  byId("notes").replaceChildren(...notes.map((n) => el("li", "", n)));
  const title = byId("title");
  const change = byId("change");
  let sentences: string[] = [];
  byId("subsetTable").hidden = true;
  clearCharts();
  if (view === null) {
    title.textContent = "";
    change.textContent = "";
  } else if (view.kind === "branch") {
    title.textContent = `${view.branch.label} against its parent ${view.parent.label}`;
    change.textContent = [view.change, view.query === "" ? "" : `query: ${view.query}`]
      .filter((s) => s !== "")
      .join(" · ");
    sentences = view.sentences;
    renderBranch(view);
  } else {
    title.textContent = `Calibration of ${view.run.label}`;
    change.textContent = `${view.summary} · ${view.source}${view.others.length > 0 ? ` (also: ${view.others.join(", ")})` : ""}`;
    sentences = ldsSentences(view);
    renderCalibration(view);
  }
  byId("sentences").replaceChildren(...sentences.map((s) => el("li", "", s)));
}

logLossBox.addEventListener("change", () => {
  rt.state.logLoss = logLossBox.checked;
  render();
  rt.saveState();
});

function buildCsv(): string {
  if (view === null) return "";
  if (view.kind === "calibration") {
    const lines = ["subset,size,actual,tracin,bif,run"];
    for (const p of view.points)
      lines.push(
        [p.index, p.size, csvNumber(p.actual), csvNumber(p.tracin), csvNumber(p.bif), csvCell(p.run)].join(","),
      );
    return `${lines.join("\n")}\n`;
  }
  // One line per run, quantity and step; the change and the predictions as their own "runs".
  const lines = ["series,quantity,step,value"];
  for (const c of view.curves)
    for (const [who, s] of [
      ["parent", c.parent],
      ["branch", c.branch],
    ] as const)
      for (const [i, step] of s.steps.entries())
        lines.push(`${who},${c.key},${step},${csvNumber(s.values[i] ?? null)}`);
  if (view.actual)
    for (const [i, step] of view.actual.steps.entries())
      lines.push(`actual,query_loss_change,${step},${csvNumber(view.actual.values[i] ?? null)}`);
  for (const p of view.predictions)
    for (const [i, step] of p.steps.entries())
      lines.push(`${p.name},query_loss_change,${step},${csvNumber(p.change[i] ?? null)}`);
  return `${lines.join("\n")}\n`;
}

function exportBase(): string {
  if (view === null) return "intervention";
  return view.kind === "branch"
    ? `${safeName(view.branch.label)}-intervention`
    : `${safeName(view.run.label)}-calibration`;
}

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
  view = msg.view;
  notes = msg.notes;
  rt.saveState();
  render();
});

rt.testHooks({
  /** The charts: per key, the y axis type and their datasets (label, dashed or not, points). */
  charts: () =>
    [...charts].map(([key, c]) => ({
      key,
      yType: String(c.options.scales?.["y"]?.type ?? ""),
      lines: c.data.datasets.map((d) => ({
        label: d.label ?? "",
        dashed: "borderDash" in d && Array.isArray(d.borderDash) && d.borderDash.length > 0,
        points: structuredClone(d.data),
      })),
    })),
  curveNames: () => CURVE_NAMES,
});

render();
rt.ready();
