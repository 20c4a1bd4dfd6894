// The data that describes a model system. Builders in `index.ts` return these plain objects;
// `validate.ts` checks them and fills defaults; the trainer turns the resolved spec into tensors.
// Everything but custom code is JSON-serializable, so the resolved config goes into run.json as is.
import type * as tf from "@tensorflow/tfjs-core";
import type { Rng } from "./rng";

// ---------------------------------------------------------------- data

/** What a model reads: token ids (sequence of `length`, ids < `vocab`) or real feature vectors. */
export type InputKind = { kind: "tokens"; vocab: number; length: number } | { kind: "features"; dim: number };

/** What a model predicts: class logits (cross-entropy, accuracy) or real targets (mean squared error). */
export type OutputKind = { kind: "classes"; count: number } | { kind: "regression"; dim: number };

/**
 * A split in memory. `x`: Int32Array [n, length] for tokens, Float32Array [n, dim] for features.
 * `y`: Int32Array [n] for classes, Float32Array [n, dim] for regression. Row-major.
 */
export interface Split {
  n: number;
  x: Int32Array | Float32Array;
  y: Int32Array | Float32Array;
}

/** What a task produces: the two splits and their shapes. */
export interface TaskData {
  input: InputKind;
  output: OutputKind;
  train: Split;
  test: Split;
}

// ---------------------------------------------------------------- tasks

export interface ModularArithmeticSpec {
  kind: "modularArithmetic";
  /** Modulus (a prime for div). */
  p: number;
  op: "add" | "sub" | "mul" | "div";
  /** Fraction of all p² (p·(p−1) for div) pairs used for training, in (0, 1]. */
  trainFraction: number;
  /** Seed of the train/test split, independent of the training seed. */
  splitSeed: number;
  /** Append an "=" token (id p) so inputs are [a, b, =] as in Nanda et al. 2023. */
  equalsToken: boolean;
}

export interface SparseParitySpec {
  kind: "sparseParity";
  /** Number of input bits. */
  bits: number;
  /** Number of relevant bits k (the first k). */
  k: number;
  trainSize: number;
  testSize: number;
  dataSeed: number;
}

export interface TeacherStudentSpec {
  kind: "teacherStudent";
  /** Input dimension d; x ~ N(0, I_d / d)·√d, i.e. standard normal entries. */
  dim: number;
  /** "linear": y = w·x/√d; "singleIndex": y = g(w·x/√d) with g from `link`. */
  teacher: "linear" | "singleIndex";
  link: "relu" | "tanh" | "square" | "cubeHermite";
  trainSize: number;
  testSize: number;
  /** Standard deviation of Gaussian label noise. */
  noise: number;
  dataSeed: number;
}

export interface HierarchicalSpec {
  kind: "hierarchical";
  /** Depth of the binary (or `branching`-ary) tree of items; items are its leaves. */
  depth: number;
  branching: number;
  /** Std of Gaussian noise on the training targets (features: one per tree node, 1 on each item's path, else 0). */
  featureNoise: number;
  dataSeed: number;
}

export interface FileDataSpec {
  kind: "file";
  /** Path to a .json, .csv or .npy file (relative to the experiment file), or separate train/test files. */
  train: string;
  test?: string;
  /** For CSV/JSON records: which columns are inputs and which is the target. */
  inputColumns?: string[];
  targetColumn?: string;
  /** For .npy: the arrays of targets (x comes from `train`/`test`). */
  trainTargets?: string;
  testTargets?: string;
  /** How to read targets. */
  targets: "classes" | "regression";
  /** When `test` is absent: the fraction of rows held out, split with `splitSeed`. */
  testFraction: number;
  splitSeed: number;
}

export interface CustomTaskSpec {
  kind: "custom";
  name: string;
  /** Deterministic generator; use `rng`, never Math.random. */
  generate: (rng: Rng) => TaskData;
}

export type TaskSpec =
  | ModularArithmeticSpec
  | SparseParitySpec
  | TeacherStudentSpec
  | HierarchicalSpec
  | FileDataSpec
  | CustomTaskSpec;

// ---------------------------------------------------------------- models

export type Activation = "relu" | "gelu" | "tanh" | "linear" | "quadratic";

export interface MlpSpec {
  kind: "mlp";
  /** Token inputs: "onehot" concatenates one-hot vectors; a number embeds each token in that many dims. */
  embed: "onehot" | number;
  hidden: number[];
  activation: Activation;
  /** Multiplies every initial weight (Omnigrok's large init; Woodworth et al.'s scale). */
  initScale: number;
  /** Lazy/rich knob (Chizat et al. 2019): output α·(f(w) − f(w₀)), loss divided by α². */
  alpha: number;
  /** Subtract the output at initialization; defaults to alpha ≠ 1. */
  centered: boolean;
  bias: boolean;
}

export interface TransformerSpec {
  kind: "transformer";
  layers: 1 | 2;
  dModel: number;
  heads: number;
  dMlp: number;
  activation: "relu" | "gelu";
  layerNorm: boolean;
  initScale: number;
}

export interface DeepLinearSpec {
  kind: "deepLinear";
  /** Hidden widths; depth = hidden.length + 1 weight matrices. */
  hidden: number[];
  /** Each weight entry ~ N(0, initScale²/fan_in)·... small values give stagewise learning. */
  initScale: number;
}

export interface CustomModelSpec {
  kind: "custom";
  name: string;
  /** Create parameters with `ctx.param`; return nothing. */
  init: (ctx: ParamContext) => void;
  /** Map inputs [batch, ...] to outputs [batch, out] using `params`. Plain tfjs code. */
  forward: (params: Record<string, tf.Tensor>, x: tf.Tensor, io: { input: InputKind; output: OutputKind }) => tf.Tensor;
}

/** Given to custom models to create named, deterministic parameters. */
export interface ParamContext {
  input: InputKind;
  output: OutputKind;
  rng: Rng;
  /** Registers a trainable parameter. `init` is "zeros", "ones", a std for N(0, std²), or explicit values. */
  param(name: string, shape: number[], init: "zeros" | "ones" | { std: number } | Float32Array): void;
}

export type ModelSpec = MlpSpec | TransformerSpec | DeepLinearSpec | CustomModelSpec;

// ---------------------------------------------------------------- optimization

export interface ScheduleSpec {
  /** Linear warmup from 0 over this many steps. */
  warmupSteps: number;
  /** After warmup: constant, or decay to `minLrFraction`·lr by the last step. */
  decay: "constant" | "cosine" | "linear";
  minLrFraction: number;
}

export interface SgdSpec {
  kind: "sgd";
  lr: number;
  momentum: number;
  nesterov: boolean;
  /** L2 penalty added to the gradient (coupled). */
  weightDecay: number;
  schedule: ScheduleSpec;
}

export interface AdamSpec {
  /** "adam": weight decay coupled (L2 in the gradient); "adamw": decoupled (Loshchilov & Hutter). */
  kind: "adam" | "adamw";
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  schedule: ScheduleSpec;
}

export type OptimizerSpec = SgdSpec | AdamSpec;

// ---------------------------------------------------------------- analyses

/**
 * Which examples an influence analysis asks about: the first `count` test examples, the first
 * `count` test examples of one class, or hand-picked examples of either split.
 */
export type QuerySpec =
  | { kind: "test"; count: number }
  | { kind: "class"; label: number; count: number }
  | { kind: "indices"; split: "train" | "test"; indices: number[] };

/**
 * Settings of the analyses (docs/analyses.md). `every` counts checkpoints: 1 analyses each
 * checkpoint, 4 every fourth (the first and the last are always included), 0 turns it off.
 */
export interface AnalysesSpec {
  /** The grokking detector on the logged curves. */
  grokking: { trainThreshold: number; testThreshold: number; hold: number };
  /** Per-layer norms and relative change from step 0: checkpoints only. */
  weights: { every: number };
  /** Conserved quantities of the model's symmetries and their drift (Kunin et al. 2021): checkpoints only. */
  conservation: { every: number };
  /** Empirical NTK distance from step 0, centred kernel–target alignment and linear CKA on a fixed probe set. */
  kernel: { every: number; probeSize: number };
  /** Fourier progress measures of Nanda et al. 2023 (modular arithmetic only). */
  fourier: { every: number; keyFrequencies: number };
  /** TracIn with projected per-example gradients; `trainExamples` caps the training examples scored (0 = all). */
  tracin: { every: number; projectionDim: number; query: QuerySpec; trainExamples: number };
  /** Bayesian influence function by SGLD around each analysed checkpoint. `nBeta` 0 means the default n/log n. */
  bif: {
    every: number;
    chains: number;
    draws: number;
    burnIn: number;
    thin: number;
    epsilon: number;
    gamma: number;
    nBeta: number;
    batchSize: number;
    query: QuerySpec;
    trainExamples: number;
  };
}

export type AnalysisName = Exclude<keyof AnalysesSpec, "grokking">;
export const ANALYSIS_NAMES: readonly AnalysisName[] = [
  "weights",
  "kernel",
  "fourier",
  "tracin",
  "bif",
  "conservation",
];

/** What an experiment file may write: any subset, at any depth. */
export type AnalysesInput = { [K in keyof AnalysesSpec]?: Partial<AnalysesSpec[K]> };

// ---------------------------------------------------------------- the system

/** Everything needed to train, after defaults are filled in. */
export interface SystemSpec {
  task: TaskSpec;
  model: ModelSpec;
  optimizer: OptimizerSpec;
  steps: number;
  /** "full" or examples per step (sampled without replacement, reshuffled each epoch). */
  batchSize: "full" | number;
  evalEvery: number;
  checkpointEvery: number;
  seed: number;
  /** Free-form notes stored in run.json. */
  description: string;
  analyses: AnalysesSpec;
}

/** The input of `modelSystem(...)`: only task, model and optimizer are required. */
export type SystemInput = Pick<SystemSpec, "task" | "model" | "optimizer"> &
  Partial<Omit<SystemSpec, "task" | "model" | "optimizer" | "analyses">> & { analyses?: AnalysesInput };

/** Where a model system was defined: filled from the call stack of `modelSystem`. */
export interface SourceLocation {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

export const MODEL_SYSTEM_BRAND = "learning-mechanics/model-system";

/** What `modelSystem(...)` returns and an experiment file exports. */
export interface ModelSystem {
  readonly brand: typeof MODEL_SYSTEM_BRAND;
  readonly input: SystemInput;
  readonly definedAt: SourceLocation | undefined;
}
