// Parameter creation shared by the built-in and custom models: deterministic values from our Rng
// (never tf.random*, so a seed gives bit-identical weights on every backend), clean checkpoint
// keys, and engine-unique tfjs variable names.
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../../sdk/rng";
import type { Activation } from "../../sdk/spec";
import type { NamedVariable } from "./model";

/** tfjs keeps variables in one engine-wide table keyed by name; every model instance gets its own prefix. */
let instanceCounter = 0;

/**
 * Creates a model's parameters. Each parameter's initial values come from its own stream,
 * `new Rng(base, name)`, with `base` drawn once from the model's rng: a parameter's values depend
 * only on the seed and its name, not on how many numbers other parameters used.
 */
export class ParamStore {
  readonly params: NamedVariable[] = [];
  private readonly prefix: string;
  private readonly base: number;

  constructor(kind: string, rng: Rng) {
    instanceCounter += 1;
    this.prefix = `lm${instanceCounter}_${kind}/`;
    this.base = rng.nextUint32();
  }

  /** The stream for a parameter's initial values. */
  rngFor(name: string): Rng {
    return new Rng(this.base, name);
  }

  has(name: string): boolean {
    return this.params.some((p) => p.name === name);
  }

  /** Registers a trainable parameter with the given values (row-major, length = product of shape). */
  add(name: string, shape: number[], values: Float32Array): tf.Variable {
    const t = tf.tensor(values, shape, "float32");
    const variable = tf.variable(t, true, this.prefix + name);
    t.dispose();
    this.params.push({ name, variable });
    return variable;
  }

  /** N(0, std²) entries. */
  normal(name: string, shape: number[], std: number): tf.Variable {
    return this.add(name, shape, this.rngFor(name).normals(size(shape), std));
  }

  zeros(name: string, shape: number[]): tf.Variable {
    return this.add(name, shape, new Float32Array(size(shape)));
  }

  ones(name: string, shape: number[]): tf.Variable {
    return this.add(name, shape, new Float32Array(size(shape)).fill(1));
  }

  dispose(): void {
    for (const p of this.params) p.variable.dispose();
  }
}

export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

const GELU_C = Math.sqrt(2 / Math.PI);

/**
 * Elementwise activation. gelu is exact, ½·x·(1 + erf(x/√2)), as PyTorch's default `nn.GELU()`
 * (tf.erf has a kernel on every tfjs backend, and a gradient); gelu_tanh is the approximation
 * ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) of GPT-2 and PyTorch's approximate="tanh".
 */
export function activate(x: tf.Tensor, activation: Activation): tf.Tensor {
  switch (activation) {
    case "relu":
      return tf.relu(x);
    case "tanh":
      return tf.tanh(x);
    case "linear":
      return x;
    case "quadratic":
      return tf.square(x);
    case "gelu":
      return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
    case "gelu_tanh":
      return tf.tidy(() => {
        const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), GELU_C);
        return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
      });
  }
}

/** Output width of a model: class count or regression dimension. */
export function outputDim(output: { kind: "classes"; count: number } | { kind: "regression"; dim: number }): number {
  return output.kind === "classes" ? output.count : output.dim;
}
