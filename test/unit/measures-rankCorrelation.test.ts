import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { averageRanks, pearson, spearman } from "../../src/measures/rankCorrelation";

describe("Spearman's rank correlation (the linear datamodeling score)", () => {
  test("ties share their average rank", () => {
    assert.deepEqual(averageRanks([10, 20, 20, 5]), [2, 3.5, 3.5, 1]);
  });
  test("a monotone relation is 1 (or −1), whatever its shape", () => {
    const x = [0.1, 0.5, 2, 3, 10];
    assert.equal(
      spearman(
        x,
        x.map((v) => Math.exp(v)),
      ),
      1,
    );
    assert.equal(
      spearman(
        x,
        x.map((v) => -v * v * v),
      ),
      -1,
    );
  });
  test("a textbook case: ρ = 1 − 6Σd²/(n(n²−1)) without ties", () => {
    // ranks of y: 2,1,4,3,5 → Σd² = 4 → ρ = 1 − 24/120 = 0.8
    const rho = spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])!;
    assert.ok(Math.abs(rho - 0.8) < 1e-12, `ρ = ${rho}`);
  });
  test("with ties: the Pearson correlation of the average ranks", () => {
    const rho = spearman([1, 2, 2, 3], [1, 3, 2, 4])!;
    assert.ok(Math.abs(rho - pearson([1, 2.5, 2.5, 4], [1, 3, 2, 4])!) < 1e-12);
    assert.ok(Math.abs(rho - 0.9486832980505138) < 1e-12, `ρ = ${rho}`);
  });
  test("undefined when it says nothing: fewer than 3 finite pairs, or a constant side", () => {
    assert.equal(spearman([1, 2], [3, 4]), undefined);
    assert.equal(spearman([1, 2, Number.NaN, 4], [3, 4, 5, Number.POSITIVE_INFINITY]), undefined);
    assert.equal(spearman([1, 1, 1], [1, 2, 3]), undefined);
    assert.throws(() => spearman([1, 2, 3], [1, 2]), /3 x values but 2 y values/);
  });
});
