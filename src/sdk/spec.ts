// The data that describes a model system. Builders in `index.ts` return these plain objects;
// `validate.ts` checks them and fills defaults; the trainer turns the resolved spec into tensors.
// Everything but custom code is JSON-serializable, so the resolved config goes into run.json as is.
import type * as tf from "@tensorflow/tfjs-core";
import type { Rng } from "./rng";

// ---------------------------------------------------------------- data

/** What a model reads: token ids (sequence of `length`, ids < `vocab`) or real feature vectors. */
export type InputKind =
  | { kind: "tokens"; vocab: number; length: number }
  | {
      kind: "features";
      dim: number;
      /**
       * Set when each row is a sequence of vectors laid out flat (`dim` = length · tokenDim, token
       * t at columns t·tokenDim …): what a transformer with `readout: "everyPosition"` reads.
       */
      sequence?: { length: number; tokenDim: number };
    };

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
  /** Modulus (a prime for div); also the vocabulary size and the number of classes. Default: 97. */
  p: number;
  /** The operation a∘b mod p. Default: "add". */
  op: "add" | "sub" | "mul" | "div";
  /** Fraction of all p² (p·(p−1) for div) pairs used for training, in (0, 1]. Default: 0.3. */
  trainFraction: number;
  /** Seed of the train/test split, independent of the training seed. Default: 0. */
  splitSeed: number;
  /** Append an "=" token (id p) so inputs are [a, b, =] as in Nanda et al. 2023. Default: false. */
  equalsToken: boolean;
}

export interface SparseParitySpec {
  kind: "sparseParity";
  /** Number of input bits (±1 each). Default: 40. */
  bits: number;
  /** Number of relevant bits k (the first k); the target is their parity. Default: 3. */
  k: number;
  /** Training examples. Default: 1000. */
  trainSize: number;
  /** Test examples. Default: 1000. */
  testSize: number;
  /** Seed of the data, independent of the training seed. Default: 0. */
  dataSeed: number;
}

export interface TeacherStudentSpec {
  kind: "teacherStudent";
  /** Input dimension d; x ~ N(0, I_d / d)·√d, i.e. standard normal entries. Default: 32. */
  dim: number;
  /** "linear": y = w·x/√d; "singleIndex": y = g(w·x/√d) with g from `link`. Default: "singleIndex". */
  teacher: "linear" | "singleIndex";
  /** The nonlinearity g of a single-index teacher. Default: "relu". */
  link: "relu" | "tanh" | "square" | "cubeHermite";
  /** Training examples. Default: 512. */
  trainSize: number;
  /** Test examples. Default: 1024. */
  testSize: number;
  /** Standard deviation of Gaussian label noise (in units of y). Default: 0. */
  noise: number;
  /** Seed of the teacher and the data, independent of the training seed. Default: 0. */
  dataSeed: number;
}

export interface HierarchicalSpec {
  kind: "hierarchical";
  /** Depth of the binary (or `branching`-ary) tree of items; items are its leaves. Default: 3. */
  depth: number;
  /** Children per tree node: branching^depth items. Default: 2. */
  branching: number;
  /** Std of Gaussian noise on the training targets (features: one per tree node, 1 on each item's path, else 0). Default: 0. */
  featureNoise: number;
  /** Seed of the feature noise, independent of the training seed. Default: 0. */
  dataSeed: number;
}

/**
 * In-context linear regression (Garg et al. 2022; task diversity: Raventós et al. 2023). Each
 * sequence draws a function w ~ N(0, I/dim), inputs x_i ~ N(0, I_dim) and targets
 * y_i = w·x_i + noise·ε_i for i = 1..points, laid out as 2·points tokens of dim + 1 numbers:
 * x_i as (x_i, 0), then y_i as (0, …, 0, y_i). The targets are y_1..y_points, predicted at each
 * x_i's token (a model sees the pairs before it only).
 */
export interface InContextRegressionSpec {
  kind: "inContextRegression";
  /** Dimension of x (and of w). Default: 8. */
  dim: number;
  /** (x, y) pairs per sequence (the context length). Default: 16. */
  points: number;
  /** Standard deviation of the label noise ε (train and test). Default: 0. */
  noise: number;
  /**
   * A fixed training set of this many sequences (minibatches drawn from it as for any task); absent:
   * fresh sequences every step, drawn from (seed, step) (then `batchSize` must be a number and the
   * logged train loss is measured on a fixed sample of `testSequences` training sequences).
   * Default: absent (fresh).
   */
  trainSequences?: number;
  /**
   * Task diversity (Raventós et al. 2023): training functions w come from a fixed pool of this many,
   * drawn once from `dataSeed`; absent: a fresh w for every training sequence. The test set always
   * draws fresh w. Default: absent.
   */
  tasks?: number;
  /** Test sequences (a fixed set, drawn from `dataSeed`). Default: 512. */
  testSequences: number;
  /** Seed of the test set, the pool of functions and a fixed training set, independent of the training seed. Default: 0. */
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
  /** How to read targets: class ids (cross-entropy) or real values (mean squared error). Default: "classes". */
  targets: "classes" | "regression";
  /** When `test` is absent: the fraction of rows held out, split with `splitSeed`. Default: 0.2. */
  testFraction: number;
  /** Seed of the held-out split, independent of the training seed. Default: 0. */
  splitSeed: number;
}

export interface CustomTaskSpec {
  kind: "custom";
  /** Shown in run.json and the Runs view. Default: "custom". */
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
  | InContextRegressionSpec
  | CustomTaskSpec;

// ---------------------------------------------------------------- models

/**
 * "gelu" is the exact GELU x·Φ(x) = ½x(1 + erf(x/√2)), PyTorch's `nn.GELU()`; "gelu_tanh" its tanh
 * approximation ½x(1 + tanh(√(2/π)(x + 0.044715x³))), PyTorch's `nn.GELU(approximate="tanh")` and GPT-2's.
 */
export type Activation = "relu" | "gelu" | "gelu_tanh" | "tanh" | "linear" | "quadratic";

export interface MlpSpec {
  kind: "mlp";
  /** Token inputs: "onehot" concatenates one-hot vectors; a number embeds each token in that many dims. Default: "onehot". */
  embed: "onehot" | number;
  /** Widths of the hidden layers (units); `[]` is a linear model. Default: [256]. */
  hidden: number[];
  /** Nonlinearity after each hidden layer. Default: "relu". */
  activation: Activation;
  /** Multiplies every initial weight (Omnigrok's large init; Woodworth et al.'s scale). Default: 1. */
  initScale: number;
  /** Lazy/rich knob (Chizat et al. 2019): output α·(f(w) − f(w₀)), loss divided by α². Default: 1. */
  alpha: number;
  /** Subtract the output at initialization. Default: alpha ≠ 1. */
  centered: boolean;
  /** Biases in every layer. Default: true. */
  bias: boolean;
}

/** The deepest transformer the SDK builds (a bound on what a model system may ask; memory is checked too). */
export const MAX_TRANSFORMER_LAYERS = 12;

export interface TransformerSpec {
  kind: "transformer";
  /** Transformer blocks (attention + MLP each), 1 to 12. Default: 1. */
  layers: number;
  /** Width of the residual stream (dims). Default: 128. */
  dModel: number;
  /** Attention heads; each has dModel / heads dims. Default: 4. */
  heads: number;
  /** Hidden width of each block's MLP (units). Default: 512. */
  dMlp: number;
  /** Nonlinearity of the MLPs: "gelu" is exact (erf), as PyTorch's nn.GELU(); "gelu_tanh" its tanh approximation. Default: "relu". */
  activation: "relu" | "gelu" | "gelu_tanh";
  /** Layer normalization before attention, before the MLP and before the unembedding. Default: false. */
  layerNorm: boolean;
  /** Multiplies every initial weight. Default: 1. */
  initScale: number;
  /**
   * "last": one output from the last position (token tasks). "everyPosition": a task of vector
   * sequences (inContextRegression) is read in through a linear embedding and the model predicts
   * at every position the task asks for (one output per length / outputs tokens, at the first
   * token of each group: each x_i of an in-context regression), under the causal mask, so a
   * prediction sees only the tokens up to its own. Default: "last".
   */
  readout: "last" | "everyPosition";
}

export interface DeepLinearSpec {
  kind: "deepLinear";
  /** Hidden widths (units); depth = hidden.length + 1 weight matrices. Default: [32, 32]. */
  hidden: number[];
  /** Each weight entry ~ N(0, initScale²/fan_in)·... small values give stagewise learning. Default: 0.01. */
  initScale: number;
}

/**
 * Random-features regression (Rahimi & Recht 2007; the model of double descent: Belkin et al.
 * 2019, Mei & Montanari 2022): φ(x) = activation(x·W/√d) with W [d, features] drawn N(0, 1) from
 * the seed and never trained, and a linear readout f(x) = c·φ(x)·a. Only `a` is a parameter
 * (checkpoint key `readout.weight`, [features, out]), and it starts at zero, so gradient descent on
 * the squared loss stays in the row space of the features and converges to the minimum-norm
 * least-squares solution (the ridgeless interpolant when features ≥ training examples).
 */
export interface RandomFeaturesSpec {
  kind: "randomFeatures";
  /**
   * Number of random features p (the model's width and its parameter count per output), or
   * "inputs" for φ(x) = activation(x) (no W: with "linear", ordinary least squares on the inputs).
   * Default: 256.
   */
  features: number | "inputs";
  /** The fixed nonlinearity of the features. "linear" gives a linear model of a random projection. Default: "relu". */
  activation: Activation;
  /**
   * Scale the features from the training inputs so that the largest Hessian eigenvalue of the
   * mean-squared training loss in the readout is 1: plain gradient descent is then stable for
   * lr < 2, and lr = 1 is the step 1/λ_max, whatever the width. Off: c = 1/√features.
   * The scale is a constant, so the minimum-norm solution's predictions do not depend on it.
   * Default: true.
   */
  normalize: boolean;
}

export interface CustomModelSpec {
  kind: "custom";
  /** Shown in run.json and the Runs view. Default: "custom". */
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

export type ModelSpec = MlpSpec | TransformerSpec | DeepLinearSpec | RandomFeaturesSpec | CustomModelSpec;

// ---------------------------------------------------------------- optimization

export interface ScheduleSpec {
  /** Linear warmup from 0 over this many steps. Default: 0. */
  warmupSteps: number;
  /** After warmup: constant, or decay to `minLrFraction`·lr by the last step. Default: "constant". */
  decay: "constant" | "cosine" | "linear";
  /** The learning rate at the last step, as a fraction of `lr` (cosine and linear decay). Default: 0. */
  minLrFraction: number;
}

export interface SgdSpec {
  kind: "sgd";
  /** Peak learning rate (per step; the schedule scales it). Default: 0.1. */
  lr: number;
  /** Momentum (as torch.optim.SGD), in [0, 1). Default: 0. */
  momentum: number;
  /** Nesterov momentum. Default: false. */
  nesterov: boolean;
  /** L2 penalty added to the gradient (coupled). Default: 0. */
  weightDecay: number;
  /** Learning-rate schedule (`schedules.*`). Default: constant. */
  schedule: ScheduleSpec;
}

export interface AdamSpec {
  /** "adam": weight decay coupled (L2 in the gradient); "adamw": decoupled (Loshchilov & Hutter). */
  kind: "adam" | "adamw";
  /** Peak learning rate (per step; the schedule scales it). Default: 1e-3. */
  lr: number;
  /** Decay rates of the first and second moment estimates. Default: [0.9, 0.999]. */
  betas: [number, number];
  /** Added to the denominator for numerical stability. Default: 1e-8. */
  eps: number;
  /** Weight decay: coupled L2 for adam, decoupled for adamw. Default: 0 (adam), 0.01 (adamw). */
  weightDecay: number;
  /** Learning-rate schedule (`schedules.*`). Default: constant. */
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
  /**
   * Top Hessian eigenvalues of the full-batch training loss (and λ_max(P⁻¹H) for Adam/AdamW) by
   * Lanczos on finite-difference Hessian-vector products: `eigenvalues` reported, at most
   * `iterations` products, stopping at relative residual `tolerance`, difference step `fdStep`.
   */
  sharpness: { every: number; eigenvalues: number; iterations: number; tolerance: number; fdStep: number };
  /**
   * In-context learning (inContextRegression only): the test set's mean squared error at each
   * context position, beside the least-squares and Bayes-optimal ridge baselines on the same sequences.
   */
  icl: { every: number };
  /** Local learning coefficient by SGLD around each analysed checkpoint (devinterp's estimator). `nBeta` 0 means n/log n. */
  llc: {
    every: number;
    chains: number;
    draws: number;
    burnIn: number;
    thin: number;
    epsilon: number;
    gamma: number;
    nBeta: number;
    batchSize: number;
  };
}

export type AnalysisName = Exclude<keyof AnalysesSpec, "grokking">;
export const ANALYSIS_NAMES: readonly AnalysisName[] = [
  "weights",
  "kernel",
  "fourier",
  "tracin",
  "bif",
  "sharpness",
  "llc",
  "conservation",
  "icl",
];

/** What an experiment file may write: any subset, at any depth. */
export type AnalysesInput = { [K in keyof AnalysesSpec]?: Partial<AnalysesSpec[K]> };

// ---------------------------------------------------------------- the system

/** Everything needed to train, after defaults are filled in. */
export interface SystemSpec {
  /** The data (`tasks.*`). Required. */
  task: TaskSpec;
  /** The architecture (`models.*`); input and output sizes come from the task. Required. */
  model: ModelSpec;
  /** The update rule (`optimizers.*`). Required. */
  optimizer: OptimizerSpec;
  /** Training length in optimizer updates (steps). Default: 10000. */
  steps: number;
  /** "full" or examples per step (sampled without replacement, reshuffled each epoch). Default: "full". */
  batchSize: "full" | number;
  /** Full train/test evaluation every this many steps (and at step 0 and the last step). Default: 100. */
  evalEvery: number;
  /** Checkpoint every this many steps (and at step 0 and the last step). Default: 1000. */
  checkpointEvery: number;
  /** Seed of initialization and minibatch order (data splits have their own seeds). Default: 0. */
  seed: number;
  /** Free-form notes stored in run.json. Default: "". */
  description: string;
  /** Settings of the analyses run on the checkpoints (docs/analyses.md). Default: every analysis but BIF on every checkpoint. */
  analyses: AnalysesSpec;
}

// ---------------------------------------------------------------- sweeps

/** A value a swept field takes: a number, a string or a boolean (what a config holds at a leaf). */
export type SweepScalar = number | string | boolean;

/**
 * A dotted path into the system's config after defaults are filled in: `"optimizer.weightDecay"`,
 * `"model.hidden[0]"`, `"task.trainSize"`, `"model.alpha"`, `"steps"`. It must name a number,
 * string or boolean the config has (an array element by its index); not `seed` (use `seeds`) and
 * not a part's `kind`.
 */
export type SweepPath = string;

/**
 * The seeds every point is trained with: a count n (seeds 0, 1, …, n − 1) or a list of seeds.
 * Default: the system's `seed` alone.
 */
export type SweepSeeds = number | number[];

/** A sweep over every combination of the listed values (docs/sweeps.md). */
export interface GridSweep {
  /**
   * Each swept field (a dotted path) and the values it takes; every combination is one point, so
   * `{ "optimizer.weightDecay": [0, 0.1, 1], "model.hidden[0]": [8, 16] }` is 6 points. The first
   * field varies slowest. At most 10,000 runs in all (points × seeds).
   */
  grid: Record<SweepPath, SweepScalar[]>;
  /** Seeds: a count n (0 … n − 1) or a list. Default: the system's `seed` alone. */
  seeds?: SweepSeeds;
}

/** A sweep over the points as listed (docs/sweeps.md). */
export interface ListSweep {
  /**
   * The points, each a set of dotted paths and their values, e.g.
   * `[{ "model.hidden[0]": 8, "task.trainSize": 64 }, { "model.hidden[0]": 64, "task.trainSize": 512 }]`.
   * A field a point leaves out keeps the system's value. At most 10,000 runs in all (points × seeds).
   */
  points: Record<SweepPath, SweepScalar>[];
  /** Seeds: a count n (0 … n − 1) or a list. Default: the system's `seed` alone. */
  seeds?: SweepSeeds;
}

/** A sweep over seeds alone: the system trained once per seed. */
export interface SeedSweep {
  /** Seeds: a count n (0 … n − 1) or a list. */
  seeds: SweepSeeds;
}

/**
 * Many runs of one model system (docs/sweeps.md): a grid of values, a list of points, or seeds
 * alone; every point is trained with every seed, each in its own run folder under one sweep
 * folder (`lm sweep FILE --system NAME`). Each point is checked like a system of its own.
 */
export type SweepSpec = GridSweep | ListSweep | SeedSweep;

/** The input of `modelSystem(...)`: only task, model and optimizer are required. */
export type SystemInput = Pick<SystemSpec, "task" | "model" | "optimizer"> &
  Partial<Omit<SystemSpec, "task" | "model" | "optimizer" | "analyses">> & {
    analyses?: AnalysesInput;
    /**
     * Train this system many times: over a grid of config values, a list of points, or seeds
     * (docs/sweeps.md). Paths are dotted paths into the config after defaults are filled in.
     * `lm sweep FILE --system NAME` runs it; `lm list` shows its size. Default: no sweep.
     * @example sweep: { grid: { "optimizer.weightDecay": [0, 0.1, 1], "model.hidden[0]": [8, 16] }, seeds: 3 }
     */
    sweep?: SweepSpec;
  };

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
