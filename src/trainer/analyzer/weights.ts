// The weight-space analysis: per-tensor norms and relative change from the reference checkpoint.
// Needs nothing but checkpoint files, so it runs on runs written by any framework that follows the
// run format (docs/run-format.md), without their experiment file.
import { movementSums } from "../../measures/movement";
import type { TensorMovement, WeightsRecord } from "../../shared/analysisFormat";
import { type Analysis, type AnalysisContext, cadence, type CheckpointParams } from "./analysis";

type Params = CheckpointParams;

export function createWeightsAnalysis(ctx: AnalysisContext): Analysis<"weights"> {
  const s = ctx.settings.weights;
  return {
    name: "weights",
    settings: { ...s },
    header: {},
    needs: "checkpoints",
    due: cadence(s.every),
    compute: (step) => weightsRecord(step, ctx.params(step), ctx.params(ctx.referenceStep)),
    dispose: () => {},
  };
}

/**
 * Movement of every parameter at `step` against `reference` (normally step 0). A tensor missing
 * from the reference, or of another size, gets relChange null rather than a wrong number, and then
 * so does the total.
 */
export function weightsRecord(step: number, params: Params, reference: Params): WeightsRecord {
  const tensors: Record<string, TensorMovement> = {};
  let total = 0;
  let totalDiff = 0;
  let totalRef = 0;
  let comparable = true;
  for (const [name, { shape, values }] of params) {
    const ref = reference.get(name);
    const w0 = ref && ref.values.length === values.length ? ref.values : undefined;
    const { sq, diff, sq0 } = movementSums(values, w0);
    tensors[name] = { shape, norm: Math.sqrt(sq), relChange: w0 && sq0 > 0 ? Math.sqrt(diff / sq0) : null };
    total += sq;
    if (w0) {
      totalDiff += diff;
      totalRef += sq0;
    } else comparable = false;
  }
  // A tensor that starts at zero (a bias) has no relative change of its own but counts in the total.
  return {
    step,
    tensors,
    paramNorm: Math.sqrt(total),
    relChange: comparable && totalRef > 0 ? Math.sqrt(totalDiff / totalRef) : null,
  };
}
