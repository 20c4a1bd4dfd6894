// Sharpness per checkpoint (Cohen et al. 2021, 2022; docs/analyses.md, "Sharpness and the edge of
// stability"): the top Hessian eigenvalues of the full-batch training objective, for Adam/AdamW
// also λ_max(P⁻¹H) with the preconditioner P = (1 − β₁ᵗ)(√v̂ + ε) of the checkpoint's optimizer
// state, and the stability threshold from the learning rate of the next update.
import { type StabilityOptimizer, stabilityThreshold } from "../../measures/sharpness";
import type { AnalysesSpec, OptimizerSpec } from "../../sdk/spec";
import type { SharpnessRecord } from "../../shared/analysisFormat";
import { lossAndGradient, sharpness } from "../methods/hessian";
import type { Examples } from "../methods/target";
import { scheduledLr } from "../optimizers";
import { type Analysis, cadence, type ModelContext } from "./analysis";

/** η of the update after checkpoint `step`: the logged `lr`, else the schedule's. */
export function lrAfter(spec: { optimizer: OptimizerSpec; steps: number }, logged: number, step: number): number {
  if (Number.isFinite(logged)) return logged;
  return scheduledLr(spec.optimizer.lr, spec.optimizer.schedule, step + 1, spec.steps);
}

/** The optimizer's stability rule at learning rate η. */
export function stabilityOf(o: OptimizerSpec, lr: number): StabilityOptimizer {
  if (o.kind === "sgd")
    return o.momentum > 0 ? { kind: "momentum", lr, momentum: o.momentum, nesterov: o.nesterov } : { kind: "gd", lr };
  return { kind: "adam", lr, beta1: o.betas[0] };
}

/**
 * Adam's preconditioner P = (1 − β₁ᵗ)(√(v/(1 − β₂ᵗ)) + ε) flattened in parameter order, the one
 * the update after the checkpoint divides by (optimizers.ts); undefined before the first update.
 */
export function adamPreconditioner(
  o: Extract<OptimizerSpec, { kind: "adam" | "adamw" }>,
  names: readonly string[],
  slot: { t: number; values: ReadonlyMap<string, Float32Array> },
): Float64Array | undefined {
  if (slot.t < 1) return undefined;
  const [b1, b2] = o.betas;
  const c1 = 1 - b1 ** slot.t;
  const c2 = Math.sqrt(1 - b2 ** slot.t);
  const parts = names.map((n) => slot.values.get(n));
  if (parts.some((p) => p === undefined)) return undefined;
  const out = new Float64Array(parts.reduce((s, p) => s + p!.length, 0));
  let k = 0;
  for (const p of parts) for (const v of p!) out[k++] = c1 * (Math.sqrt(Math.max(v, 0)) / c2 + o.eps);
  return out;
}

export function createSharpnessAnalysis(
  model: ModelContext,
  settings: AnalysesSpec["sharpness"],
): Analysis<"sharpness"> {
  const { system } = model;
  const target = system.target();
  const n = system.train.n;
  const train: Examples = {
    x: system.train.x,
    y: system.train.y,
    indices: Int32Array.from({ length: n }, (_, i) => i),
  };
  const opt = system.spec.optimizer;
  // Coupled weight decay is part of the objective: (λ/2)‖w‖² adds λI to its Hessian. AdamW's is not.
  const l2 = opt.kind === "adamw" ? 0 : opt.weightDecay;
  const options = {
    count: settings.eigenvalues,
    maxIterations: settings.iterations,
    tolerance: settings.tolerance,
    fdStep: settings.fdStep,
    method: "finite-difference" as const,
    l2,
  };
  const names = target.params.map((p) => p.name);
  return {
    name: "sharpness",
    settings: { ...settings },
    header: {},
    needs: "model",
    due: cadence(settings.every),
    compute(step: number): SharpnessRecord {
      const lr = lrAfter(system.spec, model.lr(step), step);
      const rule = stabilityOf(opt, lr);
      const threshold = stabilityThreshold(rule);
      const plain = sharpness(target, train, options);
      let preconditioned: number | null = null;
      let preconditionedError: number | undefined;
      let products = plain.products;
      if (opt.kind !== "sgd") {
        const slot = model.optimizerSlot(step, "v");
        const p = slot && adamPreconditioner(opt, names, slot);
        if (p) {
          const pre = sharpness(target, train, { ...options, count: 1 }, p);
          preconditioned = pre.values[0]!;
          preconditionedError = pre.error;
          products += pre.products;
        }
      }
      const loss = lossAndGradient(target, train).loss + (l2 > 0 ? l2Term(target, l2) : 0);
      return {
        step,
        eigenvalues: plain.values,
        preconditioned,
        lr: Number.isFinite(lr) ? lr : null,
        threshold: Number.isFinite(threshold) ? threshold : null,
        thresholdOf: rule.kind === "adam" ? "preconditioned" : "sharpness",
        method: plain.method,
        error: plain.error,
        ...(preconditionedError !== undefined ? { preconditionedError } : {}),
        iterations: products,
        loss,
      };
    },
    dispose: () => {},
  };
}

/** (λ/2)‖w‖², the coupled weight decay's part of the objective. */
function l2Term(target: ReturnType<ModelContext["system"]["target"]>, l2: number): number {
  let s = 0;
  for (const p of target.params) for (const v of p.variable.dataSync()) s += v * v;
  return (l2 / 2) * s;
}
