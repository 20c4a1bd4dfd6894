// What a run came to, in a few lines for the CLI: after `lm analyze` (the grokking report and the
// regime) and at the end of `lm train` (the grokking verdict for a system with test accuracy, else
// the final metrics). The verdict is the one `lm analyze` and the Grokking panel give: the same
// report (src/shared/analysisViews.ts over src/measures/grokking.ts), never recomputed here.
import type { LmcRecord } from "../shared/lmcFormat";
import type { MetricsRecord } from "../shared/runFormat";
import { grokkingReport, lazyRichRun, loadRunData, toGrokReport } from "../shared/analysisViews";
import { RunFolder } from "./runFolder";

/** A measured value to 3 significant digits; a step exactly. */
const num = (v: number | undefined) => (v === undefined ? "—" : String(+v.toPrecision(3)));
const stepText = (v: number | undefined) => (v === undefined ? "—" : String(v));

/** The grokking line and its indicators; none for a run without accuracy. */
function grokkingLines(data: ReturnType<typeof loadRunData>): string[] {
  const g = toGrokReport(grokkingReport(data));
  return [
    `grokking: ${g.verdict} · t_mem ${stepText(g.tMem)} · t_gen ${stepText(g.tGen)} · t_gen/t_mem ${num(g.ratio)}${g.atChance === undefined ? "" : ` · test accuracy at t_mem ${num(g.testAccAtMem)}${g.atChance ? " (chance)" : ""}`}`,
    ...g.indicators.map(
      (i) =>
        `  ${i.name} at step ${i.step ?? "—"}${i.leadTime === undefined ? "" : `, ${i.leadTime} steps before t_gen`}`,
    ),
  ];
}

/** `final (step N): train_loss 0.0123 · test_loss 0.0456 · …`: the last metrics record, wall-clock time left out. */
function finalMetricsLine(metrics: readonly MetricsRecord[]): string | undefined {
  const last = metrics.at(-1);
  if (!last) return undefined;
  const values = Object.entries(last)
    .filter(([k]) => k !== "step" && k !== "time")
    .map(([k, v]) => `${k} ${typeof v === "number" ? num(v) : "—"}`);
  return `final (step ${last.step}): ${values.join(" · ")}`;
}

/** After `lm analyze`: the grokking report (a run with accuracy) and the regime. */
export function analyzeSummary(runDir: string): string {
  const data = loadRunData(runDir, new RunFolder(runDir).readManifest());
  const lines: string[] = [];
  if (data.metrics.some((r) => typeof r["train_acc"] === "number")) lines.push(...grokkingLines(data));
  const regime = lazyRichRun({ runId: runDir, label: runDir, colorIndex: 0 }, data).regime;
  if (regime) lines.push(`regime: ${regime.reason}`);
  return lines.length ? `${lines.join("\n")}\n` : "";
}

/** At the end of `lm train`: the grokking verdict for a system with test accuracy, then the final metrics. */
export function trainSummary(runDir: string): string {
  const data = loadRunData(runDir, new RunFolder(runDir).readManifest());
  const final = finalMetricsLine(data.metrics);
  const lines = [
    ...(data.metrics.some((r) => typeof r["test_acc"] === "number") ? grokkingLines(data) : []),
    ...(final === undefined ? [] : [final]),
  ];
  return lines.length ? `${lines.join("\n")}\n` : "";
}

/** What `lm lmc` found: the curve (α, losses, errors) and the barrier heights, for stderr. */
export function lmcSummary(record: LmcRecord): string {
  const cols = (["train_loss", "train_error", "test_loss", "test_error"] as const).filter(
    (q) => record.points[0]?.[q] !== undefined,
  );
  const cell = (v: number | undefined) => (v === undefined ? "—" : v.toPrecision(5)).padStart(12);
  const lines = [
    `linear interpolation ${record.a.runId}@${record.a.step} → ${record.b.runId}@${record.b.step}`,
    `${"α".padStart(7)}${cols.map((c) => c.padStart(12)).join("")}`,
    ...record.points.map((p) => `${p.alpha.toFixed(3).padStart(7)}${cols.map((c) => cell(p[c])).join("")}`),
    `barrier${cols.map((c) => cell(record.barrier[c])).join("")}`,
  ];
  return `${lines.join("\n")}\n`;
}
