// CSV export: one row per metrics line of every run, raw values, plus the smoothed value of the
// charted metrics when smoothing is on. Empty cell = the line has no finite value for the metric.

import { csvCell, csvNumber as num } from "../common/csv";
import type { RunData } from "./series";

const STANDARD = ["train_loss", "test_loss", "train_acc", "test_acc", "lr", "param_norm"];

/** Metric names in a stable order: the standard ones first, then the rest alphabetically. */
export function orderedMetrics(names: Iterable<string>): string[] {
  const set = new Set(names);
  const std = STANDARD.filter((n) => set.has(n));
  const rest = [...set].filter((n) => !STANDARD.includes(n)).sort();
  return [...std, ...rest];
}

export function buildCsv(runs: readonly RunData[], smoothedMetrics: readonly string[], smoothing: number): string {
  const metrics = orderedMetrics(runs.flatMap((r) => [...r.rowValues.keys()]));
  const smoothCols = smoothing > 0 ? smoothedMetrics.filter((m) => metrics.includes(m)) : [];
  const header = ["run_id", "label", "step", "time", ...metrics, ...smoothCols.map((m) => `${m}_smoothed`)];
  const lines = [header.map(csvCell).join(",")];
  for (const run of runs) {
    const prefix = `${csvCell(run.runId)},${csvCell(run.label)},`;
    const cols = metrics.map((m) => run.rowValues.get(m));
    const smooth = smoothCols.map((m) => ({ col: run.rowValues.get(m), series: run.metrics.get(m), k: 0 }));
    for (let i = 0; i < run.rows; i++) {
      let line = `${prefix}${num(run.rowStep.get(i))},${num(run.rowTime.get(i))}`;
      for (const c of cols) line += `,${c ? num(c.get(i)) : ""}`;
      for (const s of smooth) {
        // The series holds the finite points only, in row order: advance with them.
        const v = s.col ? s.col.get(i) : NaN;
        if (Number.isFinite(v) && s.series) line += `,${num(s.series.smooth.get(s.k++))}`;
        else line += ",";
      }
      lines.push(line);
    }
  }
  return `${lines.join("\n")}\n`;
}
