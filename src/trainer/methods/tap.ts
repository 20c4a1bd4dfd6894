// The instrumentation behind cheap per-example gradients: one batched forward and one partial
// backward pass give, for every linear layer, each example's layer inputs x_t and output
// gradients δ_t, from which that example's gradient is Σ_t x_t δ_tᵀ (t = the rows an example
// contributes: 1 for an MLP layer, its sequence positions in a transformer).
//
// How: while a pass runs, ops.ts hands every dense / gatherRows / addBias call to the tap. When
// the op's weight is one of the target's parameters, the tap records the op's input and adds a
// zero "probe" to its output. The gradient of Σ_i s_i (s_i = example i's loss, or an output) with
// respect to the probes is δ. Since no op mixes examples (no batch norm), δ restricted to example
// i's rows is ∂s_i/∂(its layer output), so the per-example products are exact.
//
// Cost: the backward pass is taken with respect to the probes only, so tfjs skips every xᵀ·δ
// weight-gradient product (dense's gradient is lazy per input) and computes only the δ chain:
// about half a training backward pass.
//
// Coverage: parameters whose every use goes through dense / gatherRows / addBias with the
// parameter passed as is (the built-in MLP, deep linear net, transformer weights, embeddings and
// MLP biases). Parameters the tap never sees (LayerNorm gains, positional embeddings, custom
// models' parameters) are reported as uncovered and get exact per-example gradients by looping
// over examples (`loopGradients`). Limitation: a parameter used both through a tapped op and
// some other op would be counted as covered with only part of its gradient; no built-in model
// does this.
import * as tf from "@tensorflow/tfjs-core";
import { setLinearTap, type LinearTap } from "../ops";
import type { AnalysisTarget } from "./target";

/** What a linear layer's output gradient multiplies to give its weight gradient, per row. */
export type LayerInput =
  /** A matrix product: rows x [rows, in]. */
  | { kind: "dense"; x: tf.Tensor2D }
  /** An embedding lookup: the row's one-hot vector over `dim` table rows, given by its index. */
  | { kind: "index"; indices: Int32Array; dim: number }
  /** A bias: input 1. */
  | { kind: "ones" };

/** One parameter's factors: its per-example gradient is Σ_t input_t δ_tᵀ, shaped like the parameter. */
export interface LayerFactors {
  /** Index into target.params. */
  readonly param: number;
  readonly name: string;
  readonly input: LayerInput;
  /** Input width (1 for a bias, table rows for an embedding). */
  readonly inDim: number;
  readonly outDim: number;
  /** Rows per example (sequence positions); rows are example-major. */
  readonly steps: number;
  /** Output gradients [n·steps, outDim]; undefined in a forward-only pass. */
  readonly delta: tf.Tensor2D | undefined;
}

export interface TapPass {
  readonly n: number;
  /** One entry per covered parameter, in target.params order. */
  readonly layers: readonly LayerFactors[];
  /** Indices into target.params of the parameters the tap did not see. */
  readonly uncovered: readonly number[];
  dispose(): void;
}

interface RawRecord {
  param: number;
  input: LayerInput;
  inDim: number;
  outDim: number;
  rows: number;
  probe: tf.Tensor2D | undefined;
}

class RecordingTap implements LinearTap {
  readonly records: RawRecord[] = [];
  /** Parameters seen in a layout the tap cannot factor (rows not a multiple of the batch). */
  readonly unsupported = new Set<number>();

  constructor(
    private readonly index: ReadonlyMap<tf.Tensor, number>,
    private readonly n: number,
    /** Where probes go when δ is wanted (engine.gradients reads this array after the forward pass). */
    private readonly probes: tf.Tensor[] | undefined,
  ) {}

  private record(w: tf.Tensor, layerInput: LayerInput, inDim: number, y: tf.Tensor2D): tf.Tensor2D {
    const param = this.index.get(w);
    if (param === undefined) return y;
    let input = layerInput;
    const rows = y.shape[0];
    if (rows % this.n !== 0) {
      this.unsupported.add(param);
      return y;
    }
    // A clone shares the data but can be disposed without touching the caller's tensor (x may be the input itself).
    if (input.kind === "dense") input = { kind: "dense", x: tf.keep(tf.clone(input.x)) };
    if (!this.probes) {
      this.records.push({ param, input, inDim, outDim: y.shape[1], rows, probe: undefined });
      return y;
    }
    // tf.zeros makes a tensor without running a kernel, so the probe is a leaf of the tape.
    const probe = tf.keep(tf.zeros(y.shape)) as tf.Tensor2D;
    this.probes.push(probe);
    this.records.push({ param, input, inDim, outDim: y.shape[1], rows, probe });
    return tf.add(y, probe);
  }

  dense(x: tf.Tensor2D, w: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
    return this.record(w, { kind: "dense", x }, x.shape[1], y);
  }

  gather(table: tf.Tensor2D, indices: tf.Tensor1D, y: tf.Tensor2D): tf.Tensor2D {
    if (!this.index.has(table)) return y;
    const ids = Int32Array.from(indices.dataSync());
    return this.record(table, { kind: "index", indices: ids, dim: table.shape[0] }, table.shape[0], y);
  }

  bias(b: tf.Tensor, y: tf.Tensor2D): tf.Tensor2D {
    return this.record(b, { kind: "ones" }, 1, y);
  }
}

/**
 * Runs target.output(x) on n examples with the tap active. With `seed`, also backpropagates
 * Σ seed(output) to the probes, so each layer's δ is ∂seed/∂(layer output); without, records
 * inputs only (hidden representations). The caller disposes the result.
 */
export function tapPass(target: AnalysisTarget, x: tf.Tensor, seed?: (out: tf.Tensor) => tf.Scalar): TapPass {
  const n = x.shape[0]!;
  const index = new Map<tf.Tensor, number>(target.params.map((p, i) => [p.variable, i]));
  // engine.gradients asserts a non-empty xs before running f; the probes are appended during f.
  const dummy = tf.scalar(0);
  const xs: tf.Tensor[] = [dummy];
  const tap = new RecordingTap(index, n, seed ? xs : undefined);
  const previous = setLinearTap(tap);
  const grads = new Map<tf.Tensor, tf.Tensor2D>();
  try {
    if (seed) {
      const { value, grads: gs } = tf.engine().gradients(() => seed(target.output(x)), xs, undefined, true);
      value.dispose();
      xs.forEach((p, i) => {
        const g = gs[i];
        if (i > 0 && g) grads.set(p, g as tf.Tensor2D);
      });
    } else {
      tf.tidy(() => {
        target.output(x);
      });
    }
  } finally {
    setLinearTap(previous);
    dummy.dispose();
  }

  const byParam = new Map<number, RawRecord[]>();
  for (const r of tap.records) {
    if (!byParam.has(r.param)) byParam.set(r.param, []);
    byParam.get(r.param)!.push(r);
  }
  // Everything the pass made that outlives it; disposing a tensor twice is a no-op in tfjs.
  const owned = new Set<tf.Tensor>(grads.values());
  for (const r of tap.records) {
    if (r.input.kind === "dense") owned.add(r.input.x);
    if (r.probe) owned.add(r.probe);
  }
  const layers: LayerFactors[] = [];
  const uncovered: number[] = [];
  target.params.forEach((p, i) => {
    const recs = byParam.get(i);
    const merged =
      recs && !tap.unsupported.has(i) ? merge(recs, n, p.name, i, seed ? grads : undefined, owned) : undefined;
    if (merged) layers.push(merged);
    else uncovered.push(i);
  });
  let disposed = false;
  return {
    n,
    layers,
    uncovered,
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const t of owned) t.dispose();
    },
  };
}

/**
 * One parameter's records as a single factor pair. A parameter used by several ops (e.g. a
 * weight applied at two places) has gradient Σ_records Σ_t x_t δ_tᵀ, i.e. the same formula over
 * the records' rows concatenated per example. Returns undefined when the records cannot be
 * combined (different input kinds or widths).
 */
function merge(
  recs: RawRecord[],
  n: number,
  name: string,
  param: number,
  grads: Map<tf.Tensor, tf.Tensor2D> | undefined,
  owned: Set<tf.Tensor>,
): LayerFactors | undefined {
  const first = recs[0]!;
  if (recs.some((r) => r.input.kind !== first.input.kind || r.inDim !== first.inDim || r.outDim !== first.outDim))
    return undefined;
  const keep = <T extends tf.Tensor>(t: T): T => {
    owned.add(t);
    return t;
  };
  // A probe that does not reach the seed has no gradient: δ = 0.
  const deltaOf = (r: RawRecord): tf.Tensor2D | undefined =>
    grads ? ((r.probe && grads.get(r.probe)) ?? keep(tf.zeros([r.rows, r.outDim]) as tf.Tensor2D)) : undefined;
  const steps = recs.reduce((s, r) => s + r.rows / n, 0);
  if (recs.length === 1) {
    return { param, name, input: first.input, inDim: first.inDim, outDim: first.outDim, steps, delta: deltaOf(first) };
  }
  // Concatenate per example along the step axis: [n, s_r, ·] → [n, Σ s_r, ·] → rows.
  const cat = (ts: tf.Tensor2D[], width: number): tf.Tensor2D =>
    keep(
      tf.tidy(
        () =>
          tf.reshape(
            tf.concat(
              ts.map((t, k) => tf.reshape(t, [n, recs[k]!.rows / n, width])),
              1,
            ),
            [n * steps, width],
          ) as tf.Tensor2D,
      ),
    );
  let input: LayerInput;
  if (first.input.kind === "dense") {
    input = {
      kind: "dense",
      x: cat(
        recs.map((r) => (r.input as { x: tf.Tensor2D }).x),
        first.inDim,
      ),
    };
  } else if (first.input.kind === "index") {
    const indices = new Int32Array(n * steps);
    let o = 0;
    for (let i = 0; i < n; i++) {
      for (const r of recs) {
        const s = r.rows / n;
        indices.set((r.input as { indices: Int32Array }).indices.subarray(i * s, (i + 1) * s), o);
        o += s;
      }
    }
    input = { kind: "index", indices, dim: first.inDim };
  } else {
    input = { kind: "ones" };
  }
  const delta = grads ? cat(recs.map(deltaOf) as tf.Tensor2D[], first.outDim) : undefined;
  return { param, name, input, inDim: first.inDim, outDim: first.outDim, steps, delta };
}

/**
 * Exact per-example gradients of `seedOne(output of example i, i)` with respect to the given
 * parameters, by one backward pass per example (the fallback for parameters the tap does not
 * cover). Returns [n, Σ sizes] row-major, parameters concatenated in the order given, each
 * flattened row-major.
 */
export function loopGradients(
  target: AnalysisTarget,
  x: tf.Tensor,
  params: readonly number[],
  seedOne: (out: tf.Tensor, i: number) => tf.Scalar,
): Float32Array {
  const n = x.shape[0]!;
  const vars = params.map((i) => target.params[i]!.variable);
  const sizes = vars.map((v) => v.size);
  const dim = sizes.reduce((a, b) => a + b, 0);
  const out = new Float32Array(n * dim);
  if (dim === 0) return out;
  const previous = setLinearTap(undefined);
  try {
    for (let i = 0; i < n; i++) {
      const values = tf.tidy(() => {
        const xi = rowsOf(x, i, 1);
        const { value, grads } = tf.engine().gradients(() => seedOne(target.output(xi), i), vars, undefined, true);
        value.dispose();
        return tf.concat(grads.map((g, k) => (g ? tf.reshape(g, [-1]) : tf.zeros([sizes[k]!]))));
      });
      out.set(values.dataSync(), i * dim);
      values.dispose();
    }
  } finally {
    setLinearTap(previous);
  }
  return out;
}

/** Rows [start, start + count) of a tensor along its first axis. */
export function rowsOf<T extends tf.Tensor>(t: T, start: number, count: number): T {
  const begin = t.shape.map((_, k) => (k === 0 ? start : 0));
  const size = t.shape.map((d, k) => (k === 0 ? count : d));
  return tf.slice(t, begin, size) as T;
}
