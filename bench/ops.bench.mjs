// Micro-benchmarks of the tfjs ops on the MLP's hot path (p = 97, N = 2,822, hidden 256), per backend.
//   node bench/ops.bench.mjs [--backends cpu,wasm] [--reps 7]
// Prints one table per backend: ms per call (median of reps; min-max beside it) and GFLOP/s.
import { tf, useBackend, timeIt, argValue } from "./common.mjs";

const backends = argValue("backends", "cpu,wasm").split(",");
const reps = Number(argValue("reps", "7"));
const N = 2822,
  P = 97,
  D = 2 * P,
  H = 256;

function rand(shape) {
  return tf.randomNormal(shape, 0, 1, "float32", 1);
}

for (const b of backends) {
  await useBackend(b);
  const x = rand([N, D]),
    W1 = rand([D, H]),
    h = rand([N, H]),
    W2 = rand([H, P]),
    dy = rand([N, P]),
    dh = rand([N, H]);
  const xT = tf.transpose(x),
    hT = tf.transpose(h),
    W2T = tf.transpose(W2),
    W1T = tf.transpose(W1);
  const ia = tf.tensor1d(
    Array.from({ length: N }, (_, i) => i % P),
    "int32",
  );
  const ib = tf.tensor1d(
    Array.from({ length: N }, (_, i) => (i * 7) % P),
    "int32",
  );
  const W1a = tf.slice(W1, [0, 0], [P, H]),
    W1b = tf.slice(W1, [P, 0], [P, H]);
  const flops = (m, k, n) => 2 * m * k * n;
  const cases = [
    // forward
    ["fwd1  x·W1            [2822,194]·[194,256]", () => tf.matMul(x, W1), flops(N, D, H)],
    ["fwd2  h·W2            [2822,256]·[256,97]", () => tf.matMul(h, W2), flops(N, H, P)],
    // dW2 = hᵀ·dy
    ["dW2   matMul(h,dy,T,F)", () => tf.matMul(h, dy, true, false), flops(H, N, P)],
    ["dW2   transpose(h)·dy (incl. transpose)", () => tf.tidy(() => tf.matMul(tf.transpose(h), dy)), flops(H, N, P)],
    ["dW2   hT·dy (pre-transposed)", () => tf.matMul(hT, dy), flops(H, N, P)],
    ["dW2   (dyᵀ·h)ᵀ  matMul(dy,h,T,F)", () => tf.matMul(dy, h, true, false), flops(H, N, P)],
    // dh = dy·W2ᵀ
    ["dh    matMul(dy,W2,F,T)", () => tf.matMul(dy, W2, false, true), flops(N, P, H)],
    ["dh    dy·transpose(W2) (incl. transpose)", () => tf.tidy(() => tf.matMul(dy, tf.transpose(W2))), flops(N, P, H)],
    ["dh    dy·W2T (pre-transposed)", () => tf.matMul(dy, W2T), flops(N, P, H)],
    // dW1 = xᵀ·dh
    ["dW1   matMul(x,dh,T,F)", () => tf.matMul(x, dh, true, false), flops(D, N, H)],
    ["dW1   transpose(x)·dh (incl. transpose)", () => tf.tidy(() => tf.matMul(tf.transpose(x), dh)), flops(D, N, H)],
    ["dW1   xT·dh (pre-transposed)", () => tf.matMul(xT, dh), flops(D, N, H)],
    // dx = dh·W1ᵀ (not needed for constant inputs, listed for completeness)
    ["dx    matMul(dh,W1,F,T)", () => tf.matMul(dh, W1, false, true), flops(N, H, D)],
    ["dx    dh·W1T (pre-transposed)", () => tf.matMul(dh, W1T), flops(N, H, D)],
    // plain transposes
    ["transpose [2822,256]", () => tf.transpose(h), 0],
    ["transpose [2822,194]", () => tf.transpose(x), 0],
    // one-hot input alternative: x·W1 == gather(W1a, a) + gather(W1b, b)
    ["onehot fwd gather(W1a,a)+gather(W1b,b)", () => tf.tidy(() => tf.add(tf.gather(W1a, ia), tf.gather(W1b, ib))), 0],
    [
      "onehot bwd unsortedSegmentSum(dh,a,97) x2",
      () => [tf.unsortedSegmentSum(dh, ia, P), tf.unsortedSegmentSum(dh, ib, P)],
      0,
    ],
    [
      "onehot full grad via tf.grad (gather path)",
      () =>
        tf.grad((w) => tf.add(tf.gather(tf.slice(w, [0, 0], [P, H]), ia), tf.gather(tf.slice(w, [P, 0], [P, H]), ib)))(
          W1,
          dh,
        ),
      0,
    ],
    // elementwise of comparable size, for scale
    ["relu [2822,256]", () => tf.relu(h), 0],
    ["add  [2822,256]", () => tf.add(h, dh), 0],
    ["softmaxCE [2822,97] fwd", () => tf.tidy(() => tf.mean(tf.neg(tf.sum(tf.mul(dy, tf.logSoftmax(dy)), -1)))), 0],
  ];
  console.log(`\n## backend ${tf.getBackend()}  (median of ${reps}; ms [min-max]; GFLOP/s)`);
  for (const [name, fn, fl] of cases) {
    let r;
    try {
      r = timeIt(fn, { reps, warmup: 2 });
    } catch (e) {
      console.log(`${name.padEnd(46)} n/a: ${String(e.message).split("\n")[0]}`);
      continue;
    }
    const g = fl ? (fl / (r.ms * 1e6)).toFixed(2) : "";
    console.log(
      `${name.padEnd(46)} ${r.ms.toFixed(2).padStart(9)} ms  [${r.min.toFixed(2)}-${r.max.toFixed(2)}]  ${g}`,
    );
  }
  tf.disposeVariables();
}
