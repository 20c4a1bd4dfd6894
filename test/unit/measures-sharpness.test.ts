// Stability thresholds and the phase rules of the Sharpness panel (src/measures/sharpness.ts), and
// Adam's preconditioner as the sharpness analysis builds it from a checkpoint's second moments.
import { test } from "node:test";
import assert from "node:assert/strict";
import { eosPhases, fastestChanges, type SharpnessPoint, stabilityThreshold } from "../../src/measures/sharpness";
import { adamPreconditioner, lrAfter, stabilityOf } from "../../src/trainer/analyzer/sharpnessAnalysis";
import { optimizers } from "../../src/sdk/builders";

test("stability thresholds: 2/η, (2+2β)/η, Nesterov, and Adam's 38/η at β₁ = 0.9", () => {
  assert.equal(stabilityThreshold({ kind: "gd", lr: 0.1 }), 20);
  assert.ok(Math.abs(stabilityThreshold({ kind: "momentum", lr: 0.1, momentum: 0.9, nesterov: false }) - 38) < 1e-12);
  assert.ok(
    Math.abs(stabilityThreshold({ kind: "momentum", lr: 0.1, momentum: 0.9, nesterov: true }) - 38 / 2.8) < 1e-12,
  );
  assert.ok(Math.abs(stabilityThreshold({ kind: "adam", lr: 1e-3, beta1: 0.9 }) - 38_000) < 1e-6);
  assert.ok(Number.isNaN(stabilityThreshold({ kind: "gd", lr: 0 })));
  assert.deepEqual(stabilityOf(optimizers.adamw({ lr: 2e-3 }), 2e-3), { kind: "adam", lr: 2e-3, beta1: 0.9 });
  assert.deepEqual(stabilityOf(optimizers.sgd({ lr: 0.1 }), 0.1), { kind: "gd", lr: 0.1 });
});

test("lrAfter: the logged lr, else the schedule's lr of the next update", () => {
  const spec = {
    optimizer: optimizers.sgd({ lr: 0.1, schedule: { warmupSteps: 10, decay: "constant", minLrFraction: 0 } }),
    steps: 100,
  };
  assert.equal(lrAfter(spec, 0.05, 4), 0.05);
  assert.ok(Math.abs(lrAfter(spec, Number.NaN, 4) - 0.05) < 1e-12, "update 5 of a 10-step warmup");
  assert.equal(lrAfter(spec, Number.NaN, 50), 0.1);
});

test("adamPreconditioner: (1 − β₁ᵗ)(√(v/(1 − β₂ᵗ)) + ε), in parameter order; none before the first update", () => {
  const o = optimizers.adam({ lr: 1e-3, betas: [0.9, 0.99], eps: 1e-8 });
  const values = new Map([
    ["b", Float32Array.from([4e-4])],
    ["a", Float32Array.from([1e-4, 0])],
  ]);
  const p = adamPreconditioner(o, ["a", "b"], { t: 10, values })!;
  const c1 = 1 - 0.9 ** 10;
  const c2 = 1 - 0.99 ** 10;
  const expect = [1e-4, 0, 4e-4].map((v) => c1 * (Math.sqrt(Math.fround(v) / c2) + 1e-8));
  assert.equal(p.length, 3);
  p.forEach((x, i) => {
    assert.ok(Math.abs(x - expect[i]!) < 1e-15, `${i}: ${x} vs ${expect[i]}`);
  });
  assert.equal(adamPreconditioner(o, ["a", "b"], { t: 0, values }), undefined);
  assert.equal(adamPreconditioner(o, ["a", "c"], { t: 10, values }), undefined);
});

const pts = (steps: number[], s: number[], threshold = 20): SharpnessPoint[] =>
  steps.map((step, i) => ({ step, sharpness: s[i]!, threshold }));

test("eosPhases: progressive sharpening, then the edge once 2 checkpoints are ≥ 0.9·threshold", () => {
  const p = pts([0, 100, 200, 300, 400, 500, 600, 700], [5, 8, 12, 17, 18.5, 19.5, 20.2, 19.8]);
  const ph = eosPhases(p, []);
  assert.deepEqual(ph.edge, [{ start: 400, end: 700 }]);
  assert.deepEqual(ph.sharpening, [{ start: 0, end: 300 }]);
  assert.ok(Math.abs(ph.lastRatio - 0.99) < 1e-12);
  // One checkpoint above 0.9·threshold is not the edge; a single dip below does not end it.
  const blip = eosPhases(pts([0, 1, 2, 3, 4, 5, 6], [10, 18.5, 10, 18.2, 18.4, 17, 18.3]), []);
  assert.deepEqual(blip.edge, [{ start: 3, end: 6 }]);
  // Leaving: 2 checkpoints below end it at the last one above.
  const leave = eosPhases(pts([0, 1, 2, 3, 4], [19, 19, 19, 10, 9]), []);
  assert.deepEqual(leave.edge, [{ start: 0, end: 2 }]);
  // A rise of less than 10% is no sharpening.
  assert.deepEqual(eosPhases(pts([0, 1, 2], [10, 10.4, 10.8]), []).sharpening, []);
});

test("eosPhases: a catapult is a loss spike followed by a sharpness drop of ≥ 20%", () => {
  const p = pts([0, 100, 200, 300], [15, 19, 12, 13]);
  const loss = [
    { step: 0, value: 1 },
    { step: 50, value: 0.5 },
    { step: 100, value: 0.3 },
    { step: 120, value: 0.9 }, // > 1.5 × 0.3
    { step: 140, value: 2 },
    { step: 160, value: 0.4 },
    { step: 200, value: 0.2 },
    { step: 250, value: 0.25 },
  ];
  const ph = eosPhases(p, loss);
  assert.deepEqual(ph.catapults, [
    {
      spikeStep: 120,
      peakStep: 140,
      peakLoss: 2,
      lossBefore: 0.3,
      sharpnessBefore: 19,
      sharpnessAfter: 12,
      dropStep: 200,
    },
  ]);
  // The same spike without the drop is no catapult.
  assert.deepEqual(eosPhases(pts([0, 100, 200], [15, 19, 18]), loss).catapults, []);
});

test("fastestChanges: the steps where a curve changes fastest, local maxima of |slope| only", () => {
  const steps = [0, 100, 200, 300, 400, 500, 600];
  const llc = [2, 2.1, 6, 6.2, 6.3, 9.5, 9.6];
  assert.deepEqual(
    fastestChanges(steps, llc, 2).map((x) => x.step),
    [150, 450],
  );
  assert.deepEqual(fastestChanges([0], [1]), []);
});

test("fastestChanges with standard errors: a change within 2·√(se₁² + se₂²) is noise, not a boundary", () => {
  const steps = [0, 100, 200, 300, 400, 500, 600];
  const llc = [2, 2.1, 6, 6.2, 6.3, 9.5, 9.6];
  // The jump at 450 (3.2) is within 2·√(1.2² + 1.2²) ≈ 3.39; the one at 150 (3.9) is not.
  const se = [0.1, 0.1, 0.1, 0.1, 1.2, 1.2, 0.1];
  assert.deepEqual(
    fastestChanges(steps, llc, 2, se).map((x) => x.step),
    [150],
  );
  // Unknown errors (null) rule nothing out.
  assert.deepEqual(
    fastestChanges(steps, llc, 2, [null, null, null, null, null, null, null]).map((x) => x.step),
    [150, 450],
  );
});
