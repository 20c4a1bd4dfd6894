// Deep linear network f(x) = x·W_1·…·W_L (Saxe et al. 2014/2019): no biases, no activation.
//
// Init: entries N(0, initScale²/fan_in), i.e. std = initScale/√fan_in. The end-to-end map then
// scales like initScale^L, so a small initScale gives a near-zero product and stagewise
// (mode-by-mode) learning; initScale 1 is the usual variance-preserving init.
// Inputs: features as is (one-hot items in the hierarchical task); tokens become concatenated
// one-hot vectors (computed by gathering rows of W_1, see ops.onehotDense).
import * as tf from "@tensorflow/tfjs-core";
import type { Rng } from "../../sdk/rng";
import type { DeepLinearSpec } from "../../sdk/spec";
import { dense, onehotDense } from "../ops";
import type { Model, ModelIO } from "./model";
import { ParamStore, outputDim } from "./params";

export function buildDeepLinear(spec: DeepLinearSpec, io: ModelIO, rng: Rng): Model {
  const store = new ParamStore("deepLinear", rng);
  const input = io.input;
  const inDim = input.kind === "features" ? input.dim : input.length * input.vocab;
  const widths = [inDim, ...spec.hidden, outputDim(io.output)];
  const weights: tf.Tensor2D[] = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    const fanIn = widths[i]!;
    weights.push(
      store.normal(`layers.${i}.weight`, [fanIn, widths[i + 1]!], spec.initScale / Math.sqrt(fanIn)) as tf.Tensor2D,
    );
  }

  function forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let h: tf.Tensor2D;
      if (input.kind === "tokens") {
        if (x.rank !== 2 || x.shape[1] !== input.length) {
          throw new Error(`deepLinear: expected tokens [batch, ${input.length}], got [${x.shape.join(", ")}]`);
        }
        h = onehotDense(x as tf.Tensor2D, weights[0]!, input.vocab);
      } else {
        h = dense(x as tf.Tensor2D, weights[0]!);
      }
      for (let i = 1; i < weights.length; i++) h = dense(h, weights[i]!);
      return h;
    });
  }

  return { params: store.params, forward, dispose: () => store.dispose() };
}
