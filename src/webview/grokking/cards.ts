// The legend (click: shade a run's phases; double-click: hide or show it) and one summary card
// per visible run: verdict badge, t_mem, t_gen, delay, ratio, lead times, unreadable metrics lines.
// Labels come from run.json: text only, never HTML.

import type { GrokIndicatorHit, GrokReport } from "../../shared/panels/grokking";
import { formatNumber } from "../common/chartAxes";
import { byId, el } from "../common/dom";
import { badLinesText } from "../common/runtime";
import { runColor } from "../common/theme";
import { focusRun, rt, runs, visibleRuns } from "./app";

const legend = byId<HTMLUListElement>("legend");
const cards = byId<HTMLDivElement>("cards");

/** `changed` redraws everything after a click changed the focus or the hidden runs. */
export function renderLegend(changed: () => void): void {
  legend.replaceChildren();
  const focus = focusRun();
  for (const r of runs.values()) {
    const hidden = rt.state.hiddenRuns.includes(r.runId);
    const li = el("li", `run${hidden ? " hidden" : ""}${r === focus ? " focus" : ""}`);
    li.tabIndex = 0;
    li.title = "Click: shade this run's phases · double-click: hide or show";
    const sw = el("span", "swatch");
    sw.style.backgroundColor = runColor(rt.theme, r.colorIndex);
    li.append(sw, el("span", "label", r.label));
    li.addEventListener("click", () => {
      rt.state.focusRun = r.runId;
      changed();
      rt.saveState();
    });
    li.addEventListener("dblclick", () => {
      rt.state.hiddenRuns = hidden
        ? rt.state.hiddenRuns.filter((id) => id !== r.runId)
        : [...rt.state.hiddenRuns, r.runId];
      changed();
      rt.saveState();
    });
    legend.append(li);
  }
}

const VERDICT_TEXT: Record<GrokReport["verdict"], string> = {
  grokked: "grokked",
  memorized: "memorized (no generalization yet)",
  "generalized-without-delay": "generalized without delay",
  "not-memorized": "not memorized yet",
};

export function renderCards(): void {
  cards.replaceChildren();
  for (const r of visibleRuns()) {
    const card = el("section", "card");
    card.dataset["runId"] = r.runId;
    card.style.setProperty("--card-color", runColor(rt.theme, r.colorIndex));
    const h = el("h3");
    h.append(el("span", "card-label", r.label));
    const rep = r.report;
    h.append(
      rep ? el("span", `badge badge-${rep.verdict}`, VERDICT_TEXT[rep.verdict]) : el("span", "badge", "no report yet"),
    );
    card.append(h);
    if (r.badLines > 0) card.append(el("p", "note bad-lines", `metrics.jsonl: ${badLinesText(r.badLines)}`));
    if (!rep) {
      cards.append(card);
      continue;
    }
    const row = (k: string, v: string, cls: string): void => {
      const dd = el("dd", cls, v);
      card.append(el("dt", "", k), dd);
    };
    const n = (v: number | undefined): string => (v === undefined ? "—" : formatNumber(v));
    row("t_mem", n(rep.tMem), "v-tmem");
    row("t_gen", n(rep.tGen), "v-tgen");
    row("delay", n(rep.delay), "v-delay");
    row("ratio t_gen / t_mem", rep.ratio === undefined ? "—" : `${formatNumber(rep.ratio)}×`, "v-ratio");
    if (rep.testAccAtMem !== undefined)
      row(
        "test acc at t_mem",
        `${(rep.testAccAtMem * 100).toFixed(1)} %${rep.atChance ? " (chance)" : ""}`,
        "v-accmem",
      );
    // An indicator can fire before there is a t_gen to lead: then say where, not "did not fire".
    const lead = (ind: GrokIndicatorHit): string =>
      ind.leadTime !== undefined
        ? `${formatNumber(ind.leadTime)} steps`
        : ind.step !== undefined
          ? `at step ${formatNumber(ind.step)} (no t_gen yet)`
          : "did not fire";
    for (const ind of rep.indicators) row(`lead · ${ind.name}`, lead(ind), "v-lead");
    cards.append(card);
  }
}
