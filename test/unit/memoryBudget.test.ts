// The training's memory estimate: its parameter count is the built model's, and a system over the
// budget is refused as a config error on the field that makes it large, with the numbers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { analysesDefaults } from "../../src/sdk/builders";
import { Rng } from "../../src/sdk/rng";
import type { ModelSpec, SystemSpec, TaskData } from "../../src/sdk/spec";
import { ConfigError } from "../../src/trainer/errors";
import { checkMemory, parameterCount, TRAINING_MEMORY_LIMIT } from "../../src/trainer/memoryBudget";
import { buildModel, type ModelIO } from "../../src/trainer/models/index";
import { featIO, mlpSpec, tokIO, trSpec, useBackend } from "../tensorAnalysisSupport";

function actualCount(spec: ModelSpec, io: ModelIO): number {
  const model = buildModel(spec, io, new Rng(1));
  try {
    return model.params.reduce((n, p) => n + p.variable.size, 0);
  } finally {
    model.dispose();
  }
}

test("parameterCount equals the parameters the built-in models create", async () => {
  await useBackend("cpu");
  const cases: Array<[ModelSpec, ModelIO]> = [
    [mlpSpec({ hidden: [16, 12] }), tokIO(7, 3, 7)],
    [mlpSpec({ embed: 4, bias: false }), tokIO(7, 3, 10)],
    [mlpSpec({ hidden: [] }), featIO(6, 2)],
    [{ kind: "deepLinear", hidden: [5, 4], initScale: 0.1 }, featIO(6, 3)],
    [{ kind: "deepLinear", hidden: [5], initScale: 0.1 }, tokIO(4, 2, 4)],
    [trSpec({}), tokIO(11, 3, 11)],
    [trSpec({ layers: 2, layerNorm: true }), tokIO(11, 3, 11)],
  ];
  for (const [spec, io] of cases) assert.equal(parameterCount(spec, io), actualCount(spec, io), JSON.stringify(spec));
});

test("a system over the limit is a ConfigError on model.hidden naming the parameters and the limit", () => {
  const io = tokIO(59, 2, 59);
  const data: TaskData = {
    ...io,
    train: { n: 1, x: new Int32Array(2), y: new Int32Array(1) },
    test: { n: 1, x: new Int32Array(2), y: new Int32Array(1) },
  };
  const spec = (hidden: number[]): SystemSpec => ({
    task: { kind: "modularArithmetic", p: 59, op: "add", trainFraction: 0.4, splitSeed: 0, equalsToken: false },
    model: mlpSpec({ hidden }),
    optimizer: {
      kind: "adam",
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      schedule: { warmupSteps: 0, decay: "constant", minLrFraction: 0 },
    },
    steps: 10,
    batchSize: "full",
    evalEvery: 1,
    checkpointEvery: 1,
    seed: 0,
    description: "",
    analyses: analysesDefaults(),
  });
  const plenty = { free: 64 * 1024 ** 3, total: 64 * 1024 ** 3 };
  checkMemory({ name: "ok" }, spec([256]), io, data, plenty);
  assert.throws(
    () => checkMemory({ name: "huge" }, spec([20000, 20000]), io, data, plenty),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.problems[0]?.path, "model.hidden");
      assert.match(
        e.problems[0]!.message,
        /^too large: 403,580,059 parameters need about [\d.]+ GiB to train, over the limit of 2\.0 GiB per training$/,
      );
      return true;
    },
  );
  // Within the fixed limit but over what the machine has free now.
  const small = { free: 1024 ** 3, total: 2 * 1024 ** 3 };
  assert.ok(TRAINING_MEMORY_LIMIT > 0.75 * small.free);
  assert.throws(
    () => checkMemory({ name: "mid" }, spec([8000, 8000]), io, data, small),
    /over 75% of the 1\.0 GiB available now \(of 2\.0 GiB\)/,
  );
});
