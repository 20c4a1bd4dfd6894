// A calibration (lm calibrate): one point per random subset, the predicted change of the query
// loss (x) against the actual one (y), TracIn's chart with the line y = x (a perfect prediction),
// the BIF's on its own (its scale is a posterior's, not a training interval's: only its rank
// counts); and the table of subsets.

import type { ChartDataset } from "chart.js";
import type { CalibrationView } from "../../shared/panels/compare";
import { byId, el } from "../common/dom";
import { runColor, withAlpha } from "../common/theme";
import { addChart, fmt, type Pt, rt, scale } from "./app";

function scatter(v: CalibrationView, which: "tracin" | "bif"): void {
  const pts: Pt[] = [];
  for (const p of v.points) {
    const x = p[which];
    if (x !== null && Number.isFinite(x) && Number.isFinite(p.actual)) pts.push({ x, y: p.actual });
  }
  if (pts.length === 0) return;
  const name = which === "tracin" ? "TracIn" : "BIF";
  const color = runColor(rt.theme, which === "tracin" ? 4 : 5);
  const datasets: ChartDataset<"scatter" | "line", Pt[]>[] = [
    {
      type: "scatter",
      label: `subsets (${pts.length})`,
      data: pts,
      borderColor: color,
      backgroundColor: withAlpha(color, 0.7),
      pointRadius: 4,
    },
  ];
  if (which === "tracin") {
    const all = pts.flatMap((p) => [p.x, p.y]);
    const lo = Math.min(...all);
    const hi = Math.max(...all);
    const diag = withAlpha(rt.theme.foreground, 0.45);
    datasets.push({
      type: "line",
      label: "predicted = actual",
      data: [
        { x: lo, y: lo },
        { x: hi, y: hi },
      ],
      borderColor: diag,
      backgroundColor: diag,
      borderDash: [5, 4],
      borderWidth: 1,
      pointRadius: 0,
    });
  }
  const lds = v.lds[which];
  addChart(
    which,
    `${name}: predicted against actual change of the query loss per subset (LDS ${lds === null ? "n/a" : lds.toFixed(3)})`,
    "scatter",
    datasets,
    scale(`predicted by ${name}`),
    scale("actual change (branch − parent)"),
  );
}

export function renderCalibration(v: CalibrationView): void {
  byId<HTMLTableSectionElement>("subsetRows").replaceChildren(
    ...v.points.map((p) => {
      const tr = el("tr");
      tr.append(
        el("td", "num", String(p.index)),
        el("td", "num", String(p.size)),
        el("td", "num", fmt(p.actual)),
        el("td", "num", fmt(p.tracin)),
        el("td", "num", fmt(p.bif)),
        el("td", "", p.run),
      );
      return tr;
    }),
  );
  byId("subsetTable").hidden = v.points.length === 0;
  scatter(v, "tracin");
  scatter(v, "bif");
}

/** The score in words, its meaning first. */
export function ldsSentences(v: CalibrationView): string[] {
  const f = (x: number | null) => (x === null ? "n/a (fewer than 3 subsets, or no prediction)" : x.toFixed(3));
  const lines = [
    `Linear datamodeling score (Spearman ρ of predicted against actual change over ${v.points.length} subsets): TracIn ${f(v.lds.tracin)}${v.points.some((p) => p.bif !== null) ? `, BIF ${f(v.lds.bif)}` : ""}.`,
    "1 means the scores rank the subsets' effects exactly, 0 no better than chance, below 0 backwards. Each subset's change is branch − parent at the end: above 0 the removal made the query worse.",
  ];
  return lines;
}
