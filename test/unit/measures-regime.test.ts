// regime.ts: votes at the named thresholds, pooling and the reason text. (Relative weight change
// itself is computed by the weight-space analysis: test/unit/analysisFormat.test.ts.)
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  LAZY_MAX_KERNEL_DISTANCE,
  LAZY_MAX_RELATIVE_WEIGHT_CHANGE,
  LAZY_MIN_CKA,
  RICH_MAX_CKA,
  RICH_MIN_KERNEL_DISTANCE,
  RICH_MIN_RELATIVE_WEIGHT_CHANGE,
  assessRegime,
} from "../../src/measures/regime";

test("thresholds are ordered so that lazy and rich bands do not overlap", () => {
  assert.ok(LAZY_MAX_KERNEL_DISTANCE < RICH_MIN_KERNEL_DISTANCE);
  assert.ok(LAZY_MAX_RELATIVE_WEIGHT_CHANGE < RICH_MIN_RELATIVE_WEIGHT_CHANGE);
  assert.ok(RICH_MAX_CKA < LAZY_MIN_CKA);
});

test("all signals lazy → lazy; all rich → rich; the reason names the values, the layer and the rule", () => {
  const lazy = assessRegime({
    kernelDistance: 0.002,
    relativeWeightChange: { dense0: 0.01, dense1: 0.02 },
    cka: { dense0: 0.9995 },
  });
  assert.equal(lazy.badge, "lazy");
  assert.deepEqual(
    lazy.signals.map((s) => s.vote),
    ["lazy", "lazy", "lazy"],
  );
  assert.match(lazy.reason, /^Lazy: /);
  assert.match(lazy.reason, /kernel distance 0\.0020 ≤ 0\.005/);
  assert.match(lazy.reason, /lowest CKA to initialization 0\.9995 \(layer dense0\) ≥ 0\.999/);
  assert.match(lazy.reason, /relative weight change 0\.020 \(layer dense1\)/);

  const rich = assessRegime({ kernelDistance: 0.6, relativeWeightChange: { a: 0.1, b: 0.9 }, cka: { a: 0.4, b: 0.8 } });
  assert.equal(rich.badge, "rich");
  assert.equal(rich.signals[2]!.layer, "a", "the lowest CKA layer is reported");
  assert.match(rich.reason, /^Rich: features moved/);
});

test("in-between values and disagreeing signals → transitioning, with a reason saying which", () => {
  const between = assessRegime({ kernelDistance: (LAZY_MAX_KERNEL_DISTANCE + RICH_MIN_KERNEL_DISTANCE) / 2 });
  assert.equal(between.badge, "transitioning");
  assert.match(between.reason, /not yet far/);
  const split = assessRegime({ kernelDistance: 0.9, relativeWeightChange: { w: 0.001 } });
  assert.equal(split.badge, "transitioning");
  assert.match(split.reason, /disagree/);
  // Boundary values belong to the end bands.
  assert.equal(assessRegime({ kernelDistance: LAZY_MAX_KERNEL_DISTANCE }).badge, "lazy");
  assert.equal(assessRegime({ kernelDistance: RICH_MIN_KERNEL_DISTANCE }).badge, "rich");
  assert.equal(assessRegime({ cka: { x: RICH_MAX_CKA } }).badge, "rich");
  // Two rich and one between: mean 5/6 → rich; one rich and two between: 2/3 → transitioning.
  assert.equal(assessRegime({ kernelDistance: 0.5, relativeWeightChange: { w: 0.5 }, cka: { x: 0.8 } }).badge, "rich");
  assert.equal(
    assessRegime({ kernelDistance: 0.5, relativeWeightChange: { w: 0.1 }, cka: { x: 0.995 } }).badge,
    "transitioning",
  );
});

test("no usable signal → unknown; non-finite values are ignored", () => {
  assert.equal(assessRegime({}).badge, "unknown");
  assert.equal(assessRegime({ kernelDistance: Number.NaN, relativeWeightChange: {} }).badge, "unknown");
  const r = assessRegime({ kernelDistance: Number.NaN, relativeWeightChange: { w: 0.01 } });
  assert.equal(r.badge, "lazy");
  assert.equal(r.signals.length, 1);
});
