// kernels.ts against closed forms: kernel distance, centred KTA, linear CKA (both forms), Gini.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  centeredKernelTargetAlignment,
  gini,
  kernelDistance,
  linearCka,
  linearCkaFeatureForm,
  linearCkaGramForm,
} from "../../src/measures/kernels";
import { type Matrix, fromRows, matMul, matMulTransB, matrix } from "../../src/measures/matrix";
import { assertClose, randomMatrix, randomOrthogonal } from "../analysisSupport";

function scale(m: Matrix, s: number): Matrix {
  return matrix(
    m.rows,
    m.cols,
    m.data.map((v) => v * s),
  );
}

function gram(x: Matrix): Matrix {
  return matMulTransB(x, x);
}

test("kernel distance: identical kernels → 0, scaled kernel → 0, orthogonal kernels → 1", () => {
  const k0 = gram(randomMatrix(12, 5, 1));
  assertClose(kernelDistance(k0, k0), 0, 1e-12, "identical");
  assertClose(kernelDistance(scale(k0, 37.5), k0), 0, 1e-12, "scaled");
  // Kernels on disjoint supports: diag(1,1,0,0) and diag(0,0,1,1) have ⟨·,·⟩_F = 0.
  const a = fromRows([
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
  ]);
  const b = fromRows([
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ]);
  assertClose(kernelDistance(a, b), 1, 1e-15, "orthogonal");
});

test("kernel distance matches the formula on random kernels and lies in [0, 1]", () => {
  const ka = gram(randomMatrix(9, 4, 2));
  const kb = gram(randomMatrix(9, 4, 3));
  let inner = 0,
    na = 0,
    nb = 0;
  for (let i = 0; i < ka.data.length; i++) {
    inner += ka.data[i]! * kb.data[i]!;
    na += ka.data[i]! ** 2;
    nb += kb.data[i]! ** 2;
  }
  const s = kernelDistance(ka, kb);
  assertClose(s, 1 - inner / Math.sqrt(na * nb), 1e-12, "formula");
  assert.ok(s > 0 && s < 1, `S = ${s}`);
  assert.ok(Number.isNaN(kernelDistance(matrix(9, 9), ka)), "a zero kernel has no direction");
  assert.throws(() => kernelDistance(matrix(3, 3), matrix(4, 4)), RangeError);
});

test("centred KTA = 1 when K = YYᵀ (one-hot and regression targets), also after adding a constant to K", () => {
  const labels = [0, 2, 1, 1, 0, 2, 2, 0, 1, 0];
  const y = matrix(labels.length, 3);
  labels.forEach((c, i) => {
    y.data[i * 3 + c] = 1;
  });
  assertClose(centeredKernelTargetAlignment(gram(y), y), 1, 1e-12, "one-hot");
  const shifted = matrix(
    10,
    10,
    gram(y).data.map((v) => v + 5),
  ); // C(K + c11ᵀ)C = CKC
  assertClose(centeredKernelTargetAlignment(shifted, y), 1, 1e-12, "shifted");
  const yr = randomMatrix(10, 2, 4);
  assertClose(centeredKernelTargetAlignment(scale(gram(yr), 3), yr), 1, 1e-12, "regression");
});

test("centred KTA equals the explicit ⟨CKC, CYYᵀC⟩/(‖CKC‖‖CYYᵀC‖) with C as a matrix", () => {
  const n = 8;
  const k = gram(randomMatrix(n, 3, 5));
  const y = randomMatrix(n, 2, 6);
  const c = matrix(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) c.data[i * n + j] = (i === j ? 1 : 0) - 1 / n;
  const ckc = matMul(matMul(c, k), c);
  const cyyc = matMul(matMul(c, gram(y)), c);
  let inner = 0,
    n1 = 0,
    n2 = 0;
  for (let i = 0; i < n * n; i++) {
    inner += ckc.data[i]! * cyyc.data[i]!;
    n1 += ckc.data[i]! ** 2;
    n2 += cyyc.data[i]! ** 2;
  }
  const expected = inner / Math.sqrt(n1 * n2);
  assert.ok(Math.abs(expected) < 0.999, "the random case is not trivially aligned");
  assertClose(centeredKernelTargetAlignment(k, y), expected, 1e-12, "KTA");
});

test("linear CKA: feature and Gram forms agree (n ≫ p and p ≫ n)", () => {
  for (const [n, p, q, seed] of [
    [200, 5, 7, 10],
    [6, 40, 30, 20],
    [15, 15, 3, 30],
  ] as const) {
    const x = randomMatrix(n, p, seed);
    const y = matMul(x, randomMatrix(p, q, seed + 1)); // related, so CKA is far from 0
    const noise = randomMatrix(n, q, seed + 2);
    const noisy = matrix(
      n,
      q,
      y.data.map((v, i) => v + noise.data[i]!),
    );
    const f = linearCkaFeatureForm(x, noisy);
    const g = linearCkaGramForm(x, noisy);
    assertClose(f, g, 1e-10, `forms n=${n} p=${p}`);
    assertClose(linearCka(x, noisy), f, 1e-10, "dispatch");
    assert.ok(f > 0 && f <= 1);
  }
});

test("linear CKA: CKA(X,X) = 1; invariant to orthogonal transforms, isotropic scaling and translation", () => {
  const x = randomMatrix(50, 6, 40);
  const y = randomMatrix(50, 4, 41);
  assertClose(linearCka(x, x), 1, 1e-12, "self");
  const base = linearCka(x, y);
  const q = randomOrthogonal(6, 42);
  const xq = matMul(x, q);
  const moved = matrix(
    50,
    6,
    xq.data.map((v, i) => 3.5 * v + (i % 6)),
  );
  assertClose(linearCka(moved, y), base, 1e-12, "XQ·3.5 + shift");
  assertClose(linearCka(y, x), base, 1e-12, "symmetric");
  assert.ok(base < 0.9, `independent random features should not look identical (CKA ${base})`);
});

test("linear CKA of an invertible non-orthogonal transform differs from 1 (the test can fail)", () => {
  const x = randomMatrix(40, 3, 50);
  const a = fromRows([
    [10, 0, 0],
    [0, 1, 0],
    [0, 0, 0.1],
  ]);
  const cka = linearCka(x, matMul(x, a));
  assert.ok(cka < 0.99, `anisotropic scaling changes CKA, got ${cka}`);
});

test("Gini: one-hot → 1 − 1/n, constant → 0, zeros → 0, closed form on a small vector", () => {
  for (const n of [1, 2, 5, 57]) {
    const v = new Float64Array(n);
    v[n - 1] = 3;
    assertClose(gini(v), 1 - 1 / n, 1e-15, `one-hot n=${n}`);
    assertClose(gini(new Float64Array(n).fill(2.5)), 0, 1e-15, `constant n=${n}`);
  }
  assert.equal(gini(new Float64Array(4)), 0);
  // [1,2,3,4]: mean |xi − xj| over ordered pairs = 20/16, mean 2.5 → G = (20/16)/(2·2.5) = 0.25.
  assertClose(gini([4, 1, 3, 2]), 0.25, 1e-15, "[1,2,3,4]");
  assert.ok(Number.isNaN(gini([])));
  assert.throws(() => gini([1, -1]), RangeError);
});
