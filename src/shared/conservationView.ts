// What the conservation-laws panel shows, built from a run's analyses/conservation.jsonl (read by
// loadRunData in ./analysisViews.ts). Pure; no `vscode` import, so `node --test` covers it.
import type { RunData } from "./analysisViews";
import type { ConservationRun, SymmetrySeries } from "./panels/conservation";
import type { RunRef } from "./panels/common";

/**
 * One run's symmetries as series over its analysed checkpoints. A symmetry is identified by kind
 * and layer; the last record decides which are shown (a record that lacks one leaves a gap).
 */
export function conservationRun(ref: RunRef, data: RunData): ConservationRun {
  const records = data.analyses.conservation?.records ?? [];
  const broken = data.unreadable.find((u) => u.analysis === "conservation");
  const last = records.at(-1);
  if (!last) {
    const why = broken
      ? `analyses/conservation.jsonl could not be read: ${broken.message}`
      : 'not analysed yet (run "Learning Mechanics: Analyze Run")';
    return { ...ref, steps: [], symmetries: [], law: "", notes: [why] };
  }
  const steps = records.map((r) => r.step);
  const key = (s: { kind: string; layer: string }) => `${s.kind}\u0000${s.layer}`;
  const symmetries: SymmetrySeries[] = last.symmetries.map((s) => {
    const at = records.map((r) => r.symmetries.find((x) => key(x) === key(s)));
    return {
      kind: s.kind,
      layer: s.layer,
      count: s.count,
      drift: at.map((x) => x?.drift ?? null),
      predicted: at.map((x) => x?.predicted ?? null),
      quality: s.quality,
    };
  });
  const notes = [...last.notes];
  if (symmetries.length === 0 && notes.length === 0) notes.push("no symmetry detected");
  return { ...ref, steps, symmetries, law: last.law, notes };
}
