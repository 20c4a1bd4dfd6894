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
      matMulKernel.kernelFunc({ inputs: { a: inputs["x"]!, b: inputs["w"]! }, backend, attrs: { transposeA: false, transposeB: false } }),
  });
  registeredOn.add(backendName);
}

/** x [batch, in] · w [in, out] → [batch, out]. Differentiable; backprop uses the fastest layout for the active backend. */
export function dense(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  const backendName = tf.getBackend();
  if (!registeredOn.has(backendName)) ensureRegistered(backendName);
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[0]) {
    throw new Error(`dense: expected x [batch, in] and w [in, out], got [${x.shape.join(", ")}] and [${w.shape.join(", ")}]`);
  }
  return tf.engine().runKernel(DENSE, { x, w } as unknown as tf.NamedTensorMap, {}) as tf.Tensor2D;
}
