import assert from "node:assert/strict";
import { test } from "node:test";
import { barrierHeight, interpolateWeights, lmcAlphas } from "../../src/measures/lmc";

test("lmcAlphas: evenly spaced, both ends exact; fewer than 2 points refused", () => {
  assert.deepEqual(lmcAlphas(5), [0, 0.25, 0.5, 0.75, 1]);
  assert.equal(lmcAlphas(11).at(-1), 1);
  assert.throws(() => lmcAlphas(1), /points must be an integer ≥ 2, got 1/);
});

test("interpolateWeights: exact ends, exact self-interpolation, the midpoint", () => {
  const a = Float32Array.from([0.1, -3.7, 1e-8, 12345.678]);
  const b = Float32Array.from([0.3, 2.2, -5e-8, -0.001]);
  assert.deepEqual(interpolateWeights(a, b, 0), a);
  assert.deepEqual(interpolateWeights(a, b, 1), b);
  for (const alpha of lmcAlphas(11)) assert.deepEqual(interpolateWeights(a, a, alpha), a);
  assert.deepEqual(
    interpolateWeights(Float32Array.from([1, 2]), Float32Array.from([3, 6]), 0.5),
    Float32Array.from([2, 4]),
  );
  assert.throws(() => interpolateWeights(a, b.subarray(1), 0.5), /cannot interpolate 4 values with 3/);
});

test("barrierHeight: the largest rise above the chord; 0 for a flat or convex curve; undefined for a gap", () => {
  const alphas = [0, 0.25, 0.5, 0.75, 1];
  assert.equal(barrierHeight(alphas, [1, 1, 1, 1, 1]), 0);
  assert.equal(
    barrierHeight(
      alphas,
      alphas.map((x) => (x - 0.4) ** 2),
    ),
    0,
  );
  // f = 4α(1 − α) + α: chord is α, the rise is 4α(1 − α), largest (1) at α = 0.5.
  assert.equal(
    barrierHeight(
      alphas,
      alphas.map((x) => 4 * x * (1 - x) + x),
    ),
    1,
  );
  assert.equal(barrierHeight(alphas, [1, 2, undefined, 2, 1]), undefined);
  assert.equal(barrierHeight(alphas, [1, 2, Number.NaN, 2, 1]), undefined);
  assert.equal(barrierHeight([0.1, 1], [1, 1]), undefined, "the grid must start at 0");
});
