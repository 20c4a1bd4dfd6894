// Per-example gradients, exact or randomly projected (LoGra, Choe et al. 2024), from one tapped
// backward pass per chunk of examples (see tap.ts).
//
// Projection of a linear layer's per-example gradient G = Σ_t x_t δ_tᵀ ([in, out], the
// parameter's shape) is factor-wise: P_inᵀ G P_out = Σ_t (P_inᵀ x_t)(P_outᵀ δ_t)ᵀ, a
// [k_in, k_out] block computed from the projected factors, never from G. P_in [in, k_in] and
// P_out [out, k_out] have i.i.d. N(0, 1/k) entries, so E[P Pᵀ] = I and projected dot products are
// unbiased estimates of the exact ones. A side whose width is ≤ its k is not projected (identity:
// exact and smaller). A bias is a layer with input 1: only its output side is projected. An
// embedding's input is a one-hot row, so P_inᵀ x_t is a row of P_in.
// Parameters the tap does not cover get exact per-example gradients by looping (tap.ts) and one
// plain JL matrix [Σ sizes, k_fallback] (identity if Σ sizes ≤ k_fallback).
//
// Every matrix is drawn from our seeded Rng keyed by (seed, parameter name, side), so every
// checkpoint of a run, and every process, uses the same projection.
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../../sdk/rng";
import { loopGradients, rowsOf, tapPass, type LayerFactors } from "./tap";
import type { AnalysisTarget, Examples } from "./target";

export interface ProjectionSpec {
  /** Projected width of each linear layer's input factor. */
  readonly kIn: number;
  /** Projected width of each linear layer's output-gradient factor. */
  readonly kOut: number;
  /** Projected width of all fallback (untapped) parameters together. */
  readonly kFallback: number;
  /** Seed of the projection matrices; keep it fixed across checkpoints. */
  readonly seed: number;
}

/** "exact": no projection, the full per-example gradient (small models only). */
export type GradientMode = "exact" | ProjectionSpec;

/** Where a parameter's (projected) gradient sits in a row of the output. */
export interface GradientBlock {
  readonly name: string;
  /** "tap": a linear layer projected factor-wise (or exact); "fallback": a looped parameter (its share of the fallback block). */
  readonly kind: "tap" | "fallback";
  readonly offset: number;
  readonly size: number;
}

export interface Coverage {
  /** Parameters whose per-example gradients came from the tap (one batched pass). */
  readonly tapped: readonly string[];
  /** Parameters whose per-example gradients came from a loop over examples (slow). */
  readonly fallback: readonly string[];
}

export interface PerExampleGradients {
  readonly n: number;
  /** Row width D = Σ_tapped k_in'·k_out' + fallback width. */
  readonly dim: number;
  /** [n, dim] row-major. */
  readonly values: Float32Array;
  /** Tapped blocks in target.params order, then one "fallback" block holding every looped parameter. */
  readonly blocks: readonly GradientBlock[];
  readonly coverage: Coverage;
}

/** Per-row scalar whose gradient is wanted; the default is the example's loss. */
export type Seed = "loss" | { kind: "output"; direction: Float32Array };

export interface GradientOptions {
  /** Whose gradient: each example's loss (default) or an output direction. */
  readonly seed?: Seed;
  /** Examples per tapped pass (memory bound). */
  readonly chunk?: number;
}

interface Layout {
  blocks: GradientBlock[];
  dim: number;
  coverage: Coverage;
}

interface ChunkFactors {
  start: number;
  n: number;
  layers: Array<{ a: tf.Tensor2D; b: tf.Tensor2D; steps: number; block: GradientBlock }>;
  fallback: { values: tf.Tensor2D; block: GradientBlock } | undefined;
}

/** Default chunk size: bounds memory (activations and factors of this many examples at once). */
const DEFAULT_CHUNK = 4096;

/**
 * Computes per-example gradients (exact or projected) of a target. Holds its projection matrices,
 * so create one per analysis and reuse it across checkpoints; dispose it at the end.
 */
export class GradientProjector {
  private readonly matrices = new Map<string, tf.Tensor2D | null>();
  private layout: Layout | undefined;

  constructor(
    readonly target: AnalysisTarget,
    readonly mode: GradientMode = "exact",
  ) {
    if (mode !== "exact") {
      for (const [key, k] of [
        ["kIn", mode.kIn],
        ["kOut", mode.kOut],
        ["kFallback", mode.kFallback],
      ] as const) {
        if (!Number.isInteger(k) || k < 1) throw new Error(`projection: ${key} must be a positive integer, got ${k}`);
      }
    }
  }

  /**
   * Per-example gradients of the examples' losses (or of `seed`'s output direction · output),
   * in chunks of `chunk` examples. Materializes [n, D]; for dot products against one vector
   * (TracIn) use `sum` and `dotWith`, which never form per-example rows.
   */
  perExample(examples: Pick<Examples, "x" | "y">, options: GradientOptions = {}): PerExampleGradients {
    const n = examples.x.shape[0]!;
    let values = new Float32Array(0);
    this.forEachChunk(examples, options, (c, layout) => {
      if (values.length === 0) values = new Float32Array(n * layout.dim);
      for (const { a, b, block, steps } of c.layers) {
        const rows = tf.tidy(() => perExampleOuter(a, b, c.n, steps));
        copyColumns(
          rows.dataSync() as Float32Array,
          c.n,
          block.size,
          values,
          layout.dim,
          c.start * layout.dim + block.offset,
        );
        rows.dispose();
      }
      if (c.fallback)
        copyColumns(
          c.fallback.values.dataSync() as Float32Array,
          c.n,
          c.fallback.block.size,
          values,
          layout.dim,
          c.start * layout.dim + c.fallback.block.offset,
        );
    });
    const layout = this.layout;
    if (!layout) return { n: 0, dim: 0, values, blocks: [], coverage: { tapped: [], fallback: [] } };
    return { n, dim: layout.dim, values, blocks: layout.blocks, coverage: layout.coverage };
  }

  /**
   * Σ_i g_i over the examples (projected like `perExample`), [D]. A layer's block is Aᵀ B with A,
   * B the projected factors of every row, so no per-example gradient is formed.
   */
  sum(examples: Pick<Examples, "x" | "y">, options: GradientOptions = {}): Float64Array {
    let total = new Float64Array(0);
    this.forEachChunk(examples, options, (c, layout) => {
      if (total.length === 0) total = new Float64Array(layout.dim);
      const add = (t: tf.Tensor, offset: number) => {
        const v = t.dataSync();
        for (let k = 0; k < v.length; k++) total[offset + k]! += v[k]!;
      };
      for (const { a, b, block } of c.layers) {
        const s = tf.tidy(() => tf.matMul(tf.transpose(a), b)); // explicit transpose: see ops.ts (wasm)
        add(s, block.offset);
        s.dispose();
      }
      if (c.fallback) {
        const s = tf.sum(c.fallback.values, 0);
        add(s, c.fallback.block.offset);
        s.dispose();
      }
    });
    return total;
  }

  /**
   * g_i · v for every example (g_i projected like `perExample`, v of width D), [n]. Per layer
   * Σ_t a_tᵀ V b_t with V = v's block as [k_in', k_out']: one product per row, no [n, D] matrix.
   */
  dotWith(
    examples: Pick<Examples, "x" | "y">,
    v: Float64Array | Float32Array,
    options: GradientOptions = {},
  ): Float64Array {
    const n = examples.x.shape[0]!;
    const out = new Float64Array(n);
    this.forEachChunk(examples, options, (c, layout) => {
      if (v.length !== layout.dim)
        throw new Error(`dotWith: vector has width ${v.length}, gradients have ${layout.dim}`);
      const add = (t: tf.Tensor) => {
        const s = t.dataSync();
        for (let i = 0; i < c.n; i++) out[c.start + i]! += s[i]!;
      };
      for (const { a, b, block, steps } of c.layers) {
        const s = tf.tidy(() => {
          const vBlock = tf.tensor2d(Float32Array.from(v.subarray(block.offset, block.offset + block.size)), [
            a.shape[1],
            b.shape[1],
          ]);
          const perRow = tf.sum(tf.mul(tf.matMul(a, vBlock), b), 1);
          return steps === 1 ? perRow : tf.sum(tf.reshape(perRow, [c.n, steps]), 1);
        });
        add(s);
        s.dispose();
      }
      if (c.fallback) {
        const fb = c.fallback;
        const s = tf.tidy(() =>
          tf.matMul(
            fb.values,
            tf.tensor2d(Float32Array.from(v.subarray(fb.block.offset, fb.block.offset + fb.block.size)), [
              fb.block.size,
              1,
            ]),
          ),
        );
        add(s);
        s.dispose();
      }
    });
    return out;
  }

  /** Which parameters are tapped / looped; known after the first pass. */
  coverage(): Coverage | undefined {
    return this.layout?.coverage;
  }

  /** Width D of the gradients; known after the first pass. */
  dim(): number | undefined {
    return this.layout?.dim;
  }

  /** The seed scalar summed over a batch: Σ_i loss_i, or Σ_i direction·out_i. */
  private seedFn(y: tf.Tensor, seed: Seed): (out: tf.Tensor) => tf.Scalar {
    if (seed === "loss") return (out) => tf.sum(this.target.perExampleLoss(out, y));
    const dir = seed.direction;
    return (out) => tf.sum(tf.mul(out, tf.tensor1d(dir)));
  }

  /**
   * One tapped pass per chunk; hands `visit` each tapped layer's projected factors A = P_inᵀ x
   * [rows, k_in'] and B = P_outᵀ δ [rows, k_out'] (rows example-major), and the fallback
   * parameters' projected per-example gradients [n, width]. Tensors are freed after `visit`.
   */
  private forEachChunk(
    examples: Pick<Examples, "x" | "y">,
    options: GradientOptions,
    visit: (c: ChunkFactors, layout: Layout) => void,
  ): void {
    const n = examples.x.shape[0]!;
    const chunk = options.chunk ?? DEFAULT_CHUNK;
    const seed = options.seed ?? "loss";
    for (let start = 0; start < n; start += chunk) {
      const count = Math.min(chunk, n - start);
      const x = rowsOf(examples.x, start, count);
      const y = rowsOf(examples.y, start, count);
      const pass = tapPass(this.target, x, this.seedFn(y, seed));
      const made: tf.Tensor[] = [];
      try {
        this.layout ??= this.describe(pass.layers, pass.uncovered);
        const layout = this.layout;
        if (pass.layers.length !== layout.blocks.filter((b) => b.kind === "tap").length)
          throw new Error("gradients: the tapped layers changed between chunks");
        const layers = pass.layers.map((f, k) => {
          const { a, b } = tf.tidy(() => this.factors(f, count));
          made.push(a, b);
          return { a, b, steps: f.steps, block: layout.blocks[k]! };
        });
        let fallback: ChunkFactors["fallback"];
        if (pass.uncovered.length > 0) {
          const seedOne = (o: tf.Tensor, i: number): tf.Scalar => tf.tidy(() => this.seedFn(rowsOf(y, i, 1), seed)(o));
          const exact = loopGradients(this.target, x, pass.uncovered, seedOne);
          const values = tf.tidy(() => {
            const g = tf.tensor2d(exact, [count, exact.length / count]);
            const p = this.fallbackMatrix(pass.uncovered);
            return (p ? tf.matMul(g, p) : g) as tf.Tensor2D;
          });
          made.push(values);
          fallback = { values, block: layout.blocks[layout.blocks.length - 1]! };
        }
        visit({ start, n: count, layers, fallback }, layout);
      } finally {
        for (const t of made) t.dispose();
        pass.dispose();
        x.dispose();
        y.dispose();
      }
    }
  }

  private describe(layers: readonly LayerFactors[], uncovered: readonly number[]): Layout {
    const blocks: GradientBlock[] = [];
    let offset = 0;
    for (const f of layers) {
      const size = this.width(f.inDim, "in", f.input.kind === "ones") * this.width(f.outDim, "out", false);
      blocks.push({ name: f.name, kind: "tap", offset, size });
      offset += size;
    }
    const fallbackNames = uncovered.map((i) => this.target.params[i]!.name);
    if (uncovered.length > 0) {
      const total = uncovered.reduce((s, i) => s + this.target.params[i]!.variable.size, 0);
      const size = this.mode === "exact" || total <= this.mode.kFallback ? total : this.mode.kFallback;
      blocks.push({ name: fallbackNames.join(","), kind: "fallback", offset, size });
      offset += size;
    }
    return { blocks, dim: offset, coverage: { tapped: layers.map((f) => f.name), fallback: fallbackNames } };
  }

  /** Projected width of a factor: k, or the width itself when not projected. */
  private width(dim: number, side: "in" | "out", isBias: boolean): number {
    if (isBias && side === "in") return 1;
    if (this.mode === "exact") return dim;
    const k = side === "in" ? this.mode.kIn : this.mode.kOut;
    return Math.min(dim, k);
  }

  /** N(0, 1/k) matrix [rows, k] for (name, side), or null when that side is not projected. */
  private matrix(name: string, side: string, rows: number, k: number | undefined): tf.Tensor2D | null {
    if (this.mode === "exact" || k === undefined || rows <= k) return null;
    const key = `${name}\u0000${side}`;
    if (!this.matrices.has(key)) {
      const values = new Rng(this.mode.seed, "logra", name, side).normals(rows * k, 1 / Math.sqrt(k));
      this.matrices.set(key, tf.keep(tf.tensor2d(values, [rows, k])));
    }
    return this.matrices.get(key)!;
  }

  /** A layer's projected factors: A = P_inᵀ x_t [rows, k_in'], B = P_outᵀ δ_t [rows, k_out']. */
  private factors(f: LayerFactors, n: number): { a: tf.Tensor2D; b: tf.Tensor2D } {
    const kIn = this.mode === "exact" ? undefined : this.mode.kIn;
    const kOut = this.mode === "exact" ? undefined : this.mode.kOut;
    const rows = n * f.steps;
    let a: tf.Tensor2D;
    if (f.input.kind === "ones") {
      a = tf.ones([rows, 1]);
    } else {
      const pIn = this.matrix(f.name, "in", f.inDim, kIn);
      if (f.input.kind === "dense") a = pIn ? tf.matMul(f.input.x, pIn) : tf.clone(f.input.x);
      else {
        const idx = tf.tensor1d(f.input.indices, "int32");
        a = pIn ? tf.gather(pIn, idx) : oneHotRows(idx, f.input.dim);
      }
    }
    const pOut = this.matrix(f.name, "out", f.outDim, kOut);
    const b: tf.Tensor2D = pOut ? tf.matMul(f.delta!, pOut) : tf.clone(f.delta!);
    return { a, b };
  }

  /** Plain JL matrix [Σ sizes, k_fallback] over the looped parameters, or null (identity). */
  private fallbackMatrix(uncovered: readonly number[]): tf.Tensor2D | null {
    if (this.mode === "exact") return null;
    const total = uncovered.reduce((s, i) => s + this.target.params[i]!.variable.size, 0);
    if (total <= this.mode.kFallback) return null;
    const name = uncovered.map((i) => this.target.params[i]!.name).join(",");
    return this.matrix(name, "fallback", total, this.mode.kFallback);
  }

  dispose(): void {
    for (const m of this.matrices.values()) m?.dispose();
    this.matrices.clear();
  }
}

/** One-hot rows as float32. (tf.oneHot with dtype "float32" returns all zeros on tfjs-backend-wasm, so cast the int32 result.) */
export function oneHotRows(indices: tf.Tensor1D, depth: number): tf.Tensor2D {
  return tf.tidy(() => tf.cast(tf.oneHot(indices, depth), "float32") as tf.Tensor2D);
}

/** Per-example Σ_t a_t b_tᵀ, flattened row-major: [n, k_in'·k_out']. */
function perExampleOuter(a: tf.Tensor2D, b: tf.Tensor2D, n: number, steps: number): tf.Tensor2D {
  const ki = a.shape[1],
    ko = b.shape[1];
  if (steps === 1) return tf.reshape(tf.mul(tf.reshape(a, [n, ki, 1]), tf.reshape(b, [n, 1, ko])), [n, ki * ko]);
  // A batched [k_in, steps]·[steps, k_out] product (explicit transpose: flagged matMul is slow on wasm, see ops.ts).
  const at = tf.transpose(tf.reshape(a, [n, steps, ki]), [0, 2, 1]);
  return tf.reshape(tf.matMul(at, tf.reshape(b, [n, steps, ko])), [n, ki * ko]);
}

function copyColumns(
  src: Float32Array,
  n: number,
  width: number,
  dst: Float32Array,
  dstWidth: number,
  offset: number,
): void {
  for (let i = 0; i < n; i++) dst.set(src.subarray(i * width, (i + 1) * width), i * dstWidth + offset);
}

/**
 * Error of projected against exact per-example gradient dot products, over all pairs i ≤ j of
 * the examples (diagonal = squared norms). Each error is normalized by ‖g_i‖‖g_j‖ (a cosine-scale
 * error): relative to the exact dot product itself it would blow up for near-orthogonal pairs.
 * For a Gaussian JL projection of width k the normalized error has mean 0 and standard deviation
 * about √((1 + cos²)/k) (√(2/k) on the diagonal); factor-wise projection of a rank-one layer
 * gradient adds the two factors' variances, ≈ √(2/k_in + 2/k_out) on the diagonal.
 */
export function projectionError(
  target: AnalysisTarget,
  examples: Pick<Examples, "x" | "y">,
  spec: ProjectionSpec,
): { pairs: number; mean: number; rms: number; maxAbs: number; errors: Float64Array } {
  const exact = new GradientProjector(target, "exact");
  const projected = new GradientProjector(target, spec);
  try {
    const g = exact.perExample(examples);
    const p = projected.perExample(examples);
    const n = g.n;
    const dot = (v: Float32Array, d: number, i: number, j: number) => {
      let s = 0;
      for (let k = 0; k < d; k++) s += v[i * d + k]! * v[j * d + k]!;
      return s;
    };
    const norms = Array.from({ length: n }, (_, i) => Math.sqrt(dot(g.values, g.dim, i, i)));
    const errors = new Float64Array((n * (n + 1)) / 2);
    let e = 0;
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        const scale = norms[i]! * norms[j]!;
        errors[e++] = scale > 0 ? (dot(p.values, p.dim, i, j) - dot(g.values, g.dim, i, j)) / scale : 0;
      }
    }
    let sum = 0,
      sq = 0,
      maxAbs = 0;
    for (const v of errors) {
      sum += v;
      sq += v * v;
      maxAbs = Math.max(maxAbs, Math.abs(v));
    }
    return { pairs: errors.length, mean: sum / errors.length, rms: Math.sqrt(sq / errors.length), maxAbs, errors };
  } finally {
    exact.dispose();
    projected.dispose();
  }
}
