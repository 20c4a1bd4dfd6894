// Iterative magnitude pruning's arithmetic (src/trainer/imp.ts): which weights a round prunes,
// globally or per tensor, never reviving a pruned one; random masks of the same per-tensor
// sparsity; the IMP folder's points.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../../src/sdk/rng";
import { impPoints, magnitudeMask, percent, prunableNames, randomMaskLike } from "../../src/trainer/imp";
import { maskCounts } from "../../src/trainer/masks";

const t = (shape: number[], values: number[]) => ({ shape, values: Float32Array.from(values) });
const weights = new Map([
  ["a.weight", t([2, 3], [0.5, -0.1, 2, -3, 0.05, 1])],
  ["a.bias", t([3], [0.001, 0.002, 0.003])],
  ["b.weight", t([3, 1], [-0.2, 4, 0.3])],
]);

test("prunable tensors: rank ≥ 2; biases stay dense", () => {
  assert.deepEqual(prunableNames(weights), ["a.weight", "b.weight"]);
});

test("global pruning removes the smallest |w| over all weight matrices; per layer within each", () => {
  const g = magnitudeMask(weights, undefined, 0.5, "global");
  // 9 weights, round(4.5) = 5 pruned: 0.05, -0.1, -0.2, 0.3, 0.5.
  assert.deepEqual([...g.get("a.weight")!.values], [0, 0, 1, 1, 0, 1]);
  assert.deepEqual([...g.get("b.weight")!.values], [0, 1, 0]);
  assert.equal(g.has("a.bias"), false);
  const l = magnitudeMask(weights, undefined, 0.5, "layer");
  // a: round(3) = 3 of 6 (0.05, -0.1, 0.5); b: round(1.5) = 2 of 3 (-0.2, 0.3).
  assert.deepEqual([...l.get("a.weight")!.values], [0, 0, 1, 1, 0, 1]);
  assert.deepEqual([...l.get("b.weight")!.values], [0, 1, 0]);
  const l2 = magnitudeMask(weights, undefined, 1 / 3, "layer");
  assert.deepEqual([...l2.get("a.weight")!.values], [1, 0, 1, 1, 0, 1]);
  assert.deepEqual([...l2.get("b.weight")!.values], [0, 1, 1]);
});

test("a round prunes a fraction of what the previous mask kept, and never revives a pruned weight", () => {
  const first = magnitudeMask(weights, undefined, 0.5, "global");
  // A pruned weight that grew large again (it cannot in a masked run, but the mask must not care).
  const grown = new Map(weights);
  grown.set("a.weight", t([2, 3], [9, -0.1, 2, -3, 0.05, 1]));
  const second = magnitudeMask(grown, first, 0.5, "global");
  // Kept before: 2, -3, 1, 4 (4 weights); round(2) = 2 pruned: 1 and 2.
  assert.deepEqual([...second.get("a.weight")!.values], [0, 0, 0, 1, 0, 0]);
  assert.deepEqual([...second.get("b.weight")!.values], [0, 1, 0]);
  assert.deepEqual(maskCounts(second), { kept: 2, total: 9 });
  // The previous mask is not changed in place.
  assert.deepEqual([...first.get("a.weight")!.values], [0, 0, 1, 1, 0, 1]);
});

test("equal magnitudes: the earlier tensor and index go first, so the mask is a function of the weights", () => {
  const ties = new Map([
    ["x.weight", t([2, 2], [1, 1, 1, 1])],
    ["y.weight", t([1, 2], [1, 1])],
  ]);
  const m = magnitudeMask(ties, undefined, 0.5, "global");
  assert.deepEqual([...m.get("x.weight")!.values], [0, 0, 0, 1]);
  assert.deepEqual([...m.get("y.weight")!.values], [1, 1]);
});

test("a random mask keeps as many weights in each tensor, elsewhere, the same for the same seed", () => {
  const big = new Map([
    [
      "w",
      t(
        [20, 30],
        Array.from({ length: 600 }, (_, i) => Math.sin(i)),
      ),
    ],
  ]);
  const ticket = magnitudeMask(big, undefined, 0.8, "global");
  const r1 = randomMaskLike(ticket, new Rng(0, "imp-random", 1));
  const r2 = randomMaskLike(ticket, new Rng(0, "imp-random", 1));
  const r3 = randomMaskLike(ticket, new Rng(0, "imp-random", 2));
  assert.deepEqual(maskCounts(r1), maskCounts(ticket));
  assert.deepEqual(maskCounts(r1), { kept: 120, total: 600 });
  assert.deepEqual(r1, r2);
  assert.notDeepEqual(r1, r3);
  const same = [...r1.get("w")!.values].filter((v, i) => v === 1 && ticket.get("w")!.values[i] === 1).length;
  assert.ok(same < 60, `a random mask overlaps the ticket's by chance only (${same} of 120)`);
});

test("the IMP's points: round 0 dense, then each round's ticket and controls at its nominal sparsity", () => {
  const points = impPoints({ rounds: 2, fraction: 0.5, scope: "global", rewind: 0, controls: ["reinit", "random"] }, 7);
  assert.deepEqual(
    points.map((p) => [p.index, p.run, p.values["weights remaining (%)"], p.values["kind"], p.values["round"], p.seed]),
    [
      [0, "r0-ticket", 100, "ticket", 0, 7],
      [1, "r1-ticket", 50, "ticket", 1, 7],
      [2, "r1-reinit", 50, "reinit", 1, 8],
      [3, "r1-random", 50, "random", 1, 7],
      [4, "r2-ticket", 25, "ticket", 2, 7],
      [5, "r2-reinit", 25, "reinit", 2, 9],
      [6, "r2-random", 25, "random", 2, 7],
    ],
  );
  assert.equal(percent(1, 3), 33.33);
});
