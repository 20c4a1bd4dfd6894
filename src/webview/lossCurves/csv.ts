// CSV export: one row per metrics line of every run: step, time, the x key when x is another
// logged value (epoch), then the chosen metrics named by their keys, raw, plus the smoothed value
// of the drawn ones when smoothing is on. Empty cell = the line has no finite value for the key.

import { csvCell, csvNumber as num } from "../common/csv";
import type { RunData } from "./series";

/**
 * `columns`: the keys to export, in order (the x key first if it is not step or time, then the
 * chosen metrics); `smoothedMetrics`: those drawn, which get a `<key>_smoothed` column.
 */
export function buildCsv(
  runs: readonly RunData[],
  columns: readonly string[],
  smoothedMetrics: readonly string[],
  smoothing: number,
): string {
  const metrics = [...new Set(columns)].filter((m) => m !== "step" && m !== "time");
  const smoothCols = smoothing > 0 ? smoothedMetrics.filter((m) => metrics.includes(m)) : [];
  const header = ["run_id", "label", "step", "time", ...metrics, ...smoothCols.map((m) => `${m}_smoothed`)];
  const lines = [header.map(csvCell).join(",")];
  for (const run of runs) {
    const prefix = `${csvCell(run.runId)},${csvCell(run.label)},`;
    const cols = metrics.map((m) => run.rowValues.get(m));
    const smooth = smoothCols.map((m) => ({ col: run.rowValues.get(m), series: run.series(m), k: 0 }));
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
