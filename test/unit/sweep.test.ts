// Sweeps in the SDK: dotted paths, the expansion into points, a point laid over the resolved
// system, and every mistake a sweep can hold named with its path (docs/sweeps.md).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { models, optimizers, tasks } from "../../src/sdk/index";
import type { SystemSpec } from "../../src/sdk/index";
import { applySweepPoint, expandSweep, formatSweepPath, parseSweepPath, sweepSize } from "../../src/sdk/sweep";
import { validateSystem } from "../../src/sdk/validate";

type Loose = Record<string, unknown>;

function base(): Loose {
  return {
    task: tasks.modularArithmetic({ p: 11 }),
    model: models.mlp({ embed: 8 }),
    optimizer: optimizers.adamw({ lr: 1e-3 }),
    steps: 10,
    seed: 5,
  };
}

function resolved(): SystemSpec {
  const r = validateSystem(base());
  assert.ok(r.ok);
  return r.spec;
}

/** The problems of `base()` with `sweep`, as "path: message" lines. */
function problems(sweep: unknown, system: Loose = base()): string[] {
  const r = validateSystem({ ...system, sweep });
  assert.equal(r.ok, false, "expected problems");
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
}

function plan(sweep: unknown, system: Loose = base()) {
  const r = validateSystem({ ...system, sweep });
  assert.ok(r.ok, r.ok ? "" : JSON.stringify(r.problems));
  assert.ok(r.sweep);
  return r.sweep;
}

describe("sweep paths", () => {
  test("parse and format round trip, indices included", () => {
    assert.deepEqual(parseSweepPath("model.hidden[0]"), { ok: true, steps: ["model", "hidden", 0] });
    assert.deepEqual(parseSweepPath("optimizer.betas[1]"), { ok: true, steps: ["optimizer", "betas", 1] });
    assert.deepEqual(parseSweepPath("steps"), { ok: true, steps: ["steps"] });
    assert.equal(formatSweepPath(["model", "hidden", 0]), "model.hidden[0]");
    assert.equal(formatSweepPath(["analyses", "kernel", "probeSize"]), "analyses.kernel.probeSize");
  });

  test("malformed paths and prototype names are refused", () => {
    for (const p of ["", "model..hidden", "model.hidden[x]", "model.hidden [0]", "[0]", "model.1"])
      assert.equal(parseSweepPath(p).ok, false, p);
    for (const p of ["__proto__.x", "model.constructor", "model.prototype", "model.__proto__"]) {
      const r = parseSweepPath(p);
      assert.ok(!r.ok);
      assert.match(r.problem, /is not a config field/);
    }
  });
});

describe("expansion", () => {
  test("a grid: every combination, the first field slowest, seeds innermost", () => {
    const p = plan({ grid: { "optimizer.weightDecay": [0, 0.1, 1], "model.hidden[0]": [8, 16] }, seeds: 2 });
    assert.equal(p.mode, "grid");
    assert.deepEqual(p.fields, ["optimizer.weightDecay", "model.hidden[0]"]);
    assert.deepEqual(p.seeds, [0, 1]);
    assert.equal(p.points.length, 12);
    assert.deepEqual(
      p.points.map((x) => [x.index, x.values["optimizer.weightDecay"], x.values["model.hidden[0]"], x.seed]),
      [
        [0, 0, 8, 0],
        [1, 0, 8, 1],
        [2, 0, 16, 0],
        [3, 0, 16, 1],
        [4, 0.1, 8, 0],
        [5, 0.1, 8, 1],
        [6, 0.1, 16, 0],
        [7, 0.1, 16, 1],
        [8, 1, 8, 0],
        [9, 1, 8, 1],
        [10, 1, 16, 0],
        [11, 1, 16, 1],
      ],
    );
  });

  test("a list: points as listed, a field a point leaves out recorded at the system's value", () => {
    const p = plan({ points: [{ "model.hidden[0]": 8 }, { "optimizer.lr": 0.1 }], seeds: [3, 5] });
    assert.equal(p.mode, "list");
    assert.deepEqual(p.fields, ["model.hidden[0]", "optimizer.lr"]);
    assert.deepEqual(
      p.points.map((x) => [x.values, x.seed]),
      [
        [{ "model.hidden[0]": 8, "optimizer.lr": 1e-3 }, 3],
        [{ "model.hidden[0]": 8, "optimizer.lr": 1e-3 }, 5],
        [{ "model.hidden[0]": 256, "optimizer.lr": 0.1 }, 3],
        [{ "model.hidden[0]": 256, "optimizer.lr": 0.1 }, 5],
      ],
    );
  });

  test("seeds alone: a count is 0 … n − 1; no seeds is the system's seed", () => {
    const p = plan({ seeds: 3 });
    assert.deepEqual(p.fields, []);
    assert.deepEqual(
      p.points.map((x) => [x.values, x.seed]),
      [
        [{}, 0],
        [{}, 1],
        [{}, 2],
      ],
    );
    assert.deepEqual(
      plan({ grid: { steps: [5, 6] } }).points.map((x) => x.seed),
      [5, 5],
    );
  });

  test("sizes as lm list shows them", () => {
    assert.deepEqual(sweepSize({ grid: { a: [1, 2], b: [1, 2] }, seeds: 3 }), {
      runs: 12,
      text: "12 runs = 2 × 2 × 3 seeds",
    });
    assert.deepEqual(sweepSize({ grid: { a: [1, 2], b: [1, 2] } }), { runs: 4, text: "4 runs = 2 × 2" });
    assert.deepEqual(sweepSize({ points: [{ a: 1 }, { a: 2 }], seeds: [4, 7, 9] }), {
      runs: 6,
      text: "6 runs = 2 points × 3 seeds",
    });
    assert.deepEqual(sweepSize({ grid: { "task.dim": [2, 3, 4] }, seeds: 2 }), {
      runs: 6,
      text: "6 runs = 3 values of task.dim × 2 seeds",
    });
    assert.deepEqual(sweepSize({ seeds: 3 }), { runs: 3, text: "3 runs = 3 seeds" });
    assert.deepEqual(sweepSize({ seeds: 1 }), { runs: 1, text: "1 run = 1 seed" });
  });
});

describe("a point over the resolved system", () => {
  test("an element of a defaulted array is set, the rest kept, the seed set", () => {
    const spec = resolved();
    assert.deepEqual(spec.model.kind === "mlp" && spec.model.hidden, [256]);
    const input = applySweepPoint(spec, { "model.hidden[0]": 16, "optimizer.weightDecay": 0.5 }, 9);
    const r = validateSystem(input);
    assert.ok(r.ok);
    assert.equal(r.spec.model.kind, "mlp");
    assert.deepEqual(r.spec.model.kind === "mlp" && r.spec.model.hidden, [16]);
    assert.equal(r.spec.optimizer.weightDecay, 0.5);
    assert.equal(r.spec.optimizer.lr, 1e-3);
    assert.equal(r.spec.seed, 9);
    // The resolved spec itself is untouched.
    assert.deepEqual(spec.model.kind === "mlp" && spec.model.hidden, [256]);
    assert.equal(spec.seed, 5);
  });

  test("an MLP's centred default follows a swept α; a centring the base set against its default, or the sweep sets, is kept", () => {
    const centredAt = (model: object, values: Record<string, number | boolean>): unknown => {
      const r = validateSystem({ ...base(), model });
      assert.ok(r.ok);
      const point = validateSystem(applySweepPoint(r.spec, values, 0));
      assert.ok(point.ok);
      return point.spec.model.kind === "mlp" && point.spec.model.centered;
    };
    // From α = 1 (uncentred by default), α = 10 is centred, as models.mlp({ alpha: 10 }) would be.
    assert.equal(centredAt(models.mlp({}), { "model.alpha": 10 }), true);
    assert.equal(centredAt(models.mlp({}), { "model.alpha": 1 }), false);
    assert.equal(centredAt(models.mlp({ alpha: 10 }), { "model.alpha": 1 }), false);
    // Set against the default: kept whatever α is.
    assert.equal(centredAt(models.mlp({ alpha: 10, centered: false }), { "model.alpha": 100 }), false);
    assert.equal(centredAt(models.mlp({ centered: true }), { "model.alpha": 1 }), true);
    // Swept itself: its value wins.
    assert.equal(centredAt(models.mlp({}), { "model.alpha": 10, "model.centered": false }), false);
  });

  test("expandSweep over a spec and applySweepPoint agree with validateSystem's plan", () => {
    const spec = resolved();
    const p = expandSweep({ grid: { "task.trainFraction": [0.3, 0.5] } }, spec);
    assert.deepEqual(
      p.points.map((x) => x.values),
      [{ "task.trainFraction": 0.3 }, { "task.trainFraction": 0.5 }],
    );
  });
});

describe("mistakes in a sweep, each named", () => {
  test("an unknown path, with the closest one", () => {
    assert.deepEqual(problems({ grid: { "model.hiden[0]": [8] } }), [
      'sweep.grid["model.hiden[0]"]: unknown path "model.hiden[0]": model has no field "hiden" (did you mean "model.hidden[0]"?)',
    ]);
    assert.deepEqual(problems({ grid: { "optimizer.weightdecay": [0.1] } }), [
      'sweep.grid["optimizer.weightdecay"]: unknown path "optimizer.weightdecay": optimizer has no field "weightdecay" (did you mean "optimizer.weightDecay"?)',
    ]);
    assert.deepEqual(problems({ points: [{ "model.hidden[3]": 8 }] }), [
      'sweep.points[0]["model.hidden[3]"]: unknown path "model.hidden[3]": model.hidden has 1 element, so [3] is out of range',
    ]);
  });

  test("a path to a prototype never resolves", () => {
    assert.deepEqual(problems({ grid: { "model.__proto__.x": [8] } }), [
      'sweep.grid["model.__proto__.x"]: path "model.__proto__.x" names "__proto__", which is not a config field',
    ]);
    assert.deepEqual(problems({ grid: { "task.constructor": [1] } }), [
      'sweep.grid["task.constructor"]: path "task.constructor" names "constructor", which is not a config field',
    ]);
    // Nothing leaked onto Object.prototype.
    assert.equal(Object.hasOwn(Object.prototype, "x"), false);
  });

  test("a path to an array, an object or a kind; the seed", () => {
    assert.deepEqual(problems({ grid: { "model.hidden": [8] } }), [
      'sweep.grid["model.hidden"]: "model.hidden" is an array, not a number, string or boolean; sweep one element, e.g. "model.hidden[0]"',
    ]);
    assert.deepEqual(problems({ grid: { "optimizer.schedule": [1] } }), [
      'sweep.grid["optimizer.schedule"]: "optimizer.schedule" is an object, not a number, string or boolean',
    ]);
    assert.match(problems({ grid: { "model.kind": ["transformer"] } })[0] ?? "", /a part's kind cannot be swept/);
    assert.match(problems({ grid: { seed: [1, 2] } })[0] ?? "", /sweep the seed with `seeds`/);
  });

  test("an empty grid, an empty list of values, an empty list of points", () => {
    assert.deepEqual(problems({ grid: {} }), [
      "sweep.grid: is empty: name at least one field and its values (for seeds alone, give only `seeds`)",
    ]);
    assert.deepEqual(problems({ grid: { steps: [] } }), [
      'sweep.grid["steps"]: is an empty list of values: a grid with it has no points',
    ]);
    assert.deepEqual(problems({ points: [] }), ["sweep.points: is empty: list at least one point"]);
  });

  test("values that are not scalars, and a value listed twice", () => {
    assert.deepEqual(problems({ grid: { steps: [[1], 2, 2], "model.alpha": [{}, null, Number.NaN] } }), [
      'sweep.grid["steps"][0]: is an array: a swept value must be a number, string or boolean',
      'sweep.grid["steps"][2]: 2 is listed twice (each value is one point)',
      'sweep.grid["model.alpha"][0]: is an object: a swept value must be a number, string or boolean',
      'sweep.grid["model.alpha"][1]: is null: a swept value must be a number, string or boolean',
      'sweep.grid["model.alpha"][2]: NaN is not a finite number',
    ]);
    assert.deepEqual(problems({ points: [{ steps: [5] }] }), [
      'sweep.points[0]["steps"]: is an array: a swept value must be a number, string or boolean',
    ]);
  });

  test("more than MAX_SWEEP_POINTS is refused with its size", () => {
    const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
    assert.deepEqual(problems({ grid: { steps: range(10), "model.alpha": range(10), "optimizer.lr": range(1000) } }), [
      "sweep: the grid has 100,000 points (10 × 10 × 1,000); at most 10,000",
    ]);
    assert.deepEqual(problems({ grid: { steps: range(100), "model.alpha": range(50) }, seeds: 3 }), [
      "sweep: the sweep has 15,000 runs (100 × 50 × 3 seeds); at most 10,000",
    ]);
  });

  test("the shape: not an object, unknown keys, both grid and points, bad seeds", () => {
    assert.match(problems(5)[0] ?? "", /^sweep: must be an object/);
    assert.deepEqual(problems({ grd: { steps: [1] } }), [
      'sweep.grd: unknown field (did you mean "grid"?) (a sweep has grid or points, and seeds)',
      'sweep: names nothing to sweep: give grid, points or seeds, e.g. { grid: { "model.hidden[0]": [8, 16] } }',
    ]);
    assert.match(problems({ grid: { steps: [1] }, points: [{ steps: 2 }] })[0] ?? "", /has both grid and points/);
    assert.match(problems({ seeds: 0 })[0] ?? "", /^sweep.seeds: must be a count of seeds/);
    assert.deepEqual(problems({ seeds: [1, -1, 1] }), [
      "sweep.seeds[1]: must be an integer in [0, 4294967295]",
      "sweep.seeds[2]: seed 1 is listed twice",
    ]);
  });

  test("a value that is invalid at a point names the path, the value and the point", () => {
    assert.deepEqual(problems({ grid: { "optimizer.lr": [0.1, 0.2], "model.hidden[0]": [8, 0] }, seeds: 2 }), [
      "model.hidden[0]: must be a positive integer (at sweep point 2–3: optimizer.lr = 0.1, model.hidden[0] = 0)",
      "model.hidden[0]: must be a positive integer (at sweep point 6–7: optimizer.lr = 0.2, model.hidden[0] = 0)",
    ]);
    assert.deepEqual(problems({ points: [{ "model.activation": "relu" }, { "model.activation": "gelo" }] }), [
      'model.activation: must be one of "relu", "gelu", "gelu_tanh", "tanh", "linear", "quadratic" (did you mean "gelu"?) (at sweep point 1: model.activation = "gelo")',
    ]);
  });

  test("a sweep of a system whose other fields are invalid still has its shape checked", () => {
    const bad = { ...base(), steps: -1 };
    assert.deepEqual(problems({ grid: {} }, bad), [
      "steps: must be a positive integer",
      "sweep.grid: is empty: name at least one field and its values (for seeds alone, give only `seeds`)",
    ]);
  });

  test("a system without a sweep validates as before, with no plan", () => {
    const r = validateSystem(base());
    assert.ok(r.ok);
    assert.equal("sweep" in r, false);
  });
});
