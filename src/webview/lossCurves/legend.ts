// The legend: one item per run (colour, label, status, unreadable lines), click or Space/Enter to
// hide or show the run. Labels come from run.json: text only, never HTML.

import { badLinesText } from "../common/runtime";
import { byId, el } from "../common/dom";
import { runColor } from "../common/theme";
import { rt, runs } from "./app";
import { chart, rebuildDatasets } from "./chart";

const legend = byId<HTMLUListElement>("legend");
const empty = byId<HTMLParagraphElement>("empty");

export function renderLegend(): void {
  legend.replaceChildren();
  for (const run of runs.values()) {
    const hidden = rt.state.hiddenRuns.includes(run.runId);
    const li = el("li", hidden ? "run hidden" : "run");
    li.tabIndex = 0;
    li.setAttribute("role", "checkbox");
    li.setAttribute("aria-checked", String(!hidden));
    li.title = hidden ? "Show this run" : "Hide this run";
    const swatch = el("span", "swatch");
    swatch.style.backgroundColor = runColor(rt.theme, run.colorIndex);
    li.append(swatch, el("span", "label", run.label));
    if (run.status) li.append(el("span", `status status-${run.status}`, run.status));
    if (run.badLines > 0) {
      const bad = el("span", "bad-lines", badLinesText(run.badLines));
      bad.title = "Lines of metrics.jsonl that are not valid records were skipped.";
      li.append(bad);
    }
    const toggle = (): void => {
      rt.state.hiddenRuns = hidden
        ? rt.state.hiddenRuns.filter((id) => id !== run.runId)
        : [...rt.state.hiddenRuns, run.runId];
      renderLegend();
      rebuildDatasets();
      chart.update("none");
      rt.saveState();
    };
    li.addEventListener("click", toggle);
    li.addEventListener("keydown", (e) => {
      if (e.key === " " || e.key === "Enter") {
        e.preventDefault();
        toggle();
      }
    });
    legend.append(li);
  }
  empty.hidden = runs.size > 0;
}
