// A minimal, standalone tfjs training step for the full-batch MLP (p = 97, one-hot concat inputs,
// hidden 256, ReLU, 2,822 examples, Adam lr 1e-3, cross-entropy), in several variants, to
// measure what each change buys. Bundled and run by bench/mlp.bench.mjs (it needs tfjs-core's
// gradient registry, which only the ESM build registers, so it has to go through esbuild).
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import { version_cpu } from "@tensorflow/tfjs-backend-cpu";
import { setThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { dense } from "../src/trainer/ops";

// Exported so the bundler keeps the cpu backend (its package is marked side-effect free; a bare import is dropped).
export const CPU_BACKEND_VERSION = version_cpu;

export type Variant = "baseline" | "dense" | "dense+ce" | "dense+ce+adam";
export const VARIANTS: Variant[] = ["baseline", "dense", "dense+ce", "dense+ce+adam"];

const P = 97,
  H = 256,
  FRAC = 0.3;

export async function useBackend(name: string, wasmDir: string): Promise<void> {
  if (name === "wasm") {
    setWasmPaths(wasmDir);
    setThreadsCount(1);
  }
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} failed`);
  await tf.ready();
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fused softmax cross-entropy: mean over rows of -log softmax(logits)[label]; gradient (softmax - onehot)/N in one step. */
type CustomGradFn = Parameters<typeof tf.customGrad>[0];
const softmaxCE = tf.customGrad(((logits: tf.Tensor, onehot: tf.Tensor, save: tf.GradSaveFunc) => {
  const logp = tf.logSoftmax(logits);
  save([logp, onehot]);
  const n = logits.shape[0]!;
  const value = tf.div(tf.neg(tf.sum(tf.mul(onehot, logp))), n);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [lp, oh] = saved as [tf.Tensor, tf.Tensor];
      return [tf.mul(tf.sub(tf.exp(lp), oh), tf.div(dy, n)), tf.zerosLike(oh)];
    },
  };
}) as unknown as CustomGradFn);

/** Adam with the update folded into few kernels (same maths as tf.train.adam, eps 1e-7 like tfjs). */
class LeanAdam {
  private m: tf.Variable[];
  private v: tf.Variable[];
  private t = 0;
  constructor(
    private readonly vars: tf.Variable[],
    private readonly lr: number,
    private readonly b1 = 0.9,
    private readonly b2 = 0.999,
    private readonly eps = 1e-7,
  ) {
    this.m = vars.map((v) => tf.variable(tf.zerosLike(v), false));
    this.v = vars.map((v) => tf.variable(tf.zerosLike(v), false));
  }
  apply(grads: tf.Tensor[]): void {
    this.t++;
    const a = (this.lr * Math.sqrt(1 - this.b2 ** this.t)) / (1 - this.b1 ** this.t);
    tf.tidy(() => {
      grads.forEach((g, i) => {
        const m = tf.add(tf.mul(this.m[i]!, this.b1), tf.mul(g, 1 - this.b1));
        const v = tf.add(tf.mul(this.v[i]!, this.b2), tf.mul(tf.square(g), 1 - this.b2));
        this.m[i]!.assign(m);
        this.v[i]!.assign(v);
        this.vars[i]!.assign(tf.sub(this.vars[i]!, tf.div(tf.mul(m, a), tf.add(tf.sqrt(v), this.eps))));
      });
    });
  }
}

export interface MlpBench {
  step(): number | undefined;
  lossNow(): number;
  dispose(): void;
  flopsPerStep: number;
}

export function makeMlp(variant: Variant, seed = 0): MlpBench {
  const rng = mulberry32(seed);
  const pairs: [number, number][] = [];
  for (let a = 0; a < P; a++) for (let b = 0; b < P; b++) pairs.push([a, b]);
  for (let i = pairs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [pairs[i], pairs[j]] = [pairs[j]!, pairs[i]!];
  }
  const train = pairs.slice(0, Math.floor(FRAC * P * P));
  const N = train.length;
  const xData = new Float32Array(N * 2 * P),
    yData = new Float32Array(N * P);
  train.forEach(([a, b], r) => {
    xData[r * 2 * P + a] = 1;
    xData[r * 2 * P + P + b] = 1;
    yData[r * P + ((a + b) % P)] = 1;
  });
  const x = tf.tensor2d(xData, [N, 2 * P]);
  const y = tf.tensor2d(yData, [N, P]);
  const u = (shape: [number, number] | [number], fanIn: number) =>
    tf.variable(
      tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn), "float32", Math.floor(rng() * 1e9)),
    );
  const W1 = u([2 * P, H], 2 * P),
    b1 = u([H], 2 * P),
    W2 = u([H, P], H),
    b2 = u([P], H);
  const vars = [W1, b1, W2, b2];
  const mm = variant === "baseline" ? (a: tf.Tensor2D, b: tf.Tensor2D) => tf.matMul(a, b) : dense;
  const lossFn = (): tf.Scalar => {
    const h = tf.relu(tf.add(mm(x, W1 as unknown as tf.Tensor2D), b1));
    const logits = tf.add(mm(h as tf.Tensor2D, W2 as unknown as tf.Tensor2D), b2);
    if (variant === "baseline" || variant === "dense")
      return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(logits)), -1))) as tf.Scalar;
    return softmaxCE(logits, y) as tf.Scalar;
  };
  const adam = tf.train.adam(1e-3);
  const lean = variant === "dense+ce+adam" ? new LeanAdam(vars, 1e-3) : undefined;
  let last: tf.Scalar | undefined;
  return {
    flopsPerStep: 3 * 2 * N * (2 * P * H + H * P),
    step() {
      last?.dispose();
      if (lean) {
        const { value, grads } = tf.variableGrads(lossFn, vars);
        lean.apply(vars.map((v) => grads[v.name]!));
        tf.dispose(grads);
        last = value;
      } else {
        last = adam.minimize(lossFn, true, vars) as tf.Scalar;
      }
      return undefined;
    },
    lossNow: () => (last ? last.dataSync()[0]! : NaN),
    dispose() {
      tf.dispose([x, y, ...vars, ...(last ? [last] : [])]);
      adam.dispose();
    },
  };
}

export { tf };
