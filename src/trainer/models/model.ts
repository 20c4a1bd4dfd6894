// What the training loop needs from a model: named parameters and a forward pass.
import type * as tf from "@tensorflow/tfjs-core";
import type { InputKind, OutputKind } from "../../sdk/spec";

/** A trainable parameter. `name` is its stable checkpoint key, e.g. "layers.0.weight". */
export interface NamedVariable {
  name: string;
  variable: tf.Variable;
}

export interface ModelIO {
  input: InputKind;
  output: OutputKind;
}

export interface Model {
  /** Trainable parameters in a fixed order (the order they are created). */
  readonly params: readonly NamedVariable[];
  /**
   * Outputs [batch, out] (class logits or regression targets) for inputs
   * int32 [batch, length] (tokens) or float32 [batch, dim] (features).
   * Called inside tf.tidy / tf.variableGrads by the caller; must not dispose its inputs.
   */
  forward(x: tf.Tensor): tf.Tensor;
  /** Frees the variables. */
  dispose(): void;
}
