// A model system made concrete on a tfjs backend: its task data as tensors, its model, and its
// output and loss exactly as training sees them (α-scaling and centring included, Chizat et al.
// 2019). The training loop and the analyzer both build one, so an analysis sees the very function
// that was trained.
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../sdk/rng";
import type { SystemSpec, TaskData } from "../sdk/spec";
import type { AnalysisTarget } from "./methods/target";
import { buildModel } from "./models/index";
import type { Model, ModelIO } from "./models/model";
import { freshSequences, generateTask, type SequenceBatch } from "./tasks/index";

/** Tensors of one split, plus one-hot labels for classification. */
export interface SplitTensors {
  n: number;
  x: tf.Tensor;
  y: tf.Tensor;
  /** Centring offset f(w₀, x) when the model is centred at initialization. */
  f0?: tf.Tensor;
}

function splitTensors(data: TaskData, which: "train" | "test"): SplitTensors {
  const s = data[which];
  const xShape = data.input.kind === "tokens" ? [s.n, data.input.length] : [s.n, data.input.dim];
  const x = data.input.kind === "tokens" ? tf.tensor(s.x, xShape, "int32") : tf.tensor(s.x, xShape, "float32");
  const y =
    data.output.kind === "classes"
      ? tf.tidy(() =>
          tf.cast(
            tf.oneHot(tf.tensor1d(s.y as Int32Array, "int32"), (data.output as { count: number }).count),
            "float32",
          ),
        )
      : tf.tensor(s.y, [s.n, data.output.dim], "float32");
  return { n: s.n, x, y };
}

/** Per-example losses [batch]: cross-entropy against one-hot targets, or squared error averaged over outputs. */
export function perExampleLoss(out: tf.Tensor, y: tf.Tensor, classes: boolean): tf.Tensor1D {
  if (classes) return tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(out)), -1)) as tf.Tensor1D;
  return tf.mean(tf.square(tf.sub(out, y)), -1) as tf.Tensor1D;
}

/** Mean loss of outputs against targets: the mean of `perExampleLoss`, written as training always computed it. */
export function lossOf(out: tf.Tensor, y: tf.Tensor, classes: boolean): tf.Scalar {
  if (classes) return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(out)), -1))) as tf.Scalar;
  return tf.mean(tf.square(tf.sub(out, y))) as tf.Scalar;
}

export class SystemInstance {
  readonly data: TaskData;
  readonly classes: boolean;
  readonly model: Model;
  readonly train: SplitTensors;
  readonly test: SplitTensors;
  readonly alpha: number;
  /** Training minimizes lossScale · loss, so that α-scaled models train at a comparable rate. */
  readonly lossScale: number;
  /**
   * Fresh training examples for update t of a run whose minibatch seed is `seed` (a task that draws
   * new sequences every step: inContextRegression without trainSequences); undefined when the
   * training split is the training data.
   */
  readonly freshTrain: ((seed: number, t: number, size: number) => SequenceBatch) | undefined;
  /** The model at initialization, kept when the output is centred (f(w₀, x) for any x). */
  private readonly init: Model | undefined;

  /** `beforeModel` sees the task's data and shapes before any parameter is allocated (the training's memory check). */
  constructor(
    readonly spec: SystemSpec,
    baseDir: string,
    beforeModel?: (io: ModelIO, data: TaskData) => void,
  ) {
    this.data = generateTask(spec.task, { baseDir });
    this.classes = this.data.output.kind === "classes";
    this.freshTrain = spec.task.kind === "inContextRegression" ? freshSequences(spec.task) : undefined;
    const io = { input: this.data.input, output: this.data.output };
    beforeModel?.(io, this.data);
    this.model = buildModel(spec.model, io, new Rng(spec.seed, "init"), this.data.train);
    this.alpha = spec.model.kind === "mlp" ? spec.model.alpha : 1;
    this.lossScale = 1 / (this.alpha * this.alpha);
    this.train = splitTensors(this.data, "train");
    this.test = splitTensors(this.data, "test");
    const centred = spec.model.kind === "mlp" && spec.model.centered;
    // Recomputed from the same seed's initial parameters, so a resumed run and the analyzer get
    // exactly the offsets the run started with.
    this.init = centred ? buildModel(spec.model, io, new Rng(spec.seed, "init"), this.data.train) : undefined;
    if (this.init) {
      const init = this.init;
      this.train.f0 = tf.tidy(() => init.forward(this.train.x));
      this.test.f0 = tf.tidy(() => init.forward(this.test.x));
    }
  }

  /** The trained function: α·(f(w, x) − f(w₀, x)) when centred, α·f(w, x) otherwise. `f0` avoids recomputing f(w₀, x) for a whole split. */
  output(x: tf.Tensor, f0?: tf.Tensor): tf.Tensor {
    const f = this.model.forward(x);
    const offset = f0 ?? (this.init ? this.init.forward(x) : undefined);
    if (this.alpha === 1 && !offset) return f;
    return tf.mul(offset ? tf.sub(f, offset) : f, this.alpha);
  }

  /** The view the tensor analyses take: per-example losses are the training objective's (lossScale included). */
  target(): AnalysisTarget {
    return {
      params: this.model.params,
      output: (x) => this.output(x),
      perExampleLoss: (out, y) => {
        const l = perExampleLoss(out, y, this.classes);
        return this.lossScale === 1 ? l : (tf.mul(l, this.lossScale) as tf.Tensor1D);
      },
    };
  }

  dispose(): void {
    for (const s of [this.train, this.test]) for (const t of [s.x, s.y, s.f0]) t?.dispose();
    this.model.dispose();
    this.init?.dispose();
  }
}
