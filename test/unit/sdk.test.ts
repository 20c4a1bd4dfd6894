import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  analysesDefaults,
  callerLocation,
  isModelSystem,
  MODEL_SYSTEM_BRAND,
  modelSystem,
  models,
  optimizers,
  Rng,
  schedules,
  tasks,
  tf,
} from "../../src/sdk/index";
import type { SystemSpec } from "../../src/sdk/index";
import {
  describeSystem,
  editDistance,
  formatNumber,
  resolvedConfig,
  suggest,
  validateSystem,
} from "../../src/sdk/validate";

type Loose = Record<string, unknown>;

/** A valid hand-written system; tests patch one part at a time. */
function base(): Loose {
  return {
    task: { kind: "modularArithmetic" },
    model: { kind: "mlp" },
    optimizer: { kind: "adamw" },
  };
}

function with_(patch: { task?: Loose; model?: Loose; optimizer?: Loose; system?: Loose }): Loose {
  const b = base();
  return {
    task: { ...(b["task"] as Loose), ...patch.task },
    model: { ...(b["model"] as Loose), ...patch.model },
    optimizer: { ...(b["optimizer"] as Loose), ...patch.optimizer },
    ...patch.system,
  };
}

function problemsOf(input: unknown): string[] {
  const r = validateSystem(input);
  assert.equal(r.ok, false, "expected problems");
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
}

function specOf(input: unknown): SystemSpec {
  const r = validateSystem(input);
  if (!r.ok) assert.fail(`unexpected problems: ${JSON.stringify(r.problems)}`);
  return r.spec;
}

const CONSTANT = { warmupSteps: 0, decay: "constant", minLrFraction: 0 };

describe("builders", () => {
  test("fill every default exactly", () => {
    assert.deepEqual(tasks.modularArithmetic(), {
      kind: "modularArithmetic",
      p: 97,
      op: "add",
      trainFraction: 0.3,
      splitSeed: 0,
      equalsToken: false,
    });
    assert.deepEqual(tasks.sparseParity(), {
      kind: "sparseParity",
      bits: 40,
      k: 3,
      trainSize: 1000,
      testSize: 1000,
      dataSeed: 0,
    });
    assert.deepEqual(tasks.teacherStudent(), {
      kind: "teacherStudent",
      dim: 32,
      teacher: "singleIndex",
      link: "relu",
      trainSize: 512,
      testSize: 1024,
      noise: 0,
      dataSeed: 0,
    });
    assert.deepEqual(tasks.hierarchical(), {
      kind: "hierarchical",
      depth: 3,
      branching: 2,
      featureNoise: 0,
      dataSeed: 0,
    });
    assert.deepEqual(tasks.fromFile({ train: "d.csv" }), {
      kind: "file",
      targets: "classes",
      testFraction: 0.2,
      splitSeed: 0,
      train: "d.csv",
    });
    const generate = (): never => assert.fail();
    assert.deepEqual(tasks.custom({ generate }), { kind: "custom", name: "custom", generate });
    assert.deepEqual(models.mlp(), {
      kind: "mlp",
      embed: "onehot",
      hidden: [256],
      activation: "relu",
      initScale: 1,
      alpha: 1,
      centered: false,
      bias: true,
    });
    assert.deepEqual(models.transformer(), {
      kind: "transformer",
      layers: 1,
      dModel: 128,
      heads: 4,
      dMlp: 512,
      activation: "relu",
      layerNorm: false,
      initScale: 1,
      readout: "last",
    });
    assert.deepEqual(tasks.inContextRegression(), {
      kind: "inContextRegression",
      dim: 8,
      points: 16,
      noise: 0,
      testSequences: 512,
      dataSeed: 0,
    });
    assert.deepEqual(models.deepLinear(), { kind: "deepLinear", hidden: [32, 32], initScale: 0.01 });
    assert.deepEqual(optimizers.sgd(), {
      kind: "sgd",
      lr: 0.1,
      momentum: 0,
      nesterov: false,
      weightDecay: 0,
      schedule: CONSTANT,
    });
    assert.deepEqual(optimizers.adam(), {
      kind: "adam",
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      schedule: CONSTANT,
    });
    assert.deepEqual(optimizers.adamw(), {
      kind: "adamw",
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0.01,
      schedule: CONSTANT,
    });
  });

  test("options override defaults; undefined options keep them", () => {
    assert.deepEqual(tasks.modularArithmetic({ p: 113, equalsToken: true }), {
      kind: "modularArithmetic",
      p: 113,
      op: "add",
      trainFraction: 0.3,
      splitSeed: 0,
      equalsToken: true,
    });
    assert.equal((tasks.sparseParity({ bits: undefined } as unknown as { bits: number }) as { bits: number }).bits, 40);
    assert.equal(models.mlp({ hidden: [512] }).hidden.length, 1);
  });

  test("defaults are fresh objects", () => {
    const a = models.mlp();
    a.hidden.push(1);
    assert.deepEqual(models.mlp().hidden, [256]);
  });

  test("mlp centered follows the given alpha unless set", () => {
    assert.equal(models.mlp({ alpha: 10 }).centered, true);
    assert.equal(models.mlp({ alpha: 1 }).centered, false);
    assert.equal(models.mlp({ alpha: 10, centered: false }).centered, false);
  });

  test("schedules", () => {
    assert.deepEqual(schedules.constant(), CONSTANT);
    assert.deepEqual(schedules.warmup(10), { warmupSteps: 10, decay: "constant", minLrFraction: 0 });
    assert.deepEqual(schedules.cosine(), { warmupSteps: 0, decay: "cosine", minLrFraction: 0 });
    assert.deepEqual(schedules.cosine({ warmupSteps: 100, minLrFraction: 0.1 }), {
      warmupSteps: 100,
      decay: "cosine",
      minLrFraction: 0.1,
    });
    assert.deepEqual(schedules.linear({ minLrFraction: 0.5 }), { warmupSteps: 0, decay: "linear", minLrFraction: 0.5 });
    assert.deepEqual(optimizers.adamw({ schedule: schedules.warmup(10) }).schedule, {
      warmupSteps: 10,
      decay: "constant",
      minLrFraction: 0,
    });
  });

  test("never throw on garbage, and validation reports it", () => {
    const throwing = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error("boom");
        },
      },
    );
    const getter = Object.defineProperty({}, "p", {
      enumerable: true,
      get: () => {
        throw new Error("bad getter");
      },
    });
    const garbage: unknown[] = [null, 5, "x", [1, 2], true, () => 1, throwing, getter, Symbol("s")];
    const builders: Array<(o: never) => unknown> = [
      ...Object.values(tasks),
      ...Object.values(models),
      ...Object.values(optimizers),
      schedules.cosine,
      schedules.linear,
      schedules.warmup,
    ];
    for (const b of builders) for (const g of garbage) assert.doesNotThrow(() => b(g as never));
    assert.deepEqual(problemsOf({ ...base(), model: models.mlp(128 as never) }), [
      "model: builder argument must be an options object (got number)",
    ]);
    assert.deepEqual(problemsOf({ ...base(), task: tasks.modularArithmetic(null as never) }), [
      "task: builder argument must be an options object (got null)",
    ]);
    assert.deepEqual(problemsOf({ ...base(), task: tasks.modularArithmetic(getter as never) }), [
      "task: could not be read (Error: bad getter)",
    ]);
    assert.deepEqual(problemsOf({ ...base(), model: models.mlp([512] as never) }), [
      "model: builder argument must be an options object (got an array)",
    ]);
    assert.deepEqual(problemsOf({ ...base(), optimizer: optimizers.sgd({ schedule: schedules.cosine(3 as never) }) }), [
      "optimizer.schedule: builder argument must be an options object (got number)",
    ]);
  });
});

describe("validateSystem", () => {
  test("fills all defaults of a hand-written minimal system", () => {
    assert.deepEqual(specOf(base()), {
      task: { kind: "modularArithmetic", p: 97, op: "add", trainFraction: 0.3, splitSeed: 0, equalsToken: false },
      model: {
        kind: "mlp",
        embed: "onehot",
        hidden: [256],
        activation: "relu",
        initScale: 1,
        alpha: 1,
        centered: false,
        bias: true,
      },
      optimizer: { kind: "adamw", lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, schedule: CONSTANT },
      steps: 10000,
      batchSize: "full",
      evalEvery: 100,
      checkpointEvery: 1000,
      seed: 0,
      description: "",
      analyses: analysesDefaults(),
    });
  });

  test("hand-written and builder-made systems resolve the same", () => {
    const built = modelSystem({
      task: tasks.modularArithmetic({ p: 113, trainFraction: 0.3, equalsToken: true }),
      model: models.transformer(),
      optimizer: optimizers.adamw({ lr: 1e-3, weightDecay: 1, betas: [0.9, 0.98], schedule: schedules.warmup(10) }),
      steps: 20_000,
    });
    const hand = {
      task: { kind: "modularArithmetic", p: 113, equalsToken: true },
      model: { kind: "transformer" },
      optimizer: { kind: "adamw", weightDecay: 1, betas: [0.9, 0.98], schedule: { warmupSteps: 10 } },
      steps: 20000,
    };
    assert.deepEqual(specOf(built), specOf(hand));
    assert.deepEqual(specOf(built).optimizer, {
      kind: "adamw",
      lr: 1e-3,
      betas: [0.9, 0.98],
      eps: 1e-8,
      weightDecay: 1,
      schedule: { warmupSteps: 10, decay: "constant", minLrFraction: 0 },
    });
  });

  test("fills the defaults of every kind", () => {
    const kinds: Array<[Loose, Loose]> = [
      [{ task: { kind: "sparseParity" } }, { task: tasks.sparseParity() }],
      [{ task: { kind: "teacherStudent" } }, { task: tasks.teacherStudent() }],
      [{ task: { kind: "hierarchical" } }, { task: tasks.hierarchical() }],
      [
        { task: { kind: "file", train: "x.npy", trainTargets: "y.npy" } },
        { task: tasks.fromFile({ train: "x.npy", trainTargets: "y.npy" }) },
      ],
      [{ model: { kind: "deepLinear" } }, { model: models.deepLinear() }],
      [{ model: { kind: "mlp", alpha: 4 } }, { model: models.mlp({ alpha: 4 }) }],
      [
        { optimizer: { kind: "sgd", schedule: { decay: "cosine" } } },
        { optimizer: optimizers.sgd({ schedule: schedules.cosine() }) },
      ],
      [{ optimizer: { kind: "adam" } }, { optimizer: optimizers.adam() }],
    ];
    for (const [hand, built] of kinds)
      assert.deepEqual(specOf({ ...base(), ...hand }), specOf({ ...base(), ...built }));
    assert.equal(
      (specOf({ ...base(), model: { kind: "mlp", alpha: 4 } }).model as { centered: boolean }).centered,
      true,
    );
  });

  test("accepts what modelSystem returned", () => {
    assert.equal(validateSystem(modelSystem(base() as never)).ok, true);
  });

  test("spec does not share arrays with the input", () => {
    const hidden = [8, 8];
    const spec = specOf({ ...base(), model: { kind: "mlp", hidden } });
    hidden.push(3);
    assert.deepEqual((spec.model as { hidden: number[] }).hidden, [8, 8]);
  });

  const cases: Array<[string, Loose, string[]]> = [
    // system
    ["steps", with_({ system: { steps: 0 } }), ["steps: must be a positive integer"]],
    ["steps float", with_({ system: { steps: 10.5 } }), ["steps: must be a positive integer"]],
    ["batchSize", with_({ system: { batchSize: "half" } }), ['batchSize: must be "full" or a positive integer']],
    ["batchSize 0", with_({ system: { batchSize: 0 } }), ['batchSize: must be "full" or a positive integer']],
    ["evalEvery", with_({ system: { evalEvery: -1 } }), ["evalEvery: must be a positive integer"]],
    ["checkpointEvery", with_({ system: { checkpointEvery: "10" } }), ["checkpointEvery: must be a positive integer"]],
    ["seed", with_({ system: { seed: -1 } }), ["seed: must be an integer in [0, 4294967295]"]],
    ["seed large", with_({ system: { seed: 2 ** 32 } }), ["seed: must be an integer in [0, 4294967295]"]],
    ["description", with_({ system: { description: 3 } }), ["description: must be a string"]],
    ["unknown top-level", with_({ system: { step: 100 } }), ['step: unknown field (did you mean "steps"?)']],
    // parts
    [
      "missing task",
      { model: { kind: "mlp" }, optimizer: { kind: "sgd" } },
      ["task: is required, e.g. tasks.modularArithmetic()"],
    ],
    ["task not object", { ...base(), task: 3 }, ["task: must be an object, e.g. tasks.modularArithmetic()"]],
    [
      "uncalled builder",
      { ...base(), model: models.transformer },
      ["model: must be an object: call the builder, e.g. models.transformer()"],
    ],
    [
      "unknown kind",
      { ...base(), task: { kind: "modularArithmetik" } },
      [
        'task.kind: must be one of "modularArithmetic", "sparseParity", "teacherStudent", "hierarchical", "inContextRegression", "file", "custom" (did you mean "modularArithmetic"?)',
      ],
    ],
    [
      "fromFile kind",
      { ...base(), task: { kind: "fromFile", train: "a.csv" } },
      [
        'task.kind: must be one of "modularArithmetic", "sparseParity", "teacherStudent", "hierarchical", "inContextRegression", "file", "custom" (did you mean "file"?)',
      ],
    ],
    ["missing kind", { ...base(), optimizer: { lr: 1 } }, ['optimizer.kind: must be one of "sgd", "adam", "adamw"']],
    // modularArithmetic
    ["p", with_({ task: { p: 1 } }), ["task.p: must be an integer in [2, 2048]"]],
    ["p big", with_({ task: { p: 4099 } }), ["task.p: must be an integer in [2, 2048]"]],
    ["op", with_({ task: { op: "pow" } }), ['task.op: must be one of "add", "sub", "mul", "div"']],
    [
      "op typo",
      with_({ task: { op: "mull" } }),
      ['task.op: must be one of "add", "sub", "mul", "div" (did you mean "mul"?)'],
    ],
    ["trainFraction 0", with_({ task: { trainFraction: 0 } }), ["task.trainFraction: must be in (0, 1]"]],
    ["trainFraction 1.5", with_({ task: { trainFraction: 1.5 } }), ["task.trainFraction: must be in (0, 1]"]],
    ["trainFraction NaN", with_({ task: { trainFraction: NaN } }), ["task.trainFraction: must be in (0, 1]"]],
    [
      "too few pairs",
      with_({ task: { p: 2, trainFraction: 0.2 } }),
      ["task.trainFraction: must select at least one training pair"],
    ],
    ["splitSeed", with_({ task: { splitSeed: 0.5 } }), ["task.splitSeed: must be an integer in [0, 4294967295]"]],
    ["equalsToken", with_({ task: { equalsToken: "yes" } }), ["task.equalsToken: must be true or false"]],
    ["div prime", with_({ task: { op: "div", p: 96 } }), ['task.p: must be a prime for op "div"']],
    [
      "typo",
      with_({ task: { trainFracton: 0.5 } }),
      ['task.trainFracton: unknown field (did you mean "trainFraction"?)'],
    ],
    [
      "transposition",
      with_({ task: { trainFarction: 0.5 } }),
      ['task.trainFarction: unknown field (did you mean "trainFraction"?)'],
    ],
    ["unknown without suggestion", with_({ task: { zzz: 1 } }), ["task.zzz: unknown field"]],
    // sparseParity
    ["k > bits", { ...base(), task: { kind: "sparseParity", bits: 4, k: 5 } }, ["task.k: must be ≤ task.bits"]],
    [
      "bits",
      { ...base(), task: { kind: "sparseParity", bits: 0, trainSize: 1.5 } },
      ["task.bits: must be a positive integer", "task.trainSize: must be a positive integer"],
    ],
    // teacherStudent
    [
      "teacher",
      { ...base(), task: { kind: "teacherStudent", teacher: "deep", link: "sigmoid", noise: -1 } },
      [
        'task.teacher: must be one of "linear", "singleIndex"',
        'task.link: must be one of "relu", "tanh", "square", "cubeHermite"',
        "task.noise: must be a non-negative number",
      ],
    ],
    [
      "transformer on features",
      { ...base(), task: { kind: "teacherStudent" }, model: { kind: "transformer" } },
      [
        'model.kind: must not be "transformer" for a task with real features (teacherStudent): a transformer reads tokens',
      ],
    ],
    // hierarchical
    [
      "branching",
      { ...base(), task: { kind: "hierarchical", branching: 1 } },
      ["task.branching: must be an integer ≥ 2"],
    ],
    [
      "items",
      { ...base(), task: { kind: "hierarchical", depth: 17, branching: 2 } },
      ["task.depth: must keep branching^depth ≤ 65536 (the number of items)"],
    ],
    // file
    ["file train", { ...base(), task: { kind: "file" } }, ["task.train: must be a path to a .json, .csv or .npy file"]],
    [
      "file fields",
      {
        ...base(),
        task: {
          kind: "file",
          train: "a.txt",
          test: "b.csv",
          inputColumns: ["x", ""],
          targets: "labels",
          testFraction: 1,
        },
      },
      [
        "task.train: must be a path to a .json, .csv or .npy file",
        "task.inputColumns[1]: must be a non-empty string",
        'task.targets: must be one of "classes", "regression"',
        "task.testFraction: must be in [0, 1)",
      ],
    ],
    [
      "file npy targets",
      { ...base(), task: { kind: "file", train: "x.npy", test: "xt.npy" } },
      [
        "task.trainTargets: is required when task.train is a .npy file",
        "task.testTargets: is required when task.test is a .npy file",
      ],
    ],
    [
      "file testTargets without test",
      { ...base(), task: { kind: "file", train: "x.npy", trainTargets: "y.npy", testTargets: "yt.npy" } },
      ["task.testTargets: requires task.test"],
    ],
    [
      "file npy columns",
      { ...base(), task: { kind: "file", train: "x.npy", trainTargets: "y.csv", targetColumn: "y" } },
      ["task.trainTargets: must be a path to a .npy file", "task.targetColumn: applies to .csv and .json files only"],
    ],
    [
      "file csv targets",
      { ...base(), task: { kind: "file", train: "x.csv", trainTargets: "y.npy" } },
      ["task.trainTargets: applies to .npy files only"],
    ],
    [
      "file empty columns",
      { ...base(), task: { kind: "file", train: "a.csv", inputColumns: [] } },
      ["task.inputColumns: must be a non-empty array of column names"],
    ],
    // custom task
    ["custom task", { ...base(), task: { kind: "custom", generate: "nope" } }, ["task.generate: must be a function"]],
    [
      "custom task name",
      { ...base(), task: { kind: "custom", name: "", generate: () => 1 } },
      ["task.name: must be a non-empty string"],
    ],
    // mlp
    ["embed", with_({ model: { embed: "dense" } }), ['model.embed: must be "onehot" or a positive integer']],
    [
      "hidden element",
      with_({ model: { hidden: [64, 0, 2.5] } }),
      ["model.hidden[1]: must be a positive integer", "model.hidden[2]: must be a positive integer"],
    ],
    ["hidden not array", with_({ model: { hidden: 64 } }), ["model.hidden: must be an array of positive integers"]],
    [
      "activation",
      with_({ model: { activation: "Relu" } }),
      [
        'model.activation: must be one of "relu", "gelu", "gelu_tanh", "tanh", "linear", "quadratic" (did you mean "relu"?)',
      ],
    ],
    [
      "activation gelu_erf (the exact form is plain gelu)",
      with_({ model: { activation: "gelu_erf" } }),
      [
        'model.activation: must be one of "relu", "gelu", "gelu_tanh", "tanh", "linear", "quadratic" (did you mean "gelu"?)',
      ],
    ],
    [
      "initScale",
      with_({ model: { initScale: 0, alpha: -1, centered: 1, bias: null } }),
      [
        "model.initScale: must be a positive number",
        "model.alpha: must be a positive number",
        "model.centered: must be true or false",
        "model.bias: must be true or false",
      ],
    ],
    // transformer
    [
      "heads divide",
      { ...base(), model: { kind: "transformer", dModel: 128, heads: 3 } },
      ["model.heads: must divide model.dModel"],
    ],
    [
      "layers",
      { ...base(), model: { kind: "transformer", layers: 13, activation: "tanh", layerNorm: "no", dMlp: 0 } },
      [
        "model.layers: must be a whole number from 1 to 12",
        "model.dMlp: must be a positive integer",
        'model.activation: must be one of "relu", "gelu", "gelu_tanh"',
        "model.layerNorm: must be true or false",
      ],
    ],
    [
      "dmodel case",
      { ...base(), model: { kind: "transformer", dmodel: 64 } },
      ['model.dmodel: unknown field (did you mean "dModel"?)'],
    ],
    // deepLinear
    [
      "deepLinear",
      { ...base(), model: { kind: "deepLinear", hidden: [], initScale: "small" } },
      ["model.initScale: must be a positive number"],
    ],
    // custom model
    [
      "custom model",
      { ...base(), model: { kind: "custom" } },
      ["model.init: must be a function", "model.forward: must be a function"],
    ],
    // optimizers
    ["lr", with_({ optimizer: { lr: 0 } }), ["optimizer.lr: must be a positive number"]],
    ["lr infinite", with_({ optimizer: { lr: Infinity } }), ["optimizer.lr: must be a positive number"]],
    ["betas", with_({ optimizer: { betas: [1, 0.5] } }), ["optimizer.betas[0]: must be in [0, 1)"]],
    ["betas pair", with_({ optimizer: { betas: [0.9] } }), ["optimizer.betas: must be a pair [beta1, beta2]"]],
    [
      "eps wd",
      with_({ optimizer: { eps: 0, weightDecay: -0.1 } }),
      ["optimizer.eps: must be a positive number", "optimizer.weightDecay: must be a non-negative number"],
    ],
    [
      "sgd",
      { ...base(), optimizer: { kind: "sgd", momentum: 1, nesterov: "y" } },
      ["optimizer.momentum: must be in [0, 1)", "optimizer.nesterov: must be true or false"],
    ],
    [
      "nesterov",
      { ...base(), optimizer: { kind: "sgd", nesterov: true } },
      ["optimizer.nesterov: requires optimizer.momentum > 0"],
    ],
    [
      "sgd has no betas",
      { ...base(), optimizer: { kind: "sgd", betas: [0.9, 0.99] } },
      ["optimizer.betas: unknown field"],
    ],
    [
      "schedule",
      with_({ optimizer: { schedule: { warmupSteps: -1, decay: "exp", minLrFraction: 2, warmup: 3 } } }),
      [
        'optimizer.schedule.warmup: unknown field (did you mean "warmupSteps"?)',
        "optimizer.schedule.warmupSteps: must be a non-negative integer",
        'optimizer.schedule.decay: must be one of "constant", "cosine", "linear"',
        "optimizer.schedule.minLrFraction: must be in [0, 1]",
      ],
    ],
    [
      "schedule not object",
      with_({ optimizer: { schedule: 10 } }),
      ["optimizer.schedule: must be an object, e.g. schedules.warmup(10)"],
    ],
    [
      "warmup > steps",
      with_({ optimizer: { schedule: schedules.warmup(200) }, system: { steps: 100 } }),
      ["optimizer.schedule.warmupSteps: must be ≤ steps"],
    ],
    [
      "root",
      [] as unknown as Loose,
      [": must be an object with task, model and optimizer, e.g. modelSystem({ task, model, optimizer })"],
    ],
  ];
  for (const [name, input, expected] of cases) {
    test(`rule: ${name}`, () => assert.deepEqual(problemsOf(input), expected));
  }

  test("reports all problems together, in order", () => {
    assert.deepEqual(
      problemsOf({
        task: tasks.modularArithmetic({ p: 0, trainFracton: 2 } as never),
        model: models.mlp({ hidden: [0] }),
        optimizer: optimizers.adamw({ lr: -1 }),
        steps: 0,
        stepz: 1,
      }),
      [
        'stepz: unknown field (did you mean "steps"?)',
        'task.trainFracton: unknown field (did you mean "trainFraction"?)',
        "task.p: must be an integer in [2, 2048]",
        "model.hidden[0]: must be a positive integer",
        "optimizer.lr: must be a positive number",
        "steps: must be a positive integer",
      ],
    );
  });

  test("evalEvery and checkpointEvery may exceed steps", () => {
    const spec = specOf(with_({ system: { steps: 50, evalEvery: 100, checkpointEvery: 1000 } }));
    assert.equal(spec.checkpointEvery, 1000);
  });

  test("valid systems of every kind pass", () => {
    const ok: Loose[] = [
      {
        task: tasks.sparseParity({ bits: 20, k: 3 }),
        model: models.mlp({ hidden: [64] }),
        optimizer: optimizers.sgd({ lr: 0.05, momentum: 0.9, nesterov: true }),
        batchSize: 32,
      },
      {
        task: tasks.teacherStudent({ teacher: "linear" }),
        model: models.mlp({ alpha: 100 }),
        optimizer: optimizers.sgd(),
      },
      {
        task: tasks.hierarchical(),
        model: models.deepLinear(),
        optimizer: optimizers.sgd({ schedule: schedules.linear({ warmupSteps: 10 }) }),
      },
      {
        task: tasks.custom({ name: "toy", generate: () => assert.fail() }),
        model: models.custom({ init: () => undefined, forward: (_p, x) => x }),
        optimizer: optimizers.adam(),
      },
      {
        task: tasks.modularArithmetic({ op: "div", p: 113 }),
        model: models.transformer({ layers: 2, heads: 8 }),
        optimizer: optimizers.adamw(),
      },
    ];
    for (const s of ok) specOf(s);
  });

  test("never throws", () => {
    const evil = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error("boom");
        },
      },
    );
    for (const v of [undefined, null, 1, "x", [], () => 1, evil, { task: evil, model: null, optimizer: [] }]) {
      assert.doesNotThrow(() => validateSystem(v));
      assert.equal(validateSystem(v).ok, false);
    }
    assert.deepEqual(problemsOf(evil), [": could not be read: boom"]);
    assert.deepEqual(
      problemsOf(
        JSON.parse(
          '{"task":{"kind":"sparseParity","__proto__":{"bits":1}},"model":{"kind":"mlp"},"optimizer":{"kind":"sgd"}}',
        ),
      ),
      ["task.__proto__: unknown field"],
    );
  });
});

describe("typo suggestions", () => {
  test("edit distance", () => {
    assert.equal(editDistance("trainFracton", "trainFraction"), 1);
    assert.equal(editDistance("ab", "ba"), 1);
    assert.equal(editDistance("", "abc"), 3);
    assert.equal(editDistance("kitten", "sitting"), 3);
  });
  test("suggest", () => {
    assert.equal(suggest("lrr", ["lr", "eps"]), "lr");
    assert.equal(suggest("x", ["p"]), undefined);
    assert.equal(suggest("completelyDifferent", ["steps", "seed"]), undefined);
    assert.equal(suggest("WEIGHTDECAY", ["weightDecay"]), "weightDecay");
    assert.equal(suggest("minLr", ["warmupSteps", "decay", "minLrFraction"]), "minLrFraction");
    assert.equal(suggest("hiddenSizes", ["embed", "hidden"]), "hidden");
    assert.equal(suggest("lrs", ["lr"]), "lr");
    assert.equal(suggest("hid", ["hidden"]), undefined);
  });
});

describe("callerLocation", () => {
  const stack = (...frames: string[]): string => ["Error: x", ...frames.map((f) => `    at ${f}`)].join("\n");

  test("frames with and without function names", () => {
    const s = stack(
      "modelSystem (/repo/src/sdk/index.ts:40:10)",
      "Object.<anonymous> (/abs/file.ts:12:26)",
      "Module._compile (node:internal/modules/cjs/loader:1554:14)",
    );
    assert.deepEqual(callerLocation(s, 1), { file: "/abs/file.ts", line: 12, column: 26 });
    assert.deepEqual(callerLocation(s, 0), { file: "/repo/src/sdk/index.ts", line: 40, column: 10 });
    assert.deepEqual(callerLocation(stack("modelSystem (/sdk.js:1:1)", "/abs/file.ts:12:26"), 1), {
      file: "/abs/file.ts",
      line: 12,
      column: 26,
    });
    assert.deepEqual(callerLocation(stack("modelSystem (/sdk.js:1:1)", "/abs/file.ts:3:4")), {
      file: "/abs/file.ts",
      line: 3,
      column: 4,
    });
  });

  test("file URLs, Windows paths, odd names", () => {
    assert.deepEqual(callerLocation(stack("file:///abs/my%20dir/e.mjs:7:9"), 0), {
      file: "/abs/my dir/e.mjs",
      line: 7,
      column: 9,
    });
    assert.deepEqual(callerLocation(stack("f (file:///C:/x/y.ts:3:4)"), 0), {
      file: "C:\\x\\y.ts",
      line: 3,
      column: 4,
    });
    assert.deepEqual(callerLocation(stack("Object.<anonymous> (C:\\x\\y.ts:3:4)"), 0), {
      file: "C:\\x\\y.ts",
      line: 3,
      column: 4,
    });
    assert.deepEqual(callerLocation(stack("C:\\x\\y.ts:3:4"), 0), { file: "C:\\x\\y.ts", line: 3, column: 4 });
    assert.deepEqual(callerLocation(stack("new Foo (/a (copy)/b.ts:1:2)"), 0), {
      file: "/a (copy)/b.ts",
      line: 1,
      column: 2,
    });
    assert.deepEqual(callerLocation(stack("async Foo.<computed> [as bar] (/a/b.ts:5:6)"), 0), {
      file: "/a/b.ts",
      line: 5,
      column: 6,
    });
  });

  test("no location: undefined, never throws", () => {
    assert.equal(callerLocation(stack("async Promise.all (index 0)"), 0), undefined);
    assert.equal(callerLocation(stack("eval (eval at run (/x.js:1:1), <anonymous>:1:1)"), 0), undefined);
    assert.equal(callerLocation(stack("Array.map (<anonymous>)"), 0), undefined);
    assert.equal(callerLocation(stack("native"), 0), undefined);
    assert.equal(callerLocation(stack("/a.ts:1:2"), 5), undefined);
    assert.equal(callerLocation("", 1), undefined);
    assert.equal(callerLocation(undefined), undefined);
    assert.equal(callerLocation(42, -3), undefined);
  });

  test("modelSystem records where it was called", () => {
    const [system, here] = [modelSystem(base() as never), callerLocation(new Error().stack, 0)];
    assert.ok(here !== undefined);
    assert.equal(system.definedAt?.file, here.file);
    assert.equal(system.definedAt?.line, here.line);
    assert.match(here.file, /sdk\.test\.(ts|cjs)$/);
    assert.equal(system.brand, MODEL_SYSTEM_BRAND);
    assert.ok(isModelSystem(system));
    assert.ok(!isModelSystem(base()));
    assert.ok(!isModelSystem(null));
    assert.ok(!isModelSystem({ brand: MODEL_SYSTEM_BRAND }));
  });
});

describe("describeSystem and resolvedConfig", () => {
  const nanda = (): SystemSpec =>
    specOf({
      task: tasks.modularArithmetic({ p: 97, op: "add", trainFraction: 0.3 }),
      model: models.mlp(),
      optimizer: optimizers.adamw({ lr: 1e-3, weightDecay: 1, betas: [0.9, 0.98] }),
      steps: 20_000,
    });

  test("one line", () => {
    assert.equal(
      describeSystem(nanda()),
      "modularArithmetic p=97 add 30% · mlp onehot [256] relu · adamw lr=1e-3 wd=1 · 20000 steps full-batch",
    );
    assert.equal(
      describeSystem(
        specOf({
          task: tasks.teacherStudent({ noise: 0.1 }),
          model: models.mlp({ embed: 16, hidden: [64, 64], alpha: 100, initScale: 8, bias: false }),
          optimizer: optimizers.sgd({
            lr: 3e-4,
            momentum: 0.9,
            nesterov: true,
            schedule: schedules.cosine({ warmupSteps: 10, minLrFraction: 0.1 }),
          }),
          steps: 500,
          batchSize: 64,
        }),
      ),
      "teacherStudent d=32 singleIndex relu n=512 noise=0.1 · mlp embed=16 [64,64] relu init×8 α=100 no-bias · sgd lr=3e-4 momentum=0.9 nesterov warmup=10 cosine→0.1 · 500 steps batch=64",
    );
    assert.equal(
      describeSystem(
        specOf({
          task: tasks.modularArithmetic({ p: 113, equalsToken: true, trainFraction: 1 / 3 }),
          model: models.transformer(),
          optimizer: optimizers.adam(),
        }),
      ),
      "modularArithmetic p=113 add 33.3% [a,b,=] · transformer 1L d=128 h=4 mlp=512 relu · adam lr=1e-3 · 10000 steps full-batch",
    );
  });

  test("formatNumber", () => {
    assert.deepEqual([1e-3, 3e-4, 2.5e-4, 0.1, 1, 20000, 1e6, 0, 0.98, -0.5, 1e-8].map(formatNumber), [
      "1e-3",
      "3e-4",
      "2.5e-4",
      "0.1",
      "1",
      "20000",
      "1e6",
      "0",
      "0.98",
      "-0.5",
      "1e-8",
    ]);
  });

  test("resolvedConfig is plain JSON without functions", () => {
    const spec = nanda();
    assert.deepEqual(JSON.parse(JSON.stringify(resolvedConfig(spec))), resolvedConfig(spec));
    assert.deepEqual(resolvedConfig(spec), JSON.parse(JSON.stringify(spec)));

    function generate(): never {
      assert.fail();
    }
    const custom = specOf({
      task: tasks.custom({ name: "toy", generate }),
      model: models.custom({ name: "m", init: () => undefined, forward: (_p, x) => x }),
      optimizer: optimizers.sgd(),
    });
    const config = resolvedConfig(custom);
    assert.deepEqual(config["task"], { kind: "custom", name: "toy", generate: "<function generate>" });
    assert.deepEqual(config["model"], {
      kind: "custom",
      name: "m",
      init: "<function init>",
      forward: "<function forward>",
    });
    const text = JSON.stringify(config);
    assert.ok(!text.includes("=>"));
    const walk = (v: unknown): void => {
      assert.notEqual(typeof v, "function");
      if (typeof v === "object" && v !== null) for (const x of Object.values(v)) walk(x);
    };
    walk(config);

    const odd = resolvedConfig({
      ...custom,
      description: "d",
      extra: { data: new Float32Array(5), n: NaN, u: undefined, list: [undefined, () => 1] },
    } as unknown as SystemSpec);
    assert.deepEqual(odd["extra"], { data: "<Float32Array(5)>", n: "NaN", list: [null, "<function>"] });
    assert.deepEqual(
      resolvedConfig({ extra: { map: new Map(), nullProto: Object.create(null) as object } } as unknown as SystemSpec),
      { extra: { map: "<Map>", nullProto: {} } },
    );
  });
});

describe("re-exports", () => {
  test("tf and Rng", () => {
    assert.equal(typeof tf.tensor, "function");
    assert.equal(new Rng(1).nextUint32(), new Rng(1).nextUint32());
  });
});

describe("analyses settings", () => {
  const problemsOf = (analyses: unknown): string[] => {
    const r = validateSystem({ ...base(), analyses });
    return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
  };

  test("absent: every default filled in", () => {
    const r = validateSystem(base());
    assert.ok(r.ok);
    assert.deepEqual(r.spec.analyses.kernel, { every: 1, probeSize: 64 });
    assert.equal(r.spec.analyses.bif.every, 0, "BIF is off until asked for");
    assert.deepEqual(r.spec.analyses.tracin.query, { kind: "test", count: 64 });
  });

  test("a partial override keeps the other defaults, and the defaults object is not shared", () => {
    const r = validateSystem({
      ...base(),
      analyses: { tracin: { projectionDim: 16, query: { kind: "class", label: 3, count: 8 } } },
    });
    assert.ok(r.ok);
    assert.equal(r.spec.analyses.tracin.projectionDim, 16);
    assert.equal(r.spec.analyses.tracin.every, 1);
    assert.deepEqual(r.spec.analyses.tracin.query, { kind: "class", label: 3, count: 8 });
    r.spec.analyses.kernel.probeSize = 5;
    const again = validateSystem(base());
    assert.ok(again.ok);
    assert.equal(again.spec.analyses.kernel.probeSize, 64);
  });

  test("problems name the field", () => {
    assert.deepEqual(problemsOf({ tracn: {} }), ['analyses.tracn: unknown analysis (did you mean "tracin"?)']);
    assert.deepEqual(problemsOf({ kernel: { probeSize: 1 } }), [
      "analyses.kernel.probeSize: must be an integer in [2, 4096]",
    ]);
    assert.deepEqual(problemsOf({ bif: { epsilon: -1, chain: 2 } }), [
      'analyses.bif.chain: unknown field (did you mean "chains"?)',
      "analyses.bif.epsilon: must be a positive number",
    ]);
    assert.deepEqual(problemsOf({ tracin: { query: { kind: "indices", split: "train", indices: [] } } }), [
      "analyses.tracin.query.indices: must be a non-empty array of example indices",
    ]);
    assert.deepEqual(problemsOf({ grokking: { testThreshold: 1.5 } }), [
      "analyses.grokking.testThreshold: must be in (0, 1]",
    ]);
    assert.deepEqual(problemsOf(3), ["analyses: must be an object, e.g. { tracin: { every: 2 } }"]);
  });
});
