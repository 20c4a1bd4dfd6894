// The influence panel's exports (the shown matrix as CSV, the heatmap as PNG) and the form that
// asks the host to rerun an analysis with other settings.

import type { AnalysisOverrides } from "../../shared/panels/common";
import { MAX_INTERVENE_EXAMPLES } from "../../shared/panels/influence";
import { csvCell, csvNumber } from "../common/csv";
import { byId } from "../common/dom";
import { safeName } from "../common/runtime";
import { current, rt, view } from "./app";
import { canvas } from "./draw";
import { topRowsAt } from "./heatmap";
import { labelGroup } from "./picks";

function exportBase(): string {
  return `${safeName(view.run?.runId ?? "run")}-${rt.state.method}`;
}

/** The shown matrix, rows in the shown order: example, label, one column per checkpoint, total, flips. */
function buildCsv(): string {
  const d = current();
  if (!d || !view.run || !view.rows) return "";
  const header = ["example_index", "label", ...d.steps.map((s) => `step_${s}`), "total", "sign_flips"];
  const lines = [header.map(csvCell).join(",")];
  for (let k = 0; k < d.n; k++) {
    const i = view.rows.order[k]!;
    const ex = view.run.examples[i]!;
    let line = `${ex.index},${csvCell(ex.label)}`;
    for (let j = 0; j < d.t; j++) line += `,${csvNumber(d.values[i * d.t + j])}`;
    line += `,${csvNumber(d.stats.total[i])},${d.stats.flips[i]}`;
    lines.push(line);
  }
  return `${lines.join("\n")}\n`;
}

byId("exportCsv").addEventListener("click", () => {
  rt.exportCsv(buildCsv(), `${exportBase()}-influence.csv`);
});
byId("exportPng").addEventListener("click", () => {
  rt.exportPng(canvas.toDataURL("image/png"), `${exportBase()}-influence.png`);
});

// ---- rerun form ------------------------------------------------------------------------------

const form = byId<HTMLFormElement>("rerunForm");

export function fillForm(settings: AnalysisOverrides): void {
  for (const input of form.querySelectorAll<HTMLInputElement>("input[type=number]")) {
    const [analysis, field] = input.name.split(".") as [keyof AnalysisOverrides, string];
    const v = (settings[analysis] as Record<string, number> | undefined)?.[field];
    input.value = v === undefined ? "" : String(v);
    input.removeAttribute("aria-invalid");
  }
}

/** The form's values for one analysis; null (and the bad fields marked) if any is not a number ≥ 0. */
function readForm(analysis: keyof AnalysisOverrides): AnalysisOverrides | null {
  const fields: Record<string, number> = {};
  let ok = true;
  for (const input of form.querySelectorAll<HTMLInputElement>(`input[name^="${analysis}."]`)) {
    const field = input.name.slice(analysis.length + 1);
    input.removeAttribute("aria-invalid");
    if (input.value.trim() === "") continue;
    const v = Number(input.value);
    const integer = input.step !== "any";
    if (!Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
      input.setAttribute("aria-invalid", "true");
      ok = false;
    } else fields[field] = v;
  }
  return ok ? { [analysis]: fields } : null;
}

for (const btn of form.querySelectorAll<HTMLElement>(".rerun-btn")) {
  btn.addEventListener("click", () => {
    const analysis = btn.dataset["analysis"] as keyof AnalysisOverrides;
    const status = byId("rerunStatus");
    const overrides = readForm(analysis);
    if (!view.run) return;
    if (!overrides) {
      status.textContent = "Some values are not numbers ≥ 0 (counts must be whole numbers).";
      return;
    }
    rt.post({ type: "rerunAnalysis", runId: view.run.runId, analysis, overrides });
    status.textContent = `Asked to rerun ${analysis} on ${view.run.label}.`;
  });
}

// ---- remove and retrain ------------------------------------------------------------------------

/**
 * The k of "top k" the page proposes (the host asks for k, up to the number of scored examples, and
 * the CLI's --top-proponents N selects them again from the scores).
 */
const TOP_K = 10;

const whichSelect = byId<HTMLSelectElement>("interveneWhich");

/** Text from a file, shortened for an option (the side view shows it in full). */
function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** The clicked example's label, if a cell is clicked and its example is shown. */
function selectedLabel(): string | undefined {
  const sel = rt.state.selected;
  return sel ? view.run?.examples.find((e) => e.index === sel.example)?.label : undefined;
}

/** The options' words follow the picks and the clicked example's label (as text: labels come from files). */
export function syncInterveneOptions(): void {
  const n = view.picked.size;
  const picked = whichSelect.querySelector<HTMLOptionElement>('option[value="picked"]');
  if (picked)
    picked.textContent =
      n === 0
        ? "the selected examples (Ctrl/Cmd-click or Shift-click rows)"
        : `the ${n} selected example${n === 1 ? "" : "s"}`;
  const label = selectedLabel();
  const group = whichSelect.querySelector<HTMLOptionElement>('option[value="label"]');
  if (group) {
    const count = label === undefined || !view.run ? 0 : labelGroup(view.run.examples, label).length;
    group.textContent =
      label === undefined
        ? "all examples with the clicked example's label"
        : `all ${count} example${count === 1 ? "" : "s"} labelled ${clip(label, 40)}`;
  }
}

/** The examples and step "Remove and retrain…" asks for, or why it cannot yet. */
export function interveneChoice(
  which: string,
): { examples: number[]; step: number; top?: { which: "proponents" | "opponents"; count: number } } | string {
  const run = view.run;
  const sel = rt.state.selected;
  const tracin = view.methods.get("tracin");
  if (!run || !tracin) return "Remove and retrain needs TracIn scores (its prediction is TracIn's).";
  if (!sel) return "Click a cell first: its step is the latest checkpoint the branch may start from.";
  const col = tracin.steps.indexOf(sel.step);
  if (col < 0) return `Step ${sel.step} has no TracIn scores: click a cell of the TracIn heatmap.`;
  if (which === "selected") return { examples: [sel.example], step: sel.step };
  if (which === "picked") {
    if (view.picked.size === 0)
      return "Select rows first: Ctrl/Cmd-click rows (Shift-click for a range, Space for the focused row).";
    if (view.picked.size > MAX_INTERVENE_EXAMPLES)
      return `${view.picked.size} rows selected: at most ${MAX_INTERVENE_EXAMPLES} at once from the panel (the CLI takes more: lm intervene RUN --remove IDX,…).`;
    return { examples: [...view.picked].sort((a, b) => a - b), step: sel.step };
  }
  if (which === "label") {
    const label = selectedLabel();
    if (label === undefined) return "Click a cell first: its example's label names the group.";
    const examples = labelGroup(run.examples, label);
    if (examples.length > MAX_INTERVENE_EXAMPLES)
      return `${examples.length} examples are labelled ${clip(label, 40)}: at most ${MAX_INTERVENE_EXAMPLES} at once from the panel (the CLI takes more: lm intervene RUN --remove IDX,…).`;
    return { examples, step: sel.step };
  }
  const side = which === "opponents" ? "opponents" : "proponents";
  const rows = topRowsAt(tracin.values, tracin.n, tracin.t, col, TOP_K, side);
  if (rows.length === 0) return `Step ${sel.step} has no finite TracIn scores.`;
  return {
    examples: rows.map((i) => run.examples[i]!.index),
    step: sel.step,
    top: { which: side, count: rows.length },
  };
}

byId("intervene").addEventListener("click", () => {
  const status = byId("interveneStatus");
  const choice = interveneChoice(whichSelect.value);
  if (typeof choice === "string" || !view.run) {
    status.textContent = typeof choice === "string" ? choice : "";
    return;
  }
  rt.post({ type: "intervene", runId: view.run.runId, ...choice });
  const n = choice.examples.length;
  status.textContent = `Asked to retrain ${view.run.label} changing ${n === 1 ? `example ${choice.examples[0]}` : `${n} examples`} (from a checkpoint at or before step ${choice.step}).`;
});

// ---- calibrate -----------------------------------------------------------------------------------

byId("calibrate").addEventListener("click", () => {
  if (!view.run) return;
  rt.post({ type: "calibrate", runId: view.run.runId });
  byId("interveneStatus").textContent = `Asked to calibrate the influence scores of ${view.run.label}.`;
});
