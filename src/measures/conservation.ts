// Conservation laws from symmetries (Kunin et al. 2021, "Neural mechanics"; docs/analyses.md,
// "Conservation laws"): the conserved quantity of each symmetry evaluated on saved parameters, the
// decay weight decay predicts for it, and the drift of one checkpoint against the reference.
//
// A symmetry's quantities are sums over *units*: entry c of a part's tensor along `axis` belongs to
// unit `offset + (c mod units)`. That one rule covers a hidden unit's incoming column and outgoing
// row (units = width), an embedding dimension repeated over positions (c mod e), a readout's
// per-feature sum over classes (units = features) with its bias as one more unit, and a whole
// tensor (units = 1).

/** Where a symmetry's quantities read one tensor. */
export interface Part {
  tensor: string;
  /** The axis whose index names the unit (1-D tensors: 0). */
  axis: 0 | 1;
  /** How many units this part spreads over (coordinate c goes to unit offset + c mod units). */
  units: number;
  offset: number;
}

/**
 * "quadratic": Q_u = Σ_plus ‖part_u‖² − degree · Σ_minus ‖part_u‖² (rescale; scale with no minus).
 * "linear": Q_u = Σ_plus Σ part_u (translation).
 */
export interface Law {
  form: "quadratic" | "linear";
  /** Number of conserved quantities (units). */
  count: number;
  plus: Part[];
  minus: Part[];
  /**
   * The homogeneity degree k of the activation between the two layers of a rescale: σ(αz) = α^k σ(z)
   * makes (w_in, w_out) → (α w_in, α^{−k} w_out) a symmetry, conserving ‖w_in‖² − k‖w_out‖². 1 for
   * ReLU, leaky ReLU and linear; 2 for the quadratic activation.
   */
  degree: number;
}

export type SymmetryKind = "rescale" | "translation" | "scale";

/** One symmetry of the model and the law it conserves. */
export interface Symmetry {
  kind: SymmetryKind;
  /** Where: "layers.0 → layers.1", "out", "residual stream". */
  layer: string;
  law: Law;
}

/** A tensor as the analyzer reads it from a checkpoint. */
export interface SavedTensor {
  shape: number[];
  values: ArrayLike<number>;
}

/** The quantities Q_u of `law` on `params`; a missing or mis-shaped tensor throws with its name. */
export function conservedQuantities(law: Law, params: ReadonlyMap<string, SavedTensor>): Float64Array {
  const q = new Float64Array(law.count);
  const add = (part: Part, sign: number, square: boolean) => {
    const t = params.get(part.tensor);
    if (!t) throw new Error(`the checkpoint has no tensor "${part.tensor}"`);
    const [rows = 1, cols = 1] = t.shape.length === 1 ? [t.shape[0], 1] : t.shape;
    if (t.shape.length > 2 || rows * cols !== t.values.length)
      throw new Error(`"${part.tensor}" has shape [${t.shape.join(", ")}], not a vector or a matrix`);
    if (part.offset + part.units > law.count)
      throw new Error(`"${part.tensor}": units ${part.offset}+${part.units} exceed the law's ${law.count}`);
    const v = t.values;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const x = v[r * cols + c]!;
        const u = part.offset + ((part.axis === 0 ? r : c) % part.units);
        q[u]! += sign * (square ? x * x : x);
      }
    }
  };
  const square = law.form === "quadratic";
  for (const p of law.plus) add(p, 1, square);
  for (const p of law.minus) add(p, -law.degree, square);
  return q;
}

// ------------------------------------------------------------------ what the optimizer predicts

/** The optimizer as far as the prediction needs it. */
export type OptimizerLaw =
  | { kind: "sgd"; weightDecay: number; momentum: number; nesterov: boolean }
  | { kind: "adamw"; weightDecay: number }
  | { kind: "adam"; weightDecay: number }
  | { kind: "unknown"; why: string };

/**
 * The factor a_k by which weight decay alone shrinks the parameters after updates with learning
 * rates `lrs` (η_1 … η_k), starting from a_0 = 1:
 * - SGD with coupled L2 λ (g + λθ) and momentum μ (PyTorch's: u ← μu + λa; a ← a − η u, Nesterov
 *   a ← a − η(λa + μu)): the scalar recursion of the decay term, so with μ = 0, a_k = ∏(1 − η_j λ);
 * - AdamW's decoupled decay θ ← (1 − ηλ)θ − η·step: a_k = ∏(1 − η_j λ).
 * The symmetry removes the gradient from the quantity's first-order change, so the quadratic
 * quantities follow Q_k ≈ a_k² Q_0 and the linear ones Q_k = a_k Q_0 (see `predictedQuantity`).
 * Adam with coupled L2 preconditions the decay per coordinate: no scalar factor, undefined.
 */
export function decayFactor(opt: OptimizerLaw, lrs: ArrayLike<number>): number | undefined {
  if (opt.kind === "unknown" || opt.kind === "adam") return undefined;
  const lambda = opt.weightDecay;
  let a = 1;
  if (opt.kind === "adamw") {
    for (let j = 0; j < lrs.length; j++) a *= 1 - lrs[j]! * lambda;
    return a;
  }
  let u = 0;
  for (let j = 0; j < lrs.length; j++) {
    const eta = lrs[j]!;
    u = opt.momentum * u + lambda * a;
    a = opt.nesterov ? a - eta * (lambda * a + opt.momentum * u) : a - eta * u;
  }
  return a;
}

/** How exact the prediction is for a law's form under an optimizer (docs/analyses.md). */
export function predictionQuality(
  opt: OptimizerLaw,
  form: Law["form"],
): "exact" | "leading order" | "decay only" | "none" {
  switch (opt.kind) {
    case "unknown":
      return "none";
    case "sgd":
      // Linear quantities follow the linear recursion exactly; quadratic ones up to the
      // η²(‖g_in‖² − k‖g_out‖²) term (exactly that term when μ = 0).
      return form === "linear" ? "exact" : "leading order";
    case "adamw":
    case "adam":
      // Adam's preconditioned step is not the gradient, so the symmetry no longer cancels it:
      // the law is broken at first order; only the decay's share is predicted (AdamW).
      return opt.kind === "adamw" ? "decay only" : "none";
  }
}

/** Q_pred(k) from the decay factor: a_k² Q_0 (quadratic) or a_k Q_0 (linear). */
export function predictedQuantity(form: Law["form"], a: number, q0: ArrayLike<number>): Float64Array {
  const f = form === "quadratic" ? a * a : a;
  return Float64Array.from(q0, (x) => f * x);
}

/** Drift of one checkpoint's quantities, relative to ‖Q(0)‖. */
export interface Drift {
  /** ‖Q(t)‖₂ */
  norm: number;
  /** Σ_u Q_u(t) */
  sum: number;
  /** ‖Q(t) − Q(0)‖ / ‖Q(0)‖; null when Q(0) = 0. */
  drift: number | null;
  /** ‖Q_pred(t) − Q(0)‖ / ‖Q(0)‖: what the law predicts for `drift`; null without a prediction. */
  predicted: number | null;
  /** ‖Q(t) − Q_pred(t)‖ / ‖Q(0)‖: what the prediction leaves unexplained (finite-η terms, noise). */
  residual: number | null;
}

export function driftOf(q: ArrayLike<number>, q0: ArrayLike<number>, pred: ArrayLike<number> | undefined): Drift {
  let sq = 0;
  let sum = 0;
  let sq0 = 0;
  let d = 0;
  let dp = 0;
  let r = 0;
  for (let u = 0; u < q.length; u++) {
    const x = q[u]!;
    const x0 = q0[u]!;
    sq += x * x;
    sum += x;
    sq0 += x0 * x0;
    d += (x - x0) ** 2;
    if (pred) {
      dp += (pred[u]! - x0) ** 2;
      r += (x - pred[u]!) ** 2;
    }
  }
  const n0 = Math.sqrt(sq0);
  const rel = (v: number) => (n0 > 0 ? Math.sqrt(v) / n0 : null);
  return {
    norm: Math.sqrt(sq),
    sum,
    drift: rel(d),
    predicted: pred ? rel(dp) : null,
    residual: pred ? rel(r) : null,
  };
}
