// The lazy-vs-rich measures that need the model: the empirical NTK on a fixed probe set against
// the reference checkpoint (kernel distance, Fort et al. 2020), its centred alignment with the
// targets (Baratin et al. 2021), and the linear CKA of each layer's representation against the
// reference (Kornblith et al. 2019).
import { centeredKernelTargetAlignment, kernelDistance, linearCka, matrix, type Matrix } from "../../measures/index";
import type { KernelRecord } from "../../shared/analysisFormat";
import { empiricalNtk, layerRepresentations, type NtkOutputs } from "../methods/ntk";
import type { SystemInstance } from "../system";
import { examplesOf, trainSubset } from "./examples";
import { type Analysis, cadence, type ModelContext } from "./analysis";

/** Up to this many outputs the trace over outputs is exact; beyond, a fixed-seed Hutchinson estimate. */
const EXACT_OUTPUTS = 128;
const HUTCHINSON_DIRECTIONS = 64;

export function createKernelAnalysis(ctx: ModelContext): Analysis<"kernel"> {
  const { system, settings } = ctx;
  const s = settings.kernel;
  const indices = trainSubset(system.train.n, s.probeSize);
  const probe = examplesOf(system, "train", indices);
  const target = system.target();
  const outputs = outputCount(system);
  // A fixed seed: every checkpoint sums over the same output directions, so an unchanged model
  // has kernel distance 0 exactly, not estimator noise.
  const ntkOutputs: NtkOutputs =
    outputs <= EXACT_OUTPUTS ? "exact" : { hutchinson: HUTCHINSON_DIRECTIONS, seed: system.spec.seed };
  const n = indices.length;
  const y = matrix(n, (probe.y.shape[1] ?? 1) as number, probe.y.dataSync() as Float32Array);

  const kernelAt = (): Matrix => matrix(n, n, empiricalNtk(target, probe.x, { outputs: ntkOutputs }).kernel);
  // A layer that reads the model's input (the first layer of an MLP on features) has the input as
  // its "representation": CKA 1 by construction, so it is left out.
  const input = probe.x.dtype === "float32" ? (probe.x.dataSync() as Float32Array) : undefined;
  const isInput = (values: Float32Array) =>
    input !== undefined && values.length === input.length && values.every((v, i) => v === input[i]);
  const representationsAt = (): Map<string, Matrix> =>
    new Map(
      layerRepresentations(target, probe.x).flatMap((r) =>
        isInput(r.values) ? [] : [[r.param, matrix(r.n, r.dim, r.values)] as const],
      ),
    );

  // The reference: the first checkpoint (normally the initialization).
  ctx.restore(ctx.referenceStep);
  const k0 = kernelAt();
  const reps0 = representationsAt();

  return {
    name: "kernel",
    settings: { ...s, outputs: ntkOutputs === "exact" ? "exact" : `hutchinson ${HUTCHINSON_DIRECTIONS}` },
    header: { referenceStep: ctx.referenceStep },
    needs: "model",
    due: cadence(s.every),
    compute(step: number): KernelRecord {
      const kt = kernelAt();
      const cka: Record<string, number> = {};
      for (const [layer, rep] of representationsAt()) {
        const ref = reps0.get(layer);
        if (ref) cka[layer] = linearCka(ref, rep);
      }
      return { step, probe: n, kernelDistance: kernelDistance(kt, k0), kta: centeredKernelTargetAlignment(kt, y), cka };
    },
    dispose: () => {
      probe.x.dispose();
      probe.y.dispose();
    },
  };
}

function outputCount(system: SystemInstance): number {
  const o = system.data.output;
  return o.kind === "classes" ? o.count : o.dim;
}
