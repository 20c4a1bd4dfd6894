// Lanczos against matrices whose spectrum is known: diagonal, a rotated diagonal with a
// near-degenerate top pair (where power iteration is slow), and the Jacobi eigensolver alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lanczosTop, symmetricEigen } from "../../src/measures/lanczos";

/** Q·diag(λ)·Qᵀ for a Householder reflection Q = I − 2uuᵀ (u fixed), as an operator. */
function rotatedDiagonal(lambdas: number[]): (x: Float64Array) => Float64Array {
  const n = lambdas.length;
  const u = Float64Array.from({ length: n }, (_, i) => Math.sin(i + 1));
  const nu = Math.sqrt(u.reduce((s, x) => s + x * x, 0));
  for (let i = 0; i < n; i++) u[i]! /= nu;
  const reflect = (x: Float64Array) => {
    const c = 2 * x.reduce((s, v, i) => s + v * u[i]!, 0);
    return Float64Array.from(x, (v, i) => v - c * u[i]!);
  };
  return (x) => {
    const y = reflect(x);
    for (let i = 0; i < n; i++) y[i]! *= lambdas[i]!;
    return reflect(y);
  };
}

test("symmetricEigen: a 3×3 matrix with eigenvalues 2 − √2, 2, 2 + √2", () => {
  // [[2,1,0],[1,2,1],[0,1,2]] has eigenvalues 2 − √2, 2, 2 + √2.
  const { values, vectors } = symmetricEigen(Float64Array.from([2, 1, 0, 1, 2, 1, 0, 1, 2]), 3);
  const sorted = [...values].sort((a, b) => a - b);
  assert.ok(Math.abs(sorted[0]! - (2 - Math.SQRT2)) < 1e-12);
  assert.ok(Math.abs(sorted[1]! - 2) < 1e-12);
  assert.ok(Math.abs(sorted[2]! - (2 + Math.SQRT2)) < 1e-12);
  // Columns are eigenvectors: A v = λ v.
  const k = values.indexOf(Math.max(...values));
  const v = [0, 1, 2].map((i) => vectors[i * 3 + k]!);
  const av = [2 * v[0]! + v[1]!, v[0]! + 2 * v[1]! + v[2]!, v[1]! + 2 * v[2]!];
  av.forEach((x, i) => {
    assert.ok(Math.abs(x - values[k]! * v[i]!) < 1e-12);
  });
});

test("lanczosTop: the top three of a rotated 200-dim diagonal with a close top pair, to 1e-8", () => {
  const lambdas = Array.from({ length: 200 }, (_, i) => ((i * 7) % 200) / 40 - 1); // in [−1, 4)
  lambdas[17] = 10;
  lambdas[91] = 9.9;
  lambdas[150] = 7;
  const r = lanczosTop(rotatedDiagonal(lambdas), 200, { count: 3, maxIterations: 60, tolerance: 1e-10 });
  assert.deepEqual(
    r.values.map((v) => Math.round(v * 1e8) / 1e8),
    [10, 9.9, 7],
  );
  assert.ok(r.residuals[0]! < 1e-8, `residual ${r.residuals[0]}`);
  assert.ok(r.iterations < 60, `converged before the cap (${r.iterations} products)`);
  // The Ritz vector is an eigenvector: ‖Av − 10v‖ small.
  const av = rotatedDiagonal(lambdas)(r.vector);
  const res = Math.sqrt(av.reduce((s, x, i) => s + (x - 10 * r.vector[i]!) ** 2, 0));
  assert.ok(res < 1e-6, `‖Av − λv‖ = ${res}`);
});

test("lanczosTop: the largest eigenvalue is the algebraically largest, not the largest in size", () => {
  const r = lanczosTop(rotatedDiagonal([-50, 3, 1, 0.5, 2]), 5, { count: 1, tolerance: 1e-12 });
  assert.ok(Math.abs(r.values[0]! - 3) < 1e-10, `got ${r.values[0]}`);
});

test("lanczosTop: the residual bound is honest when stopped early", () => {
  const lambdas = Array.from({ length: 300 }, (_, i) => 1 + i / 300);
  lambdas[0] = 2.01;
  const r = lanczosTop(rotatedDiagonal(lambdas), 300, { count: 1, maxIterations: 4, tolerance: 0 });
  assert.equal(r.iterations, 4);
  assert.ok(Math.abs(r.values[0]! - 2.01) <= r.residuals[0]! + 1e-12, `|θ − λ| within the bound ${r.residuals[0]}`);
  assert.throws(() => lanczosTop((x) => x, 0), /dimension must be ≥ 1/);
});
