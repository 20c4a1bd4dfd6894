// Conservation laws (Kunin et al. 2021): the conserved quantity of each symmetry of the model at
// each checkpoint, its drift from the reference and the drift weight decay predicts. Needs only
// checkpoints and run.json (the symmetries come from the config and the tensor names and shapes;
// the optimizer from the config, or from a PyTorch checkpoint's optimizer metadata), so it runs on
// PyTorch runs too. The math is in src/measures/conservation.ts and symmetries.ts.
import {
  conservedQuantities,
  decayFactor,
  detectSymmetries,
  driftOf,
  type OptimizerLaw,
  predictedQuantity,
  predictionQuality,
} from "../../measures/index";
import type { ScheduleSpec } from "../../sdk/spec";
import { tryParseJson } from "../../shared/jsonText";
import type { ConservationRecord, ConservedLaw } from "../../shared/analysisFormat";
import { scheduledLr } from "../optimizers";
import { type Analysis, type AnalysisContext, cadence } from "./analysis";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (o: Obj, key: string, fallback: number): number =>
  typeof o[key] === "number" ? (o[key] as number) : fallback;

/** The optimizer and its learning rate for update j (1-based), or why there is no prediction. */
interface Optimization {
  law: OptimizerLaw;
  /** η of the j-th update of the run. */
  lrAt: (j: number) => number;
  /** Where η and λ came from, for the record's `law`. */
  source: string;
}

/** A built-in system's optimizer from run.json `config.optimizer` (src/sdk/spec.ts), with its exact schedule. */
function builtInOptimization(opt: Obj, totalSteps: number): Optimization | undefined {
  const kind = opt["kind"];
  const lr = opt["lr"];
  const schedule = opt["schedule"];
  if (typeof lr !== "number" || !isObj(schedule)) return undefined;
  const s: ScheduleSpec = {
    warmupSteps: num(schedule, "warmupSteps", 0),
    decay: schedule["decay"] === "cosine" || schedule["decay"] === "linear" ? schedule["decay"] : "constant",
    minLrFraction: num(schedule, "minLrFraction", 0),
  };
  const lrAt = (j: number) => scheduledLr(lr, s, j, totalSteps);
  const weightDecay = num(opt, "weightDecay", 0);
  const source = "run.json config.optimizer with its schedule";
  if (kind === "sgd")
    return {
      law: { kind: "sgd", weightDecay, momentum: num(opt, "momentum", 0), nesterov: opt["nesterov"] === true },
      lrAt,
      source,
    };
  if (kind === "adam" || kind === "adamw") return { law: { kind, weightDecay }, lrAt, source };
  return undefined;
}

/**
 * A PyTorch run's optimizer from a checkpoint's metadata ({class, groups: [param_groups]}), η and λ
 * taken as constant since the reference (a scheduler's changes between checkpoints are not seen).
 */
function torchOptimization(meta: unknown): Optimization | { why: string } {
  if (!isObj(meta) || !Array.isArray(meta["groups"]) || meta["groups"].length === 0 || !isObj(meta["groups"][0]))
    return { why: "the checkpoint has no optimizer metadata (class and param_groups)" };
  const groups = meta["groups"].filter(isObj);
  const g = groups[0]!;
  const same = (key: string) => groups.every((x) => x[key] === g[key]);
  if (!same("lr") || !same("weight_decay"))
    return {
      why: "the optimizer's param groups have different lr or weight_decay, which the checkpoint does not map to tensors",
    };
  const lr = num(g, "lr", Number.NaN);
  const weightDecay = num(g, "weight_decay", 0);
  const cls = String(meta["class"] ?? "");
  const source = `the checkpoint's optimizer metadata (${cls}: lr ${lr}, weight_decay ${weightDecay}, taken as constant)`;
  const lrAt = () => lr;
  if (!Number.isFinite(lr)) return { why: "the optimizer metadata has no lr" };
  if (cls === "SGD")
    return {
      law: { kind: "sgd", weightDecay, momentum: num(g, "momentum", 0), nesterov: g["nesterov"] === true },
      lrAt,
      source,
    };
  if (cls === "AdamW" || (cls === "Adam" && g["decoupled_weight_decay"] === true))
    return { law: { kind: "adamw", weightDecay }, lrAt, source };
  if (cls === "Adam") return { law: { kind: "adam", weightDecay }, lrAt, source };
  return { why: `no prediction for the optimizer ${cls || "(unnamed)"}` };
}

/** The law in words: what the record's `predicted` is. */
function describeLaw(o: Optimization | { why: string }): string {
  if ("why" in o) return `no prediction: ${o.why}`;
  const l = o.law;
  switch (l.kind) {
    case "sgd": {
      const mom = l.momentum > 0 ? `, momentum ${l.momentum}${l.nesterov ? " (Nesterov)" : ""}` : "";
      if (l.weightDecay === 0)
        return `SGD${mom}, no weight decay: Q(t) = Q(0) (gradient flow); at finite η the rescale and scale quantities move by η²(‖g_in‖² − k‖g_out‖²) per step (the residual). η from ${o.source}`;
      const a = l.momentum > 0 ? "a_t from u ← μu + λa, a ← a − ηu (a_0 = 1)" : "a_t = ∏_j (1 − η_j λ)";
      return `SGD${mom}, coupled L2 λ = ${l.weightDecay}: quadratic Q(t) = a_t² Q(0), translation Q(t) = a_t Q(0), ${a}; η from ${o.source}`;
    }
    case "adamw":
      return `AdamW, decoupled decay λ = ${l.weightDecay}: the decay's share a_t² Q(0), a_t = ∏_j (1 − η_j λ); Adam's preconditioned step also moves Q at first order (not predicted). η from ${o.source}`;
    case "adam":
      return "Adam: no prediction (the per-coordinate preconditioner breaks the symmetry's cancellation at first order)";
    case "unknown":
      return `no prediction: ${l.why}`;
  }
}

/** A JSON value held in a checkpoint's metadata, or undefined when absent or not JSON. */
function metadataValue(meta: Readonly<Record<string, string>> | undefined, key: string): unknown {
  const text = meta?.[key];
  if (text === undefined) return undefined;
  const parsed = tryParseJson(text);
  return parsed.ok ? parsed.value : undefined;
}

export function createConservationAnalysis(ctx: AnalysisContext): Analysis<"conservation"> {
  const s = ctx.settings.conservation;
  const ref = ctx.params(ctx.referenceStep);
  const config = ctx.manifest.config;
  const refMeta = ctx.checkpointMetadata(ctx.referenceStep);
  const order = metadataValue(refMeta, "params");
  const report = detectSymmetries(config, ref, {
    ...(Array.isArray(order) ? { order: order.filter((x): x is string => typeof x === "string") } : {}),
    layout: refMeta?.["layout"] === "pytorch" ? "pytorch" : "in-out",
  });
  const q0 = report.symmetries.map((sym) => conservedQuantities(sym.law, ref));
  const builtIn =
    isObj(config) && isObj(config["model"]) && isObj(config["optimizer"])
      ? builtInOptimization(config["optimizer"], ctx.manifest.totalSteps)
      : undefined;

  const compute = (step: number): ConservationRecord => {
    const params = ctx.params(step);
    const optimization = builtIn ?? torchOptimization(metadataValue(ctx.checkpointMetadata(step), "optimizer"));
    // The updates between the reference and this checkpoint: j = ref+1 … step.
    const n = Math.max(0, step - ctx.referenceStep);
    const lrs = new Float64Array(n);
    if (!("why" in optimization)) for (let j = 0; j < n; j++) lrs[j] = optimization.lrAt(ctx.referenceStep + j + 1);
    const law: OptimizerLaw = "why" in optimization ? { kind: "unknown", why: optimization.why } : optimization.law;
    const a = decayFactor(law, lrs);
    let time = 0;
    for (const eta of lrs) time += eta;
    const symmetries: ConservedLaw[] = report.symmetries.map((sym, i) => {
      const q = conservedQuantities(sym.law, params);
      const pred = a === undefined ? undefined : predictedQuantity(sym.law.form, a, q0[i]!);
      return {
        kind: sym.kind,
        layer: sym.layer,
        count: sym.law.count,
        ...driftOf(q, q0[i]!, pred),
        quality: a === undefined ? "none" : predictionQuality(law, sym.law.form),
      };
    });
    const known = !("why" in optimization);
    return {
      step,
      lr: known && n > 0 && Number.isFinite(lrs[n - 1]!) ? lrs[n - 1]! : null,
      time: known && Number.isFinite(time) ? time : null,
      decay: a ?? null,
      law: describeLaw(optimization),
      symmetries,
      notes: report.notes,
    };
  };

  return {
    name: "conservation",
    settings: { ...s },
    header: { referenceStep: ctx.referenceStep },
    needs: "checkpoints",
    due: cadence(s.every),
    compute,
    dispose: () => {},
  };
}
