// Hot-path tensor ops. Every model's matrix products go through here, so one place decides how
// they run fastest on each backend.
import * as tf from "@tensorflow/tfjs-core";

/** x [batch, in] · w [in, out] → [batch, out]. */
export function dense(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(x, w);
}
