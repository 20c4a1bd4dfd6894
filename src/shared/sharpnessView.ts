// What the Sharpness panel shows, built from a run's data already read (analysisViews.ts's
// RunData): the sharpness analysis with its phases, the logged training loss, and the LLC with its
// stage boundaries. Pure; the rules themselves are in src/measures/sharpness.ts.
import { DEFAULT_EOS_RULES, eosPhases, fastestChanges, type SharpnessPoint } from "../measures/sharpness";
import { modelAnalysesUnavailable, type RunData } from "./analysisViews";
import type { AnalysisName } from "./analysisFormat";
import type { RunRef } from "./panels/common";
import type { LlcView, SharpnessRun, SharpnessView } from "./panels/sharpness";

const LLC_BOUNDARIES = 3;

function lossSeries(data: RunData): { steps: number[]; values: (number | null)[] } {
  const steps: number[] = [];
  const values: (number | null)[] = [];
  for (const r of data.metrics) {
    const v = r["train_loss"];
    if (typeof v !== "number" && v !== null) continue;
    steps.push(r.step);
    values.push(typeof v === "number" && Number.isFinite(v) ? v : null);
  }
  return { steps, values };
}

function sharpnessView(data: RunData, loss: { steps: number[]; values: (number | null)[] }): SharpnessView | null {
  const records = data.analyses.sharpness?.records ?? [];
  if (records.length === 0) return null;
  const thresholdOf = records.some((r) => r.thresholdOf === "preconditioned") ? "preconditioned" : "sharpness";
  const curve = (r: (typeof records)[number]) =>
    thresholdOf === "preconditioned" ? r.preconditioned : (r.eigenvalues[0] ?? null);
  const points: SharpnessPoint[] = records.flatMap((r) => {
    const s = curve(r);
    return s !== null && r.threshold !== null ? [{ step: r.step, sharpness: s, threshold: r.threshold }] : [];
  });
  const lossPoints = loss.steps.flatMap((step, i) => {
    const value = loss.values[i];
    return typeof value === "number" ? [{ step, value }] : [];
  });
  const phases = eosPhases(points, lossPoints);
  return {
    steps: records.map((r) => r.step),
    top: records.map((r) => r.eigenvalues[0] ?? null),
    second: records.map((r) => r.eigenvalues[1] ?? null),
    preconditioned: records.map((r) => r.preconditioned),
    threshold: records.map((r) => r.threshold),
    thresholdOf,
    error: records.map((r) => (thresholdOf === "preconditioned" ? (r.preconditionedError ?? null) : r.error)),
    rule: { fraction: DEFAULT_EOS_RULES.fraction, hold: DEFAULT_EOS_RULES.hold },
    sharpening: phases.sharpening,
    edge: phases.edge,
    catapults: phases.catapults,
    lastRatio: Number.isFinite(phases.lastRatio) ? phases.lastRatio : null,
  };
}

function llcView(data: RunData): LlcView | null {
  const records = data.analyses.llc?.records ?? [];
  if (records.length === 0) return null;
  const finite = records.filter((r) => r.llc !== null);
  return {
    steps: records.map((r) => r.step),
    values: records.map((r) => r.llc),
    stdErr: records.map((r) => r.stdErr),
    boundaries: fastestChanges(
      finite.map((r) => r.step),
      finite.map((r) => r.llc!),
      LLC_BOUNDARIES,
      finite.map((r) => r.stdErr),
    ).map((b) => b.step),
    warnings: records.flatMap((r) => (r.warning ? [{ step: r.step, warning: r.warning }] : [])),
  };
}

function why(data: RunData, analysis: AnalysisName & ("sharpness" | "llc")): string {
  const broken = data.unreadable.find((u) => u.analysis === analysis);
  if (broken) return `analyses/${analysis}.jsonl could not be read: ${broken.message}`;
  const noModel = modelAnalysesUnavailable(data.manifest);
  if (noModel) return noModel;
  return analysis === "llc"
    ? 'the LLC is off by default (one estimate costs chains × (burn-in + draws) gradient steps): set analyses: { llc: { every: 4 } } in the experiment, or run "lm analyze RUN --run-experiment --set llc.every=4"'
    : `not analysed yet (run "Learning Mechanics: Analyze Run")`;
}

export function sharpnessRun(ref: RunRef, data: RunData): SharpnessRun {
  const loss = lossSeries(data);
  const sharpness = sharpnessView(data, loss);
  const llc = llcView(data);
  const missing: SharpnessRun["missing"] = [];
  if (!sharpness) missing.push({ analysis: "sharpness", reason: why(data, "sharpness") });
  if (!llc) missing.push({ analysis: "llc", reason: why(data, "llc") });
  return { ...ref, sharpness, loss, llc, missing };
}
