// `lm sweep-status SWEEP_DIR [--json]`: each point with its values, seed, status and final test
// metrics. Read only: a status comes from the point's run.json when it has one (the truth for how
// a run ended; a "running" run whose process is gone shows as failed), else from sweep.json.
import { join } from "node:path";
import { readMetricsTail } from "../../shared/metricsReader";
import type { SweepPointStatus, SweepValue } from "../../shared/sweepFormat";
import { loadSweep, runState, statusFromRun } from "./folder";

export interface SweepStatusRow {
  index: number;
  values: Record<string, SweepValue>;
  seed: number;
  status: SweepPointStatus;
  /** The point's run folder, absolute. */
  run: string;
  /** Last step trained, when the run has started. */
  step?: number;
  /** The last recorded test loss and accuracy, when the run has them. */
  test_loss?: number;
  test_acc?: number;
}

export interface SweepStatus {
  dir: string;
  system: string;
  experiment: string;
  fields: string[];
  points: SweepStatusRow[];
  /** How many points have each status. */
  counts: Partial<Record<SweepPointStatus, number>>;
}

/** The last test_loss and test_acc in a run's metrics (the final evaluation); none when unreadable. */
function finalTestMetrics(runDir: string): { test_loss?: number; test_acc?: number } {
  try {
    const { records } = readMetricsTail(join(runDir, "metrics.jsonl"), 8);
    const out: { test_loss?: number; test_acc?: number } = {};
    for (const r of records.reverse()) {
      const loss = r["test_loss"];
      const acc = r["test_acc"];
      if (out.test_loss === undefined && typeof loss === "number") out.test_loss = loss;
      if (out.test_acc === undefined && typeof acc === "number") out.test_acc = acc;
    }
    return out;
  } catch {
    return {};
  }
}

export function sweepStatus(dir: string): SweepStatus {
  const manifest = loadSweep(dir);
  const counts: Partial<Record<SweepPointStatus, number>> = {};
  const points = manifest.points.map((p): SweepStatusRow => {
    const state = runState(dir, p);
    const status = statusFromRun(state) ?? p.status;
    counts[status] = (counts[status] ?? 0) + 1;
    const runDir = join(dir, p.run);
    return {
      index: p.index,
      values: p.values,
      seed: p.seed,
      status,
      run: runDir,
      ...(state.kind === "run" ? { step: state.step, ...finalTestMetrics(runDir) } : {}),
    };
  });
  return { dir, system: manifest.system, experiment: manifest.experiment, fields: manifest.fields, points, counts };
}

const num = (v: number | undefined) => (v === undefined ? "—" : String(+v.toPrecision(4)));

/** The table `lm sweep-status` prints: a header, one line per point, the counts. */
export function formatSweepStatus(s: SweepStatus): string {
  const header = ["index", ...s.fields, "seed", "status", "step", "test_loss", "test_acc"];
  const rows = s.points.map((p) => [
    String(p.index),
    ...s.fields.map((f) => {
      const v = p.values[f];
      return v === undefined ? "—" : typeof v === "string" ? v : String(v);
    }),
    String(p.seed),
    p.status,
    p.step === undefined ? "—" : String(p.step),
    num(p.test_loss),
    num(p.test_acc),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c] ?? 0))
      .join("  ")
      .trimEnd();
  const counts = Object.entries(s.counts)
    .map(([k, n]) => `${n} ${k}`)
    .join(", ");
  return `${[`${s.system} sweep: ${s.points.length} points (${counts})`, line(header), ...rows.map(line)].join("\n")}\n`;
}
