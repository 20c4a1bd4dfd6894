// The builders behind the public SDK (`index.ts` re-exports them) and the one copy of every
// default. Builders never throw and never check anything: they return `{ kind, ...defaults,
// ...options }` and leave all checking to `validate.ts`, which fills missing defaults of
// hand-written specs by calling these same builders. No tensor library is imported here, so
// validation and descriptions can run where tfjs is not loaded.
import type {
  AdamSpec,
  AnalysesSpec,
  CustomModelSpec,
  CustomTaskSpec,
  DeepLinearSpec,
  FileDataSpec,
  HierarchicalSpec,
  InContextRegressionSpec,
  MlpSpec,
  ModelSystem,
  ModularArithmeticSpec,
  RandomFeaturesSpec,
  ScheduleSpec,
  SgdSpec,
  SourceLocation,
  SparseParitySpec,
  SystemInput,
  SystemSpec,
  TeacherStudentSpec,
  TransformerSpec,
} from "./spec";
import { MODEL_SYSTEM_BRAND } from "./spec";

/** The options of a builder: every field of its spec but `kind`, all optional. */
export type Options<S> = Partial<Omit<S, "kind">>;

/**
 * Set (non-enumerable) on what a builder returns when its argument was not an options object,
 * e.g. `models.mlp(128)` from JavaScript, so validation can report it instead of silently
 * training with defaults.
 */
export const BAD_OPTIONS = Symbol.for("learning-mechanics/bad-builder-options");

function describeType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v;
}

/** Sets an own property, even one named `__proto__` (from JSON), so it is reported as an unknown field. */
export function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  // Only `__proto__` is an accessor of Object.prototype; any other key is set by plain assignment,
  // which is the same here and several times faster (a sweep validates every point: docs/sweeps.md).
  if (key === "__proto__")
    Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}

/** `build` for a caller that holds unchecked input (the validator): the same object, as plain fields. */
export function buildFields(
  kind: string,
  defaults: Record<string, unknown>,
  options: unknown,
): Record<string, unknown> {
  return build<Record<string, unknown>>(kind, defaults, options);
}

/** Defaults of the builders whose options have required fields (the validator calls them untyped). */
export const FILE_TASK_DEFAULTS: Readonly<Record<string, unknown>> = {
  targets: "classes",
  testFraction: 0.2,
  splitSeed: 0,
};
export const CUSTOM_DEFAULTS: Readonly<Record<string, unknown>> = { name: "custom" };

/** `{ kind, ...defaults, ...options }`, skipping options that are `undefined`. Never throws. */
function build<S>(kind: string, defaults: Readonly<Record<string, unknown>>, options: unknown): S {
  const out: Record<string, unknown> = { kind, ...defaults };
  if (typeof options === "object" && options !== null && !Array.isArray(options)) {
    try {
      for (const key of Object.keys(options)) {
        const value = (options as Record<string, unknown>)[key];
        if (value !== undefined) setOwn(out, key, value);
      }
    } catch (e) {
      Object.defineProperty(out, BAD_OPTIONS, { value: `could not be read (${String(e)})`, enumerable: false });
    }
  } else if (options !== undefined) {
    Object.defineProperty(out, BAD_OPTIONS, {
      value: `builder argument must be an options object (got ${describeType(options)})`,
      enumerable: false,
    });
  }
  out["kind"] = kind;
  return out as S;
}

// ---------------------------------------------------------------- tasks

/** Data sets of model systems. Each builder fills defaults; problems are reported when the system is loaded. */
export const tasks = {
  /**
   * Binary operation mod p: inputs [a, b] (or [a, b, =]), target a∘b mod p (Power et al. 2022; Nanda et al. 2023).
   * Defaults: `p` 97, `op` "add", `trainFraction` 0.3 (of all pairs), `splitSeed` 0, `equalsToken` false.
   * `op` "div" needs a prime `p` and uses b ≠ 0.
   */
  modularArithmetic(options: Options<ModularArithmeticSpec> = {}): ModularArithmeticSpec {
    return build(
      "modularArithmetic",
      { p: 97, op: "add", trainFraction: 0.3, splitSeed: 0, equalsToken: false },
      options,
    );
  },

  /**
   * Sparse parity: `bits` random input bits, target the parity of the first `k`.
   * Defaults: `bits` 40, `k` 3, `trainSize` 1000, `testSize` 1000 (examples), `dataSeed` 0.
   */
  sparseParity(options: Options<SparseParitySpec> = {}): SparseParitySpec {
    return build("sparseParity", { bits: 40, k: 3, trainSize: 1000, testSize: 1000, dataSeed: 0 }, options);
  },

  /**
   * Teacher–student regression: x ~ N(0, I_dim), y = w·x/√dim ("linear") or link(w·x/√dim) ("singleIndex"), plus Gaussian noise.
   * Defaults: `dim` 32, `teacher` "singleIndex", `link` "relu", `trainSize` 512, `testSize` 1024 (examples),
   * `noise` 0 (label std), `dataSeed` 0.
   */
  teacherStudent(options: Options<TeacherStudentSpec> = {}): TeacherStudentSpec {
    return build(
      "teacherStudent",
      { dim: 32, teacher: "singleIndex", link: "relu", trainSize: 512, testSize: 1024, noise: 0, dataSeed: 0 },
      options,
    );
  },

  /**
   * Hierarchically structured data (Saxe et al. 2019): items are the leaves of a tree (one-hot inputs); target
   * features are the tree's nodes, 1 on each item's path from the root and 0 elsewhere (deeper levels: weaker modes).
   * Defaults: `depth` 3, `branching` 2 (so 8 items), `featureNoise` 0 (std), `dataSeed` 0.
   */
  hierarchical(options: Options<HierarchicalSpec> = {}): HierarchicalSpec {
    return build("hierarchical", { depth: 3, branching: 2, featureNoise: 0, dataSeed: 0 }, options);
  },

  /**
   * In-context linear regression (Garg et al. 2022): sequences (x_1, y_1, …, x_points, y_points) of
   * random linear functions, y = w·x + noise·ε with w ~ N(0, I/dim) and x ~ N(0, I_dim); the target
   * is every y_i, predicted at x_i's token (use `models.transformer({ readout: "everyPosition" })`).
   * Defaults: `dim` 8, `points` 16, `noise` 0, `trainSequences` absent (fresh sequences every step,
   * from (seed, step)), `tasks` absent (a fresh w per sequence; a number: a pool of that many w,
   * Raventós et al. 2023), `testSequences` 512, `dataSeed` 0.
   */
  inContextRegression(options: Options<InContextRegressionSpec> = {}): InContextRegressionSpec {
    return build("inContextRegression", { dim: 8, points: 16, noise: 0, testSequences: 512, dataSeed: 0 }, options);
  },

  /**
   * Data from a .json, .csv or .npy file, path relative to the experiment file. `train` is required.
   * Defaults: `targets` "classes", `testFraction` 0.2 (held out when there is no `test` file), `splitSeed` 0.
   */
  fromFile(options: Options<FileDataSpec> & Pick<FileDataSpec, "train">): FileDataSpec {
    return build("file", FILE_TASK_DEFAULTS, options);
  },

  /**
   * Your own data: `generate(rng)` returns both splits (see `TaskData`). Use `rng`, never Math.random.
   * Defaults: `name` "custom".
   */
  custom(options: Options<CustomTaskSpec> & Pick<CustomTaskSpec, "generate">): CustomTaskSpec {
    return build("custom", CUSTOM_DEFAULTS, options);
  },
};

// ---------------------------------------------------------------- models

/** Architectures. Input and output sizes come from the task. */
export const models = {
  /**
   * Multilayer perceptron.
   * Defaults: `embed` "onehot" (tokens; a number embeds each token in that many dims), `hidden` [256] (widths),
   * `activation` "relu" ("gelu" is exact, erf, like PyTorch's `nn.GELU()`; "gelu_tanh" its tanh approximation),
   * `initScale` 1 (multiplies initial weights), `alpha` 1 (lazy/rich output scale,
   * Chizat et al. 2019), `centered` alpha ≠ 1 (subtract the output at init), `bias` true.
   */
  mlp(options: Options<MlpSpec> = {}): MlpSpec {
    const alpha = typeof options === "object" && options !== null ? safeGet(options, "alpha") : undefined;
    return build(
      "mlp",
      {
        embed: "onehot",
        hidden: [256],
        activation: "relu",
        initScale: 1,
        alpha: 1,
        centered: (alpha ?? 1) !== 1,
        bias: true,
      },
      options,
    );
  },

  /**
   * Transformer over the token sequence (token tasks only).
   * Defaults (Nanda et al. 2023): `layers` 1, `dModel` 128, `heads` 4, `dMlp` 512, `activation` "relu"
   * (or "gelu", exact, or "gelu_tanh", the tanh approximation), `layerNorm` false, `initScale` 1,
   * `readout` "last" ("everyPosition": a prediction at every x token of a vector-sequence task
   * such as `tasks.inContextRegression`, causally masked).
   */
  transformer(options: Options<TransformerSpec> = {}): TransformerSpec {
    return build(
      "transformer",
      {
        layers: 1,
        dModel: 128,
        heads: 4,
        dMlp: 512,
        activation: "relu",
        layerNorm: false,
        initScale: 1,
        readout: "last",
      },
      options,
    );
  },

  /**
   * Deep linear network (Saxe et al. 2014): hidden.length + 1 weight matrices, no nonlinearity.
   * Defaults: `hidden` [32, 32] (widths), `initScale` 0.01 (small: stagewise learning).
   */
  deepLinear(options: Options<DeepLinearSpec> = {}): DeepLinearSpec {
    return build("deepLinear", { hidden: [32, 32], initScale: 0.01 }, options);
  },

  /**
   * Random features (the double-descent model): φ(x) = activation(x·W/√d), W fixed at its random
   * init, and a linear readout trained from zero, so gradient descent converges to the minimum-norm
   * least-squares fit. Defaults: `features` 256 (or "inputs": φ(x) = activation(x)), `activation`
   * "relu", `normalize` true (features scaled from the training inputs so that sgd lr 1 is the step
   * 1/λ_max of the squared loss: stable below 2).
   */
  randomFeatures(options: Options<RandomFeaturesSpec> = {}): RandomFeaturesSpec {
    return build("randomFeatures", { features: 256, activation: "relu", normalize: true }, options);
  },

  /**
   * Your own model: `init(ctx)` creates parameters with `ctx.param`, `forward(params, x, io)` returns outputs [batch, out].
   * Defaults: `name` "custom".
   */
  custom(options: Options<CustomModelSpec> & Pick<CustomModelSpec, "init" | "forward">): CustomModelSpec {
    return build("custom", CUSTOM_DEFAULTS, options);
  },
};

function safeGet(o: object, key: string): unknown {
  try {
    return (o as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- optimization

/** Learning-rate schedules: a multiplier of `lr` over training steps. */
export const schedules = {
  /** Constant learning rate, no warmup. */
  constant(): ScheduleSpec {
    return { warmupSteps: 0, decay: "constant", minLrFraction: 0 };
  },

  /** Linear warmup from 0 over `steps` steps (default 0), then constant. */
  warmup(steps?: number): ScheduleSpec {
    return { warmupSteps: steps ?? 0, decay: "constant", minLrFraction: 0 };
  },

  /**
   * Optional linear warmup, then cosine decay to `minLrFraction`·lr at the last step.
   * Defaults: `warmupSteps` 0, `minLrFraction` 0.
   */
  cosine(options: Partial<Pick<ScheduleSpec, "warmupSteps" | "minLrFraction">> = {}): ScheduleSpec {
    return scheduleWith("cosine", options);
  },

  /**
   * Optional linear warmup, then linear decay to `minLrFraction`·lr at the last step.
   * Defaults: `warmupSteps` 0, `minLrFraction` 0.
   */
  linear(options: Partial<Pick<ScheduleSpec, "warmupSteps" | "minLrFraction">> = {}): ScheduleSpec {
    return scheduleWith("linear", options);
  },
};

function scheduleWith(decay: ScheduleSpec["decay"], options: unknown): ScheduleSpec {
  // `build` puts `kind`; a schedule has `decay` instead, so strip it again.
  const out = build<Record<string, unknown>>("", { ...schedules.constant() }, options);
  delete out["kind"];
  out["decay"] = decay;
  return out as unknown as ScheduleSpec;
}

/** Optimizers. `lr` is the peak learning rate; `schedule` scales it per step. */
export const optimizers = {
  /**
   * Stochastic gradient descent (full-batch: gradient descent).
   * Defaults: `lr` 0.1, `momentum` 0, `nesterov` false, `weightDecay` 0 (L2 added to the gradient),
   * `schedule` constant.
   */
  sgd(options: Options<SgdSpec> = {}): SgdSpec {
    return build(
      "sgd",
      { lr: 0.1, momentum: 0, nesterov: false, weightDecay: 0, schedule: schedules.constant() },
      options,
    );
  },

  /**
   * Adam with coupled weight decay (L2 added to the gradient).
   * Defaults: `lr` 1e-3, `betas` [0.9, 0.999], `eps` 1e-8, `weightDecay` 0, `schedule` constant.
   */
  adam(options: Options<AdamSpec> = {}): AdamSpec {
    return build(
      "adam",
      { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, schedule: schedules.constant() },
      options,
    );
  },

  /**
   * AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019).
   * Defaults: `lr` 1e-3, `betas` [0.9, 0.999], `eps` 1e-8, `weightDecay` 0.01, `schedule` constant.
   */
  adamw(options: Options<AdamSpec> = {}): AdamSpec {
    return build(
      "adamw",
      { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, schedule: schedules.constant() },
      options,
    );
  },
};

// ---------------------------------------------------------------- the system

/** The defaults of the system-level fields of `modelSystem(...)`. A fresh object on every call. */
export function systemDefaults(): Omit<SystemSpec, "task" | "model" | "optimizer"> {
  return {
    steps: 10000,
    batchSize: "full",
    evalEvery: 100,
    checkpointEvery: 1000,
    seed: 0,
    description: "",
    analyses: analysesDefaults(),
  };
}

/**
 * The defaults of `analyses`, chosen so that analysing every checkpoint of the grokking example
 * adds little to its training time (bench/analyzer.bench.mjs); BIF is off until asked for, since
 * one SGLD pass costs about 1,200 gradient steps (13 cpu-s per checkpoint of the grokking MLP;
 * bench/README.md). The BIF defaults are the sampler's measured ones (src/trainer/methods/sgld.ts).
 * A fresh object on every call.
 */
export function analysesDefaults(): AnalysesSpec {
  return {
    grokking: { trainThreshold: 0.99, testThreshold: 0.95, hold: 3 },
    weights: { every: 1 },
    conservation: { every: 1 },
    // One forward pass of the test sequences per checkpoint (inContextRegression systems only).
    icl: { every: 1 },
    kernel: { every: 1, probeSize: 64 },
    fourier: { every: 1, keyFrequencies: 5 },
    tracin: { every: 1, projectionDim: 64, query: { kind: "test", count: 64 }, trainExamples: 0 },
    bif: {
      every: 0,
      chains: 4,
      draws: 100,
      burnIn: 100,
      thin: 2,
      epsilon: 1e-3,
      gamma: 100,
      nBeta: 0,
      batchSize: 256,
      query: { kind: "test", count: 64 },
      trainExamples: 1000,
    },
    // Every 8th checkpoint: ~70 gradient passes each on the grokking MLP, +4.8% of its training
    // time, which keeps all analyses together under 25% (bench/README.md, "Sharpness and LLC cost").
    sharpness: { every: 8, eigenvalues: 2, iterations: 20, tolerance: 1e-2, fdStep: 1e-3 },
    // Off like the BIF: one estimate costs chains·(burnIn + draws·thin) gradient steps.
    llc: { every: 0, chains: 4, draws: 200, burnIn: 100, thin: 1, epsilon: 1e-3, gamma: 100, nBeta: 0, batchSize: 256 },
  };
}

/**
 * Parses a V8 stack (`new Error().stack`) and returns the location of frame number `skipFrames`
 * (0-based, counting only the `at ...` lines). Understands `at fn (/abs/file.ts:12:26)`,
 * `at /abs/file.ts:12:26`, `file://` URLs and Windows paths. Returns undefined for frames without
 * a file (native, eval, `index 0`) and for anything it cannot parse. Never throws.
 */
export function callerLocation(stack: unknown, skipFrames = 1): SourceLocation | undefined {
  try {
    const frame = stackFrames(stack)[Math.max(0, Math.floor(skipFrames))];
    return frame === undefined ? undefined : parseFrame(frame);
  } catch {
    return undefined;
  }
}

/** The locations of every frame of a V8 stack that has one, outermost last. Never throws. */
export function stackLocations(stack: unknown): SourceLocation[] {
  try {
    return stackFrames(stack)
      .map(parseFrame)
      .filter((l): l is SourceLocation => l !== undefined);
  } catch {
    return [];
  }
}

function stackFrames(stack: unknown): string[] {
  if (typeof stack !== "string") return [];
  return stack
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.startsWith("at "));
}

function parseFrame(frame: string): SourceLocation | undefined {
  const rest = frame.slice(3).trim();
  if (rest.includes("(eval at ")) return undefined;
  if (rest.endsWith(")")) {
    // `name (location)`: the location starts after the first " (" that yields one, so that
    // folders with parentheses in their name still parse.
    for (let i = rest.indexOf(" ("); i >= 0; i = rest.indexOf(" (", i + 1)) {
      const loc = parseLocation(rest.slice(i + 2, -1));
      if (loc !== undefined) return loc;
    }
    return rest.startsWith("(") ? parseLocation(rest.slice(1, -1)) : undefined;
  }
  return parseLocation(rest);
}

function parseLocation(text: string): SourceLocation | undefined {
  const m = /^(.+):(\d+):(\d+)$/.exec(text);
  if (m === null) return undefined;
  let file = m[1] ?? "";
  if (file.startsWith("file://")) {
    file = file.slice("file://".length);
    try {
      file = decodeURIComponent(file);
    } catch {
      // keep it encoded
    }
    // file:///C:/x/y.ts → C:\x\y.ts
    if (/^\/[A-Za-z]:\//.test(file)) file = file.slice(1).replace(/\//g, "\\");
  }
  if (file === "" || file === "<anonymous>" || file === "native" || file.startsWith("node:") || file.includes("), "))
    return undefined;
  return { file, line: Number(m[2]), column: Number(m[3]) };
}

/**
 * A model system: a task, a model and an optimizer, plus training settings. Export it from an
 * experiment file to get a "Train this model system" lens.
 * Defaults: `steps` 10000, `batchSize` "full" (or examples per step), `evalEvery` 100 and
 * `checkpointEvery` 1000 (steps; step 0 and the last step are always included), `seed` 0,
 * `description` "". Problems are reported when the file is loaded, never thrown here.
 */
export function modelSystem(input: SystemInput): ModelSystem {
  let definedAt: SourceLocation | undefined;
  try {
    if (typeof Error.captureStackTrace === "function") {
      // V8: the stack starts at modelSystem's caller, however the SDK was bundled.
      const holder: { stack?: string } = {};
      Error.captureStackTrace(holder, modelSystem);
      definedAt = callerLocation(holder.stack, 0);
    } else {
      definedAt = callerLocation(new Error().stack, 1);
    }
  } catch {
    definedAt = undefined;
  }
  return Object.freeze({ brand: MODEL_SYSTEM_BRAND, input, definedAt });
}

/** Whether `v` is what `modelSystem(...)` returns (checked by its brand, so it works across module copies). */
export function isModelSystem(v: unknown): v is ModelSystem {
  try {
    return (
      typeof v === "object" &&
      v !== null &&
      (v as { brand?: unknown }).brand === MODEL_SYSTEM_BRAND &&
      typeof (v as { input?: unknown }).input === "object"
    );
  } catch {
    return false;
  }
}
