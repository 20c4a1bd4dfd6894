// What the tensor analyses (kernels, per-example gradients, TracIn, BIF) need from a trained
// model system: its parameters, its output function exactly as training saw it (α-scaling and
// centring included), and per-example losses. The analyzer builds one from a run folder and its
// experiment file and restores a checkpoint into `params` before each analysis; tests build small
// ones by hand (linear regression, a two-layer MLP) where closed forms exist.
import type * as tf from "@tensorflow/tfjs-core";
import type { NamedVariable } from "../models/model";

export interface AnalysisTarget {
  /** Trainable parameters, in checkpoint order. Analyses may read and temporarily change them (SGLD) but must restore them. */
  readonly params: readonly NamedVariable[];
  /** Outputs [batch, out] for inputs [batch, …]; what the loss sees during training. */
  output(x: tf.Tensor): tf.Tensor;
  /** Per-example losses [batch] of outputs against targets (the training loss is their mean). */
  perExampleLoss(out: tf.Tensor, y: tf.Tensor): tf.Tensor1D;
}

/** A set of examples: inputs and targets as the training loop holds them (targets one-hot for classes). */
export interface Examples {
  x: tf.Tensor;
  y: tf.Tensor;
  /** Indices into the split they came from, so results can name their examples. */
  indices: Int32Array;
}
