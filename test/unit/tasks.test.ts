// Task data: the built-in generators, file loading (.npy written by numpy, CSV, JSON), custom-task
// checks, and the exact error messages users see.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { Rng } from "../../src/sdk/rng";
import type {
  FileDataSpec,
  HierarchicalSpec,
  ModularArithmeticSpec,
  SparseParitySpec,
  TeacherStudentSpec,
} from "../../src/sdk/spec";
import {
  generateTask,
  hierarchicalFeatures,
  hierarchicalModes,
  linkFunction,
  modInverse,
  parseNpy,
  symmetricEigenvalues,
  teacherVector,
  validateTaskData,
  type TaskData,
} from "../../src/trainer/tasks/index";

const FIXTURES = resolve(__dirname, "../../../test/fixtures/tasks");
const ctx = { baseDir: FIXTURES };

function modSpec(over: Partial<ModularArithmeticSpec> = {}): ModularArithmeticSpec {
  return { kind: "modularArithmetic", p: 7, op: "add", trainFraction: 0.3, splitSeed: 0, equalsToken: false, ...over };
}

function closeTo(actual: number, expected: number, tol: number, what = ""): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what} expected ${expected} ± ${tol}, got ${actual}`);
}

// ---------------------------------------------------------------- modular arithmetic

describe("modularArithmetic", () => {
  test("add: labels, tokens, shapes and exact split sizes", () => {
    const d = generateTask(modSpec({ p: 7, op: "add", trainFraction: 0.3 }), ctx);
    assert.deepEqual(d.input, { kind: "tokens", vocab: 7, length: 2 });
    assert.deepEqual(d.output, { kind: "classes", count: 7 });
    assert.equal(d.train.n, 15); // round(0.3·49) = 15
    assert.equal(d.test.n, 34);
    assert.ok(d.train.x instanceof Int32Array && d.train.y instanceof Int32Array);
    for (const s of [d.train, d.test]) {
      for (let i = 0; i < s.n; i++) assert.equal(s.y[i], (s.x[2 * i]! + s.x[2 * i + 1]!) % 7);
    }
  });

  test("splits are disjoint and cover all p² pairs", () => {
    const p = 11;
    const d = generateTask(modSpec({ p, op: "mul", trainFraction: 0.5, splitSeed: 3 }), ctx);
    const seen = new Set<number>();
    for (const s of [d.train, d.test]) {
      for (let i = 0; i < s.n; i++) {
        const key = s.x[2 * i]! * p + s.x[2 * i + 1]!;
        assert.ok(!seen.has(key), `pair ${key} appears twice`);
        seen.add(key);
        assert.equal(s.y[i], (s.x[2 * i]! * s.x[2 * i + 1]!) % p);
      }
    }
    assert.equal(seen.size, p * p);
    assert.equal(d.train.n, Math.round(0.5 * p * p));
  });

  test("sub is non-negative; equalsToken appends id p and grows the vocabulary", () => {
    const p = 5;
    const d = generateTask(modSpec({ p, op: "sub", trainFraction: 1, equalsToken: true }), ctx);
    assert.deepEqual(d.input, { kind: "tokens", vocab: p + 1, length: 3 });
    assert.equal(d.train.n, 25);
    assert.equal(d.test.n, 0);
    assert.equal(d.test.x.length, 0);
    assert.equal(d.test.y.length, 0);
    for (let i = 0; i < d.train.n; i++) {
      const [a, b, eq] = [d.train.x[3 * i]!, d.train.x[3 * i + 1]!, d.train.x[3 * i + 2]!];
      assert.equal(eq, p);
      assert.equal(d.train.y[i], (((a - b) % p) + p) % p);
      assert.ok(d.train.y[i]! >= 0);
    }
    // Spot checks by hand.
    const find = (a: number, b: number) => {
      for (let i = 0; i < d.train.n; i++) if (d.train.x[3 * i] === a && d.train.x[3 * i + 1] === b) return d.train.y[i];
      return undefined;
    };
    assert.equal(find(1, 3), 3);
    assert.equal(find(0, 4), 1);
    assert.equal(find(4, 1), 3);
  });

  test("div uses modular inverses: b ≠ 0 and a = label·b mod p", () => {
    const p = 13;
    const d = generateTask(modSpec({ p, op: "div", trainFraction: 0.4, splitSeed: 1 }), ctx);
    assert.equal(d.train.n + d.test.n, p * (p - 1));
    assert.equal(d.train.n, Math.round(0.4 * p * (p - 1)));
    for (const s of [d.train, d.test]) {
      for (let i = 0; i < s.n; i++) {
        const [a, b] = [s.x[2 * i]!, s.x[2 * i + 1]!];
        assert.ok(b >= 1);
        assert.equal((s.y[i]! * b) % p, a);
      }
    }
    assert.equal(modInverse(3, 7), 5);
    assert.equal(modInverse(4, 8), undefined);
    assert.throws(
      () => generateTask(modSpec({ p: 6, op: "div" }), ctx),
      /2 has no inverse mod 6 \(div needs a prime p; 6 is not prime\)/,
    );
  });

  test("deterministic: same seed → identical arrays; another splitSeed → another split", () => {
    const a = generateTask(modSpec({ p: 23, splitSeed: 5 }), ctx);
    const b = generateTask(modSpec({ p: 23, splitSeed: 5 }), ctx);
    const c = generateTask(modSpec({ p: 23, splitSeed: 6 }), ctx);
    assert.deepEqual(a, b);
    assert.equal(c.train.n, a.train.n);
    assert.notDeepEqual(Array.from(c.train.x), Array.from(a.train.x));
  });

  test("tiny trainFraction still trains on one pair; bad specs are refused", () => {
    const d = generateTask(modSpec({ p: 3, trainFraction: 0.01 }), ctx);
    assert.equal(d.train.n, 1);
    assert.equal(d.test.n, 8);
    assert.throws(() => generateTask(modSpec({ p: 1 }), ctx), /p must be an integer ≥ 2, got 1/);
    assert.throws(() => generateTask(modSpec({ trainFraction: 0 }), ctx), /trainFraction must be in \(0, 1\], got 0/);
  });
});

// ---------------------------------------------------------------- sparse parity

describe("sparseParity", () => {
  const spec: SparseParitySpec = { kind: "sparseParity", bits: 10, k: 3, trainSize: 500, testSize: 200, dataSeed: 4 };

  test("±1 features and parity labels of the first k bits", () => {
    const d = generateTask(spec, ctx);
    assert.deepEqual(d.input, { kind: "features", dim: 10 });
    assert.deepEqual(d.output, { kind: "classes", count: 2 });
    assert.equal(d.train.n, 500);
    assert.equal(d.test.n, 200);
    let ones = 0;
    let negatives = 0;
    for (const s of [d.train, d.test]) {
      for (let i = 0; i < s.n; i++) {
        let prod = 1;
        for (let j = 0; j < 10; j++) {
          const v = s.x[i * 10 + j]!;
          assert.ok(v === 1 || v === -1);
          if (v === -1) negatives++;
          if (j < 3) prod *= v;
        }
        assert.equal(s.y[i], prod === -1 ? 1 : 0);
        ones += s.y[i]!;
      }
    }
    // Balanced bits and labels (700 rows: 7000 bits, std of the count ≈ 42; labels std ≈ 13).
    closeTo(negatives, 3500, 200, "number of −1 bits");
    closeTo(ones, 350, 65, "number of label-1 rows");
  });

  test("deterministic per dataSeed; the test set does not depend on trainSize", () => {
    const a = generateTask(spec, ctx);
    assert.deepEqual(a, generateTask(spec, ctx));
    const other = generateTask({ ...spec, dataSeed: 5 }, ctx);
    assert.notDeepEqual(Array.from(other.train.x), Array.from(a.train.x));
    const bigger = generateTask({ ...spec, trainSize: 800 }, ctx);
    assert.deepEqual(bigger.test, a.test);
    assert.deepEqual(Array.from(bigger.train.x.subarray(0, 5000)), Array.from(a.train.x));
    assert.throws(() => generateTask({ ...spec, k: 11 }, ctx), /k must be an integer in \[1, bits = 10\], got 11/);
  });
});

// ---------------------------------------------------------------- teacher–student

describe("teacherStudent", () => {
  const base: TeacherStudentSpec = {
    kind: "teacherStudent",
    dim: 20,
    teacher: "linear",
    link: "relu",
    trainSize: 3000,
    testSize: 500,
    noise: 0,
    dataSeed: 2,
  };

  function zOf(d: TaskData, split: "train" | "test", w: Float64Array, i: number): number {
    const dim = w.length;
    let s = 0;
    for (let j = 0; j < dim; j++) s += w[j]! * d[split].x[i * dim + j]!;
    return s / Math.sqrt(dim);
  }

  test("teacher norm √d, standard normal inputs, linear labels with unit variance", () => {
    const w = teacherVector(base);
    closeTo(
      w.reduce((a, v) => a + v * v, 0),
      20,
      1e-9,
      "‖w‖²",
    );
    const d = generateTask(base, ctx);
    assert.deepEqual(d.input, { kind: "features", dim: 20 });
    assert.deepEqual(d.output, { kind: "regression", dim: 1 });
    let sx = 0;
    let sxx = 0;
    for (const v of d.train.x) {
      sx += v;
      sxx += v * v;
    }
    const m = d.train.x.length;
    closeTo(sx / m, 0, 0.02, "mean of x");
    closeTo(sxx / m, 1, 0.02, "variance of x");
    let yy = 0;
    for (let i = 0; i < d.train.n; i++) {
      closeTo(d.train.y[i]!, zOf(d, "train", w, i), 1e-5, `y[${i}]`);
      yy += d.train.y[i]! ** 2;
    }
    closeTo(yy / d.train.n, 1, 0.08, "variance of z");
  });

  test("single-index links: relu, tanh, He2 = z² − 1, He3 = z³ − 3z", () => {
    assert.equal(linkFunction("square")(2), 3);
    assert.equal(linkFunction("cubeHermite")(2), 2);
    assert.equal(linkFunction("relu")(-1.5), 0);
    assert.equal(linkFunction("relu")(1.5), 1.5);
    closeTo(linkFunction("tanh")(0.5), Math.tanh(0.5), 0);
    const expected = {
      relu: (z: number) => Math.max(0, z),
      tanh: Math.tanh,
      square: (z: number) => z * z - 1,
      cubeHermite: (z: number) => z ** 3 - 3 * z,
    };
    for (const link of ["relu", "tanh", "square", "cubeHermite"] as const) {
      const spec: TeacherStudentSpec = { ...base, teacher: "singleIndex", link, trainSize: 50, testSize: 50 };
      const d = generateTask(spec, ctx);
      const w = teacherVector(spec);
      for (const split of ["train", "test"] as const) {
        for (let i = 0; i < 50; i++) {
          const want = expected[link](zOf(d, split, w, i));
          closeTo(d[split].y[i]!, want, 1e-4 * Math.max(1, Math.abs(want)), `${link} ${split}.y[${i}]`);
        }
      }
    }
  });

  test("noise goes on training labels only", () => {
    const noisy = generateTask({ ...base, noise: 0.5 }, ctx);
    const clean = generateTask(base, ctx);
    assert.deepEqual(generateTask({ ...base, noise: 0.5 }, ctx), noisy);
    assert.deepEqual(noisy.train.x, clean.train.x);
    assert.deepEqual(noisy.test, clean.test);
    let ss = 0;
    for (let i = 0; i < noisy.train.n; i++) ss += (noisy.train.y[i]! - clean.train.y[i]!) ** 2;
    closeTo(Math.sqrt(ss / noisy.train.n), 0.5, 0.03, "noise std");
  });
});

// ---------------------------------------------------------------- hierarchical

describe("hierarchical", () => {
  const spec: HierarchicalSpec = { kind: "hierarchical", depth: 2, branching: 2, featureNoise: 0, dataSeed: 0 };

  test("depth 2, branching 2: one-hot items and the path-indicator feature matrix", () => {
    // Columns: root, L, R, LL, LR, RL, RR (breadth-first); rows: the 4 leaves left to right.
    const expected = [
      [1, 1, 0, 1, 0, 0, 0],
      [1, 1, 0, 0, 1, 0, 0],
      [1, 0, 1, 0, 0, 1, 0],
      [1, 0, 1, 0, 0, 0, 1],
    ];
    const d = generateTask(spec, ctx);
    assert.deepEqual(d.input, { kind: "features", dim: 4 });
    assert.deepEqual(d.output, { kind: "regression", dim: 7 });
    assert.equal(d.train.n, 4);
    assert.deepEqual(Array.from(d.train.y), expected.flat());
    assert.deepEqual(Array.from(d.train.x), [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    assert.deepEqual(d.test, d.train);
    assert.notEqual(d.test.y, d.train.y); // a copy, not the same array
  });

  test("singular values: hand-computed for (2, 2) and (1, 3), and by level", () => {
    // YYᵀ = [[3,2,1,1],[2,3,1,1],[1,1,3,2],[1,1,2,3]]: eigenvalues 7, 3, 1, 1; Σyx = Yᵀ/4.
    const m = hierarchicalModes(spec);
    const want = [Math.sqrt(7) / 4, Math.sqrt(3) / 4, 1 / 4, 1 / 4];
    assert.equal(m.singularValues.length, 4);
    m.singularValues.forEach((s, i) => {
      closeTo(s, want[i]!, 1e-12, `s${i}`);
    });
    assert.deepEqual(
      m.levels.map((l) => [l.level, l.multiplicity]),
      [
        [0, 1],
        [1, 1],
        [2, 2],
      ],
    );
    m.levels.forEach((l, i) => {
      closeTo(l.singularValue, [want[0]!, want[1]!, want[2]!][i]!, 1e-12, `level ${i}`);
    });

    // One level of three children: YYᵀ = I + 11ᵀ → eigenvalues 4, 1, 1; Σyx = Yᵀ/3.
    const m3 = hierarchicalModes({ depth: 1, branching: 3 });
    [2 / 3, 1 / 3, 1 / 3].forEach((s, i) => {
      closeTo(m3.singularValues[i]!, s, 1e-12, `s${i}`);
    });
    assert.deepEqual(
      Array.from(hierarchicalFeatures({ depth: 1, branching: 3 })),
      [1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1],
    );
  });

  test("numerical singular values agree with the closed form and strictly decrease by level", () => {
    for (const [depth, branching] of [
      [3, 2],
      [2, 3],
      [4, 2],
      [6, 2],
      [3, 4],
    ] as const) {
      const m = hierarchicalModes({ depth, branching });
      const closed = m.levels.flatMap((l) => new Array<number>(l.multiplicity).fill(l.singularValue));
      assert.equal(m.singularValues.length, branching ** depth);
      m.singularValues.forEach((s, i) => {
        closeTo(s, closed[i]!, 1e-10, `(${depth}, ${branching}) s${i}`);
      });
      for (let i = 1; i < m.levels.length; i++) assert.ok(m.levels[i]!.singularValue < m.levels[i - 1]!.singularValue);
    }
  });

  test("Jacobi eigenvalues of small symmetric matrices", () => {
    const ev = (a: number[], n: number) => symmetricEigenvalues(Float64Array.from(a), n).sort((x, y) => x - y);
    ev([2, 1, 1, 2], 2).forEach((v, i) => {
      closeTo(v, [1, 3][i]!, 1e-12);
    });
    ev([4, 0, 0, 0, -2, 0, 0, 0, 1], 3).forEach((v, i) => {
      closeTo(v, [-2, 1, 4][i]!, 1e-12);
    });
    // A random symmetric 6×6: the eigenvalues' sum is the trace and their squares sum to ‖A‖_F².
    const rng = new Rng(1, "jacobi");
    const n = 6;
    const a = new Array<number>(n * n).fill(0);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = rng.normal();
    const vals = ev(a, n);
    let trace = 0;
    for (let i = 0; i < n; i++) trace += a[i * n + i]!;
    closeTo(
      vals.reduce((s, v) => s + v, 0),
      trace,
      1e-10,
      "trace",
    );
    closeTo(
      vals.reduce((s, v) => s + v * v, 0),
      a.reduce((s, v) => s + v * v, 0),
      1e-10,
      "Frobenius",
    );
  });

  test("featureNoise perturbs train targets only, deterministically", () => {
    const noisy = generateTask({ ...spec, depth: 3, featureNoise: 0.1, dataSeed: 7 }, ctx);
    const clean = generateTask({ ...spec, depth: 3 }, ctx);
    assert.deepEqual(noisy.test, clean.test);
    assert.deepEqual(noisy, generateTask({ ...spec, depth: 3, featureNoise: 0.1, dataSeed: 7 }, ctx));
    let ss = 0;
    for (let i = 0; i < noisy.train.y.length; i++) ss += (noisy.train.y[i]! - clean.train.y[i]!) ** 2;
    closeTo(Math.sqrt(ss / noisy.train.y.length), 0.1, 0.02, "noise std");
    assert.throws(() => generateTask({ ...spec, branching: 1 }, ctx), /branching must be an integer ≥ 2, got 1/);
  });
});

// ---------------------------------------------------------------- files

function fileSpec(over: Partial<FileDataSpec> & { train: string }): FileDataSpec {
  return { kind: "file", targets: "classes", testFraction: 0, splitSeed: 0, ...over };
}

describe("file data: .npy written by numpy", () => {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "lm-npy-"));
    const script = `
import numpy as np, sys, os
d = sys.argv[1]
j = lambda name: os.path.join(d, name)
np.save(j("x_f32.npy"), (np.arange(12, dtype=np.float32).reshape(3, 4) / 4 - 1))
np.save(j("y_i64.npy"), np.array([2, 0, 5], dtype=np.int64))
np.save(j("x_f64.npy"), np.array([[1.5, -2.25], [1e-3, 3e10], [0, 7]], dtype=np.float64))
np.save(j("y_reg.npy"), np.array([[1, 2], [3, 4], [5, 6]], dtype=np.float64))
np.save(j("x_be.npy"), np.array([[1.5, -2.0], [0.25, 8.0]], dtype=">f8"))
np.save(j("x_u8.npy"), np.array([[0, 255, 7]], dtype=np.uint8))
np.save(j("x_bool.npy"), np.array([True, False, True]))
np.save(j("x_f16.npy"), np.array([0.5, -2, 65504, 6e-8], dtype=np.float16))
np.save(j("x_i32_3d.npy"), np.arange(2 * 2 * 3, dtype=np.int32).reshape(2, 2, 3))
np.save(j("y_i32.npy"), np.array([1, 3], dtype=np.int32))
np.save(j("y_2.npy"), np.array([1, 3], dtype=np.int64))
np.save(j("x_fortran.npy"), np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
np.save(j("y_float_labels.npy"), np.array([0.0, 1.5, 2.0]))
np.save(j("x_nan.npy"), np.array([[1.0, np.nan], [0.0, 1.0], [2.0, 3.0]]))
with open(j("x_v2.npy"), "wb") as f:
    np.lib.format.write_array(f, np.array([[1, 2], [3, 4]], dtype="<f4"), version=(2, 0))
with open(j("x_v3.npy"), "wb") as f:
    np.lib.format.write_array(f, np.array([9, 8, 7], dtype="<i2"), version=(3, 0))
x = np.arange(40, dtype=np.float32).reshape(20, 2)
np.save(j("many_x.npy"), x)
np.save(j("many_y.npy"), (np.arange(20) % 3).astype(np.int64))
np.save(j("test_x.npy"), np.ones((4, 2), dtype=np.float32))
np.save(j("test_y.npy"), np.array([0, 1, 7, 1], dtype=np.int64))
np.save(j("test_x3.npy"), np.ones((4, 3), dtype=np.float32))
np.save(j("rec.npy"), np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
`;
    execFileSync("python3", ["-c", script, dir]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const load = (name: string) => parseNpy(readFileSync(join(dir, name)), name);
  const values = (name: string) => Array.from(load(name).data as ArrayLike<number>);

  test("dtypes, shapes and values", () => {
    const f32 = load("x_f32.npy");
    assert.deepEqual(f32.shape, [3, 4]);
    assert.equal(f32.descr, "<f4");
    assert.deepEqual(
      values("x_f32.npy"),
      Array.from({ length: 12 }, (_, i) => i / 4 - 1),
    );
    const i64 = load("y_i64.npy");
    assert.deepEqual(i64.shape, [3]);
    assert.deepEqual(Array.from(i64.data as BigInt64Array, Number), [2, 0, 5]);
    assert.deepEqual(values("x_f64.npy"), [1.5, -2.25, 1e-3, 3e10, 0, 7]);
    const be = load("x_be.npy");
    assert.equal(be.descr, ">f8");
    assert.deepEqual(values("x_be.npy"), [1.5, -2, 0.25, 8]);
    assert.deepEqual(values("x_u8.npy"), [0, 255, 7]);
    assert.deepEqual(values("x_bool.npy"), [1, 0, 1]);
    const f16 = Array.from(load("x_f16.npy").data as Float32Array);
    assert.deepEqual(f16.slice(0, 3), [0.5, -2, 65504]);
    closeTo(f16[3]!, 2 ** -24, 1e-15, "float16 subnormal");
    assert.deepEqual(load("x_v2.npy").shape, [2, 2]);
    assert.deepEqual(values("x_v2.npy"), [1, 2, 3, 4]);
    assert.deepEqual(values("x_v3.npy"), [9, 8, 7]);
  });

  test("as a task: float32 features and int64 class labels; 3-D inputs are flattened per row", () => {
    const d = generateTask(
      fileSpec({ train: "x_f32.npy", trainTargets: "y_i64.npy", test: "x_f32.npy", testTargets: "y_i64.npy" }),
      { baseDir: dir },
    );
    assert.deepEqual(d.input, { kind: "features", dim: 4 });
    assert.deepEqual(d.output, { kind: "classes", count: 6 });
    assert.deepEqual(Array.from(d.train.y), [2, 0, 5]);
    assert.ok(d.train.x instanceof Float32Array && d.train.y instanceof Int32Array);
    assert.equal(d.train.x[5], 0.25);

    const r = generateTask(
      fileSpec({
        train: "x_f64.npy",
        trainTargets: "y_reg.npy",
        targets: "regression",
        testFraction: 1 / 3,
        splitSeed: 1,
      }),
      { baseDir: dir },
    );
    assert.deepEqual(r.output, { kind: "regression", dim: 2 });
    assert.equal(r.train.n, 2);
    assert.equal(r.test.n, 1);
    // Each row keeps its own target: x row [a, b] ↔ y row from the same index.
    const rows = new Map([
      ["1.5,-2.25", "1,2"],
      ["0.0010000000474974513,30000001024", "3,4"],
      ["0,7", "5,6"],
    ]);
    for (const s of [r.train, r.test]) {
      for (let i = 0; i < s.n; i++)
        assert.equal(
          rows.get(Array.from(s.x.subarray(2 * i, 2 * i + 2)).join(",")),
          Array.from(s.y.subarray(2 * i, 2 * i + 2)).join(","),
        );
    }

    const three = generateTask(fileSpec({ train: "x_i32_3d.npy", trainTargets: "y_i32.npy" }), { baseDir: dir });
    assert.deepEqual(three.input, { kind: "features", dim: 6 });
    assert.deepEqual(
      Array.from(three.train.x),
      Array.from({ length: 12 }, (_, i) => i),
    );
  });

  test("held-out split: exact sizes, disjoint, covering, deterministic", () => {
    const spec = fileSpec({ train: "many_x.npy", trainTargets: "many_y.npy", testFraction: 0.25, splitSeed: 9 });
    const d = generateTask(spec, { baseDir: dir });
    assert.equal(d.train.n, 15);
    assert.equal(d.test.n, 5);
    const firsts = [
      ...Array.from(d.train.x).filter((_, i) => i % 2 === 0),
      ...Array.from(d.test.x).filter((_, i) => i % 2 === 0),
    ];
    assert.deepEqual(
      firsts.sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => 2 * i),
    );
    for (const s of [d.train, d.test]) for (let i = 0; i < s.n; i++) assert.equal(s.y[i], (s.x[2 * i]! / 2) % 3);
    assert.deepEqual(generateTask(spec, { baseDir: dir }), d);
    assert.notDeepEqual(generateTask({ ...spec, splitSeed: 10 }, { baseDir: dir }).train.x, d.train.x);
  });

  test("errors name the file and the problem", () => {
    const run = (over: Partial<FileDataSpec> & { train: string }) => () =>
      generateTask(fileSpec(over), { baseDir: dir });
    assert.throws(run({ train: "x_fortran.npy", trainTargets: "y_2.npy" }), {
      message: /^x_fortran\.npy: fortran_order arrays are not supported/,
    });
    assert.throws(run({ train: "x_f32.npy", trainTargets: "y_2.npy" }), {
      message: "y_2.npy: shape (2) has 2 rows, but x_f32.npy (shape (3, 4)) has 3",
    });
    assert.throws(run({ train: "x_f64.npy", trainTargets: "y_float_labels.npy" }), {
      message: "y_float_labels.npy: element 1 is not a class index (a non-negative integer): 1.5",
    });
    assert.throws(run({ train: "x_nan.npy", trainTargets: "y_i64.npy" }), {
      message: "x_nan.npy: element 1 (row 0): NaN is not finite",
    });
    assert.throws(run({ train: "x_f32.npy" }), {
      message: "x_f32.npy: a .npy task needs trainTargets, the .npy file of the training targets",
    });
    assert.throws(run({ train: "missing.npy", trainTargets: "y_i64.npy" }), {
      message: new RegExp(
        `^missing\\.npy: file not found \\(resolved to ${join(dir, "missing.npy").replace(/[.]/g, "\\.")}\\)$`,
      ),
    });
    assert.throws(
      run({ train: "many_x.npy", trainTargets: "many_y.npy", test: "test_x3.npy", testTargets: "test_y.npy" }),
      { message: "test_x3.npy: 3 input features per row, but many_x.npy has 2" },
    );
    assert.throws(() => parseNpy(readFileSync(join(dir, "rec.npy")), "rec.npy"), {
      message: "rec.npy: structured dtypes (record arrays) are not supported; save a plain numeric array",
    });
    assert.throws(() => parseNpy(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), "junk.npy"), {
      message: "junk.npy: not a .npy file (missing the \\x93NUMPY magic string)",
    });
    const truncated = readFileSync(join(dir, "x_f32.npy"));
    assert.throws(() => parseNpy(truncated.subarray(0, truncated.length - 4), "cut.npy"), {
      message: "cut.npy: truncated data: shape (3, 4) of '<f4' needs 48 bytes, the file has 44",
    });
  });

  test("class count spans train and test files", () => {
    const d = generateTask(
      fileSpec({ train: "many_x.npy", trainTargets: "many_y.npy", test: "test_x.npy", testTargets: "test_y.npy" }),
      { baseDir: dir },
    );
    assert.deepEqual(d.output, { kind: "classes", count: 8 });
    assert.equal(d.test.n, 4);
  });
});

describe("file data: CSV and JSON", () => {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "lm-csv-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return name;
  };
  const inDir = (over: Partial<FileDataSpec> & { train: string }) => () =>
    generateTask(fileSpec(over), { baseDir: dir });

  test("CSV: header, quotes, CRLF, blank lines; target defaults to the last column", () => {
    const d = generateTask(fileSpec({ train: "small.csv", inputColumns: ["x1", "x2"] }), ctx);
    assert.deepEqual(d.input, { kind: "features", dim: 2 });
    assert.deepEqual(d.output, { kind: "classes", count: 3 });
    assert.equal(d.train.n, 4);
    assert.deepEqual(Array.from(d.train.x), [0.5, 1, -1.5, Math.fround(0.2), 3, 4, 0, 0]);
    assert.deepEqual(Array.from(d.train.y), [0, 2, 1, 2]);
    // Regression on another target column; inputs default to every other column (here numeric ones only).
    const r = generateTask(
      fileSpec({ train: "small.csv", targets: "regression", inputColumns: ["x2", "label"], targetColumn: "x1" }),
      ctx,
    );
    assert.deepEqual(r.output, { kind: "regression", dim: 1 });
    assert.deepEqual(Array.from(r.train.y), [0.5, -1.5, 3, 0]);
    assert.deepEqual(Array.from(r.train.x), [1, 0, Math.fround(0.2), 2, 4, 1, 0, 2]);
  });

  test("CSV errors carry file and line", () => {
    assert.throws(() => generateTask(fileSpec({ train: "bad_number.csv" }), ctx), {
      message: 'bad_number.csv:3: column "x2" is not a number ("abc")',
    });
    assert.throws(() => generateTask(fileSpec({ train: "ragged.csv", targets: "regression" }), ctx), {
      message: "ragged.csv:4: 2 fields, expected 3 (as in the header)",
    });
    // The unused text column "id" is fine only when it is not an input.
    assert.throws(() => generateTask(fileSpec({ train: "small.csv" }), ctx), {
      message: 'small.csv:2: column "id" is not a number ("a")',
    });
    write("labels.csv", "a,b\n1,0\n2,1\n3,2.5\n");
    assert.throws(inDir({ train: "labels.csv" }), {
      message: 'labels.csv:4: column "b" is not a class index (a non-negative integer): "2.5"',
    });
    write("neg.csv", "a,b\n1,-1\n");
    assert.throws(inDir({ train: "neg.csv" }), {
      message: 'neg.csv:2: column "b" is not a class index (a non-negative integer): "-1"',
    });
    write("empty_field.csv", "a,b\n1,0\n,1\n");
    assert.throws(inDir({ train: "empty_field.csv" }), { message: 'empty_field.csv:3: column "a" is empty' });
    write("inf.csv", "a,b\nInfinity,0\n");
    assert.throws(inDir({ train: "inf.csv" }), { message: 'inf.csv:2: column "a" is not finite ("Infinity")' });
    write("noheader.csv", "1,2\n3,4\n");
    assert.throws(inDir({ train: "noheader.csv" }), {
      message: 'noheader.csv:1: the first row looks like data ("1,2"); a header row with column names is required',
    });
    write("dup.csv", "a,a,b\n1,2,0\n");
    assert.throws(inDir({ train: "dup.csv" }), { message: 'dup.csv: duplicate column "a" in the header' });
    write("ok.csv", "a,b,c\n1,2,0\n");
    assert.throws(inDir({ train: "ok.csv", targetColumn: "z" }), {
      message: 'ok.csv: no column "z" (targetColumn); the columns are "a", "b", "c"',
    });
    assert.throws(inDir({ train: "ok.csv", inputColumns: ["a", "c"] }), {
      message: 'ok.csv: the target column "c" is also listed in inputColumns',
    });
    write("quote.csv", 'a,b\n"1,0\n');
    assert.throws(inDir({ train: "quote.csv" }), {
      message: "quote.csv:2: unterminated quoted field (quoted fields cannot contain line breaks)",
    });
    write("data.txt", "a,b\n");
    assert.throws(inDir({ train: "data.txt" }), {
      message: 'data.txt: unsupported file type ".txt" (expected .json, .csv or .npy)',
    });
    assert.throws(inDir({ train: "nothere.csv" }), { message: /^nothere\.csv: file not found/ });
  });

  test("CSV: separate test file selects the same columns by name; held-out split otherwise", () => {
    write("tr.csv", "x,y,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n");
    write("te.csv", "label,y,x\n1,20,10\n");
    const d = generateTask(fileSpec({ train: "tr.csv", test: "te.csv", targetColumn: "label" }), { baseDir: dir });
    assert.deepEqual(Array.from(d.test.x), [10, 20]);
    assert.deepEqual(Array.from(d.test.y), [1]);
    const s = generateTask(fileSpec({ train: "tr.csv", testFraction: 0.5, splitSeed: 2 }), { baseDir: dir });
    assert.equal(s.train.n, 2);
    assert.equal(s.test.n, 2);
    const all = [...Array.from(s.train.x), ...Array.from(s.test.x)];
    assert.deepEqual(
      all.sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    for (const sp of [s.train, s.test])
      for (let i = 0; i < sp.n; i++) assert.equal(sp.y[i], ((sp.x[2 * i]! - 1) / 2) % 2);
  });

  test("CSV: a large file loads in linear time with the right values", () => {
    const rows = 200_000;
    const parts: string[] = ["a,b,c"];
    for (let i = 0; i < rows; i++) parts.push(`${i},${i * 0.5},${i % 10}`);
    write("big.csv", `${parts.join("\n")}\n`);
    const d = generateTask(fileSpec({ train: "big.csv" }), { baseDir: dir });
    assert.equal(d.train.n, rows);
    assert.deepEqual(d.output, { kind: "classes", count: 10 });
    assert.equal(d.train.x[2 * 123457], 123457);
    assert.equal(d.train.x[2 * 123457 + 1], 123457 * 0.5);
    assert.equal(d.train.y[123457], 7);
  });

  test("JSON: { x, y } arrays and arrays of records", () => {
    const xy = generateTask(fileSpec({ train: "xy.json", targets: "regression" }), ctx);
    assert.deepEqual(xy.input, { kind: "features", dim: 2 });
    assert.deepEqual(xy.output, { kind: "regression", dim: 2 });
    assert.deepEqual(Array.from(xy.train.x), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(Array.from(xy.train.y), [0.5, 1, 1.5, 2, 2.5, 3]);
    const rec = generateTask(fileSpec({ train: "records.json" }), ctx);
    assert.deepEqual(rec.input, { kind: "features", dim: 2 });
    assert.deepEqual(rec.output, { kind: "classes", count: 2 });
    assert.deepEqual(Array.from(rec.train.x), [1, 2.5, -1, 0, 3, 4]);
    assert.deepEqual(Array.from(rec.train.y), [0, 1, 1]);
    const recB = generateTask(
      fileSpec({ train: "records.json", targets: "regression", targetColumn: "b", inputColumns: ["target"] }),
      ctx,
    );
    assert.deepEqual(Array.from(recB.train.y), [2.5, 0, 4]);
    assert.deepEqual(Array.from(recB.train.x), [0, 1, 1]);
    write("cls.json", JSON.stringify({ x: [[1], [2]], y: [1, 4] }));
    assert.deepEqual(generateTask(fileSpec({ train: "cls.json" }), { baseDir: dir }).output, {
      kind: "classes",
      count: 5,
    });
  });

  test("JSON errors name the file and the place", () => {
    write("ragged.json", JSON.stringify({ x: [[1, 2], [3, 4], [5]], y: [0, 1, 0] }));
    assert.throws(inDir({ train: "ragged.json" }), { message: "ragged.json: x[2] has 1 values, expected 2 (as x[0])" });
    write("len.json", JSON.stringify({ x: [[1], [2]], y: [0] }));
    assert.throws(inDir({ train: "len.json" }), { message: 'len.json: "x" has 2 rows but "y" has 1' });
    write(
      "str.json",
      JSON.stringify([
        { a: 1, y: 0 },
        { a: "abc", y: 1 },
      ]),
    );
    assert.throws(inDir({ train: "str.json" }), { message: 'str.json: [1]: column "a" is not a number ("abc")' });
    write("miss.json", JSON.stringify([{ a: 1, y: 0 }, { y: 1 }]));
    assert.throws(inDir({ train: "miss.json" }), { message: 'miss.json: [1]: column "a" is missing' });
    write("badlabel.json", JSON.stringify({ x: [[1], [2]], y: [0, 0.5] }));
    assert.throws(inDir({ train: "badlabel.json" }), {
      message: "badlabel.json: y[1] is not a class index (a non-negative integer): 0.5",
    });
    write("syntax.json", "{ x: 1 }");
    assert.throws(inDir({ train: "syntax.json" }), { message: /^syntax\.json: invalid JSON: / });
    write("other.json", JSON.stringify({ rows: [] }));
    assert.throws(inDir({ train: "other.json" }), { message: /^other\.json: expected \{ "x": number\[\]\[\], "y"/ });
  });
});

// ---------------------------------------------------------------- custom tasks and validation

describe("custom tasks and validateTaskData", () => {
  function good(rng: Rng): TaskData {
    const x = rng.normals(4 * 3);
    return {
      input: { kind: "features", dim: 3 },
      output: { kind: "classes", count: 2 },
      train: { n: 4, x, y: Int32Array.from([0, 1, 1, 0]) },
      test: { n: 0, x: new Float32Array(0), y: new Int32Array(0) },
    };
  }

  test("the generator gets a fixed named stream", () => {
    const a = generateTask({ kind: "custom", name: "mine", generate: good }, ctx);
    const b = generateTask({ kind: "custom", name: "mine", generate: good }, ctx);
    assert.deepEqual(a, b);
    assert.deepEqual(a.train.x, good(new Rng(0, "custom", "mine")).train.x);
    const c = generateTask({ kind: "custom", name: "other", generate: good }, ctx);
    assert.notDeepEqual(c.train.x, a.train.x);
  });

  test("bad results are reported with the task's name", () => {
    const bad = (name: string, mutate: (d: TaskData) => void) => () =>
      generateTask(
        {
          kind: "custom",
          name,
          generate: (rng) => {
            const d = good(rng);
            mutate(d);
            return d;
          },
        },
        ctx,
      );
    assert.throws(
      bad("short", (d) => (d.train.x = new Float32Array(10))),
      { message: 'custom task "short": train.x has length 10, expected n·dim = 4·3 = 12' },
    );
    assert.throws(
      bad("label", (d) => (d.train.y = Int32Array.from([0, 1, 2, 0]))),
      { message: 'custom task "label": train.y[2] = 2 is not a class label in [0, 2)' },
    );
    assert.throws(
      bad("type", (d) => (d.train.y = Float32Array.from([0, 1, 1, 0]))),
      { message: 'custom task "type": train.y must be an Int32Array of class labels, got Float32Array' },
    );
    assert.throws(
      bad("nan", (d) => (d.train.x[7] = NaN)),
      { message: 'custom task "nan": train.x[7] = NaN (row 2) is not finite' },
    );
    assert.throws(
      bad("ylen", (d) => (d.test = { n: 1, x: new Float32Array(3), y: new Int32Array(2) })),
      { message: 'custom task "ylen": test.y has length 2, expected n = 1' },
    );
    assert.throws(
      bad("empty", (d) => (d.train = { n: 0, x: new Float32Array(0), y: new Int32Array(0) })),
      { message: 'custom task "empty": train has n = 0; a task needs at least one training example' },
    );
    assert.throws(
      bad("dim", (d) => (d.input = { kind: "features", dim: 0 })),
      { message: 'custom task "dim": input.dim must be a positive integer, got 0' },
    );
    assert.throws(
      () =>
        generateTask(
          {
            kind: "custom",
            name: "boom",
            generate: () => {
              throw new Error("no data");
            },
          },
          ctx,
        ),
      { message: 'custom task "boom": generate threw: no data' },
    );
    assert.throws(
      () =>
        generateTask(
          {
            kind: "custom",
            name: "async",
            generate: (() => Promise.resolve(good(new Rng(0)))) as unknown as (rng: Rng) => TaskData,
          },
          ctx,
        ),
      { message: 'custom task "async": generate returned a Promise; it must return the TaskData synchronously' },
    );
  });

  test("token tasks: ids below the vocabulary, Int32Array inputs", () => {
    const tokens: TaskData = {
      input: { kind: "tokens", vocab: 5, length: 2 },
      output: { kind: "regression", dim: 1 },
      train: { n: 2, x: Int32Array.from([0, 4, 1, 5]), y: Float32Array.from([0.5, 1]) },
      test: { n: 0, x: new Int32Array(0), y: new Float32Array(0) },
    };
    assert.throws(() => validateTaskData(tokens, "t"), {
      message: "t: train.x[3] = 5 (row 1) is not a token id in [0, 5)",
    });
    tokens.train.x = Float32Array.from([0, 4, 1, 3]);
    assert.throws(() => validateTaskData(tokens, "t"), {
      message: "t: train.x must be an Int32Array of token ids, got Float32Array",
    });
    tokens.train.x = Int32Array.from([0, 4, 1, 3]);
    validateTaskData(tokens, "t");
    tokens.train.y = Float32Array.from([0.5, Infinity]);
    assert.throws(() => validateTaskData(tokens, "t"), { message: "t: train.y[1] = Infinity (row 1) is not finite" });
  });
});
