// What the in-context learning panel shows, built from a run's analyses/icl.jsonl (read by
// loadRunData in ./analysisViews.ts). Pure; no `vscode` import, so `node --test` covers it.
import type { RunData } from "./analysisViews";
import type { RunRef } from "./panels/common";
import type { IclRun } from "./panels/icl";

/** One run's in-context losses over its analysed checkpoints, with the header's baselines. */
export function iclRun(ref: RunRef, data: RunData): IclRun {
  const file = data.analyses.icl;
  const records = file?.records ?? [];
  const broken = data.unreadable.find((u) => u.analysis === "icl");
  const base = file?.header.baselines;
  const points = base?.ridge.length ?? records.at(-1)?.loss.length ?? 0;
  const empty: IclRun = {
    ...ref,
    points,
    steps: [],
    loss: [],
    leastSquares: null,
    ridge: null,
    ridgeLambda: null,
    noiseVariance: null,
    notes: [],
  };
  if (records.length === 0) {
    const task = (data.manifest.config as { task?: { kind?: unknown } } | undefined)?.task?.kind;
    const why = broken
      ? `analyses/icl.jsonl could not be read: ${broken.message}`
      : typeof task === "string" && task !== "inContextRegression"
        ? `the task is ${task}: the in-context analysis needs tasks.inContextRegression`
        : 'not analysed yet (run "Learning Mechanics: Analyze Run")';
    return { ...empty, notes: [why] };
  }
  // Records of another length than the baselines (a damaged file) are left out rather than drawn misaligned.
  const kept = records.filter((r) => Array.isArray(r.loss) && r.loss.length === points);
  return {
    ...empty,
    steps: kept.map((r) => r.step),
    loss: kept.map((r) => r.loss.map((v) => (typeof v === "number" && Number.isFinite(v) ? v : null))),
    leastSquares: base ? base.leastSquares : null,
    ridge: base ? base.ridge : null,
    ridgeLambda: base ? base.ridgeLambda : null,
    noiseVariance: base ? base.noiseVariance : null,
    notes: kept.length < records.length ? [`${records.length - kept.length} record(s) of another length left out`] : [],
  };
}
