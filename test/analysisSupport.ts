// Helpers for the src/measures tests: seeded random matrices and closeness checks.
import assert from "node:assert/strict";
import { Rng } from "../src/sdk/rng";
import { type Matrix, matrix } from "../src/measures/matrix";

export function randomMatrix(rows: number, cols: number, seed: number, std = 1): Matrix {
  const rng = new Rng(seed, "analysis-test");
  const m = matrix(rows, cols);
  for (let i = 0; i < m.data.length; i++) m.data[i] = rng.normal() * std;
  return m;
}

/** A random n×n orthogonal matrix (Gram–Schmidt on Gaussian columns). */
export function randomOrthogonal(n: number, seed: number): Matrix {
  const a = randomMatrix(n, n, seed);
  const q = matrix(n, n);
  for (let j = 0; j < n; j++) {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = a.data[i * n + j]!;
    for (let k = 0; k < j; k++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += v[i]! * q.data[i * n + k]!;
      for (let i = 0; i < n; i++) v[i]! -= dot * q.data[i * n + k]!;
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += v[i]! * v[i]!;
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) q.data[i * n + j] = v[i]! / norm;
  }
  return q;
}

export function assertClose(actual: number, expected: number, tol: number, what = ""): void {
  assert.ok(Number.isFinite(actual), `${what} is not finite: ${actual}`);
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: expected ${expected} ± ${tol}, got ${actual}`);
}

export function maxAbsDiffArrays(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
