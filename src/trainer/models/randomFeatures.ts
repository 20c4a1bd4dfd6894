// Random-features regression: φ(x) = activation(x·W/√d) with W [d, p] fixed at its random init,
// and a readout f(x) = c·φ(x)·a whose only parameter `a` ("readout.weight", [p, out]) starts at
// zero. The loss is quadratic in `a`, every gradient lies in the row space of the training
// features, so gradient descent from zero converges to the minimum-norm least-squares solution:
// the ridgeless interpolant of double descent once p ≥ n (Belkin et al. 2019; Hastie et al. 2022).
//
// W is not a parameter: it is not trained, checkpointed or analysed; it is redrawn from the seed
// (its own stream, ParamStore.rngFor) whenever the model is built, so a resumed run and the
// analyzer see the same features.
//
// Step size: near p = n the feature Gram is badly conditioned and a step that is stable at one
// width is unstable or needlessly slow at another. With `normalize`, the scale c is set from the
// training inputs so that the largest eigenvalue of the squared loss's Hessian in `a`,
// 2c²·λ_max(ΦᵀΦ/n)/out, is 1: sgd with lr 1 then takes the step 1/λ_max at every width.
import * as tf from "@tensorflow/tfjs-core";
import type { Rng } from "../../sdk/rng";
import type { RandomFeaturesSpec, Split } from "../../sdk/spec";
import type { Model, ModelIO } from "./model";
import { ParamStore, activate, outputDim } from "./params";

export interface RandomFeaturesModel extends Model {
  /** The (unscaled) features φ(x) [batch, p] of inputs [batch, d]. */
  features(x: tf.Tensor): tf.Tensor2D;
  /** The readout's constant scale c: f(x) = c·φ(x)·a. */
  readonly scale: number;
  /** λ_max(ΦᵀΦ/n) of the training features as estimated for the scale (undefined without `normalize`). */
  readonly gramTop: number | undefined;
}

/** Power-iteration budget for λ_max: the estimate only sets a step size, so a few percent is plenty. */
const POWER_ITERATIONS = 100;
const POWER_TOLERANCE = 1e-4;

export function buildRandomFeatures(
  spec: RandomFeaturesSpec,
  io: ModelIO,
  rng: Rng,
  train: Pick<Split, "n" | "x"> | undefined,
): RandomFeaturesModel {
  const input = io.input;
  if (input.kind !== "features") {
    throw new Error(
      `randomFeatures: needs real feature inputs, but the task gives tokens (length ${input.length}, vocabulary ${input.vocab}); use an mlp`,
    );
  }
  const d = input.dim;
  const out = outputDim(io.output);
  const p = spec.features === "inputs" ? d : spec.features;
  const store = new ParamStore("randomFeatures", rng);
  // Drawn before the readout so that the features depend only on the seed (and the name).
  const wValues = spec.features === "inputs" ? undefined : store.rngFor("features.weight").normals(d * p, 1);
  const readout = store.zeros("readout.weight", [p, out]);
  const w = wValues === undefined ? undefined : tf.tensor2d(wValues, [d, p]);
  const invSqrtD = 1 / Math.sqrt(d);

  let gramTop: number | undefined;
  let scale = 1 / Math.sqrt(p);
  if (spec.normalize) {
    if (train === undefined) throw new Error("randomFeatures: normalize needs the training inputs to set its scale");
    gramTop = topGramEigenvalue(featureRows(train, d, p, wValues, spec.activation), train.n, p);
    // A constant feature map (e.g. all-zero features) has nothing to fit: keep the unnormalized scale.
    if (gramTop > 0) scale = Math.sqrt(out / (2 * gramTop));
  }

  function features(x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => {
      const pre = w === undefined ? x : tf.mul(tf.matMul(x as tf.Tensor2D, w), invSqrtD);
      return activate(pre, spec.activation) as tf.Tensor2D;
    });
  }

  function forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.mul(tf.matMul(features(x), readout as tf.Tensor2D), scale));
  }

  return {
    params: store.params,
    forward,
    features,
    scale,
    gramTop,
    dispose: () => {
      store.dispose();
      w?.dispose();
    },
  };
}

/** The training features Φ [n, p] in float64, from the float32 inputs and the float32 W the model uses. */
function featureRows(
  train: Pick<Split, "n" | "x">,
  d: number,
  p: number,
  w: Float32Array | undefined,
  activation: RandomFeaturesSpec["activation"],
): Float64Array {
  const n = train.n;
  const x = train.x;
  const phi = new Float64Array(n * p);
  const invSqrtD = 1 / Math.sqrt(d);
  const pre = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    if (w === undefined) {
      for (let j = 0; j < p; j++) pre[j] = x[i * d + j]!;
    } else {
      pre.fill(0);
      for (let k = 0; k < d; k++) {
        const xk = x[i * d + k]!;
        if (xk === 0) continue;
        const row = k * p;
        for (let j = 0; j < p; j++) pre[j]! += xk * w[row + j]!;
      }
      for (let j = 0; j < p; j++) pre[j]! *= invSqrtD;
    }
    for (let j = 0; j < p; j++) phi[i * p + j] = activationValue(pre[j]!, activation);
  }
  return phi;
}

/** The activations of params.ts on one number (float64), for the scale only. */
export function activationValue(z: number, activation: RandomFeaturesSpec["activation"]): number {
  switch (activation) {
    case "relu":
      return Math.max(z, 0);
    case "tanh":
      return Math.tanh(z);
    case "linear":
      return z;
    case "quadratic":
      return z * z;
    case "gelu":
      return 0.5 * z * (1 + erf(z * Math.SQRT1_2));
    case "gelu_tanh":
      return 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z)));
  }
}

/** Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): ample for a step-size scale. */
function erf(x: number): number {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

/**
 * λ_max(ΦᵀΦ/n) by power iteration from the all-ones vector (deterministic; for relu features the
 * top eigenvector is close to it, the mean direction). The Rayleigh quotient approaches λ_max from
 * below, so the step it sets errs on the long side by at most the remaining gap, far inside the
 * stable range lr < 2.
 */
export function topGramEigenvalue(phi: Float64Array, n: number, p: number): number {
  let v = new Float64Array(p).fill(1 / Math.sqrt(p));
  const u = new Float64Array(n);
  let lambda = 0;
  for (let it = 0; it < POWER_ITERATIONS; it++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      const row = i * p;
      for (let j = 0; j < p; j++) s += phi[row + j]! * v[j]!;
      u[i] = s;
    }
    const next = new Float64Array(p);
    for (let i = 0; i < n; i++) {
      const ui = u[i]!;
      if (ui === 0) continue;
      const row = i * p;
      for (let j = 0; j < p; j++) next[j]! += phi[row + j]! * ui;
    }
    // Rayleigh quotient vᵀ(ΦᵀΦ/n)v with ‖v‖ = 1.
    let dot = 0;
    let norm = 0;
    for (let j = 0; j < p; j++) {
      dot += v[j]! * next[j]!;
      norm += next[j]! * next[j]!;
    }
    const estimate = dot / n;
    norm = Math.sqrt(norm);
    if (norm === 0) return 0;
    for (let j = 0; j < p; j++) next[j]! /= norm;
    v = next;
    const done = Math.abs(estimate - lambda) <= POWER_TOLERANCE * estimate;
    lambda = estimate;
    if (done) break;
  }
  return lambda;
}
