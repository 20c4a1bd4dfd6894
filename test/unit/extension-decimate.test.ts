import assert from "node:assert/strict";
import { test } from "node:test";
import { decimateMinMax } from "../../src/shared/decimate";

const f64 = (a: number[]): Float64Array => Float64Array.from(a);

test("small inputs come back unchanged (as copies)", () => {
  const xs = f64([0, 1, 2]);
  const ys = f64([5, 6, 7]);
  const r = decimateMinMax(xs, ys, 10);
  assert.deepEqual([...r.xs], [0, 1, 2]);
  assert.deepEqual([...r.ys], [5, 6, 7]);
  assert.notEqual(r.xs, xs);
});

test("keeps first, min, max and last of each bucket, in x order, de-duplicated", () => {
  // 12 points over x in [0, 11], 2 buckets: [0, 5.5) and [5.5, 11].
  const xs = f64([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const ys = f64([3, 1, 9, 2, 2, 4, 5, 5, 0, 7, 8, 6]);
  const r = decimateMinMax(xs, ys, 2);
  // bucket 0: first x0, min x1 (1), max x2 (9), last x5; bucket 1: first x6, min x8 (0), max x10 (8), last x11.
  assert.deepEqual([...r.xs], [0, 1, 2, 5, 6, 8, 10, 11]);
  assert.deepEqual([...r.ys], [3, 1, 9, 4, 5, 0, 8, 6]);
  // A monotone bucket: first = min and last = max collapse.
  const m = decimateMinMax(f64([0, 1, 2, 3, 4, 5, 6, 7, 8]), f64([0, 1, 2, 3, 4, 5, 6, 7, 8]), 2);
  assert.deepEqual([...m.xs], [0, 3, 4, 8]); // buckets [0, 4) and [4, 8]
});

test("a NaN y is kept once per bucket, as a gap", () => {
  const xs = f64([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const ys = f64([1, NaN, NaN, 3, 2, 2, 2, 2, 2, 2]);
  const r = decimateMinMax(xs, ys, 2);
  // bucket 0 (x < 4.5): first x0, NaN x1 (once), min x0, max x3, last x4; bucket 1: first x5 = min = max (first of equals), last x9.
  assert.deepEqual([...r.xs], [0, 1, 3, 4, 5, 9]);
  assert.ok(Number.isNaN(r.ys[1] as number));
  assert.equal(r.ys.filter((y) => Number.isNaN(y)).length, 1);
});

test("1,000,000 points: bounded output, extremes, ends and a one-point spike survive", (t) => {
  const n = 1_000_000;
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = i * 10;
    ys[i] = Math.exp(-i / 200_000) + 0.01 * Math.sin(i);
  }
  ys[654_321] = 50; // a loss spike: one point
  ys[900_000] = -3; // the global minimum
  const buckets = 1000;
  const t0 = performance.now();
  const r = decimateMinMax(xs, ys, buckets);
  const ms = performance.now() - t0;
  t.diagnostic(`decimated ${n} points to ${r.xs.length} (${buckets} buckets) in ${ms.toFixed(1)} ms`);
  assert.ok(r.xs.length <= 4 * buckets);
  assert.ok(r.xs.length >= 2 * buckets);
  assert.equal(r.xs[0], 0);
  assert.equal(r.ys[0], ys[0]);
  assert.equal(r.xs[r.xs.length - 1], (n - 1) * 10);
  assert.equal(Math.max(...r.ys), 50);
  assert.equal(r.xs[r.ys.indexOf(50)], 6_543_210);
  assert.equal(Math.min(...r.ys), -3);
  assert.equal(r.xs[r.ys.indexOf(-3)], 9_000_000);
  for (let k = 1; k < r.xs.length; k++)
    assert.ok((r.xs[k] as number) > (r.xs[k - 1] as number), "strictly increasing x");
});

test("degenerate inputs: one x value, NaN xs, zero buckets", () => {
  const same = decimateMinMax(f64([5, 5, 5, 5, 5, 5]), f64([1, 3, 2, 0, 4, 1]), 1);
  assert.deepEqual([...same.ys], [1, 0, 4, 1]);
  const nanX = decimateMinMax(f64([0, NaN, 2]), f64([1, 2, 3]), 5);
  assert.deepEqual([...nanX.xs], [0, 2]);
  const zero = decimateMinMax(f64([0, 1, 2, 3, 4, 5]), f64([0, 1, 2, 3, 4, 5]), 0);
  assert.deepEqual([...zero.xs], [0, 5]);
});
