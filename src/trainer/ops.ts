// Hot-path tensor ops. Every model's matrix products go through here, so one place decides how
// they run fastest on each backend.
//
// Why `dense` is its own kernel (measured in bench/ops.bench.mjs, see bench/README.md):
// - tfjs-backend-wasm runs BatchMatMul through XNNPACK only without transpose flags; with
//   transposeA or transposeB it falls back to a naive loop, 15-40x slower (~2 vs ~35 GFLOP/s at
//   the MLP's sizes). tf.matMul's registered gradient uses exactly those flags, so on wasm the
//   backward pass was ~90% of a step. Transposing explicitly (one copy, ~1 ms) and multiplying
//   without flags is the fast path there.
// - On the cpu backend flags cost nothing (index arithmetic) and an explicit transpose is an
//   extra copy, so flags stay.
// - A registered kernel + gradient (rather than tf.customGrad) keeps the gradients lazy per
//   input: tfjs only asks for dL/dx when x is on the path to a trained variable, so a constant
//   input (one-hot features) does not pay for a wasted [batch, out]·[out, in] product. customGrad
//   computes every input's gradient eagerly.
// - It also makes `dense` independent of tfjs-core's gradient registry (the CJS build of
//   tfjs-core registers no gradients by itself).
import * as tf from "@tensorflow/tfjs-core";

const DENSE = "LmDense";

/**
 * Instrumentation for the tensor analyses (src/trainer/methods/tap.ts): while a tap is active,
 * every linear op (dense, gatherRows, addBias) hands it its input and output, and the tap may
 * return the output plus a zero "probe" whose gradient is that layer's per-row output gradient δ.
 * Training never sets one, so the hot path pays one `undefined` check per op.
 */
export interface LinearTap {
  /** y = x · w was just computed. */
  dense(x: tf.Tensor2D, w: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D;
  /** y = rows of `table` at `indices`. */
  gather(table: tf.Tensor2D, indices: tf.Tensor1D, y: tf.Tensor2D): tf.Tensor2D;
  /** y = h + b (b broadcast over rows). */
  bias(b: tf.Tensor, y: tf.Tensor2D): tf.Tensor2D;
}

let activeTap: LinearTap | undefined;

/** Installs `tap` (or none) and returns the one it replaces, so callers can restore it in `finally`. */
export function setLinearTap(tap: LinearTap | undefined): LinearTap | undefined {
  const previous = activeTap;
  activeTap = tap;
  return previous;
}

/**
 * Token rows h [batch·T, d] plus a positional table pos [T, d] (row t added to every example's
 * position t). Exactly the reshape–add–reshape models did inline; with a tap active it is shown to
 * the tap as a lookup of row t, so positional embeddings get per-example gradients too.
 */
export function addPositional(h: tf.Tensor2D, pos: tf.Tensor2D): tf.Tensor2D {
  const [T, d] = pos.shape;
  const rows = h.shape[0];
  const y = tf.reshape(tf.add(tf.reshape(h, [rows / T, T, d]), pos), [rows, d]) as tf.Tensor2D;
  if (!activeTap) return y;
  const positions = tf.tensor1d(
    Int32Array.from({ length: rows }, (_, r) => r % T),
    "int32",
  );
  try {
    return activeTap.gather(pos, positions, y);
  } finally {
    positions.dispose();
  }
}

/** h [rows, out] + b [out]: a bias add the analysis tap can see (otherwise exactly tf.add). */
export function addBias(h: tf.Tensor2D, b: tf.Tensor): tf.Tensor2D {
  const y = tf.add(h, b) as tf.Tensor2D;
  return activeTap ? activeTap.bias(b, y) : y;
}

/** Backends whose BatchMatMul is fast only without transpose flags. */
const EXPLICIT_TRANSPOSE_BACKENDS = new Set(["wasm"]);

/** Whether the active backend should get explicitly transposed operands instead of transpose flags. */
export function prefersExplicitTranspose(backendName: string = tf.getBackend()): boolean {
  return EXPLICIT_TRANSPOSE_BACKENDS.has(backendName);
}

/**
 * a · bᵀ-or-not, picking flags or an explicit transpose per backend. Same result as
 * tf.matMul(a, b, transposeA, transposeB).
 */
export function matMulT(a: tf.Tensor2D, b: tf.Tensor2D, transposeA: boolean, transposeB: boolean): tf.Tensor2D {
  if (!(transposeA || transposeB) || !prefersExplicitTranspose()) return tf.matMul(a, b, transposeA, transposeB);
  return tf.tidy(() => tf.matMul(transposeA ? tf.transpose(a) : a, transposeB ? tf.transpose(b) : b));
}

const registeredOn = new Set<string>();
let gradientRegistered = false;

function ensureRegistered(backendName: string): void {
  if (!gradientRegistered) {
    tf.registerGradient({
      kernelName: DENSE,
      inputsToSave: ["x", "w"],
      gradFunc: (dy, saved) => {
        const [x, w] = saved as [tf.Tensor2D, tf.Tensor2D];
        const g = dy as tf.Tensor2D;
        // dL/dx = dy · wᵀ,  dL/dw = xᵀ · dy; each computed only if asked for.
        return { x: () => matMulT(g, w, false, true), w: () => matMulT(x, g, true, false) };
      },
    });
    gradientRegistered = true;
  }
  if (registeredOn.has(backendName)) return;
  const matMulKernel = tf.getKernel(tf.BatchMatMul, backendName);
  if (!matMulKernel) throw new Error(`backend "${backendName}" has no BatchMatMul kernel`);
  tf.registerKernel({
    kernelName: DENSE,
    backendName,
    kernelFunc: ({ inputs, backend }) =>
      matMulKernel.kernelFunc({
        inputs: { a: inputs["x"]!, b: inputs["w"]! },
        backend,
        attrs: { transposeA: false, transposeB: false },
      }),
  });
  registeredOn.add(backendName);
}

/** x [batch, in] · w [in, out] → [batch, out]. Differentiable; backprop uses the fastest layout for the active backend. */
export function dense(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  const backendName = tf.getBackend();
  if (!registeredOn.has(backendName)) ensureRegistered(backendName);
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[0]) {
    throw new Error(
      `dense: expected x [batch, in] and w [in, out], got [${x.shape.join(", ")}] and [${w.shape.join(", ")}]`,
    );
  }
  const y = tf.engine().runKernel(DENSE, { x, w } as unknown as tf.NamedTensorMap, {}) as tf.Tensor2D;
  return activeTap ? activeTap.dense(x, w, y) : y;
}

/** tf.matMul on rank-3 operands, with flags or explicit transposes as `matMulT` decides for rank 2. */
function batchMatMulT(a: tf.Tensor3D, b: tf.Tensor3D, transposeA: boolean, transposeB: boolean): tf.Tensor3D {
  if (!(transposeA || transposeB) || !prefersExplicitTranspose()) return tf.matMul(a, b, transposeA, transposeB);
  return tf.tidy(() =>
    tf.matMul(transposeA ? tf.transpose(a, [0, 2, 1]) : a, transposeB ? tf.transpose(b, [0, 2, 1]) : b),
  );
}

/**
 * Batched a [n, m, k] · b [n, k, p] → [n, m, p], or a · bᵀ for b [n, p, k] when `transposeB`
 * (attention's q·kᵀ and probs·v). Differentiable; forward and backward avoid transpose flags on
 * backends where they are slow. Both inputs always get gradients (in attention both depend on
 * trained weights).
 */
export function batchMatMul(a: tf.Tensor3D, b: tf.Tensor3D, transposeB = false): tf.Tensor3D {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [a3, b3, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
    save([a3, b3]);
    return {
      value: batchMatMulT(a3, b3, false, transposeB),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sa, sb] = saved as [tf.Tensor3D, tf.Tensor3D];
        const g = dy as tf.Tensor3D;
        // C = A·B:  dA = dC·Bᵀ, dB = Aᵀ·dC.   C = A·Bᵀ:  dA = dC·B, dB = dCᵀ·A.
        return transposeB
          ? [batchMatMulT(g, sb, false, false), batchMatMulT(g, sa, true, false)]
          : [batchMatMulT(g, sb, false, true), batchMatMulT(sa, g, true, false)];
      },
    };
  });
  return f(a, b) as tf.Tensor3D;
}

/**
 * Rows of `table` [rows, dim] at int32 `indices` [n] → [n, dim]. Differentiable in `table`: the
 * gradient scatter-adds dy into the rows (tf.scatterND sums duplicate indices). tf.gather's own
 * gradient uses UnsortedSegmentSum, which the wasm backend lacks and which the cpu backend runs
 * ~100x slower (22 s for one step of the MLP below).
 */
export function gatherRows(table: tf.Tensor2D, indices: tf.Tensor1D): tf.Tensor2D {
  const rows = table.shape[0];
  const gather = JS_GATHER_BACKENDS.has(tf.getBackend())
    ? gatherRowsInJs
    : (t: tf.Tensor2D, i: tf.Tensor1D) => tf.gather(t, i);
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [t, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    save([indices]);
    return {
      value: gather(t, indices),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.scatterND(tf.reshape(saved[0]!, [-1, 1]), dy, [rows, dy.shape[1]!]),
    };
  });
  const y = f(table) as tf.Tensor2D;
  return activeTap ? activeTap.gather(table, indices, y) : y;
}

/**
 * Backends whose GatherV2 is slow for our shapes: on wasm it took 36.6 of a 67 ms MLP step
 * (p = 97, batch 2822, hidden 256; profiled with tf.profile). Tables here are small (vocab × width)
 * and both backends keep tensors in host memory, so copying the table out and gathering rows in
 * JS costs about a millisecond. GPU backends keep tf.gather (a copy would cross the device).
 */
const JS_GATHER_BACKENDS = new Set(["cpu", "wasm"]);

function gatherRowsInJs(table: tf.Tensor2D, indices: tf.Tensor1D): tf.Tensor2D {
  const [rows, cols] = table.shape;
  const values = table.dataSync() as Float32Array;
  const idx = indices.dataSync();
  const out = new Float32Array(idx.length * cols);
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i]!;
    if (!(r >= 0 && r < rows)) throw new Error(`gatherRows: index ${r} is outside [0, ${rows})`);
    out.set(values.subarray(r * cols, (r + 1) * cols), i * cols);
  }
  return tf.tensor2d(out, [idx.length, cols], "float32");
}

/**
 * Concatenated one-hot encoding of tokens x int32 [batch, length] (ids < vocab), times
 * w [length·vocab, out], without materializing the one-hot matrix: the sum over positions i of
 * row (i·vocab + x[:, i]) of w. Mathematically identical to oneHot(x)·w.
 *
 * Measured (bench in /tmp, batch 2822, p = 97, length 2, hidden 256, forward + backward, 1 thread,
 * ms per step, this layer alone / whole MLP step with a 97-way softmax head):
 *   wasm: one-hot·W 118 / 244,  gather + scatter-add 50 / 180
 *   cpu:  one-hot·W 552 / 1110, gather + scatter-add 255 / 814
 *   (tf.gather with its stock gradient: cpu 22 400 ms; wasm has no kernel for that gradient.)
 */
export function onehotDense(x: tf.Tensor2D, w: tf.Tensor2D, vocab: number): tf.Tensor2D {
  const [batch, length] = x.shape;
  if (w.shape[0] !== length * vocab) {
    throw new Error(`onehotDense: w has ${w.shape[0]} rows, expected length·vocab = ${length}·${vocab}`);
  }
  return tf.tidy(() => {
    const offsets = tf.tensor1d(
      Array.from({ length }, (_, i) => i * vocab),
      "int32",
    );
    const idx = tf.reshape(tf.add(x, offsets), [-1]) as tf.Tensor1D;
    const rows = gatherRows(w, idx);
    if (length === 1) return rows;
    return tf.sum(tf.reshape(rows, [batch, length, w.shape[1]]), 1) as tf.Tensor2D;
  });
}
