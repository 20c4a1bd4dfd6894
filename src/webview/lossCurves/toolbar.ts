// The toolbar: x axis (step or wall time; other logged x in picker.ts), log x/y, the right
// (accuracy) axis, smoothing, reset zoom and the PNG and CSV exports; `applyState` brings scales,
// curves, picker and controls in line with the state.

import { byId, type Checkbox } from "../common/dom";
import { exportStem } from "../common/runtime";
import { choices, rt, runs } from "./app";
import { applyScales, canvas, chart, rebuildDatasets, refreshData } from "./chart";
import { buildCsv } from "./csv";
import { renderLegend } from "./legend";
import { onPickerChange, renderPicker, setX } from "./picker";
import { setZoomT } from "./pointer";

type Radio = HTMLElement & { checked: boolean; value: string };

const xAxisGroup = byId<HTMLElement>("xAxis");
const logXBox = byId<Checkbox>("logX");
const logYBox = byId<Checkbox>("logY");
const accBox = byId<Checkbox>("showAccuracy");
const smoothingInput = byId<HTMLInputElement>("smoothing");
const smoothingValue = byId<HTMLOutputElement>("smoothingValue");

export function syncControls(): void {
  const state = rt.state;
  for (const r of xAxisGroup.querySelectorAll<Radio>("vscode-radio")) r.checked = r.value === state.xAxis;
  logXBox.checked = state.logX;
  logYBox.checked = state.logY;
  accBox.checked = state.showAccuracy;
  smoothingInput.value = String(state.smoothing);
  smoothingValue.textContent = state.smoothing.toFixed(2);
}

onPickerChange(syncControls);

/** Applies the whole state: scales, curves, controls. */
export function applyState(): void {
  for (const run of runs.values()) run.setSmoothing(rt.state.smoothing);
  syncControls();
  applyScales();
  rebuildDatasets();
  renderLegend();
  renderPicker(true);
  chart.update("none");
}

xAxisGroup.addEventListener("change", () => {
  const checked = [...xAxisGroup.querySelectorAll<Radio>("vscode-radio")].find((r) => r.checked);
  // No radio checked: x is another logged value (the selector beside them).
  if (!checked) return;
  setX(checked.value === "time" ? "time" : "step");
});

logXBox.addEventListener("change", () => {
  rt.state.logX = logXBox.checked;
  if (rt.state.zoom && rt.state.zoom.xMin <= 0) rt.state.zoom = null;
  applyScales();
  refreshData();
  chart.update("none");
  rt.saveState();
});

logYBox.addEventListener("change", () => {
  rt.state.logY = logYBox.checked;
  applyScales();
  chart.update("none");
  rt.saveState();
});

accBox.addEventListener("change", () => {
  rt.state.showAccuracy = accBox.checked;
  applyScales();
  rebuildDatasets();
  renderPicker();
  chart.update("none");
  rt.saveState();
});

smoothingInput.addEventListener("input", () => {
  const w = Math.min(0.999, Math.max(0, Number(smoothingInput.value)));
  const rawWasShown = rt.state.smoothing > 0;
  rt.state.smoothing = w;
  smoothingValue.textContent = w.toFixed(2);
  for (const run of runs.values()) run.setSmoothing(w);
  if (rawWasShown !== w > 0) rebuildDatasets();
  else refreshData();
  chart.update("none");
  rt.saveState();
});

const stem = (): string => exportStem([...runs.keys()], "runs");

byId("resetZoom").addEventListener("click", () => setZoomT(null, null));
byId("exportPng").addEventListener("click", () => rt.exportPng(canvas.toDataURL("image/png"), `${stem()}-loss.png`));
byId("exportCsv").addEventListener("click", () => {
  // Columns: the x key when it is a logged value, then the chosen metrics; smoothed: those drawn.
  const x = rt.state.xAxis;
  const columns = [...(x === "step" || x === "time" ? [] : [x]), ...choices().map((c) => c.key)];
  const drawn = choices()
    .filter((c) => c.axis === "left" || rt.state.showAccuracy)
    .map((c) => c.key);
  rt.exportCsv(buildCsv([...runs.values()], columns, drawn, rt.state.smoothing), `${stem()}-metrics.csv`);
});
